// Small readers of an API response and its JSON, shared by the test suites (the HTTP and
// hardening tests check the same envelopes, each with its own strictness: see their check_error
// / check_user).
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ozzie::testing {

using api_response = boost::beast::http::response<boost::beast::http::string_body>;

// A JSON string as a std::string (the value must be a string).
inline std::string str(const boost::json::value& v) {
    return std::string(v.as_string().c_str(), v.as_string().size());
}

// The value of header `f` ("" if absent).
inline std::string header(const api_response& res, boost::beast::http::field f) {
    const auto v = res[f];
    return std::string(v.data(), v.size());
}

// The error envelope's code ("CONFLICT"...) in a response body; "" if it is not an envelope.
inline std::string error_code_of(std::string_view body) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const auto* e = v.as_object().if_contains("error");
    const auto* code = e && e->is_object() ? e->as_object().if_contains("code") : nullptr;
    return code && code->is_string() ? std::string(code->as_string()) : std::string();
}

// The keys of `o` in their order, to compare with the documented order.
inline std::vector<std::string> keys_of(const boost::json::object& o) {
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    return keys;
}

// The body as JSON; fails the test (and stops it) if it is not JSON.
inline boost::json::value parse_body(const api_response& res) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(res.body(), ec);
    BOOST_TEST_REQUIRE(!ec, "the body is not JSON: " << res.body());
    return v;
}

// Whether a VALIDATION_ERROR message names `field` the way the spec quotes it: 'field'.
inline bool names_field(const std::string& message, std::string_view field) {
    return message.find("'" + std::string(field) + "'") != std::string::npos;
}

}  // namespace ozzie::testing
