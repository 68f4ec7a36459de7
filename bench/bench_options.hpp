// The command line of ozzie-bench.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace ozzie::bench {

enum class scenario { create, get, get_external, mixed };

struct bench_options {
    scenario which = scenario::get;
    std::string host = "127.0.0.1";     // from --target http://HOST:PORT
    std::string port = "8080";
    std::string authorization;          // the Authorization header's value
    std::string client_id = "bench";    // in-process: the client the users belong to
    unsigned connections = 64;          // closed loop: one request in flight on each
    unsigned threads = 2;
    double duration_s = 10;             // measured time, after the warm-up
    double warmup_s = 2;                // run but left out of the figures
    std::optional<double> rate;         // open loop: requests per second over all connections
    std::uint64_t preload = 0;          // users created before the run, for lookups
    double read_ratio = 0.9;            // mixed: share of requests that are lookups
    std::optional<std::string> fixed_id;  // --id: every lookup asks for this path id
    unsigned idle_connections = 0;      // held open, idle, besides the measured connections
    std::filesystem::path users_file;   // --users-file: where preloaded users are saved or read
    bool json = false;
    bool in_process = false;
    std::filesystem::path data_dir;     // in-process: the store
};

struct print_and_exit {
    std::string text;
};

std::string_view name_of(scenario s) noexcept;

// Throws std::runtime_error with a message for the user on a bad or missing option.
std::variant<bench_options, print_and_exit> parse_bench_options(int argc, const char* const argv[]);

}  // namespace ozzie::bench
