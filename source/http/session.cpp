#include "http/session.hpp"

#include "http/request_id.hpp"
#include "ops/access_log.hpp"
#include "ops/logging.hpp"
#include "service/messages.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace ozzie {
namespace {

// The version of a request line ending in a well-formed "HTTP/d.d" that Beast refused (it only
// parses 1.x); nullopt if the line is simply malformed.
std::optional<unsigned> refused_version(std::string_view received) {
    const std::string_view line = received.substr(0, received.find("\r\n"));
    // method SP target SP version: exactly two spaces, the second just before the version.
    if (line.size() < 9 || std::count(line.begin(), line.end(), ' ') != 2 || line[line.size() - 9] != ' ')
        return std::nullopt;
    const std::string_view version = line.substr(line.size() - 8);
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!version.starts_with("HTTP/") || !digit(version[5]) || version[6] != '.' || !digit(version[7]))
        return std::nullopt;
    return static_cast<unsigned>((version[5] - '0') * 10 + (version[7] - '0'));
}

// The answer to a request that could not be parsed (`received`: the bytes not yet consumed);
// the connection closes after it.
ozzie::error parse_failure(const beast::error_code& ec, std::string_view received, const server_options& options,
                           std::size_t body_limit) {
    if (ec == http::error::body_limit) return messages::payload_too_large(body_limit);
    if (ec == http::error::header_limit) return messages::headers_too_large(options.header_limit);
    if (ec == http::error::bad_version)
        if (const auto version = refused_version(received))
            return messages::http_version_not_supported(*version);
    return messages::bad_request(ec.message());
}

// RFC 3986 host (reg-name, IPv4 or [IPv6]) with an optional port: no spaces, slashes and the
// like. Empty is valid: a target without authority (RFC 9110 7.2).
bool is_valid_host(std::string_view host) noexcept {
    constexpr std::string_view allowed =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:[]";
    return host.find_first_not_of(allowed) == std::string_view::npos;
}

// RFC 9112 framing rules Beast leaves to the server. A request that breaks one is answered
// and the connection closed, so nothing after it is read as a request (no smuggling).
std::optional<ozzie::error> framing_error(const request& req) {
    if (req.version != 11 && req.version != 10) return messages::http_version_not_supported(req.version);
    if (req.host_count > 1 || (req.version == 11 && req.host_count == 0))
        return messages::bad_request("an HTTP/1.1 request needs exactly one Host header");
    if (req.host_count == 1 && !is_valid_host(req.host))
        return messages::bad_request("the Host header is not a valid host[:port]");
    if (req.transfer_encoding_count > 0) {
        // HTTP/1.0 has no chunked coding: its framing would be ambiguous (RFC 9112 6.1).
        if (req.version == 10) return messages::bad_request("Transfer-Encoding in an HTTP/1.0 request");
        if (req.content_length_count > 0) return messages::bad_request("Content-Length together with Transfer-Encoding");
        if (!req.chunked) return messages::bad_request("Transfer-Encoding must end in chunked");
    }
    return std::nullopt;
}

// The most one read takes: a typical request in one read, and a small buffer per connection.
constexpr std::size_t read_size = 4096;
// A request's or answer's storage past this size is not kept for the next request.
constexpr std::size_t large_buffer = 16 * 1024;

bool is_disconnect(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::operation_aborted;
}

}  // namespace

void session_registry::stop() {
    stopping = true;
    for (auto& session : sessions)
        if (!session.busy) session.socket->cancel();
    if (sessions.empty() && on_drained) on_drained();
}

void session_registry::remove(std::list<entry>::iterator session) {
    sessions.erase(session);
    if (stopping && sessions.empty() && on_drained) on_drained();
}

void session_registry::expire(clock::time_point now) {
    for (auto& session : sessions)
        if (session.deadline <= now) {
            beast::error_code ignored;
            // Shut down first, so that an operation started after the cancel fails too.
            session.socket->shutdown(net::socket_base::shutdown_both, ignored);
            session.socket->cancel(ignored);
        }
}

namespace {

// The request loop over a plain or TLS stream; the timeouts and the registry work on the TCP
// layer underneath.
template <class Stream>
awaitable<> serve(Stream& stream, session_registry::entry& entry, const request_handler& handler,
                  const server_options& options, session_registry& registry, http_metrics::shard* metrics) {
    using clock = session_registry::clock;
    if (metrics) metrics->connection_opened();
    struct closed {
        http_metrics::shard* metrics;
        ~closed() {
            if (metrics) metrics->connection_closed();
        }
    } count_close{metrics};

    // Kept for the whole connection and refilled for each request: after the first few
    // requests, a request allocates nothing here.
    beast::flat_buffer buffer;
    request req;
    response res;
    std::string id;
    std::string out;
    credential_memo credentials;
    auto now = clock::now();  // after each answer is written
    while (!registry.stopping) {
        beast::error_code ec;
        std::size_t n = 0;
        // Between requests the idle timeout applies; from the first byte of a request on, the
        // whole request must arrive within the request timeout.
        if (buffer.size() == 0) {
            // An idle connection keeps small buffers only: storage a large request or answer
            // needed is given back before waiting (a few KiB per idle connection, not 64).
            if (buffer.capacity() > read_size) buffer.shrink_to_fit();
            for (auto* kept : {&req.body, &res.body, &out})
                if (kept->capacity() > large_buffer) std::string().swap(*kept);
            entry.deadline = now + options.idle_timeout;
            std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(read_size), net::as_tuple(use_awaitable));
            if (ec) break;
            buffer.commit(n);
        }
        // From its first byte on, a request is in flight: a graceful stop waits for its answer.
        entry.busy = true;
        const auto started = clock::now();
        request_parser parser(req);
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        // Until the header says which route the request is for, the largest limit of any route.
        parser.body_limit(std::max(options.body_limit, options.batch_body_limit));
        // The body limit of the request's route, once its request line is read.
        const auto body_limit = [&req, &options] {
            const bool batch = req.method == http::verb::post && match_route(req.target).which == route::batch;
            return batch ? options.batch_body_limit : options.body_limit;
        };
        entry.deadline = started + options.request_timeout;

        // The header, then (once it passes) the body: parsed from what was read, reading more only
        // when the parser needs it. Usually the first read held the whole request.
        std::size_t header_bytes = 0;
        while (parse_buffered(parser, buffer, header_bytes, ec)) {
            std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(read_size), net::as_tuple(use_awaitable));
            buffer.commit(n);
            if (ec) {
                end_of_input(parser, ec);
                break;
            }
        }
        std::optional<ozzie::error> refused;
        // Beast checks the header limit against the bytes it is given; the bytes it took for the
        // header are exact.
        if (!ec && header_bytes > options.header_limit) refused = messages::headers_too_large(options.header_limit);
        if (!ec && !refused) refused = framing_error(req);
        if (!ec && !refused) {
            // Beast checks a chunked body against the route's limit as it comes; a Content-Length
            // is checked here.
            const auto limit = body_limit();
            parser.body_limit(limit);
            if (parser.content_length() && *parser.content_length() > limit) refused = messages::payload_too_large(limit);
        }
        if (!ec && !refused && beast::iequals(req.expect, "100-continue")) {
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            std::tie(ec, n) = co_await net::async_write(stream, net::buffer(go_on), net::as_tuple(use_awaitable));
        }
        while (!ec && !refused && parse_buffered(parser, buffer, header_bytes, ec)) {
            std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(read_size), net::as_tuple(use_awaitable));
            buffer.commit(n);
            if (ec) end_of_input(parser, ec);
        }
        if (is_disconnect(ec)) break;
        if (ec) {
            const auto unread = buffer.cdata();
            refused = parse_failure(ec, {static_cast<const char*>(unread.data()), unread.size()}, options,
                                    body_limit());
        }

        // The request is read: no deadline while it is handled (a create may wait on a slow disk,
        // and its answer must not be lost to a timeout), then the write timeout for the answer.
        entry.deadline = clock::time_point::max();
        const bool header_done = parser.is_header_done();
        request_id(header_done ? std::string_view(req.request_id) : std::string_view(), id);
        request_outcome outcome;
        res.reset(req);
        if (refused) {
            // Whatever the request was, the answer is HTTP/1.1 and the connection closes.
            res.version = 11;
            res.keep_alive = false;
            res.head = false;
            set_error(res, *refused);
        } else {
            try {
                co_await handler(req, credentials, outcome, res);
            } catch (const std::exception& e) {
                // A bug, not a client error: answer in the envelope and keep the server up.
                log(log_level::error, "request_failed", {{"request_id", id}, {"what", e.what()}});
                res.reset(req);
                res.keep_alive = false;
                set_error(res, messages::internal());
            }
        }
        if (registry.stopping) res.keep_alive = false;
        out.clear();
        serialize(res, id, out);
        entry.deadline = clock::now() + options.write_timeout;
        std::tie(ec, n) = co_await net::async_write(stream, net::buffer(out), net::as_tuple(use_awaitable));
        entry.busy = false;
        now = clock::now();
        const auto latency = now - started;
        const auto status = static_cast<unsigned>(res.status);
        if (metrics)
            metrics->observe(outcome.which, header_done ? req.method : http::verb::unknown, status,
                             std::chrono::duration<double>(latency).count());
        log_access({.request_id = id,
                    .client_id = outcome.client_id,
                    .method = header_done ? std::string_view(req.method_string) : std::string_view(),
                    .route = outcome.route_name,
                    .status = status,
                    .latency = std::chrono::duration_cast<std::chrono::microseconds>(latency)});
        if (ec || !res.keep_alive) break;
    }
}

// Registers the connection with its thread's sessions for as long as it lives.
class registration {
public:
    registration(session_registry& registry, tcp_socket& socket)
        : registry_(registry), entry_(registry.sessions.insert(registry.sessions.end(), {&socket})) {}
    ~registration() { registry_.remove(entry_); }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

    session_registry::entry& entry() { return *entry_; }

private:
    session_registry& registry_;
    std::list<session_registry::entry>::iterator entry_;
};

}  // namespace

awaitable<> run_session(tcp_socket socket, const request_handler& handler, const server_options& options,
                        session_registry& registry, http_metrics::shard* metrics) {
    beast::error_code ignored;
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    registration session(registry, socket);
    co_await serve(socket, session.entry(), handler, options, registry, metrics);
    socket.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

awaitable<> run_tls_session(tcp_socket socket, net::ssl::context& tls, const request_handler& handler,
                            const server_options& options, session_registry& registry, http_metrics::shard* metrics) {
    beast::error_code ignored;
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    net::ssl::stream<tcp_socket> stream(std::move(socket), tls);
    registration session(registry, stream.next_layer());
    session.entry().deadline = session_registry::clock::now() + options.request_timeout;
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, net::as_tuple(use_awaitable));
    if (ec) co_return;  // not TLS, or not ours: nothing to answer
    co_await serve(stream, session.entry(), handler, options, registry, metrics);
    session.entry().deadline = session_registry::clock::now() + options.write_timeout;
    co_await stream.async_shutdown(net::as_tuple(use_awaitable));
}

awaitable<> refuse_connection(tcp_socket socket) {
    response res;
    res.keep_alive = false;
    set_error(res, messages::unavailable());
    std::string id;
    request_id({}, id);
    std::string out;
    serialize(res, id, out);
    // A few hundred bytes on a new connection fit in its send buffer: the write cannot block,
    // so it needs no timeout.
    co_await net::async_write(socket, net::buffer(out), net::as_tuple(use_awaitable));
    beast::error_code ignored;
    socket.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace ozzie
