#include "auth/client_registry.hpp"

#include "auth/bearer_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ozzie {
namespace {

std::optional<sha256_digest> parse_hex_digest(std::string_view hex) {
    constexpr std::string_view digits = "0123456789abcdef";
    sha256_digest digest;
    if (hex.size() != 2 * digest.size()) return std::nullopt;
    for (std::size_t i = 0; i < digest.size(); ++i) {
        const auto high = digits.find(hex[2 * i]);
        const auto low = digits.find(hex[2 * i + 1]);
        if (high == std::string_view::npos || low == std::string_view::npos) return std::nullopt;
        digest[i] = static_cast<unsigned char>(high * 16 + low);
    }
    return digest;
}

std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace

bool is_valid_client_id(std::string_view id) noexcept {
    return !id.empty() && id.size() <= 64 &&
           id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
               std::string_view::npos;
}

sha256_digest sha256(std::string_view data) noexcept {
    sha256_digest digest;
    EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
    return digest;
}

std::string to_hex(std::span<const unsigned char> bytes) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string hex;
    for (const unsigned char b : bytes) {
        hex += digits[b >> 4];
        hex += digits[b & 0x0F];
    }
    return hex;
}

client_registry client_registry::parse(std::string_view text) {
    client_registry registry;
    std::size_t line_number = 0;
    while (!text.empty()) {
        const auto end = std::min(text.find('\n'), text.size());
        const std::string_view line = trim(text.substr(0, end));
        text.remove_prefix(std::min(end + 1, text.size()));
        ++line_number;
        if (line.empty() || line.starts_with('#')) continue;

        const auto where = "clients file line " + std::to_string(line_number) + ": ";
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            throw std::runtime_error(where + "expected client_id:<sha256 hex of the secret>");
        const auto id = line.substr(0, colon);
        if (!is_valid_client_id(id))
            throw std::runtime_error(where + "a client id is 1 to 64 of A-Z a-z 0-9 _ . -");
        const auto digest = parse_hex_digest(line.substr(colon + 1));
        if (!digest)
            throw std::runtime_error(where + "the digest must be 64 lower-case hex digits");
        if (!registry.clients_.emplace(std::string(id), *digest).second)
            throw std::runtime_error(where + "client '" + std::string(id) + "' is listed twice");
    }
    return registry;
}

client_registry client_registry::load(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(file), {}};
    if (!file) throw std::runtime_error("cannot read the clients file " + path.string());
    try {
        return parse(text);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
}

std::vector<std::string_view> client_registry::client_ids() const {
    std::vector<std::string_view> ids;
    for (const auto& [id, digest] : clients_) ids.push_back(id);
    return ids;
}

std::optional<std::string_view> client_registry::authenticate(std::string_view authorization) const {
    const auto credentials = parse_bearer(authorization);
    if (!credentials) return std::nullopt;
    const auto digest = sha256(credentials->secret);
    const auto client = clients_.find(credentials->client_id);
    // An unknown client is compared against a digest no secret has, so it costs the same.
    static const sha256_digest no_client{};
    const auto& expected = client == clients_.end() ? no_client : client->second;
    const bool match = CRYPTO_memcmp(digest.data(), expected.data(), digest.size()) == 0;
    if (!match || client == clients_.end()) return std::nullopt;
    return std::string_view(client->first);
}

}  // namespace ozzie
