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
//
// Timeouts are deadlines that the session moves (a clock read, no syscall) and that the thread's
// housekeeping checks a few times a second (expire), instead of a timer armed and cancelled
// around every read and write.
struct session_registry {
    using clock = std::chrono::steady_clock;
    struct entry {
        tcp_socket* socket;
        bool busy = false;  // from the first byte of a request to having written its answer
        clock::time_point deadline = clock::time_point::max();
    };
    std::list<entry> sessions;
    bool stopping = false;
    // Called once stop() has been called and no session is left (at once if none is open).
    std::function<void()> on_drained;

    // Closes every idle connection; busy ones close after their answer is written (a request
    // still arriving must arrive within the request timeout).
    void stop();
    // Removes an ended session.
    void remove(std::list<entry>::iterator session);
    // Ends the connections whose deadline has passed: their pending reads and writes fail, and
    // so does any they start after.
    void expire(clock::time_point now);
};

// Answers a connection over the limit with 503 and closes it.
awaitable<> refuse_connection(tcp_socket socket);

// Answers one parsed request into the response (reset for it), with the connection's memo of
// its credentials; fills in the outcome for the log and the metrics.
using request_handler =
    std::function<awaitable<>(const request&, credential_memo&, request_outcome&, response&)>;

// Serves one connection until the client closes it, an error occurs or the server stops.
// Requests that pass the limits and framing rules go to `handler`; with `metrics` (this
// thread's shard), each is counted there.
awaitable<> run_session(tcp_socket socket, const request_handler& handler,
                                 const server_options& options, session_registry& registry,
                                 http_metrics::shard* metrics);

// run_session over TLS: the handshake (within the request timeout), then the same loop.
awaitable<> run_tls_session(tcp_socket socket, net::ssl::context& tls,
                                     const request_handler& handler, const server_options& options,
                                     session_registry& registry, http_metrics::shard* metrics);

}  // namespace ozzie
