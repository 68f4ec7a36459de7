// A raw TCP connection to 127.0.0.1 for hostile-input and slow-client tests: plain POSIX
// sockets, so a test controls every byte written, when it is written, the receive buffer, and
// can tell "the server answered" from "the server closed without a word".
//
// Every wait has a deadline and never blocks past it: a server that hangs makes the test fail
// instead of hanging it. The deadlines are safety nets, not timing assertions.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>  // POLLRDHUP needs _GNU_SOURCE, which g++ defines
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace ozzie::testing {

namespace raw_http = boost::beast::http;

// Raises the soft limit on open descriptors to the hard limit (tests that open hundreds of
// sockets, plus the server's side of each, need it). Returns the soft limit now in force.
inline rlim_t raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

class raw_connection {
public:
    using clock = std::chrono::steady_clock;
    using response = raw_http::response<raw_http::string_body>;

    // What a wait for the server's next move found.
    enum class outcome {
        response,  // a whole response arrived (see last_response())
        closed,    // the server closed (EOF or reset) before a whole response
        timeout,   // the deadline passed with the connection still open and nothing complete
    };

    // Connects to 127.0.0.1:port. `receive_buffer` > 0 sets SO_RCVBUF before connecting (so
    // the advertised window is small too). Throws std::system_error if it cannot connect.
    explicit raw_connection(std::uint16_t port, int receive_buffer = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        if (receive_buffer > 0)
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw std::system_error(e, std::generic_category(), "connect");
        }
    }
    ~raw_connection() { close(); }
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    int fd() const noexcept { return fd_; }

    void close() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    // Closes with an RST instead of a FIN (SO_LINGER 0): an abrupt client disappearance.
    void reset() noexcept {
        if (fd_ < 0) return;
        const linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close();
    }

    // No more bytes from this side (FIN); the server can still answer.
    void shutdown_write() noexcept {
        if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
    }

    // Writes all of `bytes` unless the server closes first or the deadline passes. Returns the
    // number of bytes written; a closed or reset connection is not an error here (hostile
    // requests are often cut off by the server), it simply stops the write.
    std::size_t send(std::string_view bytes, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
        const auto until = clock::now() + deadline;
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent,
                                     MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait_for(POLLOUT, until)) break;
                continue;
            }
            break;  // EPIPE, ECONNRESET...: the server is gone
        }
        return sent;
    }

    // Sends one byte without waiting; false if it could not (buffer full or connection gone).
    bool send_byte_now(char c) noexcept {
        const ssize_t n = ::send(fd_, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        return n == 1;
    }

    enum class send_result { progress, would_block, gone };
    // One non-blocking write of as much of `bytes` as fits; `sent` receives the count.
    // gone: the connection was closed or reset by the server (EPIPE, ECONNRESET...).
    send_result try_send(std::string_view bytes, std::size_t& sent) noexcept {
        sent = 0;
        for (;;) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                sent = static_cast<std::size_t>(n);
                return send_result::progress;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return send_result::would_block;
            return send_result::gone;
        }
    }

    // True if the server has reset the connection or shut down its side, as far as the kernel
    // knows, without reading anything (unread data may be waiting). Waits up to `deadline`.
    bool hung_up(std::chrono::milliseconds deadline = std::chrono::milliseconds(0)) noexcept {
        pollfd p{fd_, POLLRDHUP, 0};
        const int r = ::poll(&p, 1, static_cast<int>(deadline.count()));
        return r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    }

    // Waits for one whole response (`to_head`: the answer to a HEAD, without a body).
    outcome read_response(std::chrono::milliseconds deadline = std::chrono::seconds(5),
                          bool to_head = false) {
        const auto until = clock::now() + deadline;
        raw_http::response_parser<raw_http::string_body> parser;
        parser.eager(true);
        parser.skip(to_head);
        parser.body_limit(16u << 20);
        for (;;) {
            while (!pending_.empty()) {
                boost::beast::error_code ec;
                const std::size_t used = parser.put(boost::asio::buffer(pending_), ec);
                pending_.erase(0, used);
                if (ec == raw_http::error::need_more) break;
                if (ec) throw std::runtime_error("raw_connection: unparsable response: " + ec.message());
                if (parser.is_done()) {
                    last_ = parser.release();
                    ++responses_;
                    return outcome::response;
                }
                if (used == 0) break;
            }
            const auto got = receive(until);
            if (got == receive_result::closed) {
                if (parser.got_some()) {
                    boost::beast::error_code ec;
                    parser.put_eof(ec);
                    if (!ec && parser.is_done()) {
                        last_ = parser.release();
                        ++responses_;
                        return outcome::response;
                    }
                    truncated_ = true;
                }
                return outcome::closed;
            }
            if (got == receive_result::timeout) return outcome::timeout;
        }
    }

    // Waits until the server closes the connection. closed: EOF or reset with no byte before
    // it; response: bytes arrived instead (they are kept for read_response); timeout: neither
    // before the deadline.
    outcome wait_for_close(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
        if (!pending_.empty()) return outcome::response;
        const auto until = clock::now() + deadline;
        const auto got = receive(until);
        if (got == receive_result::closed) return pending_.empty() ? outcome::closed : outcome::response;
        if (got == receive_result::timeout) return outcome::timeout;
        return outcome::response;
    }

    // True if the server has closed its side: a non-blocking check, no waiting. Bytes read on
    // the way are kept.
    bool closed_now() {
        for (;;) {
            char data[4096];
            const ssize_t n = ::recv(fd_, data, sizeof data, MSG_DONTWAIT);
            if (n > 0) {
                pending_.append(data, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) return true;
            if (errno == EINTR) continue;
            return errno != EAGAIN && errno != EWOULDBLOCK;
        }
    }

    const response& last_response() const noexcept { return last_; }
    std::size_t responses() const noexcept { return responses_; }
    // Bytes received but not yet part of a response.
    const std::string& pending() const noexcept { return pending_; }
    // The last close came in the middle of a response.
    bool truncated() const noexcept { return truncated_; }
    // The last close was a reset rather than an orderly EOF.
    bool was_reset() const noexcept { return reset_; }

private:
    enum class receive_result { data, closed, timeout };

    bool wait_for(short events, clock::time_point until) {
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, events, 0};
            const int r = ::poll(&p, 1, static_cast<int>(left.count()));
            if (r > 0) return true;
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return false;
            return true;  // let the caller's I/O call report the error
        }
    }

    receive_result receive(clock::time_point until) {
        for (;;) {
            if (!wait_for(POLLIN, until)) return receive_result::timeout;
            char data[16384];
            const ssize_t n = ::recv(fd_, data, sizeof data, MSG_DONTWAIT);
            if (n > 0) {
                pending_.append(data, static_cast<std::size_t>(n));
                return receive_result::data;
            }
            if (n == 0) return receive_result::closed;
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            reset_ = errno == ECONNRESET;
            return receive_result::closed;
        }
    }

    int fd_ = -1;
    std::string pending_;
    response last_;
    std::size_t responses_ = 0;
    bool truncated_ = false;
    bool reset_ = false;
};

}  // namespace ozzie::testing
