// The JSON of users, lists of users, create, update and batch requests, and the lines of an import.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ozzie {

// Appends the user object: exactly the documented fields, in the spec's order; absent optional
// fields are null. Written straight into `out`, with no JSON document.
void append_user_object(std::string& out, const user& u);
// Appends {"object":"user","data":<the user object>}.
void append_user_body(std::string& out, const user& u);
// Appends {"object":"list","data":[<user objects>],"has_more":...}.
void append_list_body(std::string& out, const user_page& page);

// Appends {"object":"list","data":[...]} with, for each answer of a batch in order, what a
// single create would answer and its status: {"status":201,"object":"user","data":{...}} or
// {"status":409,"error":{"code":...,"message":...}}.
void append_batch_body(std::string& out, const std::vector<result<user>>& answers);

// The create request in a POST /v1/users body. VALIDATION_ERROR if the body is not a JSON
// object, has a field a caller may not set or does not know, or a value of the wrong type.
// Field values are checked by validate(), not here.
result<new_user> parse_new_user(std::string_view body);

// A line of an import file (ozzie-admin import): a user object as export writes it (the `data`
// of GET /v1/users/{user_id}) if it has an "id" field, otherwise a create body as
// parse_new_user reads it. A user object must have all eight fields and no other, its id an
// Ozzie user id, its onboarding_stage one the API knows and its created_at a UTC time as the
// API writes it ("2025-05-05T14:30:00Z"); its owner (client_id) is left empty. Otherwise
// VALIDATION_ERROR naming the field, as for parse_new_user. The fields a create sets are
// checked by validate(), not here.
result<std::variant<new_user, user>> parse_import_line(std::string_view line);

// The changes in a PATCH /v1/users/{user_id} body, with the same rules, and onboarding_stage
// writable: VALIDATION_ERROR also for null where a field cannot be cleared (external_user_id,
// language, onboarding_stage) and for a stage the API does not know.
result<user_patch> parse_user_patch(std::string_view body);

// The creates in a POST /v1/users/batch body, {"users":[create bodies]}: each as parse_new_user
// reads it, in order (a body it refuses is that create's VALIDATION_ERROR). VALIDATION_ERROR for
// the whole body if it is not JSON, not that shape, or holds no create or more than `max_users`.
result<std::vector<result<new_user>>> parse_batch(std::string_view body, std::size_t max_users);

}  // namespace ozzie
