// ozzie::result values as text, so that BOOST_TEST prints what a call returned when a check
// fails: "ok" or the error's public code (ozzie::code_name, e.g. "NOT_FOUND"), its message, and
// optional strings.
#pragma once

#include <ozzie/errors.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie::testing {

// "ok", or the code of the error, e.g. "VALIDATION_ERROR".
template <class T>
std::string outcome(const ozzie::result<T>& r) {
    return r.has_value() ? "ok" : std::string(ozzie::code_name(r.error().code));
}

// What a store's insert stored: "1,0,1" for [true,false,true]; "error: <code>" if it failed.
inline std::string flags(const ozzie::result<std::vector<bool>>& r) {
    if (!r.has_value()) return "error: " + outcome(r);
    std::string out;
    for (bool b : *r) out += (out.empty() ? "" : ",") + std::string(b ? "1" : "0");
    return out;
}

// The error's message; "" if there is no error.
template <class T>
std::string message(const ozzie::result<T>& r) {
    return r.has_value() ? "" : r.error().message;
}

// "\"text\"" or "<null>", so that an absent value and an empty one print differently.
inline std::string opt(const std::optional<std::string>& v) {
    return v ? "\"" + *v + "\"" : std::string("<null>");
}

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

}  // namespace ozzie::testing
