// The JSON of users and create requests.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string>
#include <string_view>

namespace ozzie {

// Appends {"object":"user","data":{...}} with exactly the documented fields, in the spec's
// order; absent optional fields are null. Written straight into `out`, with no JSON document.
void append_user_body(std::string& out, const user& u);

// The create request in a POST /v1/users body. VALIDATION_ERROR if the body is not a JSON
// object, has a field a caller may not set or does not know, or a value of the wrong type.
// Field values are checked by validate(), not here.
result<new_user> parse_new_user(std::string_view body);

}  // namespace ozzie
