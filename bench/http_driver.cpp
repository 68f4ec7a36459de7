// Each connection is a coroutine on one of the client threads' io_contexts. Requests are written
// as prepared bytes; responses are read with Beast's parser.
#include "drivers.hpp"

#include "rate_schedule.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <stdexcept>
#include <thread>

namespace ozzie::bench {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

namespace {

// The bytes of a request for `s`.
std::string request_bytes(const bench_options& options, const step& s) {
    std::string text;
    text.reserve(256);
    if (s.op == operation::create) {
        const auto body = create_body(s.key);
        text.append("POST /v1/users HTTP/1.1\r\nHost: ").append(options.host);
        text.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
        if (!options.authorization.empty()) text.append("\r\nAuthorization: ").append(options.authorization);
        text.append("\r\n\r\n").append(body);
        return text;
    }
    text.append("GET /v1/users/");
    if (s.op == operation::get_external) text.append("external:");
    text.append(s.key).append(" HTTP/1.1\r\nHost: ").append(options.host);
    if (!options.authorization.empty()) text.append("\r\nAuthorization: ").append(options.authorization);
    text.append("\r\n\r\n");
    return text;
}

struct answer {
    beast::error_code ec;
    unsigned status = 0;
    std::string body;
};

// One keep-alive connection; reconnects after an error.
class connection {
public:
    connection(net::io_context& io, const tcp::resolver::results_type& endpoints)
        : stream_(io), endpoints_(endpoints) {}

    net::awaitable<answer> exchange(const std::string& request) {
        answer a;
        if (!connected_) {
            buffer_.clear();
            std::tie(a.ec, std::ignore) = co_await stream_.async_connect(endpoints_, net::as_tuple(net::use_awaitable));
            if (a.ec) co_return a;
            stream_.socket().set_option(tcp::no_delay(true));
            connected_ = true;
        }
        std::tie(a.ec, std::ignore) =
            co_await net::async_write(stream_.socket(), net::buffer(request), net::as_tuple(net::use_awaitable));
        if (!a.ec) {
            http::response_parser<http::string_body> parser;
            parser.body_limit(1 << 20);
            std::tie(a.ec, std::ignore) =
                co_await http::async_read(stream_, buffer_, parser, net::as_tuple(net::use_awaitable));
            if (!a.ec) {
                a.status = parser.get().result_int();
                a.body = std::move(parser.get().body());
                if (!parser.get().keep_alive()) close();
            }
        }
        if (a.ec) close();
        co_return a;
    }

private:
    void close() {
        beast::error_code ignored;
        stream_.socket().close(ignored);
        connected_ = false;
    }

    beast::tcp_stream stream_;
    const tcp::resolver::results_type& endpoints_;
    beast::flat_buffer buffer_;
    bool connected_ = false;
};

// T threads, each with its own io_context; `body(thread, io)` spawns that thread's coroutines.
template <class Spawn>
void run_threads(unsigned threads, Spawn spawn) {
    std::vector<std::unique_ptr<net::io_context>> ios;
    for (unsigned t = 0; t < threads; ++t) {
        ios.push_back(std::make_unique<net::io_context>(1));
        spawn(t, *ios.back());
    }
    std::vector<std::thread> running;
    for (auto& io : ios) running.emplace_back([&io = *io] { io.run(); });
    for (auto& t : running) t.join();
}

tcp::resolver::results_type resolve(const bench_options& options) {
    net::io_context io;
    return tcp::resolver(io).resolve(options.host, options.port);
}

net::awaitable<void> measure(connection& conn, workload& load, const bench_options& options,
                             const run_plan& plan, unsigned index, run_stats& stats) {
    std::optional<rate_schedule> schedule;
    if (options.rate) schedule.emplace(*options.rate, options.connections, index, plan.start);
    net::steady_timer timer(co_await net::this_coro::executor);
    std::string created_id;
    for (std::uint64_t k = 0;; ++k) {
        auto begin = clock::now();
        if (schedule) {
            const auto due = schedule->due(k);
            if (due >= plan.end) break;
            if (due > begin) {
                timer.expires_at(due);
                co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            }
            begin = due;  // latency counts from when the request should have gone out
        } else if (begin >= plan.end) {
            break;
        }
        const step s = load.next();
        const auto a = co_await conn.exchange(request_bytes(options, s));
        const auto done = clock::now();
        plan.progress->fetch_add(1, std::memory_order_relaxed);
        if (begin < plan.measure_start) continue;
        auto& op = stats[s.op];
        if (a.ec) {
            op.error("io");
            if (!schedule) {  // don't spin on a dead server
                timer.expires_after(std::chrono::milliseconds(10));
                co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            }
        } else if (!check_answer(s, a.status, a.body, &created_id)) {
            op.error(a.status == 200 || a.status == 201 ? "invalid_body" : std::to_string(a.status));
        } else {
            ++op.count;
            op.latency.record(done - begin);
            if (s.op == operation::create) load.created({created_id, s.key});
        }
    }
}

}  // namespace

std::vector<known_user> preload_http(const bench_options& options, std::uint64_t count,
                                     const std::string& external_id_prefix) {
    const auto endpoints = resolve(options);
    std::atomic<std::uint64_t> next{0};
    std::vector<std::vector<known_user>> per_thread(options.threads);
    std::atomic<bool> failed{false};
    std::string failure;
    run_threads(options.threads, [&](unsigned t, net::io_context& io) {
        for (unsigned c = t; c < options.connections; c += options.threads)
            net::co_spawn(io, [&, t]() -> net::awaitable<void> {
                connection conn(io, endpoints);
                std::string id;
                for (auto i = next++; i < count && !failed; i = next++) {
                    const step s{operation::create, external_id_prefix + "p" + std::to_string(i)};
                    const auto a = co_await conn.exchange(request_bytes(options, s));
                    if (a.ec || !check_answer(s, a.status, a.body, &id)) {
                        if (!failed.exchange(true))
                            failure = a.ec ? a.ec.message() : "status " + std::to_string(a.status) + ": " + a.body;
                        co_return;
                    }
                    per_thread[t].push_back({id, s.key});
                }
            }, net::detached);
    });
    if (failed) throw std::runtime_error("preload failed: " + failure);
    std::vector<known_user> users;
    users.reserve(count);
    for (auto& part : per_thread) std::move(part.begin(), part.end(), std::back_inserter(users));
    return users;
}

run_stats run_http(const bench_options& options, const run_plan& plan) {
    const auto endpoints = resolve(options);
    std::vector<run_stats> per_thread(options.threads);
    run_threads(options.threads, [&](unsigned t, net::io_context& io) {
        for (unsigned c = t; c < options.connections; c += options.threads)
            net::co_spawn(io, [&, t, c]() -> net::awaitable<void> {
                connection conn(io, endpoints);
                workload load(options, *plan.preloaded, plan.external_id_prefix + std::to_string(c) + "-",
                              std::random_device{}());
                co_await measure(conn, load, options, plan, c, per_thread[t]);
            }, net::detached);
    });
    run_stats total;
    for (const auto& part : per_thread) total.merge(part);
    return total;
}

}  // namespace ozzie::bench
