#include "ops/atomic_histogram.hpp"

#include <algorithm>

namespace ozzie {

atomic_histogram::atomic_histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void atomic_histogram::observe(double value) noexcept {
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
    auto& count = counts_[static_cast<std::size_t>(bucket)];
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_.store(sum_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
}

histogram_snapshot atomic_histogram::snapshot() const {
    histogram_snapshot s{bounds_, {}, sum_.load(std::memory_order_relaxed)};
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += counts_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    return s;
}

}  // namespace ozzie
