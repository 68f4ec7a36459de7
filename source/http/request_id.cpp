#include "http/request_id.hpp"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdio>

namespace ozzie {
namespace {

bool is_sane(std::string_view id) noexcept {
    return !id.empty() && id.size() <= 128 &&
           id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
               std::string_view::npos;
}

}  // namespace

std::string request_id(std::string_view incoming) {
    if (is_sane(incoming)) return std::string(incoming);
    // A random prefix per thread and a counter: unique without a random draw per request.
    thread_local const std::uint64_t prefix = [] {
        std::uint64_t bits = 0;
        RAND_bytes(reinterpret_cast<unsigned char*>(&bits), sizeof bits);
        return bits;
    }();
    thread_local std::uint64_t counter = 0;
    char text[40];
    std::snprintf(text, sizeof text, "%016llx-%llx", static_cast<unsigned long long>(prefix),
                  static_cast<unsigned long long>(++counter));
    return text;
}

}  // namespace ozzie
