#include "ops/metrics.hpp"

#include <cstdio>

namespace ozzie {
namespace {

constexpr route all_routes[] = {route::none, route::users, route::user};

void header(std::string& out, const char* name, const char* type, const char* help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(number).append("\n");
}

void histogram(std::string& out, const std::string& name, const std::string& labels, const histogram_snapshot& h) {
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
        char bound[32];
        std::snprintf(bound, sizeof bound, "%g", h.upper_bounds[i]);
        sample(out, name + "_bucket", labels + sep + "le=\"" + bound + "\"", static_cast<double>(h.cumulative[i]));
    }
    sample(out, name + "_bucket", labels + sep + "le=\"+Inf\"", static_cast<double>(h.cumulative.back()));
    sample(out, name + "_sum", labels, h.sum);
    sample(out, name + "_count", labels, static_cast<double>(h.cumulative.back()));
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

std::string route_label(route r) { return "route=\"" + std::string(route_template(r)) + "\""; }

}  // namespace

http_metrics::http_metrics(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) shards_.push_back(std::make_unique<shard>());
}

void http_metrics::shard::observe(route r, unsigned status, double seconds) noexcept {
    auto& figures = routes_[static_cast<std::size_t>(r)];
    add<std::uint64_t>(figures.by_status[status < statuses ? status : 0], 1);
    figures.latency.observe(seconds);
}

std::string http_metrics::prometheus_text(const service_stats& service) const {
    std::string out;
    header(out, "ozzie_http_requests_total", "counter", "Requests answered, by route template and status.");
    for (const auto r : all_routes)
        for (std::size_t status = 0; status < shard::statuses; ++status) {
            std::uint64_t n = 0;
            for (const auto& s : shards_)
                n += s->routes_[static_cast<std::size_t>(r)].by_status[status].load(std::memory_order_relaxed);
            if (n)
                sample(out, "ozzie_http_requests_total", route_label(r) + ",status=\"" + std::to_string(status) + "\"",
                       static_cast<double>(n));
        }
    header(out, "ozzie_http_request_duration_seconds", "histogram",
           "Time from a request's first byte to its answer being written, by route template.");
    for (const auto r : all_routes) {
        histogram_snapshot latency;
        for (const auto& s : shards_) add(latency, s->routes_[static_cast<std::size_t>(r)].latency.snapshot());
        histogram(out, "ozzie_http_request_duration_seconds", route_label(r), latency);
    }
    std::int64_t open = 0;
    for (const auto& s : shards_) open += s->open_connections_.load(std::memory_order_relaxed);
    header(out, "ozzie_http_open_connections", "gauge", "Client connections open now.");
    sample(out, "ozzie_http_open_connections", "", static_cast<double>(open));

    header(out, "ozzie_commit_batch_size", "histogram", "Creates committed per WriteBatch (group commit).");
    histogram(out, "ozzie_commit_batch_size", "", service.commit_batch_size);
    header(out, "ozzie_commit_duration_seconds", "histogram", "Time to write one batch, WAL sync included.");
    histogram(out, "ozzie_commit_duration_seconds", "", service.commit_seconds);

    header(out, "ozzie_rocksdb_block_cache_hits_total", "counter", "Block cache hits.");
    sample(out, "ozzie_rocksdb_block_cache_hits_total", "", static_cast<double>(service.block_cache_hits));
    header(out, "ozzie_rocksdb_block_cache_misses_total", "counter", "Block cache misses.");
    sample(out, "ozzie_rocksdb_block_cache_misses_total", "", static_cast<double>(service.block_cache_misses));
    const auto lookups = service.block_cache_hits + service.block_cache_misses;
    header(out, "ozzie_rocksdb_block_cache_hit_ratio", "gauge", "Block cache hits over lookups since start.");
    sample(out, "ozzie_rocksdb_block_cache_hit_ratio", "",
           lookups ? static_cast<double>(service.block_cache_hits) / static_cast<double>(lookups) : 0);
    header(out, "ozzie_rocksdb_live_data_bytes", "gauge", "Estimated live data size.");
    sample(out, "ozzie_rocksdb_live_data_bytes", "", static_cast<double>(service.live_data_bytes));
    header(out, "ozzie_rocksdb_memtable_bytes", "gauge", "Size of all memtables.");
    sample(out, "ozzie_rocksdb_memtable_bytes", "", static_cast<double>(service.memtable_bytes));
    header(out, "ozzie_store_writable", "gauge",
           "1 if the store's last write succeeded; 0 while a disk fault makes it refuse writes.");
    sample(out, "ozzie_store_writable", "", service.store_writable ? 1 : 0);
    return out;
}

}  // namespace ozzie
