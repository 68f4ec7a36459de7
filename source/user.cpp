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

}  // namespace ozzie
