#include "service/messages.hpp"

#include "service/utf8.hpp"

#include <string>

namespace ozzie::messages {
namespace {

std::string field_prefix(std::string_view field) {
    std::string s = "Field '";
    s.append(field);
    s += "' ";
    return s;
}

}  // namespace

error invalid_field(std::string_view field, std::string_view requirement, std::string_view received) {
    return {errc::validation_error, field_prefix(field) + std::string(requirement) +
                                        ". Received: '" + quote_for_message(received) + "'."};
}

error invalid_field_json(std::string_view field, std::string_view requirement,
                         std::string_view received_json) {
    return {errc::validation_error, field_prefix(field) + std::string(requirement) +
                                        ". Received: " + quote_for_message(received_json) + "."};
}

error missing_field(std::string_view field) {
    return {errc::validation_error, field_prefix(field) + "is required."};
}

error read_only_field(std::string_view field) {
    return {errc::validation_error,
            field_prefix(quote_for_message(field)) + "is set by Ozzie and cannot be provided."};
}

error unknown_field(std::string_view field, std::string_view allowed) {
    return {errc::validation_error, field_prefix(quote_for_message(field)) +
                                        "is not a recognized field. Allowed fields: " + std::string(allowed) + "."};
}

error stage_backwards(onboarding_stage current, onboarding_stage received) {
    return {errc::validation_error, "Field 'onboarding_stage' only moves forward (intake_pending, plan_pending, "
                                    "active); the user is at '" + std::string(to_string(current)) +
                                        "'. Received: '" + std::string(to_string(received)) + "'."};
}

error invalid_parameter(std::string_view parameter, std::string_view requirement, std::string_view received) {
    return {errc::validation_error, "Query parameter '" + quote_for_message(parameter) + "' " +
                                        std::string(requirement) + ". Received: '" + quote_for_message(received) +
                                        "'."};
}

error unknown_parameter(std::string_view parameter) {
    return {errc::validation_error, "Query parameter '" + quote_for_message(parameter) +
                                        "' is not recognized. Allowed parameters: limit, starting_after, "
                                        "ending_before, onboarding_stage."};
}

error duplicate_parameter(std::string_view parameter) {
    return {errc::validation_error, "Query parameter '" + quote_for_message(parameter) +
                                        "' appears more than once. Send each parameter once."};
}

error both_cursors() {
    return {errc::validation_error, "Query parameters 'starting_after' and 'ending_before' cannot be used "
                                    "together. Send one of them, or neither for the newest users."};
}

error body_not_object() {
    return {errc::validation_error,
            "The request body must be a JSON object, e.g. {\"external_user_id\": \"usr_8821\"}."};
}

error body_not_json(std::string_view reason) {
    return {errc::validation_error,
            "The request body is not valid JSON (" + std::string(reason) + "). Send a JSON object, e.g. "
            "{\"external_user_id\": \"usr_8821\"}."};
}

error field_not_json(std::string_view field, std::string_view reason) {
    return {errc::validation_error, field_prefix(quote_for_message(field)) + "does not hold valid JSON (" +
                                        std::string(reason) + "). Send a string of valid UTF-8."};
}

error conflict(std::string_view external_user_id) {
    return {errc::conflict, "A user with external_user_id '" + quote_for_message(external_user_id) +
                                "' already exists under your API client. Use GET "
                                "/v1/users/{user_id} to retrieve them."};
}

error user_not_found(std::string_view id) {
    return {errc::not_found,
            "No user found with id '" + quote_for_message(id) + "' under your API client."};
}

error external_user_not_found(std::string_view external_user_id) {
    return {errc::not_found, "No user found with external_user_id '" +
                                 quote_for_message(external_user_id) +
                                 "' under your API client."};
}

error other_clients_user(std::string_view id) {
    return {errc::forbidden,
            "User '" + quote_for_message(id) + "' belongs to a different API client."};
}

error unauthorized() {
    return {errc::unauthorized,
            "Missing or invalid credentials. Send 'Authorization: Bearer "
            "<base64 of client_id:secret>'."};
}

error no_route(std::string_view method, std::string_view path) {
    return {errc::not_found, "No route for " + quote_for_message(method) + " " +
                                 quote_for_message(path) + ". See the Users API: GET or POST /v1/users, "
                                 "GET, PATCH or DELETE /v1/users/{user_id}, POST /v1/users/batch."};
}

error method_not_allowed(std::string_view method, std::string_view path, std::string_view allowed) {
    return {errc::method_not_allowed, "Method " + quote_for_message(method) +
                                          " is not allowed on " + quote_for_message(path) +
                                          ". Allowed: " + std::string(allowed) + "."};
}

error bad_user_id_encoding(std::string_view raw) {
    return {errc::validation_error,
            "Path parameter 'user_id' is not validly percent-encoded. Received: '" +
                quote_for_message(raw) + "'."};
}

error bad_query_encoding(std::string_view raw) {
    return {errc::validation_error,
            "The query string is not validly percent-encoded. Received: '" + quote_for_message(raw) + "'."};
}

error payload_too_large(std::size_t limit) {
    return {errc::payload_too_large,
            "The request body is larger than " + std::to_string(limit) + " bytes."};
}

error headers_too_large(std::size_t limit) {
    return {errc::headers_too_large,
            "The request line and headers are larger than " + std::to_string(limit) + " bytes."};
}

error bad_request(std::string_view what) {
    return {errc::bad_request, "Malformed HTTP request: " + std::string(what) + "."};
}

error rate_limited(std::chrono::seconds retry_after) {
    return {errc::rate_limited, "Too many requests from your API client. Retry after " +
                                    std::to_string(retry_after.count()) + " s."};
}

error unavailable() {
    return {errc::unavailable, "The server is at its connection limit. Retry shortly."};
}

error store_unavailable() {
    return {errc::unavailable,
            "The store cannot serve this request right now (a disk fault, or its database cannot be "
            "reached; see the server log), and nothing was changed. Retry after a second."};
}

error store_failure(const error& e) { return e.code == errc::unavailable ? store_unavailable() : internal(); }

error not_ready() {
    return {errc::unavailable, "The store does not take writes; see the server log."};
}

error http_version_not_supported(unsigned version) {
    return {errc::http_version_not_supported, "HTTP/" + std::to_string(version / 10) + "." +
                                                  std::to_string(version % 10) +
                                                  " is not supported. Use HTTP/1.1 or HTTP/1.0."};
}

error duplicate_field(std::string_view field) {
    return {errc::validation_error,
            field_prefix(quote_for_message(field)) + "appears more than once. Send each field once."};
}

error internal() {
    return {errc::internal, "An internal error occurred. Please retry the request."};
}

error precondition_failed() {
    return {errc::precondition_failed,
            "The user has changed since you read it: If-Match does not name its current ETag. GET the user "
            "again and retry with the ETag it answers."};
}

error invalid_idempotency_key(std::string_view received) {
    return {errc::validation_error, "Header 'Idempotency-Key' must be 1 to 255 printable ASCII characters. "
                                    "Received: '" + quote_for_message(received) + "'."};
}

error duplicate_header(std::string_view header) {
    return {errc::validation_error,
            "Header '" + std::string(header) + "' appears more than once. Send it once."};
}

error idempotency_key_reused(std::string_view key) {
    return {errc::idempotency_key_reused,
            "Idempotency-Key '" + quote_for_message(key) + "' was already used for a different request (method, "
            "path or body). Send a new key with a new request."};
}

error idempotency_key_in_use(std::string_view key) {
    return {errc::idempotency_key_in_use,
            "A request with Idempotency-Key '" + quote_for_message(key) +
                "' is still being processed. Retry after a second for its answer."};
}

error batch_shape(std::size_t max_users) {
    return {errc::validation_error, "The request body must be a JSON object {\"users\": [...]} holding 1 to " +
                                        std::to_string(max_users) +
                                        " create bodies, each as POST /v1/users takes it."};
}

error batch_element_not_object(std::size_t index) {
    return {errc::validation_error, "Element " + std::to_string(index) +
                                        " of 'users' must be a JSON object, a create body such as "
                                        "{\"external_user_id\": \"usr_8821\"}."};
}

}  // namespace ozzie::messages
