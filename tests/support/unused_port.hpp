// A port on 127.0.0.1 that nothing listens on, for as long as the object lives: for the tests that
// need a connection refused (ozzie-admin with no server) or one port named by two listeners of a
// server (which must refuse it).
//
// Binding port 0 and closing the socket again would leave the port free for any other process to
// take before the test uses it. So the socket stays bound and never listens: connections to the
// port are refused, and the kernel hands it to no one else (bind to port 0, connect). A bind to
// it fails unless both sockets set SO_REUSEADDR, as this one does and as ozzie::server's check of
// its ports does: a server under test can still bind it, so it refuses a shared port because
// its own listeners share it, not because the port is taken.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace ozzie::testing {

class unused_port {
public:
    unused_port() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        const int on = 1;
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = 0;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof address;
        if (::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
            ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
            const int e = errno;
            ::close(fd_);
            throw std::system_error(e, std::generic_category(), "bind to 127.0.0.1:0");
        }
        port_ = ntohs(address.sin_port);
    }
    ~unused_port() { ::close(fd_); }
    unused_port(const unused_port&) = delete;
    unused_port& operator=(const unused_port&) = delete;

    std::uint16_t port() const noexcept { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace ozzie::testing
