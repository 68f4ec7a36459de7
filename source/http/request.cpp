#include "http/request.hpp"

namespace ozzie {

void request::clear() noexcept {
    method = http::verb::unknown;
    method_string.clear();
    target.clear();
    version = 11;
    keep_alive = true;
    chunked = false;
    host.clear();
    authorization.clear();
    expect.clear();
    request_id.clear();
    idempotency_key.clear();
    if_match.clear();
    if_none_match.clear();
    idempotency_key_count = 0;
    has_if_match = has_if_none_match = false;
    host_count = content_length_count = transfer_encoding_count = 0;
    body.clear();
}

request_parser::request_parser(request& storage) noexcept : req_(storage) { req_.clear(); }

void request_parser::on_request_impl(http::verb method, beast::string_view method_string,
                                     beast::string_view target, int version, beast::error_code&) {
    req_.method = method;
    req_.method_string.assign(method_string.data(), method_string.size());
    req_.target.assign(target.data(), target.size());
    req_.version = static_cast<unsigned>(version);
}

void request_parser::on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                                   beast::error_code&) {
    // A list header's lines are one list.
    const auto join = [](std::string& list, bool& seen, beast::string_view value) {
        if (seen) list.append(", ");
        list.append(value.data(), value.size());
        seen = true;
    };
    // Only the first of each header counts, as for Beast's message[field].
    const auto keep_first = [value](std::string& kept, bool& seen) {
        if (!seen) kept.assign(value.data(), value.size());
        seen = true;
    };
    switch (name) {
    case http::field::host:
        if (req_.host_count++ == 0) req_.host.assign(value.data(), value.size());
        break;
    case http::field::authorization: keep_first(req_.authorization, seen_authorization_); break;
    case http::field::expect: keep_first(req_.expect, seen_expect_); break;
    case http::field::content_length: ++req_.content_length_count; break;
    case http::field::transfer_encoding: ++req_.transfer_encoding_count; break;
    case http::field::if_match: join(req_.if_match, req_.has_if_match, value); break;
    case http::field::if_none_match: join(req_.if_none_match, req_.has_if_none_match, value); break;
    case http::field::unknown:
        if (beast::iequals(name_string, "X-Request-Id")) keep_first(req_.request_id, seen_request_id_);
        else if (beast::iequals(name_string, "Idempotency-Key") && req_.idempotency_key_count++ == 0)
            req_.idempotency_key.assign(value.data(), value.size());
        break;
    default: break;
    }
}

void request_parser::on_header_impl(beast::error_code&) {
    req_.keep_alive = keep_alive();
    req_.chunked = chunked();
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, beast::error_code&) {
    // Bounded by the body limit, which the parser has checked against Content-Length already.
    if (content_length) req_.body.reserve(static_cast<std::size_t>(*content_length));
}

std::size_t request_parser::on_body_impl(beast::string_view body, beast::error_code&) {
    req_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code& ec) {
    return on_body_impl(body, ec);
}

bool parse_buffered(request_parser& parser, beast::flat_buffer& buffer, std::size_t& header_bytes,
                    beast::error_code& ec) {
    while (buffer.size() > 0 && !parser.is_done()) {
        const bool in_header = !parser.is_header_done();
        const auto used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (in_header) header_bytes += used;
        if (ec == http::error::need_more) {
            ec = {};
            return true;
        }
        if (ec || (in_header && parser.is_header_done())) return false;
    }
    return !parser.is_done();
}

void end_of_input(request_parser& parser, beast::error_code& ec) {
    if (ec != net::error::eof) return;
    if (parser.got_some()) parser.put_eof(ec);
    else ec = http::error::end_of_stream;
}

}  // namespace ozzie
