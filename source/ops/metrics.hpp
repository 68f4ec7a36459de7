// The server's metrics, rendered in the Prometheus text format (version 0.0.4) by prometheus-cpp.
#pragma once

#include "http/router.hpp"
#include "ops/atomic_histogram.hpp"

#include <ozzie/user_service.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace ozzie {

// Requests by route, method and status, latency per route and method, open connections. Each network thread
// counts in a shard of its own, with plain increments of atomics no other thread writes (no
// locked instruction, no cache line shared between cores); a scrape sums the shards into
// prometheus-cpp's metric families and serializer. (prometheus-cpp's own Counter and Histogram
// cost 65 ns a request, a compare-and-swap loop and a mutex, against 8 ns here.)
class http_metrics {
public:
    class shard {
    public:
        // From the shard's own thread only.
        // `method` is http::verb::unknown if the request's head was not read.
        void observe(route r, http::verb method, unsigned status, double seconds) noexcept;
        void connection_opened() noexcept { add<std::int64_t>(open_connections_, 1); }
        void connection_closed() noexcept { add<std::int64_t>(open_connections_, -1); }

    private:
        friend class http_metrics;
        static constexpr std::size_t routes = 4;      // route::none, users, user, batch
        static constexpr std::size_t methods = 6;     // GET, HEAD, POST, PATCH, DELETE, any other
        static constexpr std::size_t statuses = 600;  // indexed by status code

        template <class T>
        static void add(std::atomic<T>& a, T n) noexcept {
            a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        }

        struct route_figures {
            std::array<std::atomic<std::uint64_t>, statuses> by_status{};
            atomic_histogram latency{duration_bounds()};
        };
        std::array<std::array<route_figures, methods>, routes> routes_;
        std::atomic<std::int64_t> open_connections_{0};
    };

    // One shard for each of `threads` network threads.
    explicit http_metrics(std::size_t threads);

    shard& for_thread(std::size_t index) { return *shards_.at(index); }

    // Everything, with the service's figures, as a Prometheus scrape answer. Thread-safe.
    std::string prometheus_text(const service_stats& service) const;

private:
    std::vector<std::unique_ptr<shard>> shards_;
};

}  // namespace ozzie
