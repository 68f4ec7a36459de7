#include "service/validation.hpp"

#include "service/messages.hpp"
#include "service/utf8.hpp"

#include <algorithm>

namespace ozzie {
namespace {

bool is_control_or_space(unsigned char c) noexcept { return c <= 0x20 || c == 0x7F; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

bool is_valid_email(std::string_view s) noexcept {
    if (s.size() > max_email_bytes || !utf8_length(s)) return false;
    if (std::ranges::any_of(s, [](char c) { return is_control_or_space(c); })) return false;
    const auto at = s.find('@');
    if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos)
        return false;
    std::string_view domain = s.substr(at + 1);
    std::size_t labels = 0;
    for (;;) {
        const auto dot = domain.find('.');
        if (domain.substr(0, dot).empty()) return false;  // empty label: "a..b", ".a", "a."
        ++labels;
        if (dot == std::string_view::npos) break;
        domain.remove_prefix(dot + 1);
    }
    return labels >= 2;
}

bool is_valid_e164(std::string_view s) noexcept {
    if (s.size() < 3 || s.size() > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
    return std::all_of(s.begin() + 1, s.end(), is_digit);
}

bool is_supported_language(std::string_view s) noexcept {
    return s == "en" || s == "pt" || s == "es";
}

namespace {

result<void> check_external_user_id(std::string_view external_id) {
    const auto external_chars = utf8_length(external_id);
    if (!external_chars)
        return messages::invalid_field("external_user_id", "must be valid UTF-8", external_id);
    if (*external_chars < 1 || *external_chars > max_external_user_id_chars)
        return messages::invalid_field("external_user_id", "must be between 1 and 100 characters",
                                       external_id);
    // Control characters have no place in an id that clients put in URLs and logs.
    if (std::ranges::any_of(external_id, [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
        }))
        return messages::invalid_field("external_user_id", "must not contain control characters",
                                       external_id);
    return {};
}

result<void> check_name(std::string_view name) {
    const auto name_chars = utf8_length(name);
    if (!name_chars) return messages::invalid_field("name", "must be valid UTF-8", name);
    if (*name_chars > max_name_chars) return messages::invalid_field("name", "must be at most 200 characters", name);
    // No database's text type holds it (PostgreSQL's refuses it), and no name needs it.
    if (name.find('\0') != std::string_view::npos)
        return messages::invalid_field("name", "must not contain the character U+0000", name);
    return {};
}

result<void> check_email(std::string_view email) {
    if (!is_valid_email(email)) return messages::invalid_field("email", "must be a valid email address", email);
    return {};
}

result<void> check_phone(std::string_view phone) {
    if (!is_valid_e164(phone))
        return messages::invalid_field("phone", "must be in E.164 format, e.g. +15551234567", phone);
    return {};
}

result<void> check_language(std::string_view language) {
    if (!is_supported_language(language))
        return messages::invalid_field("language", "must be one of 'en', 'pt' or 'es'", language);
    return {};
}

}  // namespace

bool is_valid_external_user_id(std::string_view s) { return check_external_user_id(s).has_value(); }

result<void> validate(const new_user& request) {
    auto valid = check_external_user_id(request.external_user_id);
    if (valid && request.name) valid = check_name(*request.name);
    if (valid && request.email) valid = check_email(*request.email);
    if (valid && request.phone) valid = check_phone(*request.phone);
    if (valid && request.language) valid = check_language(*request.language);
    return valid;
}

result<void> validate(const user_patch& patch) {
    result<void> valid;
    if (patch.external_user_id) valid = check_external_user_id(*patch.external_user_id);
    if (valid && patch.name && *patch.name) valid = check_name(**patch.name);
    if (valid && patch.email && *patch.email) valid = check_email(**patch.email);
    if (valid && patch.phone && *patch.phone) valid = check_phone(**patch.phone);
    if (valid && patch.language) valid = check_language(*patch.language);
    return valid;
}

result<void> check_stage_move(onboarding_stage from, onboarding_stage to) {
    if (to < from) return messages::stage_backwards(from, to);
    return {};
}

}  // namespace ozzie
