// Per-client token buckets: the request rate each API client may sustain.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ozzie {

class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    // A bucket for each of `clients`, full at start: `burst` tokens, refilled at `per_second`.
    // per_second 0 means no limit. The ids are kept as views: their storage (the clients
    // registry) must outlive the limiter, as the server's per-thread context ensures.
    rate_limiter(const std::vector<std::string_view>& clients, double per_second, double burst);

    // Takes `cost` tokens (a request: 1; a batch: one per user, at most the burst) from
    // `client`'s bucket. nullopt if there were as many; otherwise the whole seconds (at least 1)
    // until there will be, and none is taken. Thread-safe; clients not given at construction are
    // not limited.
    std::optional<std::chrono::seconds> take(std::string_view client, clock::time_point now, double cost = 1);

    // Gives back `tokens` taken from `client`'s bucket (up to the burst): a request that took a
    // first token and then was refused the rest of its cost.
    void refund(std::string_view client, double tokens);

private:
    struct bucket {
        bucket(double full, clock::time_point now) : tokens(full), refilled(now) {}
        std::mutex mutex;
        double tokens;
        clock::time_point refilled;
    };

    double per_second_;
    double burst_;
    // Built once: lookups need no lock, each bucket has its own.
    std::unordered_map<std::string_view, std::unique_ptr<bucket>> buckets_;
};

}  // namespace ozzie
