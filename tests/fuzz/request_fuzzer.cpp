// libFuzzer harness over the in-process request-to-response path. An input is the bytes a
// client sent on one connection: they go through the server's request parser with its limits,
// read the way source/http/session.cpp reads (pipelined requests included), and each request
// through handle_request with a real user_service and client_registry, and one credential memo
// for the connection, as a session has.
//
// Besides what ASan, UBSan and LeakSanitizer catch, every response must be well formed once
// serialized, as Beast's response parser reads it back (see check_response), and every create
// that answers 201 must then be found, identical, by its id and by its percent-encoded external
// id. A violation aborts, which libFuzzer reports as a crash.
#include "auth/client_registry.hpp"
#include "http/handlers.hpp"
#include "http/rate_limiter.hpp"
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/user_service.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie {
namespace {

namespace json = boost::json;

[[noreturn]] void fail(std::string_view what, std::string_view detail = {}) {
    std::fprintf(stderr, "request_fuzzer: %.*s %.*s\n", int(what.size()), what.data(),
                 int(detail.size()), detail.data());
    std::abort();
}

// The input as a SyncReadStream: the bytes the client sent, then end of stream.
class input_stream {
public:
    explicit input_stream(std::string_view bytes) : rest_(bytes) {}

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
        ec = {};
        if (rest_.empty()) {
            ec = net::error::eof;
            return 0;
        }
        const std::size_t n = net::buffer_copy(buffers, net::buffer(rest_.data(), rest_.size()));
        rest_.remove_prefix(n);
        return n;
    }
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers) {
        beast::error_code ec;
        const std::size_t n = read_some(buffers, ec);
        if (ec) throw beast::system_error(ec);
        return n;
    }

private:
    std::string_view rest_;
};

// The spec's demo client (token base64("s2client:s2secret") = czJjbGllbnQ6czJzZWNyZXQ=) and a
// second one, so that tenancy is exercised too (base64("other:0ther-s3cret") =
// b3RoZXI6MHRoZXItczNjcmV0). The corpus and the dictionary carry both tokens.
constexpr std::string_view clients_text =
    "s2client:0c98506c11bd88f6cf9e55282b73488a8a7a9227c027c4db654b1df4dfc5d290\n"
    "other:b86f27ab6a5dc5588880ffd1b34650e9f2855d09be717bb59695f82f14249177\n";

// One store for many inputs (opening RocksDB per input would dominate the run), replaced by a
// fresh one every `store_lifetime` inputs so that a long run's memory and disk stay bounded.
// sync = false: nothing here survives the process anyway.
constexpr unsigned store_lifetime = 50'000;

struct store {
    testing::temp_dir dir;  // declared first: removed after the service closes
    user_service service{store_options{
        .data_dir = dir.path(), .sync = false, .block_cache_bytes = std::size_t{8} << 20}};
};

struct harness {
    server_options limits;  // the server's defaults: header_limit, body_limit
    std::shared_ptr<const client_registry> clients =
        std::make_shared<client_registry>(client_registry::parse(clients_text));
    // Only "other" is limited, and tightly, so that 429 is reached while s2client's answers stay
    // independent of timing.
    std::shared_ptr<rate_limiter> limiter =
        std::make_shared<rate_limiter>(std::vector<std::string_view>{"other"}, 1, 2);
    std::optional<store> users;
    unsigned inputs = 0;
    net::io_context io;

    // The first store opens, and creates once, here rather than at the first input: the library
    // state that RocksDB and OpenSSL set up lazily must be complete before this object is, so
    // that it is torn down after this object at exit. (Closing a store after RocksDB's statics
    // are gone crashes; ending the writer thread after OPENSSL_cleanup leaks its RAND state.)
    harness() {
        users.emplace();
        if (!users->service.create("s2client", {.external_user_id = "warm-up"}))
            fail("the warm-up create failed");
    }

    // The store for the next input.
    user_service& service() {
        if (++inputs % store_lifetime == 0) {
            users.reset();
            users.emplace();
        }
        return users->service;
    }

    // handle_request run to completion on the io_context; creates resume on it from the
    // commit queue's thread.
    response respond(const request& req, user_service& service, credential_memo& credentials) {
        const request_context context{service, clients, limiter};
        request_outcome outcome;
        response res;
        res.reset(req);
        bool done = false;
        std::exception_ptr thrown;
        net::co_spawn(io, handle_request(req, context, credentials, outcome, res),
                      [&](std::exception_ptr e) {
                          thrown = e;
                          done = true;
                      });
        io.restart();
        io.run();
        if (thrown) {
            try {
                std::rethrow_exception(thrown);
            } catch (const std::exception& e) {
                fail("handle_request threw (it must never throw):", e.what());
            } catch (...) {
                fail("handle_request threw a non-exception");
            }
        }
        if (!done) fail("handle_request did not complete");
        return res;
    }
};

bool has_line_break_or_nul(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

json::object parse_object(std::string_view body) {
    json::error_code ec;
    json::value v = json::parse(body, ec);  // also rejects invalid UTF-8
    if (ec) fail("response body is not JSON:", body);
    if (!v.is_object()) fail("response body is not a JSON object:", body);
    return std::move(v.as_object());
}

// The response as it goes on the wire, read back by Beast's response parser.
using wire_response = http::response<http::string_body>;

// What every response to a parsed request must be; returns it as read back from the wire, and
// its JSON body (empty for HEAD).
std::pair<wire_response, json::object> check_response(const request& req, const response& res) {
    if (res.status == http::status::internal_server_error) fail("500 INTERNAL_ERROR:", res.body);
    for (const auto& [name, value] : res.headers)
        if (has_line_break_or_nul(value)) fail("response header with CR, LF or NUL:", value);
    std::string wire;
    serialize(res, "fuzz-request", wire);
    http::response_parser<http::string_body> parser;
    parser.eager(true);  // the header and the body in one put
    parser.skip(req.method == http::verb::head);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    const auto used = parser.put(net::buffer(wire), ec);
    if (!ec && used != wire.size()) fail("bytes after the response:", wire);
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) fail("response does not parse back:", wire);
    wire_response back = parser.release();
    if (back.version() != req.version) fail("response version differs from the request's");
    if (back.result() != res.status) fail("status changed on the wire:", wire);
    if (back["X-Request-Id"] != "fuzz-request") fail("no X-Request-Id:", wire);
    for (const auto& [name, value] : res.headers)
        if (back[name] != value) fail("a header changed on the wire:", wire);
    if (res.status == http::status::no_content || res.status == http::status::not_modified) {
        // RFC 9110 8.6 and 15.4.5: no content, and so no Content-Length or Content-Type either.
        if (!res.body.empty() || !back.body().empty() || back.count(http::field::content_length) ||
            back.count(http::field::content_type))
            fail("204 or 304 with content, Content-Length or Content-Type:", wire);
        return {std::move(back), {}};
    }
    if (back[http::field::content_length] != std::to_string(res.body.size()))
        fail("Content-Length differs from the body's size");
    if (req.method == http::verb::head) {
        if (!back.body().empty()) fail("HEAD response with a body");
        return {std::move(back), {}};
    }
    if (back.body() != res.body) fail("body changed on the wire:", wire);
    json::object body = parse_object(res.body);
    if (static_cast<unsigned>(res.status) < 300) {
        const auto* object = body.if_contains("object");
        const auto* data = body.if_contains("data");
        const auto* has_more = body.if_contains("has_more");
        const bool is_user = body.size() == 2 && object && *object == "user" && data && data->is_object();
        const bool is_list = body.size() == 3 && object && *object == "list" && data && data->is_array() &&
                             std::ranges::all_of(data->as_array(), [](const auto& u) { return u.is_object(); }) &&
                             has_more && has_more->is_bool();
        // A batch's answers: each an object with its status.
        const bool is_batch =
            body.size() == 2 && object && *object == "list" && data && data->is_array() &&
            std::ranges::all_of(data->as_array(), [](const auto& a) { return a.is_object() && a.as_object().contains("status"); });
        if (!is_user && !is_list && !is_batch)
            fail("success body neither {\"object\":\"user\",\"data\":{...}} nor a list:", res.body);
    } else {
        const auto* error = body.if_contains("error");
        const auto* fields = error ? error->if_object() : nullptr;
        const auto* code = fields ? fields->if_contains("code") : nullptr;
        const auto* message = fields ? fields->if_contains("message") : nullptr;
        if (body.size() != 1 || !code || !code->is_string() || !message || !message->is_string())
            fail("error body not the envelope:", res.body);
    }
    return {std::move(back), std::move(body)};
}

std::string percent_encoded(std::string_view s) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : s) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    return out;
}

// A user that a 201 or a PATCH's 200 answered must be readable back, by id and by external id,
// with the same body, by its owner.
void check_written(harness& h, user_service& service, credential_memo& credentials, const request& write,
                   const wire_response& res, const json::object& body) {
    const json::object& data = body.at("data").as_object();
    const auto* id = data.if_contains("id");
    const auto* external = data.if_contains("external_user_id");
    if (!id || !id->is_string() || !external || !external->is_string())
        fail("written user without string id and external_user_id:", res.body());
    if (write.method == http::verb::post && res[http::field::location] != "/v1/users/" + std::string(id->as_string()))
        fail("201 Location is not /v1/users/{id}:", res[http::field::location]);
    for (const std::string& target :
         {"/v1/users/" + std::string(id->as_string()),
          "/v1/users/external:" + percent_encoded(external->as_string())}) {
        request get;
        get.method = http::verb::get;
        get.method_string = "GET";
        get.target = target;
        get.host = "fuzz";
        get.host_count = 1;
        get.authorization = write.authorization;
        const response found = h.respond(get, service, credentials);
        if (found.status == http::status::too_many_requests) continue;  // rate limited: nothing to compare
        check_response(get, found);
        if (found.status != http::status::ok || found.body != res.body())
            fail("written user not read back identically from", target);
    }
}

harness& the_harness() {
    static harness h;
    return h;
}

}  // namespace
}  // namespace ozzie

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ozzie;
    harness& h = the_harness();
    user_service& service = h.service();
    input_stream stream({reinterpret_cast<const char*>(data), size});
    beast::flat_buffer buffer;  // as in the session: bytes read past one request start the next
    request req;
    credential_memo credentials;
    for (;;) {
        request_parser parser(req);
        parser.header_limit(static_cast<std::uint32_t>(h.limits.header_limit));
        parser.body_limit(h.limits.body_limit);
        // Read as the session reads: the header, then the body, from what is buffered, reading
        // only when the parser needs more.
        beast::error_code ec;
        std::size_t header_bytes = 0;
        for (int part = 0; part < 2 && !ec; ++part)
            while (parse_buffered(parser, buffer, header_bytes, ec)) {
                buffer.commit(stream.read_some(buffer.prepare(4096), ec));
                if (ec) {
                    end_of_input(parser, ec);
                    break;
                }
            }
        // The end of the input, or a parse error: the session answers that by its own rules
        // (parse_failure in session.cpp, out of this harness's reach) and closes the connection.
        if (ec) return 0;
        const response res = h.respond(req, service, credentials);
        const auto [back, body] = check_response(req, res);
        // (A replay answers the write as it was then: the user may have changed since.)
        const bool replayed = back["Idempotent-Replayed"] == "true";
        if (!replayed && (res.status == http::status::created ||
                          (req.method == http::verb::patch && res.status == http::status::ok)))
            check_written(h, service, credentials, req, back, body);
        if (!res.keep_alive) return 0;
    }
}
