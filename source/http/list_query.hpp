// The query of GET /v1/users.
#pragma once

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <string_view>

namespace ozzie {

// The list request in the query of `target` (anything after its first '?'): limit,
// starting_after, ending_before and onboarding_stage, each at most once and percent-decoded.
// VALIDATION_ERROR naming the parameter for any other parameter, a repeated one, a limit that
// is not a decimal integer, or a stage the API does not know; the service checks the rest.
result<list_request> parse_list_query(std::string_view target);

}  // namespace ozzie
