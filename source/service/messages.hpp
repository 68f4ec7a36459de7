// Every message a client can read, in one place and in the spec's tone.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <chrono>
#include <string_view>

namespace ozzie::messages {

// Requirements stated by more than one message (of a field, and of a query parameter).
inline constexpr std::string_view stage_requirement = "must be one of 'intake_pending', 'plan_pending' or 'active'";
inline constexpr std::string_view limit_requirement = "must be an integer from 1 to 100";

// "Field 'email' must be a valid email address. Received: 'not-an-email'."
error invalid_field(std::string_view field, std::string_view requirement, std::string_view received);
// For a value that is not a string: `received_json` is its JSON text, quoted as is.
error invalid_field_json(std::string_view field, std::string_view requirement,
                         std::string_view received_json);
error missing_field(std::string_view field);
error read_only_field(std::string_view field);
// `allowed`: the fields the request may hold, e.g. "external_user_id, name, email, phone, language".
error unknown_field(std::string_view field, std::string_view allowed);
error stage_backwards(onboarding_stage current, onboarding_stage received);
// "Query parameter 'limit' must be ... Received: '0'."
error invalid_parameter(std::string_view parameter, std::string_view requirement, std::string_view received);
error unknown_parameter(std::string_view parameter);
error duplicate_parameter(std::string_view parameter);
error both_cursors();
error body_not_object();
error body_not_json(std::string_view reason);
error field_not_json(std::string_view field, std::string_view reason);
error conflict(std::string_view external_user_id);
error user_not_found(std::string_view id);
error external_user_not_found(std::string_view external_user_id);
error other_clients_user(std::string_view id);
error unauthorized();
error no_route(std::string_view method, std::string_view path);
error method_not_allowed(std::string_view method, std::string_view path, std::string_view allowed);
error bad_user_id_encoding(std::string_view raw);
error bad_query_encoding(std::string_view raw);
error payload_too_large(std::size_t limit);
error headers_too_large(std::size_t limit);
error bad_request(std::string_view what);
error rate_limited(std::chrono::seconds retry_after);
error unavailable();
error store_unavailable();
// The answer to a request the store failed (error `e`, not NOT_FOUND): SERVICE_UNAVAILABLE for
// a store that cannot be used now (retry), INTERNAL_ERROR for anything else.
error store_failure(const error& e);
error not_ready();
error http_version_not_supported(unsigned version);
error duplicate_field(std::string_view field);
error internal();
error precondition_failed();
error invalid_idempotency_key(std::string_view received);
error duplicate_header(std::string_view header);
error idempotency_key_reused(std::string_view key);
error idempotency_key_in_use(std::string_view key);
// A POST /v1/users/batch body that is not {"users":[1 to `max_users` objects]}.
error batch_shape(std::size_t max_users);
error batch_element_not_object(std::size_t index);

}  // namespace ozzie::messages
