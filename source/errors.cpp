#include <ozzie/errors.hpp>

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

#include <string>

namespace ozzie {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "ozzie"; }
    std::string message(int value) const override {
        return std::string(code_name(static_cast<errc>(value)));
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

std::string_view code_name(errc e) noexcept {
    switch (e) {
    case errc::validation_error: return "VALIDATION_ERROR";
    case errc::unauthorized: return "UNAUTHORIZED";
    case errc::forbidden: return "FORBIDDEN";
    case errc::not_found: return "NOT_FOUND";
    case errc::method_not_allowed: return "METHOD_NOT_ALLOWED";
    case errc::conflict: return "CONFLICT";
    case errc::payload_too_large: return "PAYLOAD_TOO_LARGE";
    case errc::headers_too_large: return "REQUEST_HEADERS_TOO_LARGE";
    case errc::bad_request: return "BAD_REQUEST";
    case errc::rate_limited: return "RATE_LIMITED";
    case errc::unavailable: return "SERVICE_UNAVAILABLE";
    case errc::http_version_not_supported: return "HTTP_VERSION_NOT_SUPPORTED";
    case errc::internal: return "INTERNAL_ERROR";
    case errc::precondition_failed: return "PRECONDITION_FAILED";
    case errc::idempotency_key_reused: return "IDEMPOTENCY_KEY_REUSED";
    case errc::idempotency_key_in_use: return "IDEMPOTENCY_KEY_IN_USE";
    }
    return "INTERNAL_ERROR";
}

unsigned http_status(errc e) noexcept {
    switch (e) {
    case errc::validation_error: return 400;
    case errc::unauthorized: return 401;
    case errc::forbidden: return 403;
    case errc::not_found: return 404;
    case errc::method_not_allowed: return 405;
    case errc::conflict: return 409;
    case errc::payload_too_large: return 413;
    case errc::headers_too_large: return 431;
    case errc::bad_request: return 400;
    case errc::rate_limited: return 429;
    case errc::unavailable: return 503;
    case errc::http_version_not_supported: return 505;
    case errc::internal: return 500;
    case errc::precondition_failed: return 412;
    case errc::idempotency_key_reused: return 422;
    case errc::idempotency_key_in_use: return 409;
    }
    return 500;
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
    boost::throw_exception(boost::system::system_error(make_error_code(e.code), e.message), loc);
}

}  // namespace ozzie
