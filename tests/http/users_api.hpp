// What the HTTP tests of the Users API share: a real server on 127.0.0.1 with a temp store
// (server_fixture), requests, and strict checks of the answers (check_user, check_error, ...).
// Every response a test reads through http_client is also checked against docs/openapi.yaml by
// the suite's global fixture (http_tests.cpp), which counts them in responses_checked.
#pragma once

#include "support/credentials.hpp"
#include "support/http_client.hpp"
#include "support/in_process_server.hpp"
#include "support/openapi_check.hpp"
#include "support/response_json.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie::testing::users_api {


namespace json = boost::json;
using namespace std::chrono_literals;
using ozzie::testing::header;
using ozzie::testing::header_list;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::keys_of;
using ozzie::testing::names_field;
using ozzie::testing::parse_body;
using ozzie::testing::str;
namespace http = ozzie::testing::http;

// Credentials: the spec's client and `other` (support/credentials.hpp), whose tokens are written
// out literally there.
using ozzie::testing::other_token;
using ozzie::testing::spec_token;
// No Authorization header at all.
constexpr std::string_view no_auth = "";

// ---------------------------------------------------------------------------------------------
// The OpenAPI document: every response that goes through http_client::send is checked against
// docs/openapi.yaml, and so is each well-formed response read after write_raw, through
// conforms(). A violation throws: it fails the test, or on a worker thread becomes that
// request's recorded error.

inline std::atomic<std::size_t> responses_checked{0};

inline http_response conforms(std::string_view method, std::string_view target, http_response res) {
    ozzie::testing::ozzie_openapi().require(method, target, res);
    ++responses_checked;
    return res;
}


// ---------------------------------------------------------------------------------------------
// Fixture: a store and a server on a fresh temp dir, restartable on the same data.

struct server_fixture : ozzie::testing::in_process_server {
    server_fixture() {
        ozzie::testing::write_clients_file(clients_file(),
                                           {ozzie::testing::spec_client, ozzie::testing::other_client});
        start();
    }

    void start() { start_server(loopback_options()); }

    // Each of these opens its own connection.
    http_response request(http::verb method, std::string_view target, std::string_view token,
                          std::string body = {}, header_list headers = {}) const {
        if (!token.empty()) headers.emplace_back("Authorization", std::string(token));
        http_client client{port};
        return client.request(method, target, headers, std::move(body));
    }
    http_response post_users(std::string body, std::string_view token = spec_token) const {
        return request(http::verb::post, "/v1/users", token, std::move(body),
                       {{"Content-Type", "application/json"}});
    }
    http_response get(std::string_view target, std::string_view token = spec_token) const {
        return request(http::verb::get, target, token);
    }
    http_response remove(std::string_view target, std::string_view token = spec_token) const {
        return request(http::verb::delete_, target, token);
    }
};

// ---------------------------------------------------------------------------------------------
// Small helpers.

inline const std::string maria_body = R"({
  "external_user_id": "usr_8821",
  "name": "Maria Santos",
  "email": "maria@example.com",
  "phone": "+15551234567",
  "language": "en"
})";

inline const std::string conflict_message =
    "A user with external_user_id 'usr_8821' already exists under your API client. "
    "Use GET /v1/users/{user_id} to retrieve them.";

inline const std::vector<std::string> user_fields = {"id",       "external_user_id", "name",
                                              "email",    "phone",            "language",
                                              "onboarding_stage", "created_at"};

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

inline std::string body_of(const json::object& o) { return json::serialize(o); }

inline std::string repeat(std::string_view unit, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += unit;
    return out;
}

inline std::string verb_name(http::verb method) {
    const auto name = http::to_string(method);
    return std::string(name.data(), name.size());
}

// Every byte but the unreserved ones (RFC 3986) as %XX.
inline std::string percent_encode(std::string_view s, bool lower_case_hex = false) {
    const std::string_view hex = lower_case_hex ? "0123456789abcdef" : "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    return out;
}

inline std::string user_target(std::string_view id) { return "/v1/users/" + std::string(id); }
inline std::string external_target(std::string_view external_id) {
    return "/v1/users/external:" + percent_encode(external_id);
}

// "ozz_usr_" + 26 Crockford base32 characters whose value fits 128 bits.
inline bool is_user_id(std::string_view id) {
    if (!id.starts_with("ozz_usr_") || id.size() != 8 + 26) return false;
    const auto ulid = id.substr(8);
    return ulid[0] <= '7' && std::all_of(ulid.begin(), ulid.end(), [](char c) {
               return crockford.find(c) != std::string_view::npos;
           });
}

// The 48-bit millisecond time in the first 10 characters of a user id's ULID.
inline std::chrono::sys_time<std::chrono::milliseconds> ulid_time(std::string_view id) {
    std::uint64_t ms = 0;
    for (char c : id.substr(8, 10)) ms = ms * 32 + crockford.find(c);
    return std::chrono::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{ms}};
}

// "YYYY-MM-DDTHH:MM:SSZ" as a time; nullopt if it is not exactly that form or not a real date.
inline std::optional<std::chrono::sys_seconds> parse_timestamp(const std::string& s) {
    static const std::regex form(R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$)");
    std::smatch m;
    if (!std::regex_match(s, m, form)) return std::nullopt;
    using namespace std::chrono;
    const year_month_day date{year{std::stoi(m[1])}, month{unsigned(std::stoi(m[2]))},
                              day{unsigned(std::stoi(m[3]))}};
    const int h = std::stoi(m[4]), min = std::stoi(m[5]), sec = std::stoi(m[6]);
    if (!date.ok() || h > 23 || min > 59 || sec > 59) return std::nullopt;
    return sys_days{date} + hours{h} + minutes{min} + seconds{sec};
}

inline void check_json_content_type(const http_response& res) {
    BOOST_TEST(header(res, http::field::content_type).starts_with("application/json"),
               "Content-Type: " << header(res, http::field::content_type));
}

// Checks a user response: the status, JSON content type, {"object":"user","data":{...}} with
// exactly the 8 documented fields in the spec's order and of the documented types. Returns data.
inline json::object check_user(const http_response& res, unsigned status) {
    BOOST_TEST_CONTEXT("response body: " << res.body()) {
        BOOST_TEST_REQUIRE(res.result_int() == status);
        check_json_content_type(res);
        const json::value v = parse_body(res);
        BOOST_TEST_REQUIRE(v.is_object());
        const json::object& envelope = v.as_object();
        BOOST_TEST_REQUIRE(keys_of(envelope) == (std::vector<std::string>{"object", "data"}),
                           boost::test_tools::per_element());
        BOOST_TEST(envelope.at("object") == json::value("user"));
        BOOST_TEST_REQUIRE(envelope.at("data").is_object());
        const json::object& data = envelope.at("data").as_object();
        BOOST_TEST_REQUIRE(keys_of(data) == user_fields, boost::test_tools::per_element());

        BOOST_TEST_REQUIRE(data.at("id").is_string());
        BOOST_TEST(is_user_id(str(data.at("id"))), "malformed id " << data.at("id"));
        BOOST_TEST(data.at("external_user_id").is_string());
        for (const char* nullable : {"name", "email", "phone"})
            BOOST_TEST((data.at(nullable).is_string() || data.at(nullable).is_null()), nullable);
        BOOST_TEST_REQUIRE(data.at("language").is_string());
        const std::string language = str(data.at("language"));
        BOOST_TEST((language == "en" || language == "pt" || language == "es"), language);
        BOOST_TEST_REQUIRE(data.at("onboarding_stage").is_string());
        const std::string stage = str(data.at("onboarding_stage"));
        BOOST_TEST((stage == "intake_pending" || stage == "plan_pending" || stage == "active"),
                   stage);
        BOOST_TEST_REQUIRE(data.at("created_at").is_string());
        BOOST_TEST(parse_timestamp(str(data.at("created_at"))).has_value(),
                   "created_at " << data.at("created_at"));
        return data;
    }
    return {};  // not reached: the REQUIREs above abort the test
}

// Expects each of `expected`'s fields in `data` with that exact value.
inline void expect_fields(const json::object& data, const json::object& expected) {
    for (const auto& kv : expected) {
        BOOST_TEST_CONTEXT("field " << kv.key()) {
            BOOST_TEST_REQUIRE(data.contains(kv.key()));
            BOOST_TEST(data.at(kv.key()) == kv.value());
        }
    }
}

// Checks an error response: the status, JSON content type, and a body of exactly
// {"error":{"code":<code>,"message":<non-empty string>}}. Returns the message.
inline std::string check_error(const http_response& res, unsigned status, std::string_view code) {
    BOOST_TEST_CONTEXT("response body: " << res.body()) {
        BOOST_TEST_REQUIRE(res.result_int() == status);
        check_json_content_type(res);
        const json::value v = parse_body(res);
        BOOST_TEST_REQUIRE(v.is_object());
        BOOST_TEST_REQUIRE(keys_of(v.as_object()) == std::vector<std::string>{"error"},
                           boost::test_tools::per_element());
        const json::value& error = v.as_object().at("error");
        BOOST_TEST_REQUIRE(error.is_object());
        BOOST_TEST_REQUIRE(keys_of(error.as_object()) ==
                               (std::vector<std::string>{"code", "message"}),
                           boost::test_tools::per_element());
        BOOST_TEST_REQUIRE(error.as_object().at("code").is_string());
        BOOST_TEST_REQUIRE(error.as_object().at("message").is_string());
        BOOST_TEST(str(error.as_object().at("code")) == code);
        const std::string message = str(error.as_object().at("message"));
        BOOST_TEST(!message.empty());
        return message;
    }
    return {};  // not reached
}

// The comma-separated methods of an Allow header.
inline std::set<std::string> allowed(const http_response& res) {
    std::set<std::string> methods;
    std::string value = header(res, http::field::allow);
    std::size_t start = 0;
    while (start <= value.size()) {
        std::size_t end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        std::string token = value.substr(start, end - start);
        token.erase(0, token.find_first_not_of(' '));
        token.erase(token.find_last_not_of(' ') + 1);
        if (!token.empty()) methods.insert(token);
        start = end + 1;
    }
    return methods;
}

// 204, with no body and no Content-Type or Content-Length (RFC 9110 8.6).
inline void check_deleted(const http_response& res) {
    BOOST_TEST(res.result_int() == 204u, res.body());
    BOOST_TEST(res.body().empty());
    BOOST_TEST(res.count(http::field::content_type) == 0u);
    BOOST_TEST(res.count(http::field::content_length) == 0u);
}


}  // namespace ozzie::testing::users_api
