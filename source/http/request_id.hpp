// X-Request-Id: every response carries one, so a client and the logs can name a request.
#pragma once

#include <string>
#include <string_view>

namespace ozzie {

// Sets `id` to `incoming` if it is a sane id (1 to 128 of A-Z a-z 0-9 . _ : -), else to a new
// unique one.
void request_id(std::string_view incoming, std::string& id);

}  // namespace ozzie
