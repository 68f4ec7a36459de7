// The HTTP/1.1 server of the Users API, embeddable in any process.
#pragma once

#include <ozzie/config.hpp>
#include <ozzie/user_service.hpp>

#include <cstdint>
#include <memory>

namespace ozzie {

class server {
public:
    // The service must outlive the server.
    server(user_service& service, server_options options);
    // Stops the server if it is running.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Loads the clients file, binds, and starts the network threads (and the admin listener's).
    // Returns the bound public port. Throws std::runtime_error (unreadable clients file, bad
    // option) or boost::system::system_error (cannot bind).
    std::uint16_t start();

    // Reads the clients file again and, if it is valid, serves every later request with it
    // (connections stay open; rate-limit buckets start full). A broken file is rejected with an
    // error log line and the previous clients kept; returns whether the new file was taken.
    bool reload_clients();

    // The bound admin port once started; 0 without an admin listener.
    std::uint16_t admin_port() const noexcept;
    // The bound HTTPS port once started; 0 without an HTTPS listener.
    std::uint16_t tls_port() const noexcept;

    // Graceful shutdown: stops accepting, closes idle connections, lets requests in flight
    // finish and be answered, then joins the threads. Idempotent.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ozzie
