#include "ops/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <string>
#include <vector>

namespace ozzie {
namespace {

namespace prom = prometheus;

constexpr route all_routes[] = {route::none, route::users, route::user, route::batch};
// The methods counted apart, by their index in http_metrics::shard; the last is any other.
constexpr http::verb counted_methods[] = {http::verb::get, http::verb::head, http::verb::post, http::verb::patch,
                                          http::verb::delete_, http::verb::unknown};

std::size_t method_index(http::verb method) noexcept {
    for (std::size_t i = 0; i + 1 < std::size(counted_methods); ++i)
        if (counted_methods[i] == method) return i;
    return std::size(counted_methods) - 1;
}

prom::MetricFamily family(const char* name, const char* help, prom::MetricType type) {
    return {.name = name, .help = help, .type = type, .metric = {}};
}

prom::ClientMetric counter(double value, std::vector<prom::ClientMetric::Label> labels = {}) {
    prom::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    return m;
}

prom::ClientMetric gauge(double value) {
    prom::ClientMetric m;
    m.gauge.value = value;
    return m;
}

prom::ClientMetric histogram(const histogram_snapshot& h, std::vector<prom::ClientMetric::Label> labels = {}) {
    prom::ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.cumulative.back();
    m.histogram.sample_sum = h.sum;
    for (std::size_t i = 0; i < h.upper_bounds.size(); ++i)
        m.histogram.bucket.push_back({.cumulative_count = h.cumulative[i], .upper_bound = h.upper_bounds[i]});
    m.histogram.bucket.push_back({.cumulative_count = h.cumulative.back(),
                                  .upper_bound = std::numeric_limits<double>::infinity()});
    return m;
}

// Adds `other` to `total`, an empty snapshot or one with the same bounds.
void add(histogram_snapshot& total, const histogram_snapshot& other) {
    if (total.upper_bounds.empty()) {
        total = other;
        return;
    }
    for (std::size_t i = 0; i < total.cumulative.size(); ++i) total.cumulative[i] += other.cumulative[i];
    total.sum += other.sum;
}

std::vector<prom::ClientMetric::Label> labels(route r, std::size_t method) {
    const auto verb = counted_methods[method];
    return {{"route", std::string(route_template(r))},
            {"method", verb == http::verb::unknown ? "other" : std::string(http::to_string(verb))}};
}

}  // namespace

http_metrics::http_metrics(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) shards_.push_back(std::make_unique<shard>());
}

void http_metrics::shard::observe(route r, http::verb method, unsigned status, double seconds) noexcept {
    auto& figures = routes_[static_cast<std::size_t>(r)][method_index(method)];
    add<std::uint64_t>(figures.by_status[status < statuses ? status : 0], 1);
    figures.latency.observe(seconds);
}

std::string http_metrics::prometheus_text(const service_stats& service) const {
    std::vector<prom::MetricFamily> families;

    auto requests = family("ozzie_http_requests_total", "Requests answered, by route template, method and status.",
                           prom::MetricType::Counter);
    auto durations = family("ozzie_http_request_duration_seconds",
                            "Time from a request's first byte to its answer being written, by route template and method.",
                            prom::MetricType::Histogram);
    for (const auto r : all_routes)
        for (std::size_t m = 0; m < shard::methods; ++m) {
            const auto figures = [&](const auto& s) -> const shard::route_figures& {
                return s->routes_[static_cast<std::size_t>(r)][m];
            };
            for (std::size_t status = 0; status < shard::statuses; ++status) {
                std::uint64_t n = 0;
                for (const auto& s : shards_) n += figures(s).by_status[status].load(std::memory_order_relaxed);
                if (n) {
                    auto l = labels(r, m);
                    l.push_back({"status", std::to_string(status)});
                    requests.metric.push_back(counter(static_cast<double>(n), std::move(l)));
                }
            }
            // The operations of the API always have their histogram; other pairs once they occur.
            histogram_snapshot latency;
            for (const auto& s : shards_) add(latency, figures(s).latency.snapshot());
            if (method_allowed(r, counted_methods[m]) || latency.cumulative.back() > 0)
                durations.metric.push_back(histogram(latency, labels(r, m)));
        }
    families.push_back(std::move(requests));
    families.push_back(std::move(durations));

    std::int64_t open = 0;
    for (const auto& s : shards_) open += s->open_connections_.load(std::memory_order_relaxed);
    const auto single = [&families](const char* name, const char* help, prom::MetricType type, prom::ClientMetric m) {
        families.push_back(family(name, help, type));
        families.back().metric.push_back(std::move(m));
    };
    single("ozzie_http_open_connections", "Client connections open now.", prom::MetricType::Gauge,
        gauge(static_cast<double>(open)));
    single("ozzie_commit_batch_size", "Creates committed per WriteBatch (group commit).", prom::MetricType::Histogram,
        histogram(service.commit_batch_size));
    single("ozzie_commit_duration_seconds", "Time to write one batch, WAL sync included.", prom::MetricType::Histogram,
        histogram(service.commit_seconds));
    single("ozzie_rocksdb_block_cache_hits_total", "Block cache hits.", prom::MetricType::Counter,
        counter(static_cast<double>(service.block_cache_hits)));
    single("ozzie_rocksdb_block_cache_misses_total", "Block cache misses.", prom::MetricType::Counter,
        counter(static_cast<double>(service.block_cache_misses)));
    const auto lookups = service.block_cache_hits + service.block_cache_misses;
    single("ozzie_rocksdb_block_cache_hit_ratio", "Block cache hits over lookups since start.", prom::MetricType::Gauge,
        gauge(lookups ? static_cast<double>(service.block_cache_hits) / static_cast<double>(lookups) : 0));
    single("ozzie_rocksdb_row_cache_hits_total", "Lookups of a user answered by the row cache.",
        prom::MetricType::Counter, counter(static_cast<double>(service.row_cache_hits)));
    single("ozzie_rocksdb_row_cache_misses_total", "Lookups of a user the row cache did not hold.",
        prom::MetricType::Counter, counter(static_cast<double>(service.row_cache_misses)));
    single("ozzie_rocksdb_row_cache_warmed_users", "Users put in the row cache at start, newest first.",
        prom::MetricType::Gauge, gauge(static_cast<double>(service.row_cache_warmed)));
    single("ozzie_rocksdb_row_cache_warming", "1 while the row cache is being filled at start.",
        prom::MetricType::Gauge, gauge(service.row_cache_warming ? 1 : 0));
    single("ozzie_rocksdb_live_data_bytes", "Estimated live data size.", prom::MetricType::Gauge,
        gauge(static_cast<double>(service.live_data_bytes)));
    single("ozzie_rocksdb_memtable_bytes", "Size of all memtables.", prom::MetricType::Gauge,
        gauge(static_cast<double>(service.memtable_bytes)));
    single("ozzie_store_writable", "1 if the store's last write succeeded; 0 while a disk fault makes it refuse writes.",
        prom::MetricType::Gauge, gauge(service.store_writable ? 1 : 0));
    return prom::TextSerializer().Serialize(families);
}

}  // namespace ozzie
