#include <ozzie/user.hpp>

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

}  // namespace ozzie
