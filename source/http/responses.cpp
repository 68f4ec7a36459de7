#include "http/responses.hpp"

#include "json_text.hpp"

namespace ozzie {

void response::reset(const request& req) {
    status = http::status::ok;
    content_type = "application/json";
    body.clear();
    headers.clear();
    version = req.version;
    keep_alive = req.keep_alive;
    head = req.method == http::verb::head;
}

void set_json(response& res, http::status status, std::string_view body) {
    res.status = status;
    res.content_type = "application/json";
    res.body.assign(body);
}

void append_error_member(std::string& out, const error& e) {
    out.append(R"("error":{"code":)");
    json_text::append_string(out, code_name(e.code));
    out.append(R"(,"message":)");
    json_text::append_string(out, e.message);
    out += '}';
}

void set_error(response& res, const error& e) {
    res.status = static_cast<http::status>(http_status(e.code));
    res.content_type = "application/json";
    res.body.clear();
    res.body += '{';
    append_error_member(res.body, e);
    res.body += '}';
    if (e.code == errc::unauthorized) res.set("WWW-Authenticate", "Bearer");
    // Every 503 (connection limit, a store refusing writes, not ready) passes within seconds.
    if (e.code == errc::unavailable) res.set("Retry-After", "1");
    // The request holding the key is answered within the time of one commit.
    if (e.code == errc::idempotency_key_in_use) res.set("Retry-After", "1");
}

void serialize(const response& res, std::string_view request_id, std::string& out) {
    const auto header = [&out](std::string_view name, std::string_view value) {
        out.append(name).append(": ").append(value).append("\r\n");
    };
    out.append(res.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    json_text::append_number(out, static_cast<unsigned>(res.status));
    const auto reason = http::obsolete_reason(res.status);
    out.append(" ").append(reason.data(), reason.size()).append("\r\n");
    // A 204 has no content, and so no Content-Type or Content-Length (RFC 9110 8.6); a 304 has
    // none either, and its Content-Length would have to be that of the 200 it stands for.
    if (res.status != http::status::no_content && res.status != http::status::not_modified) {
        header("Content-Type", res.content_type);
        out.append("Content-Length: ");
        json_text::append_number(out, res.body.size());
        out.append("\r\n");
    }
    for (const auto& [name, value] : res.headers) header(name, value);
    header("X-Request-Id", request_id);
    // HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it unless told.
    if (res.version == 11 && !res.keep_alive) header("Connection", "close");
    if (res.version == 10 && res.keep_alive) header("Connection", "keep-alive");
    out.append("\r\n");
    if (!res.head && res.status != http::status::not_modified) out.append(res.body);
}

}  // namespace ozzie
