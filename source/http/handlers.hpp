// From a parsed request to its response: route, authenticate, parse, call the service, render.
#pragma once

#include "auth/client_registry.hpp"
#include "http/rate_limiter.hpp"
#include "http/types.hpp"

#include <ozzie/user_service.hpp>

namespace ozzie {

struct request_context {
    user_service& service;
    const client_registry& clients;
    rate_limiter* limiter = nullptr;  // none: no rate limit
};

// The response to `req`. Never throws for any request; creates wait on the commit queue
// without blocking the calling thread.
net::awaitable<response> handle_request(const request& req, const request_context& context);

}  // namespace ozzie
