// API clients as the tests see them: a client id and its plain secret, the Bearer token that
// authenticates it, and the clients file that lets it in. Digests and tokens are computed with
// OpenSSL directly, never with the code under test, so a bug there cannot hide itself.
#pragma once

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie::testing {

// Lower-case hex SHA-256.
inline std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xF];
    }
    return out;
}

// Standard base64 with padding (RFC 4648).
inline std::string base64(std::string_view data) {
    std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// An API client the tests know the secret of.
struct test_client {
    std::string id;
    std::string secret;
    // base64("id:secret"), what follows "Bearer ".
    std::string token() const { return base64(id + ":" + secret); }
    // The whole Authorization header value.
    std::string authorization() const { return "Bearer " + token(); }
};

// The spec's own client and a second one, for the tenancy tests.
inline const test_client spec_client{"s2client", "s2secret"};
inline const test_client other_client{"other", "0ther-s3cret"};
// Their Authorization values written out literally, as the spec shows them, so that the HTTP
// and hardening tests send bytes computed outside any code (the test's included).
inline constexpr std::string_view spec_token = "Bearer czJjbGllbnQ6czJzZWNyZXQ=";  // s2client:s2secret
inline constexpr std::string_view other_token = "Bearer b3RoZXI6MHRoZXItczNjcmV0";  // other:0ther-s3cret

// `clients` as a clients file ("id:sha256-hex-of-secret" lines), with a comment and a blank line
// as an operator would write it, so that every server under test also parses those.
inline void write_clients_file(const std::filesystem::path& file, const std::vector<test_client>& clients) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << "# API clients of the tests\n\n";
    for (const auto& c : clients) out << c.id << ':' << sha256_hex(c.secret) << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace ozzie::testing
