// A request as the server reads it, and the parser that fills it in.
#pragma once

#include "http/types.hpp"

#include <string>
#include <string_view>

namespace ozzie {

// What the server uses of a request: the request line, the few headers it reads, and the body.
// A connection keeps one and refills it for each request, so its strings keep their capacity
// and a request allocates nothing once the first few have been read.
struct request {
    http::verb method = http::verb::unknown;
    std::string method_string;  // as sent, also for methods Beast does not know
    std::string target;
    unsigned version = 11;  // 10 or 11
    bool keep_alive = true;  // from the version and the Connection header
    bool chunked = false;    // Transfer-Encoding ends in chunked
    // The first value of each header the server reads; empty if absent.
    std::string host;
    std::string authorization;
    std::string expect;
    std::string request_id;  // X-Request-Id
    std::string idempotency_key;  // Idempotency-Key
    // If-Match and If-None-Match: lists, so their lines are joined with ", " (RFC 9110 5.3).
    std::string if_match;
    std::string if_none_match;
    unsigned idempotency_key_count = 0;
    bool has_if_match = false;
    bool has_if_none_match = false;
    // How often the framing headers appeared (RFC 9112 checks).
    unsigned host_count = 0;
    unsigned content_length_count = 0;
    unsigned transfer_encoding_count = 0;
    std::string body;

    // Empties every field, keeping the strings' storage.
    void clear() noexcept;
};

// Beast's HTTP/1 request parser with `request` as its storage: everything Beast checks (syntax,
// Content-Length, chunked coding, the header and body limits) is checked as for any Beast
// parser; only the headers the server reads are kept.
class request_parser : public http::basic_parser<true> {
public:
    // Clears `storage` and parses into it; `storage` must outlive the parser.
    explicit request_parser(request& storage) noexcept;

    const request& get() const noexcept { return req_; }

private:
    void on_request_impl(http::verb method, beast::string_view method_string, beast::string_view target,
                         int version, beast::error_code& ec) override;
    void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
    void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                       beast::error_code& ec) override;
    void on_header_impl(beast::error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, beast::error_code& ec) override;
    std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t remain, beast::string_view body, beast::error_code& ec) override;
    void on_finish_impl(beast::error_code&) override {}

    request& req_;
    bool seen_authorization_ = false;
    bool seen_expect_ = false;
    bool seen_request_id_ = false;
};

// Gives `parser` the bytes `buffer` holds, stopping when the header is complete (so that it can
// be checked before any body is read) and when the request is; `header_bytes` counts the bytes
// the header took. Returns whether the parser needs more bytes to get on; `ec` is set if the
// request is malformed or over a limit. The session's way of reading, shared with the fuzzer.
bool parse_buffered(request_parser& parser, beast::flat_buffer& buffer, std::size_t& header_bytes,
                    beast::error_code& ec);

// What a read that failed with `ec` means for the request being parsed, as Beast's own reads
// decide: the end of the stream before a request began, or a request cut short.
void end_of_input(request_parser& parser, beast::error_code& ec);

}  // namespace ozzie
