// A small synchronous HTTP/1.1 test client over one real TCP connection (Boost.Beast).
//
// Every operation runs on the client's own io_context with a deadline, so a server that never
// answers makes the test fail (the call throws) instead of hanging it. The deadline is generous:
// it is a safety net, not a timing assertion.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ozzie::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;
using header_list = std::vector<std::pair<std::string, std::string>>;

// If set, called with every request sent through http_client::send (and so request) and the
// response it got, before that is returned; it may throw to fail the caller. Unset by default;
// the HTTP tests set it once, before any test, to check every response against
// docs/openapi.yaml. Responses read after write_raw are not passed to it.
inline std::function<void(const http_request&, const http_response&)> check_every_response;

class http_client {
public:
    // Connects to 127.0.0.1:port. Throws boost::system::system_error if it cannot.
    // `check`, if given, is called as check_every_response is, for this client's answers only
    // (e.g. to check them against the admin listener's document).
    explicit http_client(std::uint16_t port,
                         std::chrono::steady_clock::duration timeout = std::chrono::seconds{30},
                         std::function<void(const http_request&, const http_response&)> check = {})
        : http_client(net::ip::make_address("127.0.0.1"), port, timeout, std::move(check)) {}

    // Connects to address:port (an IPv6 listener: ::1).
    http_client(const net::ip::address& address, std::uint16_t port,
                std::chrono::steady_clock::duration timeout = std::chrono::seconds{30},
                std::function<void(const http_request&, const http_response&)> check = {})
        : stream_(ioc_),
          timeout_(timeout),
          host_(address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()),
          check_(std::move(check)) {
        const net::ip::tcp::endpoint endpoint(address, port);
        run("connect", [&](auto done) {
            stream_.async_connect(endpoint, [done](boost::system::error_code ec) mutable {
                done(ec, 0);
            });
        });
    }

    // Sends `method target` (HTTP/1.1, keep-alive) with the given extra headers and body, and
    // returns the response. A Content-Length is set whenever there is a body or the method is
    // POST. Throws on I/O errors and timeouts.
    http_response request(http::verb method, std::string_view target,
                          const header_list& headers = {}, std::string body = {}) {
        http_request req{method, target, 11};
        req.set(http::field::host, host_);
        for (const auto& [name, value] : headers) req.set(name, value);
        const bool has_body = !body.empty() || method == http::verb::post;
        req.body() = std::move(body);
        if (has_body) req.prepare_payload();
        return send(std::move(req));
    }

    // Writes `req` as it is and reads its response.
    http_response send(http_request req) {
        run("write request", [&](auto done) { http::async_write(stream_, req, done); });
        http_response res = read_response(req.method() == http::verb::head);
        if (check_every_response) check_every_response(req, res);
        if (check_) check_(req, res);
        return res;
    }

    // Writes raw bytes as they are (for malformed or pipelined requests).
    void write_raw(std::string_view bytes) {
        run("write raw", [&](auto done) {
            net::async_write(stream_, net::buffer(bytes.data(), bytes.size()), done);
        });
    }

    // Reads one response. `to_head` must be true for the answer to a HEAD request, which has
    // headers but never a body.
    http_response read_response(bool to_head = false) {
        http::response_parser<http::string_body> parser;
        parser.skip(to_head);
        run("read response", [&](auto done) { http::async_read(stream_, buffer_, parser, done); });
        return parser.release();
    }

    // True if the server has closed the connection: a read ends with EOF (or a reset) before
    // any byte arrives. False if bytes arrive or the deadline passes first.
    bool closed_by_server() {
        if (buffer_.size() != 0) return false;
        char byte = 0;
        boost::system::error_code result;
        try_run([&](auto done) { stream_.async_read_some(net::buffer(&byte, 1), done); }, result);
        return result == net::error::eof || result == net::error::connection_reset;
    }

private:
    // Starts one asynchronous operation with `start(handler)` and runs the io_context until it
    // completes or the deadline expires; `ec` receives the outcome.
    template <class Start>
    void try_run(Start&& start, boost::system::error_code& ec) {
        bool finished = false;
        stream_.expires_after(timeout_);
        start([&](boost::system::error_code e, std::size_t) {
            ec = e;
            finished = true;
        });
        ioc_.restart();
        ioc_.run();
        if (!finished) throw std::logic_error("http_client: operation did not complete");
    }

    template <class Start>
    void run(const char* what, Start&& start) {
        boost::system::error_code ec;
        try_run(std::forward<Start>(start), ec);
        if (ec) throw boost::system::system_error(ec, std::string("http_client: ") + what);
    }

    net::io_context ioc_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::chrono::steady_clock::duration timeout_;
    std::string host_;  // the Host header
    std::function<void(const http_request&, const http_response&)> check_;
};

}  // namespace ozzie::testing
