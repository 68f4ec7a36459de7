// UTF-8 helpers: lengths in Unicode characters, and safe quoting of received values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ozzie {

// The number of Unicode code points in `s`, or nullopt if `s` is not valid UTF-8
// (overlong forms, surrogates and values above U+10FFFF are invalid).
std::optional<std::size_t> utf8_length(std::string_view s) noexcept;

// `s` made fit to quote in an error message: invalid UTF-8 becomes U+FFFD and anything past
// `max_chars` code points is cut and marked with "...".
std::string quote_for_message(std::string_view s, std::size_t max_chars = 100);

}  // namespace ozzie
