// A latency histogram with HDR-style log-linear buckets.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace ozzie::bench {

// Records durations in nanoseconds, exactly below 256 ns and above that in 128 linear buckets
// per power of two, so a reported value (the middle of its bucket) is within 0.4% of the
// recorded one, from 1 ns up to max_trackable (longer values count as max_trackable; max()
// stays exact). Recording is a few instructions and allocates nothing. Not thread-safe: one
// histogram per thread, merged at the end.
class histogram {
public:
    static constexpr std::chrono::nanoseconds max_trackable = std::chrono::seconds(120);

    void record(std::chrono::nanoseconds value) noexcept;
    void merge(const histogram& other) noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::chrono::nanoseconds max() const noexcept { return std::chrono::nanoseconds(max_); }
    // The value at or below which `quantile` (0 to 1) of the recorded values lie; 0 if empty.
    std::chrono::nanoseconds percentile(double quantile) const noexcept;

private:
    static constexpr int sub_bucket_bits = 7;  // 128 buckets per power of two
    static constexpr int octaves = 30;         // 2^8 ns to 2^37 ns (137 s)
    static constexpr std::size_t bucket_count = 256 + octaves * (1u << sub_bucket_bits);

    static std::size_t index_of(std::uint64_t ns) noexcept;
    static std::uint64_t middle_of(std::size_t index) noexcept;

    std::array<std::uint64_t, bucket_count> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace ozzie::bench
