// The JSON of users, lists of users, and create and update requests.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string>
#include <string_view>

namespace ozzie {

// Appends the user object: exactly the documented fields, in the spec's order; absent optional
// fields are null. Written straight into `out`, with no JSON document.
void append_user_object(std::string& out, const user& u);
// Appends {"object":"user","data":<the user object>}.
void append_user_body(std::string& out, const user& u);
// Appends {"object":"list","data":[<user objects>],"has_more":...}.
void append_list_body(std::string& out, const user_page& page);

// The create request in a POST /v1/users body. VALIDATION_ERROR if the body is not a JSON
// object, has a field a caller may not set or does not know, or a value of the wrong type.
// Field values are checked by validate(), not here.
result<new_user> parse_new_user(std::string_view body);

// The changes in a PATCH /v1/users/{user_id} body, with the same rules, and onboarding_stage
// writable: VALIDATION_ERROR also for null where a field cannot be cleared (external_user_id,
// language, onboarding_stage) and for a stage the API does not know.
result<user_patch> parse_user_patch(std::string_view body);

}  // namespace ozzie
