// What the hardening tests share: a real ozzie::server on 127.0.0.1 (port 0) over a real
// ozzie::user_service in a fresh temp dir with a clients file, with options each test can
// tighten; and the checks of the API's JSON shapes (the error envelope, the user object).
#pragma once

#include "support/raw_connection.hpp"
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/server.hpp>
#include <ozzie/user_service.hpp>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie::testing::hardening {

namespace json = boost::json;
namespace http = boost::beast::http;
using response = raw_connection::response;

// base64("s2client:s2secret"), the spec's own token.
inline constexpr std::string_view spec_token = "Bearer czJjbGllbnQ6czJzZWNyZXQ=";
// base64("other:0ther-s3cret")
inline constexpr std::string_view other_token = "Bearer b3RoZXI6MHRoZXItczNjcmV0";

// Lower-case hex SHA-256 with OpenSSL directly, not with the code under test.
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

// A store and a server on a fresh temp dir. `options` starts from the defaults (but 2 threads
// and port 0); a test changes it and calls start(), or the derived fixture does.
struct server_under_test {
    temp_dir dir;  // declared first: removed last
    server_options options;
    std::optional<user_service> service;
    std::optional<server> http_server;
    std::uint16_t port = 0;

    server_under_test() {
        std::ofstream out(clients_file());
        out << "# API clients of the hardening tests\n"
            << "s2client:" << sha256_hex("s2secret") << "\n"
            << "other:" << sha256_hex("0ther-s3cret") << "\n";
        if (!out) throw std::runtime_error("cannot write the clients file");
        options.host = "127.0.0.1";
        options.port = 0;
        options.threads = 2;
        options.clients_file = clients_file();
        options.log_level = "warning";  // no line per request: the corpus is large
    }
    ~server_under_test() { stop(); }

    std::filesystem::path clients_file() const { return dir.path() / "clients.txt"; }

    void start() {
        store_options store;
        store.data_dir = dir.path() / "data";
        store.sync = false;  // a process crash is not what these tests are about
        service.emplace(store);
        http_server.emplace(*service, options);
        port = http_server->start();
        if (port == 0) throw std::runtime_error("server::start returned port 0");
    }

    void stop() {
        if (http_server) http_server->stop();
        http_server.reset();
        service.reset();
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

inline std::string str(const json::value& v) {
    return std::string(v.as_string().c_str(), v.as_string().size());
}

inline std::string header(const response& res, http::field f) {
    const auto v = res[f];
    return std::string(v.data(), v.size());
}

inline std::vector<std::string> keys_of(const json::object& o) {
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    return keys;
}

inline json::value parse_body(const response& res) {
    boost::system::error_code ec;
    json::value v = json::parse(res.body(), ec);
    BOOST_TEST_REQUIRE(!ec, "the body is not JSON: " << res.body());
    return v;
}

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

inline bool names_field(const std::string& message, std::string_view field) {
    return message.find("'" + std::string(field) + "'") != std::string::npos;
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
