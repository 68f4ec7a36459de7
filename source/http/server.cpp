#include <ozzie/server.hpp>

#include "auth/client_registry.hpp"
#include "http/session.hpp"

#include <atomic>
#include <future>
#include <iostream>
#include <thread>

namespace ozzie {
namespace {

using tcp = net::ip::tcp;
// SO_REUSEPORT lets every thread's acceptor bind the same port; the kernel spreads connections.
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// How long stop() lets requests in flight finish before it stops the threads anyway.
constexpr auto stop_deadline = std::chrono::seconds(10);

// One network thread: its own io_context, acceptor and sessions; nothing is shared with the
// others but the service and the clients.
// `sessions` comes first: destroying `io` destroys unfinished session coroutines, which
// unregister themselves from it.
struct worker {
    session_registry sessions;
    net::io_context io{1};
    tcp::acceptor acceptor{io};
    std::future<void> finished;
    std::thread thread;
};

net::awaitable<void> accept_loop(worker& w, const request_context& context,
                                 const server_options& options, std::atomic<std::size_t>& open) {
    for (;;) {
        auto [ec, socket] = co_await w.acceptor.async_accept(net::as_tuple(net::use_awaitable));
        if (!w.acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors and the like: wait a little rather than spin.
            net::steady_timer pause(w.io, std::chrono::milliseconds(10));
            co_await pause.async_wait(net::as_tuple(net::use_awaitable));
            continue;
        }
        const auto closed = [&open](std::exception_ptr) { open.fetch_sub(1, std::memory_order_relaxed); };
        if (open.fetch_add(1, std::memory_order_relaxed) >= options.max_connections)
            net::co_spawn(w.io, refuse_connection(std::move(socket), options), closed);
        else
            net::co_spawn(w.io, run_session(std::move(socket), context, options, w.sessions), closed);
    }
}

}  // namespace

struct server::impl {
    impl(user_service& s, server_options o) : service(s), options(std::move(o)) {}

    user_service& service;
    server_options options;
    std::optional<client_registry> clients;
    std::optional<rate_limiter> limiter;
    std::optional<request_context> context;
    std::atomic<std::size_t> open_connections{0};
    std::vector<std::unique_ptr<worker>> workers;
};

server::server(user_service& service, server_options options)
    : impl_(std::make_unique<impl>(service, std::move(options))) {}

server::~server() { stop(); }

std::uint16_t server::start() {
    if (!impl_->workers.empty()) throw std::logic_error("server already started");
    impl_->clients = client_registry::load(impl_->options.clients_file);
    impl_->limiter.emplace(impl_->clients->client_ids(), impl_->options.rate_limit,
                           impl_->options.rate_burst);
    impl_->context.emplace(request_context{impl_->service, *impl_->clients, &*impl_->limiter});

    const unsigned threads = impl_->options.threads ? impl_->options.threads
                                                    : std::max(1u, std::thread::hardware_concurrency());
    net::io_context resolver_io;
    tcp::resolver resolver(resolver_io);
    auto endpoint = resolver
                        .resolve(impl_->options.host, std::to_string(impl_->options.port),
                                 tcp::resolver::passive | tcp::resolver::numeric_service)
                        .begin()
                        ->endpoint();
    // Bind every acceptor before starting any thread, so a failure leaves nothing running.
    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned i = 0; i < threads; ++i) {
        auto w = std::make_unique<worker>();
        w->acceptor.open(endpoint.protocol());
        w->acceptor.set_option(tcp::acceptor::reuse_address(true));
        w->acceptor.set_option(reuse_port(true));
        w->acceptor.bind(endpoint);
        w->acceptor.listen(net::socket_base::max_listen_connections);
        endpoint.port(w->acceptor.local_endpoint().port());  // port 0: the others take the same
        workers.push_back(std::move(w));
    }
    impl_->workers = std::move(workers);
    for (auto& w : impl_->workers) {
        net::co_spawn(w->io, accept_loop(*w, *impl_->context, impl_->options, impl_->open_connections), net::detached);
        std::packaged_task<void()> run([&io = w->io] { io.run(); });
        w->finished = run.get_future();
        w->thread = std::thread(std::move(run));
    }
    return endpoint.port();
}

void server::stop() {
    for (auto& w : impl_->workers)
        net::post(w->io, [&w = *w] {
            beast::error_code ignored;
            w.acceptor.close(ignored);
            w.sessions.stop();
        });
    const auto deadline = std::chrono::steady_clock::now() + stop_deadline;
    for (auto& w : impl_->workers) {
        if (w->finished.wait_until(deadline) == std::future_status::timeout) {
            std::cerr << "ozzie: connections still busy at shutdown; closing them\n";
            w->io.stop();
        }
        w->thread.join();
    }
    impl_->workers.clear();
}

}  // namespace ozzie
