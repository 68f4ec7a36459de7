// The results of a run: a table for people, JSON for programs.
#pragma once

#include "bench_options.hpp"
#include "workload.hpp"

#include <string>

namespace ozzie::bench {

std::string report_table(const bench_options& options, const run_stats& stats);
std::string report_json(const bench_options& options, const run_stats& stats);

}  // namespace ozzie::bench
