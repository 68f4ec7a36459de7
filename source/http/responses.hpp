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

// Headers in order, names static strings. Cleared, the value strings keep their storage for the
// next response: a header costs no allocation once a connection has sent it.
class header_list {
public:
    using header = std::pair<std::string_view, std::string>;

    void clear() noexcept { used_ = 0; }
    void add(std::string_view name, std::string_view value) { add(name).assign(value); }
    // A header named `name` whose value, empty, the caller writes.
    std::string& add(std::string_view name) {
        if (used_ == slots_.size()) slots_.emplace_back();
        auto& [slot_name, value] = slots_[used_++];
        slot_name = name;
        value.clear();
        return value;
    }
    std::vector<header>::const_iterator begin() const noexcept { return slots_.begin(); }
    std::vector<header>::const_iterator end() const noexcept {
        return slots_.begin() + static_cast<std::ptrdiff_t>(used_);
    }

private:
    std::vector<header> slots_;
    std::size_t used_ = 0;
};

// A response before it is written. A connection keeps one and refills it for each request
// (reset), so its strings keep their capacity.
struct response {
    http::status status = http::status::ok;
    std::string_view content_type = "application/json";  // a static string
    std::string body;
    // Headers besides Content-Type, Content-Length, X-Request-Id and Connection, in order.
    header_list headers;
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;  // a HEAD answer: Content-Length of `body`, but no body sent

    // For `req`: its version and keep-alive, HEAD or not; 200, no headers, an empty body.
    void reset(const request& req);
    void set(std::string_view name, std::string_view value) { headers.add(name, value); }
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
