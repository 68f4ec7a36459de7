// Random strings that appear nowhere by chance, for tests that send them to a server and then
// look for them (or make sure they are absent) in its log, its data dir and its responses.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace ozzie::testing {

// `prefix` then `length` characters drawn at random from `alphabet`.
inline std::string distinctive(std::string_view prefix, std::size_t length, std::string_view alphabet) {
    static std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string s(prefix);
    for (std::size_t i = 0; i < length; ++i) s += alphabet[pick(rng)];
    return s;
}

}  // namespace ozzie::testing
