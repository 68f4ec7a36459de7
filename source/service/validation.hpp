// The field rules of POST /v1/users and PATCH /v1/users/{user_id}.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string_view>

namespace ozzie {

inline constexpr std::size_t max_external_user_id_chars = 100;
inline constexpr std::size_t max_name_chars = 200;
inline constexpr std::size_t max_email_bytes = 254;  // RFC 5321 path limit
inline constexpr std::size_t min_list_limit = 1;
inline constexpr std::size_t max_list_limit = 100;

// One '@' with a non-empty local part, no whitespace or control characters, and a dotted
// domain of non-empty labels.
bool is_valid_email(std::string_view s) noexcept;
// E.164: '+', a first digit 1-9, 2 to 15 digits in all, nothing else.
bool is_valid_e164(std::string_view s) noexcept;
// "en", "pt" or "es".
bool is_supported_language(std::string_view s) noexcept;
// 1 to 100 characters of UTF-8 without control characters: an external id that no create
// could have made names no user.
bool is_valid_external_user_id(std::string_view s);

// Checks every rule, field by field in the order of the spec's table; the first failure is
// returned as VALIDATION_ERROR naming the field and the value received.
result<void> validate(const new_user& request);
// The same rules for each field the patch sets (clearing a field breaks none).
result<void> validate(const user_patch& patch);
// onboarding_stage moves forward only (a step may be skipped; staying put is no move).
result<void> check_stage_move(onboarding_stage from, onboarding_stage to);

}  // namespace ozzie
