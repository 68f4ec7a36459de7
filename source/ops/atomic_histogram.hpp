// A histogram that one thread updates and any thread reads, without locks.
#pragma once

#include <ozzie/user_service.hpp>

#include <atomic>
#include <memory>
#include <vector>

namespace ozzie {

// Upper bounds, in seconds, for request and commit durations: 100 us to 1 s.
inline std::vector<double> duration_bounds() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}

class atomic_histogram {
public:
    explicit atomic_histogram(std::vector<double> upper_bounds);

    // From one thread at a time only (the owner): a plain increment, no locked instruction.
    void observe(double value) noexcept;
    histogram_snapshot snapshot() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, then the overflow
    std::atomic<double> sum_{0};
};

}  // namespace ozzie
