#include <ozzie/user.hpp>

#define XXH_INLINE_ALL  // header only: the hash is a few dozen instructions, best inlined
#include <xxhash.h>

#include <array>

namespace ozzie {

std::string_view to_string(onboarding_stage stage) noexcept {
    switch (stage) {
    case onboarding_stage::intake_pending: return "intake_pending";
    case onboarding_stage::plan_pending: return "plan_pending";
    case onboarding_stage::active: return "active";
    }
    return "intake_pending";
}

std::optional<onboarding_stage> onboarding_stage_from_string(std::string_view text) noexcept {
    for (const auto stage : {onboarding_stage::intake_pending, onboarding_stage::plan_pending, onboarding_stage::active})
        if (to_string(stage) == text) return stage;
    return std::nullopt;
}

void append_entity_tag(std::string& out, const user& u) {
    // Each field with its length (and presence) before it, so no two users hash the same input.
    XXH3_state_t state;
    XXH3_64bits_reset(&state);
    const auto add = [&state](std::string_view s) {
        const auto size = static_cast<std::uint64_t>(s.size());
        XXH3_64bits_update(&state, &size, sizeof size);
        XXH3_64bits_update(&state, s.data(), s.size());
    };
    const auto add_optional = [&](const std::optional<std::string>& s) {
        const char present = s ? 1 : 0;
        XXH3_64bits_update(&state, &present, 1);
        if (s) add(*s);
    };
    add(u.id);
    add(u.client_id);
    add(u.external_user_id);
    add_optional(u.name);
    add_optional(u.email);
    add_optional(u.phone);
    add(u.language);
    const auto stage = static_cast<char>(u.stage);
    XXH3_64bits_update(&state, &stage, 1);
    const auto created = static_cast<std::int64_t>(u.created_at.time_since_epoch().count());
    XXH3_64bits_update(&state, &created, sizeof created);
    auto hash = XXH3_64bits_digest(&state);
    std::array<char, 18> tag;
    tag.front() = tag.back() = '"';
    for (std::size_t i = 16; i > 0; --i, hash >>= 4) tag[i] = "0123456789abcdef"[hash & 0xF];
    out.append(tag.data(), tag.size());
}

std::string entity_tag(const user& u) {
    std::string tag;
    append_entity_tag(tag, u);
    return tag;
}

}  // namespace ozzie
