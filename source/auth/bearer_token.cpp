#include "auth/bearer_token.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace ozzie {
namespace {

constexpr std::string_view scheme = "Bearer";

bool is_base64_char(char c) noexcept {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
}

// Strict RFC 4648 base64 with padding; nullopt on any other input.
std::optional<std::string> decode_base64(std::string_view in) {
    if (in.empty() || in.size() % 4 != 0) return std::nullopt;
    const std::size_t padding = in.ends_with("==") ? 2 : in.ends_with('=') ? 1 : 0;
    if (!std::all_of(in.begin(), in.end() - padding, is_base64_char)) return std::nullopt;
    std::string out(in.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - padding);  // EVP_DecodeBlock counts padding as zeros
    return out;
}

}  // namespace

std::optional<credentials> parse_bearer(std::string_view authorization) {
    // The scheme is case-insensitive (RFC 9110 section 11.1); one or more spaces follow it.
    if (authorization.size() <= scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), authorization.begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); }) ||
        authorization[scheme.size()] != ' ')
        return std::nullopt;
    authorization.remove_prefix(scheme.size());
    authorization.remove_prefix(std::min(authorization.find_first_not_of(' '), authorization.size()));
    authorization.remove_suffix(authorization.size() -
                                std::min(authorization.find_last_not_of(' ') + 1, authorization.size()));
    auto decoded = decode_base64(authorization);
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    return credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string make_bearer(std::string_view client_id, std::string_view secret) {
    std::string plain;
    plain.append(client_id).append(":").append(secret);
    std::string encoded((plain.size() + 2) / 3 * 4 + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(plain.data()),
                                  static_cast<int>(plain.size()));
    encoded.resize(static_cast<std::size_t>(n));
    return std::string(scheme) + " " + encoded;
}

}  // namespace ozzie
