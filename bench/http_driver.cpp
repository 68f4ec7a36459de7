// Each connection is a coroutine on one of the client threads' io_contexts. The client must not
// be the bottleneck, so the hot path allocates nothing once warm: requests are written as
// prepared bytes, responses go through Beast's parser into reused storage, and coroutines use
// the io_context's own executor type rather than the type-erased one.
#include "drivers.hpp"

#include "rate_schedule.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>

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

using executor = net::io_context::executor_type;
using socket_type = net::basic_stream_socket<tcp, executor>;
using timer_type = net::basic_waitable_timer<clock, net::wait_traits<clock>, executor>;
template <class T>
using task = net::awaitable<T, executor>;
constexpr auto use_task = net::as_tuple(net::use_awaitable_t<executor>{});

// The bytes of a request for `s`, written into `text`.
void request_bytes(const bench_options& options, const step& s, std::string& text) {
    text.clear();
    if (s.op == operation::create) {
        const auto body = create_body(s.key);
        text.append("POST /v1/users HTTP/1.1\r\nHost: ").append(options.host);
        text.append("\r\nContent-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
        if (!options.authorization.empty()) text.append("\r\nAuthorization: ").append(options.authorization);
        text.append("\r\n\r\n").append(body);
        return;
    }
    text.append("GET /v1/users/");
    if (s.op == operation::get_external) text.append("external:");
    text.append(s.key).append(" HTTP/1.1\r\nHost: ").append(options.host);
    if (!options.authorization.empty()) text.append("\r\nAuthorization: ").append(options.authorization);
    text.append("\r\n\r\n");
}

// Keeps the status and the body of a response and nothing else of it.
class response_reader final : public http::basic_parser<false> {
public:
    explicit response_reader(std::string& body) : body_(body) {
        body_.clear();
        body_limit(1 << 20);
    }
    unsigned status() const noexcept { return status_; }

private:
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
        status_ = static_cast<unsigned>(code);
    }
    void on_field_impl(http::field, beast::string_view, beast::string_view, beast::error_code&) override {}
    void on_header_impl(beast::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
        if (length) body_.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view data, beast::error_code&) override {
        body_.append(data.data(), data.size());
        return data.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view data, beast::error_code& ec) override {
        return on_body_impl(data, ec);
    }
    void on_finish_impl(beast::error_code&) override {}

    std::string& body_;
    unsigned status_ = 0;
};

struct answer {
    beast::error_code ec;
    unsigned status = 0;
    std::string_view body;  // valid until the next exchange
};

// One keep-alive connection; reconnects after an error.
class connection {
public:
    connection(net::io_context& io, const tcp::resolver::results_type& endpoints)
        : socket_(io.get_executor()), endpoints_(endpoints) {}

    task<answer> exchange(const std::string& request) {
        answer a;
        if (!socket_.is_open()) {
            buffer_.clear();
            std::tie(a.ec, std::ignore) = co_await net::async_connect(socket_, endpoints_, use_task);
            if (a.ec) co_return a;
            socket_.set_option(tcp::no_delay(true));
        }
        std::tie(a.ec, std::ignore) = co_await net::async_write(socket_, net::buffer(request), use_task);
        if (!a.ec) {
            response_reader reader(body_);
            std::tie(a.ec, std::ignore) = co_await http::async_read(socket_, buffer_, reader, use_task);
            a.status = reader.status();
            a.body = body_;
            if (!a.ec && !reader.keep_alive()) close();
        }
        if (a.ec) close();
        co_return a;
    }

private:
    void close() {
        beast::error_code ignored;
        socket_.close(ignored);
    }

    socket_type socket_;
    const tcp::resolver::results_type& endpoints_;
    beast::flat_buffer buffer_;
    std::string body_;
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

task<void> measure(connection& conn, workload& load, const bench_options& options, const run_plan& plan,
                   unsigned index, run_stats& stats) {
    std::optional<rate_schedule> schedule;
    if (options.rate) schedule.emplace(*options.rate, options.connections, index, plan.start);
    timer_type timer(co_await net::this_coro::executor);
    std::string created_id;
    std::string request;
    for (std::uint64_t k = 0;; ++k) {
        auto begin = clock::now();
        if (schedule) {
            const auto due = schedule->due(k);
            if (due >= plan.end) break;
            if (const auto wake = schedule->wake(k); wake > begin) {
                timer.expires_at(wake);
                co_await timer.async_wait(use_task);
                begin = clock::now();
            }
            begin = rate_schedule::timed_from(due, begin);
        } else if (begin >= plan.end) {
            break;
        }
        const step s = load.next();
        request_bytes(options, s, request);
        const auto a = co_await conn.exchange(request);
        const auto done = clock::now();
        if (plan.progress) plan.progress->fetch_add(1, std::memory_order_relaxed);
        if (begin < plan.measure_start) continue;
        auto& op = stats[s.op];
        if (a.ec) {
            op.error("io");
            if (!schedule) {  // don't spin on a dead server
                timer.expires_after(std::chrono::milliseconds(10));
                co_await timer.async_wait(use_task);
            }
        } else if (!check_answer(s, a.status, a.body, &created_id)) {
            op.error(a.status == 200 || a.status == 201 ? "invalid_body" : std::to_string(a.status));
        } else {
            ++op.count;
            op.latency.record(done - begin);
            if (s.op == operation::create) load.created({created_id, std::string(s.key)});
        }
    }
}

// One of --idle-connections: a lookup that answers 404, then nothing until the run ends.
task<void> hold_idle(net::io_context& io, const tcp::resolver::results_type& endpoints, const bench_options& options,
                     const run_plan& plan, run_stats& stats) {
    connection conn(io, endpoints);
    std::string request;
    request_bytes(options, {operation::get_external, "ozzie-bench-idle-connection"}, request);
    const auto a = co_await conn.exchange(request);
    if (a.ec || a.status != 404) {
        ++stats.idle_failed;
        co_return;
    }
    ++stats.idle_held;
    timer_type timer(io.get_executor());
    timer.expires_at(plan.end);
    co_await timer.async_wait(use_task);
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
            net::co_spawn(io, [&, t]() -> task<void> {
                connection conn(io, endpoints);
                std::string id, request;
                for (auto i = next++; i < count && !failed; i = next++) {
                    const auto external_id = external_id_prefix + "p" + std::to_string(i);
                    const step s{operation::create, external_id};
                    request_bytes(options, s, request);
                    const auto a = co_await conn.exchange(request);
                    if (a.ec || !check_answer(s, a.status, a.body, &id)) {
                        if (!failed.exchange(true))
                            failure = a.ec ? a.ec.message()
                                           : "status " + std::to_string(a.status) + ": " + std::string(a.body);
                        co_return;
                    }
                    per_thread[t].push_back({id, external_id});
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
        for (unsigned i = t; i < options.idle_connections; i += options.threads)
            net::co_spawn(io, hold_idle(io, endpoints, options, plan, per_thread[t]), net::detached);
        for (unsigned c = t; c < options.connections; c += options.threads)
            net::co_spawn(io, [&, t, c]() -> task<void> {
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
