// Building responses: JSON bodies and the error envelope.
#pragma once

#include "http/types.hpp"

#include <ozzie/errors.hpp>

#include <string>

namespace ozzie {

// A response with a JSON body.
response json_response(http::status status, std::string body, unsigned version, bool keep_alive);

// {"error":{"code":"...","message":"..."}} with the code's HTTP status; a 401 also carries
// WWW-Authenticate.
response error_response(const error& e, unsigned version, bool keep_alive);

}  // namespace ozzie
