// From a parsed request to its response: route, authenticate, parse, call the service, render.
#pragma once

#include "auth/client_registry.hpp"
#include "http/rate_limiter.hpp"
#include "http/router.hpp"
#include "http/types.hpp"

#include <ozzie/user_service.hpp>

#include <memory>
#include <string>

namespace ozzie {

// What the handlers use. The server keeps one per network thread and swaps the clients and the
// limiter between requests when the clients file is reloaded.
struct request_context {
    user_service& service;
    std::shared_ptr<const client_registry> clients;
    std::shared_ptr<rate_limiter> limiter;  // null: no rate limit
};

// What the access log and the metrics learn of a request besides its status.
struct request_outcome {
    route which = route::none;
    std::string_view route_name = route_template(route::none);  // the path template, for the log
    std::string client_id;  // empty unless authenticated
};

// The response to `req`; `outcome` is filled in along the way. Creates wait on the commit
// queue without blocking the calling thread.
net::awaitable<response> handle_request(const request& req, const request_context& context,
                                        request_outcome& outcome);

}  // namespace ozzie
