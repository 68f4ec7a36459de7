#include "http/request_id.hpp"

#include "auth/client_registry.hpp"

#include <openssl/rand.h>

#include <charconv>

#include <cstdint>

namespace ozzie {
namespace {

bool is_sane(std::string_view id) noexcept {
    return !id.empty() && id.size() <= 128 &&
           id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
               std::string_view::npos;
}

}  // namespace

void request_id(std::string_view incoming, std::string& id) {
    if (is_sane(incoming)) {
        id.assign(incoming);
        return;
    }
    // A random prefix per thread and a counter: unique without a random draw per request.
    thread_local const std::string prefix = [] {
        unsigned char bits[8] = {};
        RAND_bytes(bits, sizeof bits);
        return to_hex(bits);
    }();
    thread_local std::uint64_t counter = 0;
    char digits[16];
    const auto end = std::to_chars(digits, digits + sizeof digits, ++counter, 16).ptr;
    id.assign(prefix).append("-").append(digits, end);
}

}  // namespace ozzie
