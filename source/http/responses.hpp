// Responses: what a handler answers, JSON bodies, the error envelope, and the bytes on the wire.
#pragma once

#include "http/request.hpp"
#include "http/types.hpp"

#include <ozzie/errors.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ozzie {

// A response before it is written. A connection keeps one and refills it for each request
// (reset), so its strings keep their capacity.
struct response {
    http::status status = http::status::ok;
    std::string_view content_type = "application/json";  // a static string
    std::string body;
    // Headers besides Content-Type, Content-Length, X-Request-Id and Connection, in order.
    std::vector<std::pair<std::string_view, std::string>> headers;  // names are static strings
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;  // a HEAD answer: Content-Length of `body`, but no body sent

    // For `req`: its version and keep-alive, HEAD or not; 200, no headers, an empty body.
    void reset(const request& req);
    void set(std::string_view name, std::string value) { headers.emplace_back(name, std::move(value)); }
};

// `res` with `status` and `body` as its JSON body.
void set_json(response& res, http::status status, std::string_view body);

// Appends "error":{"code":"...","message":"..."}, the member of the error envelope (and of a
// batch's failed answers).
void append_error_member(std::string& out, const error& e);

// {"error":{"code":"...","message":"..."}} with the code's HTTP status; a 401 also carries
// WWW-Authenticate, a 503 Retry-After: 1.
void set_error(response& res, const error& e);

// Appends the response as it goes on the wire: status line, Content-Type, Content-Length, the
// other headers, X-Request-Id, Connection (close, or keep-alive for HTTP/1.0) when the
// connection's fate needs saying, the blank line, and the body unless it answers HEAD.
void serialize(const response& res, std::string_view request_id, std::string& out);

}  // namespace ozzie
