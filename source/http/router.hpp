// Maps a request target to a route. The router answers 404 and 405 itself.
#pragma once

#include "http/types.hpp"

#include <string_view>

namespace ozzie {

enum class route {
    none,   // no such path
    users,  // /v1/users: list (GET, HEAD) and create (POST)
    user,   // /v1/users/{user_id}: get (GET, HEAD), update (PATCH), remove (DELETE)
    batch,  // /v1/users/batch: create many (POST)
};

struct route_match {
    route which = route::none;
    std::string_view user_id;  // for route::user: the raw, still percent-encoded segment
};

// Matches the path of `target`, in origin form ("/v1/users") or absolute form
// ("http://host/v1/users"); the query, if any, is ignored. Everything after
// "/v1/users/" is the user id, '/' included, so an unencoded '/' in an external id still works;
// "/v1/users/batch" is the batch route (no Ozzie id is "batch"; an external id is "external:...").
route_match match_route(std::string_view target) noexcept;

// The path template of a route, for logs and metrics: "/v1/users", "/v1/users/{user_id}",
// "/v1/users/batch", or "unmatched".
std::string_view route_template(route r) noexcept;

// The methods a route answers, for the Allow header of a 405 ("GET, HEAD, POST").
std::string_view allowed_methods(route r) noexcept;
bool method_allowed(route r, http::verb method) noexcept;

}  // namespace ozzie
