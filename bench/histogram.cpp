#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ozzie::bench {

std::size_t histogram::index_of(std::uint64_t ns) noexcept {
    if (ns < 256) return static_cast<std::size_t>(ns);
    const int octave = std::bit_width(ns) - 1;  // ns in [2^octave, 2^(octave+1)), octave >= 8
    const int shift = octave - sub_bucket_bits;
    const auto sub = (ns >> shift) - (1u << sub_bucket_bits);  // 0 to 127
    return std::min<std::size_t>(256 + static_cast<std::size_t>(octave - 8) * (1u << sub_bucket_bits) + sub,
                                 bucket_count - 1);
}

std::uint64_t histogram::middle_of(std::size_t index) noexcept {
    if (index < 256) return index;
    const std::size_t octave = 8 + (index - 256) / (1u << sub_bucket_bits);
    const std::uint64_t sub = (index - 256) % (1u << sub_bucket_bits);
    const int shift = static_cast<int>(octave) - sub_bucket_bits;
    const std::uint64_t lower = ((1u << sub_bucket_bits) + sub) << shift;
    return lower + ((std::uint64_t{1} << shift) >> 1);
}

void histogram::record(std::chrono::nanoseconds value) noexcept {
    const auto ns = static_cast<std::uint64_t>(std::clamp<std::int64_t>(
        value.count(), 0, std::chrono::nanoseconds(max_trackable).count()));
    ++buckets_[index_of(ns)];
    ++count_;
    max_ = std::max(max_, static_cast<std::uint64_t>(std::max<std::int64_t>(value.count(), 0)));
}

void histogram::merge(const histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
}

std::chrono::nanoseconds histogram::percentile(double quantile) const noexcept {
    if (count_ == 0) return {};
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(std::clamp(quantile, 0.0, 1.0) * count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += buckets_[i];
        if (seen == count_) return max();  // the top value is known exactly
        if (seen >= rank) return std::chrono::nanoseconds(std::min(middle_of(i), max_));
    }
    return max();
}

}  // namespace ozzie::bench
