#include "service/lookup.hpp"

#include "service/messages.hpp"
#include "service/ulid.hpp"
#include "service/validation.hpp"

namespace ozzie {
namespace {

// The answer to a lookup of Ozzie id `id` from what the store `found` under its ULID.
result<user> by_id_answer(result<user> found, std::string_view client_id, std::string_view id) {
    if (!found)
        return found.error().code == errc::not_found ? messages::user_not_found(id)
                                                     : messages::store_failure(found.error());
    if (found->client_id != client_id) return messages::other_clients_user(id);
    return found;
}

// The answer to a lookup of external id `external_user_id` from what the store `found`.
result<user> by_external_answer(result<user> found, std::string_view external_user_id) {
    if (!found)
        return found.error().code == errc::not_found ? messages::external_user_not_found(external_user_id)
                                                     : messages::store_failure(found.error());
    return found;
}

}  // namespace

result<user> find_by_id(const store& s, std::string_view client_id, std::string_view id) {
    const auto ulid = ulid_of_user_id(id);
    if (!ulid) return messages::user_not_found(id);
    return by_id_answer(s.get(client_id, *ulid), client_id, id);
}

awaitable<result<user>> async_find_by_id(const store& s, std::string_view client_id, std::string_view id) {
    const auto ulid = ulid_of_user_id(id);
    if (!ulid) co_return messages::user_not_found(id);
    co_return by_id_answer(co_await s.async_get(client_id, *ulid), client_id, id);
}

result<user> find_by_external(const store& s, std::string_view client_id, std::string_view external_user_id) {
    // Not asked of the store: no create made it, and a store may not take every byte (a NUL).
    if (!is_valid_external_user_id(external_user_id)) return messages::external_user_not_found(external_user_id);
    return by_external_answer(s.find_external(client_id, external_user_id), external_user_id);
}

awaitable<result<user>> async_find_by_external(const store& s, std::string_view client_id,
                                               std::string_view external_user_id) {
    if (!is_valid_external_user_id(external_user_id))
        co_return messages::external_user_not_found(external_user_id);
    co_return by_external_answer(co_await s.async_find_external(client_id, external_user_id), external_user_id);
}

result<user> find_user(const store& s, std::string_view client_id, const user_ref& ref) {
    return ref.by == user_ref::kind::id ? find_by_id(s, client_id, ref.value)
                                        : find_by_external(s, client_id, ref.value);
}

}  // namespace ozzie
