#include "service/lookup.hpp"

#include "service/messages.hpp"
#include "service/ulid.hpp"

namespace ozzie {

result<user> find_by_id(const user_store& store, std::string_view client_id, std::string_view id) {
    const auto ulid = ulid_of_user_id(id);
    if (!ulid) return messages::user_not_found(id);
    auto found = store.get(*ulid);
    if (!found)
        return found.error().code == errc::not_found ? messages::user_not_found(id) : messages::internal();
    if (found->client_id != client_id) return messages::other_clients_user(id);
    return found;
}

result<user> find_by_external(const user_store& store, std::string_view client_id,
                              std::string_view external_user_id) {
    auto found = store.find_external(client_id, external_user_id);
    if (!found)
        return found.error().code == errc::not_found ? messages::external_user_not_found(external_user_id)
                                                     : messages::internal();
    return found;
}

result<user> find_user(const user_store& store, std::string_view client_id, const user_ref& ref) {
    return ref.by == user_ref::kind::id ? find_by_id(store, client_id, ref.value)
                                        : find_by_external(store, client_id, ref.value);
}

}  // namespace ozzie
