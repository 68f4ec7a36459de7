// ULIDs (https://github.com/ulid/spec) and the Ozzie user ids built from them.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ozzie {

inline constexpr std::string_view user_id_prefix = "ozz_usr_";
inline constexpr std::size_t ulid_chars = 26;

using milliseconds_time = std::chrono::sys_time<std::chrono::milliseconds>;

struct ulid {
    std::string text;        // 26 characters of Crockford base32, upper case
    milliseconds_time time;  // the 48-bit time it encodes
};

// Makes ULIDs: 48-bit millisecond time, then 80 random bits from OpenSSL's CSPRNG. Within one
// millisecond (or if the clock steps back) the random part is incremented instead, so ids are
// strictly increasing. Not thread-safe: one generator per thread.
class ulid_generator {
public:
    ulid next(milliseconds_time now);

private:
    std::uint64_t last_ms_ = 0;
    std::array<unsigned char, 10> random_{};
};

// 26 Crockford base32 characters (upper case, no I L O U) whose value fits 128 bits.
bool is_ulid(std::string_view s) noexcept;

// The ULID of a well-formed Ozzie user id ("ozz_usr_" + ULID); nullopt for anything else.
std::optional<std::string_view> ulid_of_user_id(std::string_view id) noexcept;

}  // namespace ozzie
