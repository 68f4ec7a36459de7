// The server's metrics, rendered in the Prometheus text format (version 0.0.4).
#pragma once

#include "http/router.hpp"
#include "ops/atomic_histogram.hpp"

#include <ozzie/user_service.hpp>

#include <array>
#include <atomic>
#include <string>

namespace ozzie {

// Requests by route and status, latency per route, open connections. Thread-safe; updates are
// relaxed atomic increments.
class http_metrics {
public:
    http_metrics();

    void observe(route r, unsigned status, double seconds) noexcept;
    void connection_opened() noexcept { open_connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() noexcept { open_connections_.fetch_sub(1, std::memory_order_relaxed); }

    // Everything, with the service's figures, as a Prometheus scrape answer.
    std::string prometheus_text(const service_stats& service) const;

private:
    static constexpr std::size_t routes = 3;     // route::none, users, user
    static constexpr std::size_t statuses = 600;  // indexed by status code

    struct route_figures {
        std::array<std::atomic<std::uint64_t>, statuses> by_status{};
        atomic_histogram latency{duration_bounds()};
    };
    std::array<std::unique_ptr<route_figures>, routes> routes_;
    std::atomic<std::int64_t> open_connections_{0};
};

}  // namespace ozzie
