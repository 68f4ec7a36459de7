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

result<void> validate(const new_user& request) {
    const std::string_view external_id = request.external_user_id;
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

    if (request.name) {
        const auto name_chars = utf8_length(*request.name);
        if (!name_chars)
            return messages::invalid_field("name", "must be valid UTF-8", *request.name);
        if (*name_chars > max_name_chars)
            return messages::invalid_field("name", "must be at most 200 characters", *request.name);
    }
    if (request.email && !is_valid_email(*request.email))
        return messages::invalid_field("email", "must be a valid email address", *request.email);
    if (request.phone && !is_valid_e164(*request.phone))
        return messages::invalid_field("phone", "must be in E.164 format, e.g. +15551234567",
                                       *request.phone);
    if (request.language && !is_supported_language(*request.language))
        return messages::invalid_field("language", "must be one of 'en', 'pt' or 'es'",
                                       *request.language);
    return {};
}

}  // namespace ozzie
