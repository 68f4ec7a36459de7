// One client connection: read requests, answer them in order, keep-alive.
#pragma once

#include "http/handlers.hpp"
#include "http/types.hpp"

#include <ozzie/config.hpp>

#include <list>

namespace ozzie {

// What a thread's sessions share. Lives on one io_context; touched only from its thread.
struct session_registry {
    struct entry {
        beast::tcp_stream* stream;
        bool busy;  // between having read a request and having written its answer
    };
    std::list<entry> sessions;
    bool stopping = false;

    // Closes every idle connection; busy ones close after their answer is written.
    void stop();
};

// Answers a connection over the limit with 503 and closes it.
net::awaitable<void> refuse_connection(net::ip::tcp::socket socket, const server_options& options);

// Serves one connection until the client closes it, an error occurs or the server stops.
net::awaitable<void> run_session(net::ip::tcp::socket socket, const request_context& context,
                                 const server_options& options, session_registry& registry);

}  // namespace ozzie
