#include <ozzie/server.hpp>

#include "auth/client_registry.hpp"
#include "http/admin.hpp"
#include "http/session.hpp"
#include "ops/access_log.hpp"
#include "ops/logging.hpp"

#include <atomic>
#include <future>
#include <thread>

namespace ozzie {
namespace {

using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;
// SO_REUSEPORT lets every thread's acceptor bind the same port; the kernel spreads connections.
using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// How long stop() lets requests in flight finish before it stops the threads anyway.
constexpr auto stop_deadline = std::chrono::seconds(10);
// How often a thread checks its connections' deadlines: how late a timeout may fire.
constexpr auto housekeeping_period = std::chrono::milliseconds(100);
// How often a thread hands its access log lines to the logger.
constexpr auto log_flush_period = std::chrono::seconds(1);

// One network thread: its own io_context, acceptor and sessions; nothing is shared with the
// others but the service and the clients.
// `sessions` comes first: destroying `io` destroys unfinished session coroutines, which
// unregister themselves from it.
struct worker {
    session_registry sessions;
    // Only this thread touches the sockets and timers (other threads only post to it), so the
    // reactor may skip its per-descriptor locks.
    net::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    steady_timer housekeeping{io.get_executor()};  // timeouts and the access log's flushes
    tcp_acceptor acceptor{io.get_executor()};
    std::optional<tcp_acceptor> tls_acceptor;  // with an HTTPS listener
    std::optional<request_context> context;  // this thread's; touched only on it
    request_handler handler;
    std::future<void> finished;
    std::thread thread;
};

// Accepts connections on `acceptor` and gives each to `serve`.
template <class Serve>
awaitable<> accept_loop(tcp_acceptor& acceptor, Serve serve) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(use_awaitable));
        if (!acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors and the like: wait a little rather than spin.
            steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
            co_await pause.async_wait(net::as_tuple(use_awaitable));
            continue;
        }
        serve(std::move(socket));
    }
}

// SO_REUSEPORT would let a second server (or a second listener of this one) share a port that
// is already taken, silently splitting its connections. So first bind it alone, which fails if
// anything listens there; port 0 becomes a free port, held until the probe is closed.
tcp::acceptor probe(net::io_context& io, tcp::endpoint& endpoint) {
    tcp::acceptor probe(io);
    probe.open(endpoint.protocol());
    probe.set_option(tcp::acceptor::reuse_address(true));
    probe.bind(endpoint);
    endpoint.port(probe.local_endpoint().port());
    return probe;
}

bool overlap(const tcp::endpoint& a, const tcp::endpoint& b) {
    return a.port() == b.port() &&
           (a.address() == b.address() || a.address().is_unspecified() || b.address().is_unspecified());
}

// Listens on `endpoint`, sharing the port with the other threads' acceptors (SO_REUSEPORT).
void listen(tcp_acceptor& acceptor, tcp::endpoint& endpoint) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.set_option(reuse_port(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    endpoint.port(acceptor.local_endpoint().port());
}

net::ssl::context tls_context(const server_options& options) {
    if (options.tls_certificate.empty() || options.tls_private_key.empty())
        throw std::runtime_error("an HTTPS listener needs a certificate and a private key");
    net::ssl::context tls(net::ssl::context::tls_server);
    tls.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                    net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                    net::ssl::context::single_dh_use);
    tls.use_certificate_chain_file(options.tls_certificate.string());
    tls.use_private_key_file(options.tls_private_key.string(), net::ssl::context::pem);
    return tls;
}

tcp::endpoint resolve(const std::string& host, std::uint16_t port) {
    net::io_context io;
    return tcp::resolver(io)
        .resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service)
        .begin()
        ->endpoint();
}

// Until stop() cancels its timer: ends the connections past their deadline, and hands the
// access log's lines to the logger every second.
awaitable<> housekeep(worker& w) {
    auto flushed = clock::now();
    for (;;) {
        w.housekeeping.expires_after(housekeeping_period);
        const auto [ec] = co_await w.housekeeping.async_wait(net::as_tuple(use_awaitable));
        if (ec) co_return;  // stopping
        const auto now = clock::now();
        w.sessions.expire(now);
        if (now - flushed >= log_flush_period) {
            flush_access_log();
            flushed = now;
        }
    }
}

// Runs the worker's io_context on a thread of its own until it runs out of work or its
// sessions are drained after stop(), then writes out the access log lines the thread still holds.
void run_in_thread(worker& w) {
    // Once stopping, the thread is done when its sessions are: other work on its io_context
    // (the PostgreSQL store's connections) never runs out by itself.
    w.sessions.on_drained = [&io = w.io] { io.stop(); };
    net::co_spawn(w.io, housekeep(w), net::detached);
    std::packaged_task<void()> run([&io = w.io] {
        io.run();
        flush_access_log();
    });
    w.finished = run.get_future();
    w.thread = std::thread(std::move(run));
}

}  // namespace

struct server::impl {
    impl(user_service& s, server_options o) : service(s), options(std::move(o)) {}

    user_service& service;
    server_options options;
    std::optional<http_metrics> metrics;  // made by start(), a shard per network thread
    std::atomic<std::size_t> open_connections{0};
    std::vector<std::unique_ptr<worker>> workers;
    std::unique_ptr<worker> admin;  // its own thread, so a backup never holds up clients
    request_handler admin_handler;
    std::optional<net::ssl::context> tls;
    std::uint16_t tls_port = 0;

    // Serves a client connection on `w` (over TLS if `secure`), or answers 503 past the
    // connection limit.
    void serve(worker& w, http_metrics::shard& shard, tcp_socket socket, bool secure) {
        const auto closed = [this](std::exception_ptr) { open_connections.fetch_sub(1, std::memory_order_relaxed); };
        if (open_connections.fetch_add(1, std::memory_order_relaxed) >= options.max_connections)
            net::co_spawn(w.io, refuse_connection(std::move(socket)), closed);
        else if (secure)
            net::co_spawn(w.io, run_tls_session(std::move(socket), *tls, w.handler, options, w.sessions, &shard), closed);
        else
            net::co_spawn(w.io, run_session(std::move(socket), w.handler, options, w.sessions, &shard), closed);
    }

    // The clients file's registry and a fresh rate limiter for it. Throws std::runtime_error.
    std::pair<std::shared_ptr<const client_registry>, std::shared_ptr<rate_limiter>> load_clients() const {
        auto clients = std::make_shared<const client_registry>(client_registry::load(options.clients_file));
        auto limiter = std::make_shared<rate_limiter>(clients->client_ids(), options.rate_limit, options.rate_burst);
        return {std::move(clients), std::move(limiter)};
    }
};

server::server(user_service& service, server_options options)
    : impl_(std::make_unique<impl>(service, std::move(options))) {}

server::~server() { stop(); }

std::uint16_t server::start() {
    if (!impl_->workers.empty()) throw std::logic_error("server already started");
    auto& m = *impl_;
    const auto level = parse_log_level(m.options.log_level);
    if (!level) throw std::runtime_error("unknown log level '" + m.options.log_level + "'");
    start_logging(*level);
    const auto [clients, limiter] = m.load_clients();

    const unsigned threads = m.options.threads ? m.options.threads : std::max(1u, std::thread::hardware_concurrency());
    // Every listener's endpoint, checked free and apart from the others before anything binds.
    std::vector<std::pair<std::string_view, tcp::endpoint>> taken;
    net::io_context probe_io;
    std::vector<tcp::acceptor> probes;  // hold the ports chosen for port 0 until all are chosen
    const auto endpoint_for = [&](std::string_view listener, const std::string& host, std::uint16_t port) {
        auto endpoint = resolve(host, port);
        try {
            probes.push_back(probe(probe_io, endpoint));
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("the " + std::string(listener) + " listener cannot bind " + host + ":" +
                                     std::to_string(port) + ": " + e.code().message());
        }
        for (const auto& [other, other_endpoint] : taken)
            if (overlap(endpoint, other_endpoint))
                throw std::runtime_error("the " + std::string(listener) + " listener would share port " +
                                         std::to_string(endpoint.port()) + " with the " + std::string(other) +
                                         " listener");
        taken.emplace_back(listener, endpoint);
        return endpoint;
    };
    auto endpoint = endpoint_for("public", m.options.host, m.options.port);
    std::optional<tcp::endpoint> tls_endpoint;
    if (m.options.tls_port) {
        m.tls.emplace(tls_context(m.options));
        tls_endpoint = endpoint_for("HTTPS", m.options.tls_host, *m.options.tls_port);
    }
    std::optional<tcp::endpoint> admin_endpoint;
    if (m.options.admin_port) admin_endpoint = endpoint_for("admin", m.options.admin_host, *m.options.admin_port);
    probes.clear();

    // Bind every acceptor before starting any thread, so a failure leaves nothing running.
    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned i = 0; i < threads; ++i) {
        auto& w = *workers.emplace_back(std::make_unique<worker>());
        listen(w.acceptor, endpoint);
        if (tls_endpoint) listen(w.tls_acceptor.emplace(w.io), *tls_endpoint);
        w.context.emplace(request_context{m.service, clients, limiter});
        w.handler = [&context = *w.context](const request& req, credential_memo& credentials,
                                            request_outcome& outcome, response& res) {
            return handle_request(req, context, credentials, outcome, res);
        };
    }
    std::unique_ptr<worker> admin;
    if (admin_endpoint) {
        admin = std::make_unique<worker>();
        listen(admin->acceptor, *admin_endpoint);
        m.admin_handler = [&m](const request& req, credential_memo&, request_outcome& outcome,
                               response& res) -> awaitable<> {
            handle_admin_request(req, m.service, *m.metrics, outcome.route_name, res);
            co_return;
        };
    }
    m.metrics.emplace(threads);
    m.workers = std::move(workers);
    m.admin = std::move(admin);
    m.tls_port = tls_endpoint ? tls_endpoint->port() : 0;
    for (std::size_t i = 0; i < m.workers.size(); ++i) {
        auto& w = m.workers[i];
        auto& shard = m.metrics->for_thread(i);
        net::co_spawn(w->io,
                      accept_loop(w->acceptor, [&m, &w = *w, &shard](tcp_socket s) { m.serve(w, shard, std::move(s), false); }),
                      net::detached);
        if (w->tls_acceptor)
            net::co_spawn(w->io, accept_loop(*w->tls_acceptor, [&m, &w = *w, &shard](tcp_socket s) {
                              m.serve(w, shard, std::move(s), true);
                          }),
                          net::detached);
        run_in_thread(*w);
    }
    if (m.admin) {
        net::co_spawn(m.admin->io, accept_loop(m.admin->acceptor, [&m](tcp_socket s) {
            net::co_spawn(m.admin->io, run_session(std::move(s), m.admin_handler, m.options, m.admin->sessions, nullptr),
                          net::detached);
        }), net::detached);
        run_in_thread(*m.admin);
    }
    log(log_level::info, "listening",
        {{"host", m.options.host},
         {"port", endpoint.port()},
         {"tls_port", m.tls_port},
         {"threads", threads},
         {"admin_port", admin_port()}});
    return endpoint.port();
}

bool server::reload_clients() {
    std::shared_ptr<const client_registry> clients;
    std::shared_ptr<rate_limiter> limiter;
    try {
        std::tie(clients, limiter) = impl_->load_clients();
    } catch (const std::exception& e) {
        log(log_level::error, "clients_reload_rejected", {{"what", e.what()}, {"kept", "the previous clients"}});
        return false;
    }
    // Each thread swaps its own context between requests: no lock on the request path.
    for (auto& w : impl_->workers)
        net::post(w->io, [&w = *w, clients, limiter] {
            w.context->clients = clients;
            w.context->limiter = limiter;
        });
    log(log_level::info, "clients_reloaded", {{"clients", clients->size()}});
    return true;
}

std::uint16_t server::tls_port() const noexcept { return impl_->tls_port; }

std::uint16_t server::admin_port() const noexcept {
    beast::error_code ec;
    return impl_->admin ? impl_->admin->acceptor.local_endpoint(ec).port() : 0;
}

void server::stop() {
    if (impl_->admin) {  // nothing in flight there that a client waits for
        impl_->admin->io.stop();
        impl_->admin->thread.join();
        impl_->admin.reset();
    }
    for (auto& w : impl_->workers)
        net::post(w->io, [&w = *w] {
            beast::error_code ignored;
            w.acceptor.close(ignored);
            if (w.tls_acceptor) w.tls_acceptor->close(ignored);
            w.housekeeping.cancel();
            w.sessions.stop();
        });
    const auto deadline = std::chrono::steady_clock::now() + stop_deadline;
    for (auto& w : impl_->workers) {
        if (w->finished.wait_until(deadline) == std::future_status::timeout) {
            log(log_level::warning, "shutdown_deadline", {{"what", "connections still busy; closing them"}});
            w->io.stop();
        }
        w->thread.join();
    }
    impl_->workers.clear();
}

}  // namespace ozzie
