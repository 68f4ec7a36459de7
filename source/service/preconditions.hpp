// Conditional requests (RFC 9110 13.1): If-Match and If-None-Match against a user's entity tag.
#pragma once

#include <string_view>

namespace ozzie {

// Whether an If-Match field value ("*" or a comma-separated list of entity tags) names the
// current tag `current`, by strong comparison: a weak tag (W/"...") never matches, and neither
// does a malformed one. "*" matches any current user.
bool if_match_passes(std::string_view field, std::string_view current) noexcept;

// Whether an If-None-Match field value names the current tag, by weak comparison (W/"x" and "x"
// are the same): then a GET answers 304 Not Modified. "*" names any current user.
bool if_none_match_names(std::string_view field, std::string_view current) noexcept;

}  // namespace ozzie
