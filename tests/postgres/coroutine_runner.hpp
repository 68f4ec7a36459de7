// Runs a coroutine on an io_context in the test's own thread, so that Boost.Test (which is not
// thread-safe) is only ever called from that thread.
#pragma once

#include <ozzie/awaitable.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <stdexcept>

namespace ozzie::testing {

// Runs `body(executor)` (a coroutine) on `io` in this thread until it ends; then stops `io`
// (connections on it would run on forever) and rethrows what the coroutine threw.
template <class Body>
void run_coroutine(boost::asio::io_context& io, Body body) {
    std::exception_ptr failed;
    bool done = false;
    boost::asio::co_spawn(io.get_executor(), body(io.get_executor()), [&](std::exception_ptr e) {
        failed = e;
        done = true;
        io.stop();
    });
    io.restart();
    io.run();
    if (!done) throw std::logic_error("the coroutine did not finish");
    if (failed) std::rethrow_exception(failed);
}

// The same on a new io_context, destroyed after it (with whatever is left on it).
template <class Body>
void run_coroutine(Body body) {
    boost::asio::io_context io;
    run_coroutine(io, std::move(body));
}

}  // namespace ozzie::testing
