#include "http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace ozzie {

rate_limiter::rate_limiter(const std::vector<std::string_view>& clients, double per_second, double burst)
    : per_second_(per_second), burst_(std::max(burst, 1.0)) {
    if (per_second_ <= 0) return;
    for (const auto client : clients)
        buckets_.emplace(client, std::make_unique<bucket>(burst_, clock::now()));
}

std::optional<std::chrono::seconds> rate_limiter::take(std::string_view client, clock::time_point now, double cost) {
    const auto found = buckets_.find(client);
    if (found == buckets_.end()) return std::nullopt;
    bucket& b = *found->second;
    std::lock_guard lock(b.mutex);
    const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
    if (elapsed > 0) {
        b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
        b.refilled = now;
    }
    cost = std::min(cost, burst_);  // or a batch larger than the burst would never pass
    if (b.tokens >= cost) {
        b.tokens -= cost;
        return std::nullopt;
    }
    const double wait = (cost - b.tokens) / per_second_;
    return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait))));
}

void rate_limiter::refund(std::string_view client, double tokens) {
    const auto found = buckets_.find(client);
    if (found == buckets_.end()) return;
    bucket& b = *found->second;
    std::lock_guard lock(b.mutex);
    b.tokens = std::min(burst_, b.tokens + tokens);
}

}  // namespace ozzie
