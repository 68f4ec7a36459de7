// What the hardening tests share: a real ozzie::server on 127.0.0.1 (port 0) over a real
// ozzie::user_service in a fresh temp dir with a clients file, with options each test can
// tighten; and the checks of the API's JSON shapes (the error envelope, the user object) and of
// responses against docs/openapi.yaml.
#pragma once

#include "support/credentials.hpp"
#include "support/in_process_server.hpp"
#include "support/openapi_check.hpp"
#include "support/raw_connection.hpp"
#include "support/response_json.hpp"

#include <ozzie/config.hpp>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ozzie::testing::hardening {

namespace json = boost::json;
namespace http = boost::beast::http;
using response = raw_connection::response;

using ozzie::testing::other_token;
using ozzie::testing::spec_token;

// A store and a server on a fresh temp dir, with the spec's client and `other` in its clients
// file. `options` starts from the defaults (but 2 threads and port 0); a test changes it and
// calls start(), or the derived fixture does.
struct server_under_test : in_process_server {
    server_options options;

    server_under_test() {
        write_clients_file(clients_file(), {spec_client, other_client});
        options = loopback_options();
        options.log_level = "warning";  // no line per request: the corpus is large
    }

    void start() {
        store_options store;
        store.sync = false;  // a process crash is not what these tests are about
        start_server(options, store);
    }
};

// ---------------------------------------------------------------------------------------------
// Requests as bytes.

inline std::string auth_line(std::string_view token = spec_token) {
    return "Authorization: " + std::string(token) + "\r\n";
}

inline std::string get_request(std::string_view target, std::string_view token = spec_token,
                               std::string_view extra_headers = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_line(token) +
           std::string(extra_headers) + "\r\n";
}

inline std::string post_request(std::string_view body, std::string_view token = spec_token,
                                std::string_view extra_headers = "") {
    return "POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_line(token) +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n" + std::string(extra_headers) + "\r\n" + std::string(body);
}

// ---------------------------------------------------------------------------------------------
// Checks of the API's JSON.

using ozzie::testing::header;
using ozzie::testing::keys_of;
using ozzie::testing::names_field;
using ozzie::testing::parse_body;
using ozzie::testing::str;

// The error envelope {"error":{"code":<code>,"message":<non-empty string>}} with `status` and a
// JSON content type. Returns the message ("" if a check failed).
inline std::string check_error(const response& res, unsigned status, std::string_view code) {
    BOOST_TEST_CONTEXT("response " << res.result_int() << " " << res.body()) {
        BOOST_TEST(res.result_int() == status);
        BOOST_TEST(header(res, http::field::content_type).starts_with("application/json"),
                   "Content-Type: " << header(res, http::field::content_type));
        boost::system::error_code ec;
        const json::value v = json::parse(res.body(), ec);
        BOOST_TEST(!ec, "the body is not JSON");
        if (ec || !v.is_object()) return {};
        BOOST_TEST(keys_of(v.as_object()) == std::vector<std::string>{"error"},
                   boost::test_tools::per_element());
        const json::value* error = v.as_object().if_contains("error");
        if (!error || !error->is_object()) {
            BOOST_ERROR("no error object");
            return {};
        }
        BOOST_TEST(keys_of(error->as_object()) == (std::vector<std::string>{"code", "message"}),
                   boost::test_tools::per_element());
        const json::value* c = error->as_object().if_contains("code");
        const json::value* m = error->as_object().if_contains("message");
        if (!c || !c->is_string() || !m || !m->is_string()) {
            BOOST_ERROR("code and message must be strings");
            return {};
        }
        BOOST_TEST(str(*c) == code);
        const std::string message = str(*m);
        BOOST_TEST(!message.empty());
        return message;
    }
    return {};
}

// A user object {"object":"user","data":{...}} with `status`. Returns data (empty if not).
inline json::object check_user(const response& res, unsigned status) {
    BOOST_TEST_CONTEXT("response " << res.result_int() << " " << res.body()) {
        BOOST_TEST_REQUIRE(res.result_int() == status);
        BOOST_TEST(header(res, http::field::content_type).starts_with("application/json"));
        const json::value v = parse_body(res);
        BOOST_TEST_REQUIRE(v.is_object());
        BOOST_TEST(v.as_object().at("object") == json::value("user"));
        BOOST_TEST_REQUIRE(v.as_object().at("data").is_object());
        const json::object& data = v.as_object().at("data").as_object();
        static const std::vector<std::string> fields = {
            "id", "external_user_id", "name", "email", "phone", "language", "onboarding_stage",
            "created_at"};
        BOOST_TEST(keys_of(data) == fields, boost::test_tools::per_element());
        BOOST_TEST_REQUIRE(data.at("id").is_string());
        BOOST_TEST(str(data.at("id")).starts_with("ozz_usr_"));
        return data;
    }
    return {};
}

// Requires that `res`, the answer to `method target`, is as docs/openapi.yaml describes it (the
// status documented for that operation, its headers, its body's schema). Returns `res`.
inline const response& conforms(std::string_view method, std::string_view target, const response& res) {
    try {
        ozzie_openapi().require(method, target, res);
    } catch (const openapi_violation& e) {
        BOOST_ERROR("the answer to " << method << " " << target << " is not as docs/openapi.yaml says:\n"
                                     << e.what());
    }
    return res;
}

// The method and target of the request line in `bytes` when it has the form
// "METHOD /target HTTP/..." with an upper-case method: what names an operation of the document.
// (Methods are case-sensitive: "get" is no operation but an unknown method, answered 405.)
inline std::optional<std::pair<std::string, std::string>> request_line_of(std::string_view bytes) {
    const auto end = bytes.find("\r\n");
    const std::string_view line = bytes.substr(0, end);
    const auto space = line.find(' ');
    if (end == std::string_view::npos || space == std::string_view::npos || space == 0) return std::nullopt;
    const auto target_end = line.find(' ', space + 1);
    if (target_end == std::string_view::npos || line.substr(target_end + 1).find(' ') != std::string_view::npos ||
        !line.substr(target_end + 1).starts_with("HTTP/") || line[space + 1] != '/' ||
        std::any_of(line.begin(), line.begin() + space, [](char ch) { return ch < 'A' || ch > 'Z'; }))
        return std::nullopt;
    return std::pair{std::string(line.substr(0, space)), std::string(line.substr(space + 1, target_end - space - 1))};
}

// Reads one response on `c` and requires that there is one.
inline response expect_response(raw_connection& c, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    const auto got = c.read_response(deadline);
    BOOST_TEST_REQUIRE((got == raw_connection::outcome::response),
                       "no response: " << (got == raw_connection::outcome::closed ? "connection closed"
                                                                                 : "timed out"));
    return c.last_response();
}

}  // namespace ozzie::testing::hardening
