#include "http/router.hpp"

namespace ozzie {

route_match match_route(std::string_view target) noexcept {
    constexpr std::string_view users = "/v1/users";
    // The absolute form (RFC 9112 3.2.2), "http://host/v1/users/...", names the same path.
    for (const std::string_view scheme : {"http://", "https://"})
        if (target.starts_with(scheme)) {
            const auto slash = target.find('/', scheme.size());
            target = slash == std::string_view::npos ? "/" : target.substr(slash);
        }
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == users) return {route::users, {}};
    if (path == "/v1/users/batch") return {route::batch, {}};
    if (path.size() > users.size() + 1 && path.starts_with(users) && path[users.size()] == '/')
        return {route::user, path.substr(users.size() + 1)};
    return {};
}

std::string_view route_template(route r) noexcept {
    switch (r) {
    case route::users: return "/v1/users";
    case route::user: return "/v1/users/{user_id}";
    case route::batch: return "/v1/users/batch";
    case route::none: break;
    }
    return "unmatched";
}

std::string_view allowed_methods(route r) noexcept {
    switch (r) {
    case route::users: return "GET, HEAD, POST";
    case route::user: return "GET, HEAD, PATCH, DELETE";
    case route::batch: return "POST";
    case route::none: break;
    }
    return "";
}

bool method_allowed(route r, http::verb method) noexcept {
    switch (r) {
    case route::users: return method == http::verb::get || method == http::verb::head || method == http::verb::post;
    case route::user:
        return method == http::verb::get || method == http::verb::head || method == http::verb::patch ||
               method == http::verb::delete_;
    case route::batch: return method == http::verb::post;
    case route::none: break;
    }
    return false;
}

}  // namespace ozzie
