// The API's error codes and the result type every fallible call returns.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace ozzie {

// The fixed set of outcomes a caller can see. Each has one HTTP status and one public code
// string (code_name). Use the narrowest that fits; `internal` is for failures that are not
// the caller's fault, and its details go to the log, never to the client.
enum class errc {
    validation_error = 1,  // 400 VALIDATION_ERROR: a field or the body failed validation
    unauthorized,          // 401 UNAUTHORIZED: missing or invalid credentials
    forbidden,             // 403 FORBIDDEN: the resource belongs to another API client
    not_found,             // 404 NOT_FOUND: no such user (or route) for this client
    method_not_allowed,    // 405 METHOD_NOT_ALLOWED: known path, wrong method
    conflict,              // 409 CONFLICT: external_user_id already taken under this client
    payload_too_large,     // 413 PAYLOAD_TOO_LARGE: request body over the limit
    headers_too_large,     // 431 REQUEST_HEADERS_TOO_LARGE: request line or headers over the limit
    bad_request,           // 400 BAD_REQUEST: not a well-formed HTTP request
    rate_limited,          // 429 RATE_LIMITED: over the client's request rate; see Retry-After
    unavailable,           // 503 SERVICE_UNAVAILABLE: over the connection limit, or the store
                           // refuses writes after a disk fault; see Retry-After
    http_version_not_supported,  // 505 HTTP_VERSION_NOT_SUPPORTED: not HTTP/1.0 or HTTP/1.1
    internal,              // 500 INTERNAL_ERROR: storage or other server-side failure
    precondition_failed,   // 412 PRECONDITION_FAILED: If-Match names no current version of the user
    idempotency_key_reused,  // 422 IDEMPOTENCY_KEY_REUSED: the key was used for another request
    idempotency_key_in_use,  // 409 IDEMPOTENCY_KEY_IN_USE: a request with the key is still being
                             // processed; see Retry-After
};

// The Boost.System category of errc, so codes travel as boost::system::error_code too.
const boost::system::error_category& error_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

// The public code string, e.g. "VALIDATION_ERROR".
std::string_view code_name(errc e) noexcept;
// The HTTP status that goes with the code, e.g. 400.
unsigned http_status(errc e) noexcept;

// An expected failure: the code and a message for the client in the spec's tone
// (what field, what was received, what to do).
struct error {
    errc code;
    std::string message;
};

// Called by result<T>::value() on an error: throws boost::system::system_error.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

// What every fallible call returns: a value or an error, which the caller must check.
template <class T>
using result = boost::system::result<T, error>;

}  // namespace ozzie

template <>
struct boost::system::is_error_code_enum<ozzie::errc> : std::true_type {};
