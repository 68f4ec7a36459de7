// JSON text written straight into a buffer, without building a document: the request path
// renders users, errors and log lines this way. Strings are escaped exactly as Boost.JSON's
// serializer escapes them, so the bytes are those `boost::json::serialize` would give.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ozzie::json_text {

// `s` as a JSON string, quotes included: '"', '\\' and the control characters escaped (\b \t
// \n \f \r, the others as \u00xx), every other byte copied, so UTF-8 passes through.
void append_string(std::string& out, std::string_view s);

// `n` in decimal.
void append_number(std::string& out, std::uint64_t n);

// `t` as ISO 8601 UTC date and time to the second, "2025-05-05T14:30:00", without a zone:
// the caller adds fractions of a second and the "Z". Years 0 to 9999.
void append_utc_time(std::string& out, std::chrono::sys_seconds t);

// The time in `text` written as append_utc_time writes it followed by "Z" (RFC 3339 in UTC, to
// the second: "2025-05-05T14:30:00Z"); nullopt for any other text, or a date or time that does
// not exist.
std::optional<std::chrono::sys_seconds> parse_utc_time(std::string_view text);

}  // namespace ozzie::json_text
