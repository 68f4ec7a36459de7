// The user record and the request that creates one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie {

// Where a user is in onboarding. New users start at intake_pending.
enum class onboarding_stage : std::uint8_t {
    intake_pending = 0,  // created, no financial intake yet
    plan_pending = 1,    // intake submitted, plan not generated yet
    active = 2,          // plan generated, full access
};

// The API's spelling: "intake_pending", "plan_pending" or "active".
std::string_view to_string(onboarding_stage stage) noexcept;
// The stage so spelled; nullopt for any other text.
std::optional<onboarding_stage> onboarding_stage_from_string(std::string_view text) noexcept;

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

// The user's strong entity tag (RFC 9110 8.8.3), e.g. "\"3f2a9c1e0b7d4a65\"": a 64-bit hash of
// every field, so it changes whenever the user does (and is the same again only if every field is).
// The API answers it as ETag and checks If-Match and If-None-Match against it.
std::string entity_tag(const user& u);
// The same, appended to `out` (no allocation if it has room).
void append_entity_tag(std::string& out, const user& u);

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

// What a caller sends to change a user: each field that is set is changed, the others are kept.
// For name, email and phone an engaged empty inner optional clears the field (JSON null).
// Validation rules are those of POST /v1/users; onboarding_stage only moves forward.
struct user_patch {
    std::optional<std::string> external_user_id;
    std::optional<std::optional<std::string>> name;
    std::optional<std::optional<std::string>> email;
    std::optional<std::optional<std::string>> phone;
    std::optional<std::string> language;
    std::optional<onboarding_stage> stage;
};

// Which page of a client's users to list. Users are listed newest first (by id, which orders
// them by creation time).
struct list_request {
    std::size_t limit = 10;  // 1 to 100
    // At most one of the two cursors, each an Ozzie user id from an earlier page (it need not
    // name a user that still exists): starting_after gives the users just older than it,
    // ending_before the `limit` users just newer than it. Neither: the newest users.
    std::optional<std::string> starting_after;
    std::optional<std::string> ending_before;
    std::optional<onboarding_stage> stage;  // only the users at this stage
};

// A page of users, newest first.
struct user_page {
    std::vector<user> users;
    // Whether more users lie beyond this page in the direction it was read: older ones after a
    // first page or a starting_after page, newer ones before an ending_before page.
    bool has_more = false;
};

}  // namespace ozzie
