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

    // Loads the clients file, binds, and starts the network threads. Returns the bound port.
    // Throws std::runtime_error (unreadable clients file) or boost::system::system_error
    // (cannot bind).
    std::uint16_t start();

    // Graceful shutdown: stops accepting, closes idle connections, lets requests in flight
    // finish and be answered, then joins the threads. Idempotent.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ozzie
