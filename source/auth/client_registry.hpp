// The API clients allowed to call the server, loaded from the clients file.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ozzie {

using sha256_digest = std::array<unsigned char, 32>;

sha256_digest sha256(std::string_view data) noexcept;
// 1 to 64 of A-Z a-z 0-9 _ . -
bool is_valid_client_id(std::string_view id) noexcept;
// Lower-case hex, as digests are in the clients file.
std::string to_hex(std::span<const unsigned char> bytes);

class client_registry {
public:
    // Parses a clients file's text: one `client_id:<64 lower-case hex digits of SHA-256 of the
    // secret>` per line; blank lines and lines starting with '#' are ignored. Client ids are
    // 1 to 64 of [A-Za-z0-9_.-]. Throws std::runtime_error naming the line of the first defect.
    static client_registry parse(std::string_view text);
    // parse() of the file's contents; throws std::runtime_error if it cannot be read.
    static client_registry load(const std::filesystem::path& path);

    // The client id if `authorization` (the header's value) carries a known client and its
    // secret; nullopt otherwise. Digests are compared in constant time, and an unknown client
    // costs the same as a wrong secret. The view lives as long as the registry.
    std::optional<std::string_view> authenticate(std::string_view authorization) const;

    std::size_t size() const noexcept { return clients_.size(); }
    // Every client id; the views live as long as the registry.
    std::vector<std::string_view> client_ids() const;

private:
    std::unordered_map<std::string, sha256_digest> clients_;
};

}  // namespace ozzie
