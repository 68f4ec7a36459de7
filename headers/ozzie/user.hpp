// The user record and the request that creates one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ozzie {

// Where a user is in onboarding. New users start at intake_pending.
enum class onboarding_stage : std::uint8_t {
    intake_pending = 0,  // created, no financial intake yet
    plan_pending = 1,    // intake submitted, plan not generated yet
    active = 2,          // plan generated, full access
};

// The API's spelling: "intake_pending", "plan_pending" or "active".
std::string_view to_string(onboarding_stage stage) noexcept;

// A stored user, as the API returns it.
struct user {
    std::string id;                    // "ozz_usr_" followed by a 26-character ULID
    std::string client_id;             // the API client that created and owns the user
    std::string external_user_id;      // the client's own id, unique per client
    std::optional<std::string> name;   // absent fields are std::nullopt (JSON null)
    std::optional<std::string> email;
    std::optional<std::string> phone;  // E.164
    std::string language;              // "en", "pt" or "es"
    onboarding_stage stage = onboarding_stage::intake_pending;
    std::chrono::sys_seconds created_at{};  // UTC, whole seconds

    bool operator==(const user&) const = default;
};

// How a request names one of the caller's users: by Ozzie id, or by its external_user_id.
struct user_ref {
    enum class kind { id, external };
    kind by = kind::id;
    std::string value;
};

// What a caller sends to create a user. Only external_user_id is required;
// language defaults to "en". Validation rules are those of POST /v1/users.
struct new_user {
    std::string external_user_id;
    std::optional<std::string> name;
    std::optional<std::string> email;
    std::optional<std::string> phone;
    std::optional<std::string> language;
};

}  // namespace ozzie
