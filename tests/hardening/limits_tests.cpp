// Configured limits (issue 4, headers/ozzie/config.hpp): the per-client rate limit, the cap on
// concurrent connections, and custom body and header limits, each on a real server with the
// option set, over real sockets.
#include "support/hardening_server.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ozzie::testing::hardening;
using ozzie::testing::raw_connection;
using namespace std::chrono_literals;
using outcome = raw_connection::outcome;

// A positive integer of decimal digits (RFC 9110 §10.2.3, delay-seconds), or nullopt.
std::optional<long> delay_seconds(const std::string& value) {
    if (value.empty() || value.size() > 9 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    return std::stol(value);
}

// A JSON create whose body is exactly `size` bytes (padded with spaces).
std::string body_of_size(std::string_view external_id, std::size_t size) {
    std::string body = R"({"external_user_id":")" + std::string(external_id) + R"("})";
    BOOST_TEST_REQUIRE(body.size() <= size);
    body.insert(body.size() - 1, size - body.size(), ' ');
    return body;
}

struct rate_limited_server : server_under_test {
    rate_limited_server() {
        options.rate_limit = 5;  // per second
        options.rate_burst = 3;
        start();
    }
};

struct capped_server : server_under_test {
    capped_server() {
        options.max_connections = 3;
        start();
    }
};

struct small_limits_server : server_under_test {
    small_limits_server() {
        options.body_limit = 1000;
        options.header_limit = 1024;
        start();
    }
};

struct default_limits_server : server_under_test {
    default_limits_server() { start(); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(rate_limit, rate_limited_server)

BOOST_AUTO_TEST_CASE(the_fourth_quick_request_gets_429_with_retry_after_and_others_are_unaffected) {
    // Pipelined, so the four arrive within a few milliseconds: far less than the 200 ms a
    // token takes to come back.
    raw_connection conn(port);
    conn.send(get_request("/v1/users/external:rl-1") + get_request("/v1/users/external:rl-2") +
              get_request("/v1/users/external:rl-3") + get_request("/v1/users/external:rl-4"));
    for (int i = 1; i <= 3; ++i)
        BOOST_TEST_CONTEXT("request " << i) { check_error(expect_response(conn), 404, "NOT_FOUND"); }
    const response limited = expect_response(conn);
    check_error(conforms("GET", "/v1/users/external:rl-4", limited), 429, "RATE_LIMITED");
    const auto retry_after = delay_seconds(header(limited, http::field::retry_after));
    BOOST_TEST_REQUIRE(retry_after.has_value(),
                       "Retry-After is not a number of seconds: '" << header(limited, http::field::retry_after) << "'");
    BOOST_TEST(*retry_after > 0);
    BOOST_TEST(*retry_after <= 60);

    // Another client has its own bucket.
    raw_connection other(port);
    other.send(get_request("/v1/users/external:rl-other", other_token) +
               get_request("/v1/users/external:rl-other", other_token) +
               get_request("/v1/users/external:rl-other", other_token));
    for (int i = 1; i <= 3; ++i)
        BOOST_TEST_CONTEXT("other client, request " << i) {
            check_error(expect_response(other), 404, "NOT_FOUND");
        }

    // The limited client is served again once it has waited as told.
    std::this_thread::sleep_for(std::chrono::seconds(*retry_after));
    raw_connection again(port);
    again.send(get_request("/v1/users/external:rl-5"));
    check_error(expect_response(again), 404, "NOT_FOUND");
    again.send(post_request(R"({"external_user_id":"rl-created"})"));
    check_user(expect_response(again), 201);
}

BOOST_AUTO_TEST_CASE(lists_and_changes_spend_the_same_tokens) {
    raw_connection conn(port);
    conn.send(post_request(R"({"external_user_id":"rl-list"})"));
    check_user(expect_response(conn), 201);
    const std::string patch_body = R"({"name":"not applied"})";
    conn.send(get_request("/v1/users") + get_request("/v1/users?limit=1") +
              "PATCH /v1/users/external:rl-list HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_line(spec_token) +
              "Content-Length: " + std::to_string(patch_body.size()) + "\r\n\r\n" + patch_body);
    for (int i = 1; i <= 2; ++i)
        BOOST_TEST_CONTEXT("list " << i) { BOOST_TEST(conforms("GET", "/v1/users", expect_response(conn)).result_int() == 200u); }
    check_error(conforms("PATCH", "/v1/users/external:rl-list", expect_response(conn)), 429, "RATE_LIMITED");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    conn.send(get_request("/v1/users/external:rl-list"));
    const auto data = check_user(expect_response(conn), 200);
    BOOST_TEST(data.at("name").is_null());  // the limited PATCH was not applied
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(connection_cap, capped_server)

BOOST_AUTO_TEST_CASE(over_the_cap_new_connections_get_503_while_open_ones_keep_working) {
    std::vector<std::unique_ptr<raw_connection>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<raw_connection>(port));
        // An answer proves the server has taken the connection (and counts it).
        open.back()->send(get_request("/v1/users/external:cap-" + std::to_string(i)));
        BOOST_TEST_CONTEXT("connection " << i) { check_error(expect_response(*open.back()), 404, "NOT_FOUND"); }
    }

    // A fourth: answered 503 in the envelope with Retry-After, as the README promises, and closed.
    for (int attempt = 0; attempt < 3; ++attempt) {
        BOOST_TEST_CONTEXT("connection over the cap, attempt " << attempt) {
            raw_connection extra(port);
            extra.send(get_request("/v1/users/external:cap-extra"));
            BOOST_TEST_REQUIRE((extra.read_response(5s) == outcome::response), "the connection over the cap got no answer");
            check_error(conforms("GET", "/v1/users/external:cap-extra", extra.last_response()), 503,
                        "SERVICE_UNAVAILABLE");
            BOOST_TEST(header(extra.last_response(), http::field::retry_after) == "1");
            BOOST_TEST((extra.wait_for_close(5s) == outcome::closed));
        }
    }

    // The three keep working, on the same connections.
    for (std::size_t i = 0; i < open.size(); ++i) {
        BOOST_TEST_CONTEXT("connection " << i << " after the refusals") {
            open[i]->send(get_request("/v1/users/external:cap-again"));
            check_error(expect_response(*open[i]), 404, "NOT_FOUND");
            open[i]->send(post_request(R"({"external_user_id":"cap-user-)" + std::to_string(i) + R"("})"));
            check_user(expect_response(*open[i]), 201);
        }
    }

    // One closes (the server sees it end); then a new connection is served. The server learns
    // of the close asynchronously, so a new connection may still be refused for an instant:
    // retry a few times, within a bound.
    open[0]->send(get_request("/v1/users/external:cap-0", spec_token, "Connection: close\r\n"));
    check_error(expect_response(*open[0]), 404, "NOT_FOUND");
    BOOST_TEST_REQUIRE((open[0]->wait_for_close(5s) == outcome::closed));
    open[0].reset();

    std::optional<unsigned> served;
    int attempts = 0;
    for (const auto until = std::chrono::steady_clock::now() + 5s;
         !served && std::chrono::steady_clock::now() < until; ++attempts) {
        try {
            raw_connection fresh(port);
            fresh.send(get_request("/v1/users/external:cap-user-1"));
            if (fresh.read_response(5s) == outcome::response && fresh.last_response().result_int() != 503)
                served = fresh.last_response().result_int(), check_user(fresh.last_response(), 200);
        } catch (const std::system_error&) {
        }
        if (!served) std::this_thread::sleep_for(20ms);
    }
    BOOST_TEST_MESSAGE("connection cap: a new connection was served after " << attempts << " attempt(s)");
    BOOST_TEST_REQUIRE(served.has_value(), "no new connection was served after one of the three closed");

    // The other two still work.
    for (std::size_t i = 1; i < open.size(); ++i) {
        open[i]->send(get_request("/v1/users/external:cap-user-" + std::to_string(i)));
        check_user(expect_response(*open[i]), 200);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(custom_limits, small_limits_server)

BOOST_AUTO_TEST_CASE(a_body_limit_of_1000_is_honoured) {
    {
        raw_connection conn(port);
        conn.send(post_request(body_of_size("at-limit", 1000)));
        BOOST_TEST(check_user(expect_response(conn), 201).at("external_user_id") == json::value("at-limit"));
    }
    {
        raw_connection conn(port);
        conn.send(post_request(body_of_size("over-limit", 1001)));
        check_error(expect_response(conn), 413, "PAYLOAD_TOO_LARGE");
        BOOST_TEST((conn.wait_for_close(5s) == outcome::closed));
    }
    {
        // Declared only: answered without the body.
        raw_connection conn(port);
        conn.send("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_line() +
                  "Content-Type: application/json\r\nContent-Length: 1001\r\n\r\n");
        check_error(expect_response(conn), 413, "PAYLOAD_TOO_LARGE");
    }
    {
        // Chunked: 600 + 401 bytes.
        const std::string body = body_of_size("chunked-over", 1001);
        std::ostringstream chunks;
        chunks << std::hex << 600 << "\r\n" << body.substr(0, 600) << "\r\n"
               << 401 << "\r\n" << body.substr(600) << "\r\n0\r\n\r\n";
        raw_connection conn(port);
        conn.send("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth_line() +
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks.str());
        check_error(conforms("POST", "/v1/users", expect_response(conn)), 413, "PAYLOAD_TOO_LARGE");
    }
    {
        // Nothing over the limit was created.
        raw_connection conn(port);
        conn.send(get_request("/v1/users/external:over-limit") + get_request("/v1/users/external:chunked-over"));
        check_error(expect_response(conn), 404, "NOT_FOUND");
        check_error(expect_response(conn), 404, "NOT_FOUND");
    }
}

BOOST_AUTO_TEST_CASE(a_header_limit_of_1024_is_honoured) {
    {
        // About 700 bytes of request line and headers: served.
        raw_connection conn(port);
        conn.send(get_request("/v1/users/external:small-head", spec_token,
                              "X-Pad: " + std::string(550, 'p') + "\r\n"));
        check_error(expect_response(conn), 404, "NOT_FOUND");
    }
    {
        // About 1500 bytes in one header.
        raw_connection conn(port);
        conn.send(get_request("/v1/users/external:big-head", spec_token,
                              "X-Pad: " + std::string(1400, 'p') + "\r\n"));
        check_error(expect_response(conn), 431, "REQUEST_HEADERS_TOO_LARGE");
        BOOST_TEST((conn.wait_for_close(5s) == outcome::closed));
    }
    {
        // About 1500 bytes in many small headers.
        std::string many;
        for (int i = 0; i < 120; ++i) many += "X-H" + std::to_string(i) + ": vv\r\n";
        raw_connection conn(port);
        conn.send(get_request("/v1/users/external:many-heads", spec_token, many));
        check_error(expect_response(conn), 431, "REQUEST_HEADERS_TOO_LARGE");
    }
    {
        // A request line over the limit.
        raw_connection conn(port);
        conn.send(get_request("/v1/users/external:" + std::string(1500, 'a')));
        check_error(expect_response(conn), 431, "REQUEST_HEADERS_TOO_LARGE");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(default_limits, default_limits_server)

BOOST_AUTO_TEST_CASE(the_default_body_limit_is_64_KiB) {
    {
        raw_connection conn(port);
        conn.send(post_request(body_of_size("exactly-64k", 64 * 1024)));
        check_user(expect_response(conn), 201);
    }
    {
        raw_connection conn(port);
        conn.send(post_request(body_of_size("one-over-64k", 64 * 1024 + 1)));
        check_error(expect_response(conn), 413, "PAYLOAD_TOO_LARGE");
    }
}

BOOST_AUTO_TEST_SUITE_END()
