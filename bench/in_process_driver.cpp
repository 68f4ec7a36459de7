// In-process runs drive ozzie::user_service directly: each "connection" is a thread calling it,
// so the cost of the service and store can be told apart from the cost of HTTP.
#include "drivers.hpp"

#include <latch>
#include <semaphore>
#include <thread>

namespace ozzie::bench {
namespace {

using clock = std::chrono::steady_clock;

new_user bench_user(std::string_view external_id) {
    return {.external_user_id = std::string(external_id), .name = "Bench User", .email = "bench@example.com",
            .phone = "+15551234567", .language = "en"};
}

}  // namespace

std::vector<known_user> preload_in_process(user_service& service, const bench_options& options,
                                           std::uint64_t count, const std::string& external_id_prefix) {
    // Keep many creates waiting and let the commit queue batch them, but not all at once: a
    // preload of millions would hold them all in memory and commit them as one giant batch.
    constexpr std::ptrdiff_t window = 16384;
    std::counting_semaphore<window> in_flight(window);
    std::vector<known_user> users(count);
    std::latch done(static_cast<std::ptrdiff_t>(count));
    std::atomic<bool> failed{false};
    for (std::uint64_t i = 0; i < count; ++i) {
        users[i].external_id = external_id_prefix + "p" + std::to_string(i);
        in_flight.acquire();
        service.async_create(options.client_id, bench_user(users[i].external_id), [&, i](result<user> r) {
            if (r) users[i].id = r->id;
            else failed = true;
            in_flight.release();
            done.count_down();
        });
    }
    done.wait();
    if (failed) throw std::runtime_error("preload failed");
    return users;
}

run_stats run_in_process(user_service& service, const bench_options& options, const run_plan& plan) {
    std::vector<run_stats> per_worker(options.connections);
    std::vector<std::thread> workers;
    for (unsigned c = 0; c < options.connections; ++c)
        workers.emplace_back([&, c] {
            workload load(options, *plan.preloaded, plan.external_id_prefix + std::to_string(c) + "-",
                          std::random_device{}());
            auto& stats = per_worker[c];
            for (auto begin = clock::now(); begin < plan.end; begin = clock::now()) {
                const step s = load.next();
                const auto answer =
                    s.op == operation::create ? service.create(options.client_id, bench_user(s.key))
                    : s.op == operation::get  ? service.find_by_id(options.client_id, s.key)
                                              : service.find_by_external(options.client_id, s.key);
                const auto done = clock::now();
                if (plan.progress) plan.progress->fetch_add(1, std::memory_order_relaxed);
                if (begin < plan.measure_start) continue;
                auto& op = stats[s.op];
                if (!answer) {
                    op.error(std::string(code_name(answer.error().code)));
                    continue;
                }
                const bool right = s.op == operation::get_external ? answer->external_user_id == s.key
                                   : s.op == operation::get         ? answer->id == s.key
                                                                    : answer->external_user_id == s.key;
                if (!right) {
                    op.error("invalid_body");
                    continue;
                }
                ++op.count;
                op.latency.record(done - begin);
                if (s.op == operation::create) load.created({answer->id, std::string(s.key)});
            }
        });
    for (auto& w : workers) w.join();
    run_stats total;
    for (const auto& part : per_worker) total.merge(part);
    return total;
}

}  // namespace ozzie::bench
