// Finding a client's user in the store, with the API's answers for the ways it can fail: the one
// rule for lookups and for the writes that must find their user first.
#pragma once

#include "storage/store.hpp"

#include <ozzie/awaitable.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string_view>

namespace ozzie {

// The user with Ozzie id `id`. NOT_FOUND if there is none (a malformed id is simply not found);
// FORBIDDEN if it is another client's; SERVICE_UNAVAILABLE or INTERNAL_ERROR if the store fails
// (details in the log).
result<user> find_by_id(const store& s, std::string_view client_id, std::string_view id);
awaitable<result<user>> async_find_by_id(const store& s, std::string_view client_id, std::string_view id);

// The caller's user with this external_user_id. NOT_FOUND if there is none; SERVICE_UNAVAILABLE
// or INTERNAL_ERROR if the store fails.
result<user> find_by_external(const store& s, std::string_view client_id, std::string_view external_user_id);
awaitable<result<user>> async_find_by_external(const store& s, std::string_view client_id,
                                               std::string_view external_user_id);

// The caller's user named by `ref`, by one of the two above.
result<user> find_user(const store& s, std::string_view client_id, const user_ref& ref);

}  // namespace ozzie
