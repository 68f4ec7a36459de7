// The open-loop schedule: when each request is due, whatever the server does.
#pragma once

#include <chrono>
#include <cstdint>

namespace ozzie::bench {

// Requests over all connections are due at a fixed rate: the n-th (from 0) at
// start + n / rate. Connection c of C takes requests c, c + C, c + 2C, ..., so its k-th request
// is due at start + (k * C + c) / rate. Latency is measured from that due time, not from when
// the request was actually sent, so a server stall counts against every request it delayed
// (coordinated omission corrected, as in wrk2).
class rate_schedule {
public:
    using clock = std::chrono::steady_clock;

    rate_schedule(double requests_per_second, unsigned connections, unsigned connection,
                  clock::time_point start) noexcept
        : per_second_(requests_per_second), connections_(connections), connection_(connection),
          start_(start) {}

    // When this connection's k-th request (from 0) is due.
    clock::time_point due(std::uint64_t k) const noexcept {
        const long double n = static_cast<long double>(k) * connections_ + connection_;
        return start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(n * 1e9L / per_second_));
    }

private:
    double per_second_;
    unsigned connections_;
    unsigned connection_;
    clock::time_point start_;
};

}  // namespace ozzie::bench
