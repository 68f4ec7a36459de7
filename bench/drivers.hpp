// The two ways of running a workload: over HTTP, and in-process against the ozzie library.
#pragma once

#include "bench_options.hpp"
#include "workload.hpp"

#include <ozzie/user_service.hpp>

#include <atomic>
#include <chrono>
#include <vector>

namespace ozzie::bench {

// What a run needs to know besides its options.
struct run_plan {
    std::chrono::steady_clock::time_point start;          // when the warm-up begins
    std::chrono::steady_clock::time_point measure_start;  // when the figures begin
    std::chrono::steady_clock::time_point end;            // when no new request is started
    const std::vector<known_user>* preloaded;
    std::string external_id_prefix;
    std::atomic<std::uint64_t>* progress;  // requests completed so far; null without a progress line
};

// Create `count` users (over HTTP, or in-process) and return them. Throw std::runtime_error if
// a create fails.
std::vector<known_user> preload_http(const bench_options& options, std::uint64_t count,
                                     const std::string& external_id_prefix);
run_stats run_http(const bench_options& options, const run_plan& plan);

std::vector<known_user> preload_in_process(user_service& service, const bench_options& options,
                                           std::uint64_t count, const std::string& external_id_prefix);
run_stats run_in_process(user_service& service, const bench_options& options, const run_plan& plan);

}  // namespace ozzie::bench
