// From a parsed request to its response: route, authenticate, parse, call the service, render.
#pragma once

#include "auth/client_registry.hpp"
#include "auth/credential_memo.hpp"
#include "http/rate_limiter.hpp"
#include "http/request.hpp"
#include "http/responses.hpp"
#include "http/router.hpp"

#include <ozzie/user_service.hpp>

#include <memory>
#include <string_view>

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
    std::string_view client_id;  // empty unless authenticated; lives as long as the connection's memo
};

// Fills in `res` (reset for `req` by the caller) with the answer to `req`; `outcome` is filled
// in along the way. `credentials` is the connection's. Creates wait on the commit queue
// without blocking the calling thread.
awaitable<> handle_request(const request& req, const request_context& context,
                                    credential_memo& credentials, request_outcome& outcome, response& res);

}  // namespace ozzie
