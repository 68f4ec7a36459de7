// Editing the clients file, for ozzie-admin. Each change is written to a temporary file that is
// renamed over the original, so a server reloading it never reads half a file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie {

struct new_client {
    std::string client_id;
    std::string secret;        // 256 random bits, as 64 hex digits; shown once, stored nowhere
    std::string bearer_token;  // "Bearer " + base64(client_id:secret)
};

// Appends `client_id` with a fresh secret (only its SHA-256 goes into the file; a missing file
// is created, readable by its owner only). Throws std::runtime_error if the id is invalid or
// taken, or the file does not parse.
new_client add_client(const std::filesystem::path& file, std::string_view client_id);

// The client ids in the file, sorted. Throws std::runtime_error if it does not parse.
std::vector<std::string> list_clients(const std::filesystem::path& file);

// Removes the line of `client_id`, keeping every other line as it was. Throws
// std::runtime_error if there is no such client or the file does not parse.
void remove_client(const std::filesystem::path& file, std::string_view client_id);

}  // namespace ozzie
