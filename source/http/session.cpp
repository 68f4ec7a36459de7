#include "http/session.hpp"

#include "http/responses.hpp"
#include "service/messages.hpp"

#include <boost/beast/core/string.hpp>

#include <iostream>

namespace ozzie {
namespace {

// How long a client may take to send a request, or stay idle between requests, and how long a
// response may take to be written.
constexpr auto io_timeout = std::chrono::seconds(30);

// The answer to a request that could not be parsed; the connection closes after it.
ozzie::error parse_failure(const beast::error_code& ec, const server_options& options) {
    if (ec == http::error::body_limit) return messages::payload_too_large(options.body_limit);
    if (ec == http::error::header_limit) return messages::headers_too_large(options.header_limit);
    return messages::bad_request(ec.message());
}

bool is_disconnect(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == beast::error::timeout ||
           ec == net::error::operation_aborted;
}

}  // namespace

void session_registry::stop() {
    stopping = true;
    for (auto& session : sessions)
        if (!session.busy) session.stream->cancel();
}

net::awaitable<void> run_session(net::ip::tcp::socket socket, const request_context& context,
                                 const server_options& options, session_registry& registry) {
    beast::tcp_stream stream(std::move(socket));
    beast::error_code ignored;
    stream.socket().set_option(net::ip::tcp::no_delay(true), ignored);
    const auto entry = registry.sessions.insert(registry.sessions.end(), {&stream, false});
    struct unregister {
        session_registry& registry;
        std::list<session_registry::entry>::iterator entry;
        ~unregister() { registry.sessions.erase(entry); }
    } guard{registry, entry};

    beast::flat_buffer buffer;
    while (!registry.stopping) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        parser.body_limit(options.body_limit);
        stream.expires_after(io_timeout);

        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser,
                                                        net::as_tuple(net::use_awaitable));
        if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            http::response<http::empty_body> go_on{http::status::continue_, 11};
            std::tie(ec, n) = co_await http::async_write(stream, go_on, net::as_tuple(net::use_awaitable));
        }
        if (!ec && !parser.is_done())
            std::tie(ec, n) = co_await http::async_read(stream, buffer, parser,
                                                        net::as_tuple(net::use_awaitable));
        if (is_disconnect(ec)) break;

        entry->busy = true;
        response res;
        if (ec) {
            res = error_response(parse_failure(ec, options), 11, false);
        } else {
            const request req = parser.release();
            try {
                res = co_await handle_request(req, context);
            } catch (const std::exception& e) {
                // A bug, not a client error: answer in the envelope and keep the server up.
                std::cerr << "ozzie: request failed: " << e.what() << '\n';
                res = error_response(messages::internal(), req.version(), false);
            }
        }
        if (registry.stopping) res.keep_alive(false);
        stream.expires_after(io_timeout);
        std::tie(ec, n) = co_await http::async_write(stream, res, net::as_tuple(net::use_awaitable));
        entry->busy = false;
        if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace ozzie
