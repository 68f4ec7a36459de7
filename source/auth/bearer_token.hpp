// The Authorization header: "Bearer " + base64(client_id ":" secret).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ozzie {

struct credentials {
    std::string client_id;
    std::string secret;
};

// The credentials in an Authorization header value; nullopt on any defect (other scheme,
// malformed base64, no ':' or an empty client id).
std::optional<credentials> parse_bearer(std::string_view authorization);

// "Bearer " + base64(client_id ":" secret): what a client sends.
std::string make_bearer(std::string_view client_id, std::string_view secret);

}  // namespace ozzie
