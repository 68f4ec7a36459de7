#include "report.hpp"

#include <boost/json.hpp>

#include <cstdio>

namespace ozzie::bench {
namespace {

struct quantile {
    const char* name;
    double q;
};
constexpr quantile quantiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}, {"p9999", 0.9999}};

double micros(std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; }

bool ran(const operation_stats& op) { return op.count + op.errors > 0; }

std::string load_model(const bench_options& options) {
    char text[96];
    if (options.rate)
        std::snprintf(text, sizeof text, "open loop at %.0f req/s", *options.rate);
    else
        std::snprintf(text, sizeof text, "closed loop");
    return text;
}

}  // namespace

std::string report_table(const bench_options& options, const run_stats& stats) {
    std::string out;
    char line[256];
    if (options.in_process)
        std::snprintf(line, sizeof line, "scenario %s, in-process, %u caller threads, %.0f s measured after %.0f s warm-up\n",
                      std::string(name_of(options.which)).c_str(), options.connections, options.duration_s,
                      options.warmup_s);
    else
        std::snprintf(line, sizeof line, "scenario %s, %s, %u connections, %u threads, %.0f s measured after %.0f s warm-up\n",
                      std::string(name_of(options.which)).c_str(), load_model(options).c_str(), options.connections,
                      options.threads, options.duration_s, options.warmup_s);
    out += line;
    std::snprintf(line, sizeof line, "%-13s %10s %8s %12s %9s %9s %9s %9s %9s %9s\n", "operation", "count", "errors",
                  "req/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "p99.99 us", "max us");
    out += line;
    for (const auto op : all_operations) {
        const auto& s = stats[op];
        if (!ran(s)) continue;
        std::snprintf(line, sizeof line, "%-13s %10llu %8llu %12.0f", std::string(name_of(op)).c_str(),
                      static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.errors),
                      static_cast<double>(s.count) / options.duration_s);
        out += line;
        for (const auto& q : quantiles) {
            std::snprintf(line, sizeof line, " %9.0f", micros(s.latency.percentile(q.q)));
            out += line;
        }
        std::snprintf(line, sizeof line, " %9.0f\n", micros(s.latency.max()));
        out += line;
        for (const auto& [kind, n] : s.errors_by_status) {
            std::snprintf(line, sizeof line, "  errors %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
            out += line;
        }
    }
    if (options.idle_connections) {
        std::snprintf(line, sizeof line, "idle connections: %llu held open, %llu failed\n",
                      static_cast<unsigned long long>(stats.idle_held), static_cast<unsigned long long>(stats.idle_failed));
        out += line;
    }
    return out;
}

std::string report_json(const bench_options& options, const run_stats& stats) {
    boost::json::object operations;
    for (const auto op : all_operations) {
        const auto& s = stats[op];
        if (!ran(s)) continue;
        boost::json::object errors_by_status;
        for (const auto& [kind, n] : s.errors_by_status) errors_by_status[kind] = n;
        boost::json::object latency;
        for (const auto& q : quantiles) latency[q.name] = micros(s.latency.percentile(q.q));
        latency["max"] = micros(s.latency.max());
        operations[name_of(op)] = {
            {"count", s.count},
            {"errors", s.errors},
            {"errors_by_status", std::move(errors_by_status)},
            {"throughput_rps", static_cast<double>(s.count) / options.duration_s},
            {"latency_us", std::move(latency)},
        };
    }
    boost::json::object report{
        {"scenario", name_of(options.which)},
        {"operations", std::move(operations)},
    };
    if (options.idle_connections)
        report["idle_connections"] = {{"held", stats.idle_held}, {"failed", stats.idle_failed}};
    return boost::json::serialize(report) + "\n";
}

}  // namespace ozzie::bench
