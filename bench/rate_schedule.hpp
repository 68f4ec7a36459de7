// The open-loop schedule: when each request is due, whatever the server does.
#pragma once

#include <algorithm>
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

    // The client's timers fire on ticks of this length.
    using tick = std::chrono::duration<std::int64_t, std::ratio<1, 10000>>;  // 100 us

    // When this connection's k-th request (from 0) is due.
    clock::time_point due(std::uint64_t k) const noexcept {
        const long double n = static_cast<long double>(k) * connections_ + connection_;
        return start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(n * 1e9L / per_second_));
    }

    // When the connection wakes to send its k-th request: the tick at or before its due time.
    // The connections' timers then share deadlines, and the client re-arms its timerfd once per
    // tick instead of once per request: on a virtual machine each re-arm traps to the
    // hypervisor, and at 60k requests a second those took a core, which the server's latency
    // paid for (nginx itself had a p99 of 2 ms at a third of its peak). A request sent early
    // is timed from when it went out (timed_from).
    clock::time_point wake(std::uint64_t k) const noexcept { return std::chrono::floor<tick>(due(k)); }

    // Latency counts from when a request should have gone out, or went out if that was earlier.
    static clock::time_point timed_from(clock::time_point due, clock::time_point sent) noexcept {
        return std::min(due, sent);
    }

private:
    double per_second_;
    unsigned connections_;
    unsigned connection_;
    clock::time_point start_;
};

}  // namespace ozzie::bench
