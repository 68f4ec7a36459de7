// ozzie-bench: load generator and latency benchmark for the Ozzie Users API.
#include "bench_options.hpp"
#include "drivers.hpp"
#include "report.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

using namespace ozzie::bench;
using clock_type = std::chrono::steady_clock;

namespace {

std::chrono::nanoseconds seconds(double s) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
}

// Rewrites one line on a terminal's stderr every second until stopped.
class progress_line {
public:
    progress_line(const std::atomic<std::uint64_t>& completed, const run_plan& plan)
        : thread_([&completed, &plan, this] {
              std::unique_lock lock(mutex_);
              while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
                  const auto now = clock_type::now();
                  const double elapsed = std::chrono::duration<double>(now - plan.start).count();
                  std::fprintf(stderr, "\r%s %5.0f s  %12llu requests",
                               now < plan.measure_start ? "warm-up " : "measured", elapsed,
                               static_cast<unsigned long long>(completed.load(std::memory_order_relaxed)));
                  std::fflush(stderr);
              }
              std::fprintf(stderr, "\r%60s\r", "");
          }) {}
    ~progress_line() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace

int main(int argc, char* argv[]) {
    try {
        auto parsed = parse_bench_options(argc, argv);
        if (const auto* print = std::get_if<print_and_exit>(&parsed)) {
            std::cout << print->text;
            return 0;
        }
        const auto& options = std::get<bench_options>(parsed);
        const auto prefix = run_prefix();

        std::optional<ozzie::user_service> service;
        if (options.in_process) service.emplace(ozzie::store_options{.data_dir = options.data_dir});

        std::vector<known_user> preloaded;
        if (options.preload > 0) {
            const auto began = clock_type::now();
            preloaded = service ? preload_in_process(*service, options, options.preload, prefix)
                                : preload_http(options, options.preload, prefix);
            std::fprintf(stderr, "preloaded %llu users in %.1f s\n", static_cast<unsigned long long>(preloaded.size()),
                         std::chrono::duration<double>(clock_type::now() - began).count());
            if (!options.users_file.empty()) save_users(options.users_file, preloaded);
        } else if (!options.users_file.empty()) {
            preloaded = load_users(options.users_file);
        }

        std::atomic<std::uint64_t> completed{0};
        run_plan plan;
        plan.start = clock_type::now();
        plan.measure_start = plan.start + seconds(options.warmup_s);
        plan.end = plan.measure_start + seconds(options.duration_s);
        plan.preloaded = &preloaded;
        plan.external_id_prefix = prefix;
        // The shared counter costs a contended cache line per request: only count for a terminal.
        plan.progress = isatty(STDERR_FILENO) ? &completed : nullptr;

        run_stats stats;
        {
            std::optional<progress_line> progress;
            if (plan.progress) progress.emplace(completed, plan);
            stats = service ? run_in_process(*service, options, plan) : run_http(options, plan);
        }
        std::cout << (options.json ? report_json(options, stats) : report_table(options, stats));
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ozzie-bench: " << e.what() << std::endl;
        return 1;
    }
}
