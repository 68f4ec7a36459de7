#include "service/ulid.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace ozzie {
namespace {

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// 26 characters of 5 bits cover 130 bits; the first character carries the top 3 of the 128.
std::string encode(const std::array<unsigned char, 16>& bytes) {
    const auto bit = [&](int k) { return k < 0 ? 0 : (bytes[k / 8] >> (7 - k % 8)) & 1; };
    std::string text(ulid_chars, '0');
    for (int j = 0; j < static_cast<int>(ulid_chars); ++j) {
        int value = 0;
        for (int k = 5 * j - 2; k < 5 * j + 3; ++k) value = (value << 1) | bit(k);
        text[j] = crockford[value];
    }
    return text;
}

void fill_random(std::array<unsigned char, 10>& random) {
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
}

// Adds one to the 80-bit big-endian value; false if it wrapped around.
bool increment(std::array<unsigned char, 10>& random) noexcept {
    for (auto it = random.rbegin(); it != random.rend(); ++it)
        if (++*it != 0) return true;
    return false;
}

}  // namespace

ulid ulid_generator::next(milliseconds_time now) {
    const auto ms = static_cast<std::uint64_t>(now.time_since_epoch().count());
    if (ms > last_ms_) {
        last_ms_ = ms;
        fill_random(random_);
    } else if (!increment(random_)) {
        ++last_ms_;  // 2^80 ids in one millisecond: borrow the next one
        fill_random(random_);
    }
    std::array<unsigned char, 16> bytes{};
    for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(last_ms_ >> (8 * (5 - i)));
    std::copy(random_.begin(), random_.end(), bytes.begin() + 6);
    return {encode(bytes), milliseconds_time(std::chrono::milliseconds(last_ms_))};
}

bool is_ulid(std::string_view s) noexcept {
    return s.size() == ulid_chars && s[0] <= '7' &&
           s.find_first_not_of(crockford) == std::string_view::npos;
}

std::optional<std::string_view> ulid_of_user_id(std::string_view id) noexcept {
    if (!id.starts_with(user_id_prefix)) return std::nullopt;
    id.remove_prefix(user_id_prefix.size());
    if (!is_ulid(id)) return std::nullopt;
    return id;
}

}  // namespace ozzie
