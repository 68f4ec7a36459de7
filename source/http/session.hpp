// One client connection: read requests, answer them in order, keep-alive.
#pragma once

#include "auth/credential_memo.hpp"
#include "http/handlers.hpp"
#include "http/request.hpp"
#include "http/responses.hpp"
#include "http/types.hpp"
#include "ops/metrics.hpp"

#include <ozzie/config.hpp>

#include <boost/asio/ssl/context.hpp>

#include <functional>
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

// Answers one parsed request into the response (reset for it), with the connection's memo of
// its credentials; fills in the outcome for the log and the metrics.
using request_handler =
    std::function<net::awaitable<void>(const request&, credential_memo&, request_outcome&, response&)>;

// Serves one connection until the client closes it, an error occurs or the server stops.
// Requests that pass the limits and framing rules go to `handler`; with `metrics` (this
// thread's shard), each is counted there.
net::awaitable<void> run_session(net::ip::tcp::socket socket, const request_handler& handler,
                                 const server_options& options, session_registry& registry,
                                 http_metrics::shard* metrics);

// run_session over TLS: the handshake (within the request timeout), then the same loop.
net::awaitable<void> run_tls_session(net::ip::tcp::socket socket, net::ssl::context& tls,
                                     const request_handler& handler, const server_options& options,
                                     session_registry& registry, http_metrics::shard* metrics);

}  // namespace ozzie
