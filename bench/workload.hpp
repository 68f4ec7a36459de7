// What each request of a run is, and whether its answer is right.
#pragma once

#include "bench_options.hpp"
#include "histogram.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ozzie::bench {

enum class operation { create = 0, get = 1, get_external = 2 };
inline constexpr std::array all_operations = {operation::create, operation::get, operation::get_external};
std::string_view name_of(operation op) noexcept;

struct known_user {
    std::string id;
    std::string external_id;
};

// One request to make.
struct step {
    operation op;
    // create: the new external id; get: the id; get-external: the external id. Valid until the
    // workload's next step.
    std::string_view key;
};

// The figures of one operation.
struct operation_stats {
    histogram latency;  // successes only
    std::uint64_t count = 0;   // right answers
    std::uint64_t errors = 0;  // wrong status, wrong body, or no answer
    std::map<std::string, std::uint64_t> errors_by_status;  // "409", "io", "invalid_body", ...

    void error(const std::string& kind) {
        ++errors;
        ++errors_by_status[kind];
    }
    void merge(const operation_stats& other);
};

struct run_stats {
    std::array<operation_stats, all_operations.size()> operations;
    std::uint64_t idle_held = 0;    // idle connections that were answered and then held open
    std::uint64_t idle_failed = 0;  // idle connections refused, or not answered as expected

    operation_stats& operator[](operation op) { return operations[static_cast<std::size_t>(op)]; }
    const operation_stats& operator[](operation op) const { return operations[static_cast<std::size_t>(op)]; }
    std::uint64_t completed() const;
    void merge(const run_stats& other);
};

// The request stream of one connection (or in-process worker): which operation comes next and
// on which user. Lookups pick uniformly among the preloaded users and those this stream created.
class workload {
public:
    workload(const bench_options& options, const std::vector<known_user>& preloaded,
             std::string external_id_prefix, std::uint64_t seed);

    step next();
    // A create of this stream succeeded: its user can be looked up from now on.
    void created(known_user u) { own_.push_back(std::move(u)); }

private:
    const known_user& pick();

    const bench_options& options_;
    const std::vector<known_user>& preloaded_;
    std::vector<known_user> own_;
    std::string prefix_;
    std::uint64_t creates_ = 0;
    std::string create_key_;  // the key of the latest create step
    std::mt19937_64 random_;
};

// Writes `users` to `path`, a line each: the id, a tab, the external id. Throws
// std::runtime_error if it cannot.
void save_users(const std::filesystem::path& path, const std::vector<known_user>& users);
// The users save_users wrote to `path`. Throws std::runtime_error if it cannot read them.
std::vector<known_user> load_users(const std::filesystem::path& path);

// A unique prefix for this run's external ids, so runs against one store never collide.
std::string run_prefix();

// The body of a create of `external_id`.
std::string create_body(std::string_view external_id);

// Whether an HTTP answer to `s` is right; for a create, the new user's id goes to `created_id`.
bool check_answer(const step& s, unsigned status, std::string_view body, std::string* created_id);

}  // namespace ozzie::bench
