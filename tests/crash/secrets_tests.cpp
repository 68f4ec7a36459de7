// Secrets (issue 4, "Secrets"): no secret or token appears in the logs or the data dir.
//
// The real ozzie-server executable runs with a client whose secret is a distinctive random
// string, its stdout and stderr captured in a file. It gets authenticated creates and reads,
// failed authentications with wrong secrets and malformed tokens, secret-looking headers, query
// parameters and body fields, and a malformed request carrying the real token; then it is
// stopped with SIGTERM. None of those strings may appear in the captured output, nor anywhere in
// the bytes of any file under the data dir, nor (for good measure) in any response. Positive
// controls make sure the scan can see: the stored external ids are found in the data dir, and
// the output holds the server's own lines.
#include "support/credentials.hpp"
#include "support/distinctive.hpp"
#include "support/http_client.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
using namespace std::chrono_literals;
using ozzie::testing::base64;
using ozzie::testing::header_list;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::server_process;
using ozzie::testing::test_client;

// A distinctive random string: `prefix` then 32 random letters and digits.
std::string distinctive(std::string_view prefix) {
    return ozzie::testing::distinctive(prefix, 32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
}

// A string that must not leak, and what it is (for the failure message).
struct needle {
    std::string what;
    std::string text;
};

// Every needle found in `haystack`, described as "<what> in <where> at byte N: <context>".
std::vector<std::string> leaks_in(std::string_view haystack, std::string_view where,
                                  const std::vector<needle>& needles) {
    std::vector<std::string> found;
    for (const auto& n : needles) {
        const auto at = haystack.find(n.text);
        if (at == std::string_view::npos) continue;
        // Up to 200 bytes of context either side, within the line (text) or not (binary).
        auto first = at > 200 ? at - 200 : 0;
        auto last = std::min(haystack.size(), at + n.text.size() + 200);
        if (const auto nl = haystack.rfind('\n', at); nl != std::string_view::npos && nl >= first) first = nl + 1;
        if (const auto nl = haystack.find('\n', at); nl != std::string_view::npos && nl < last) last = nl;
        std::string context(haystack.substr(first, last - first));
        for (auto& c : context)
            if (static_cast<unsigned char>(c) < 0x20) c = '.';
        found.push_back(n.what + " in " + std::string(where) + " at byte " + std::to_string(at) + ": " + context);
    }
    return found;
}

// The bytes of every regular file under `dir`, each with its path.
std::vector<std::pair<std::filesystem::path, std::string>> all_files(const std::filesystem::path& dir) {
    std::vector<std::pair<std::filesystem::path, std::string>> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        if (entry.is_regular_file()) files.emplace_back(entry.path(), ozzie::testing::read_whole_file(entry.path()));
    return files;
}

std::string response_text(const http_response& res) {
    std::string text;
    for (const auto& field : res) text.append(field.name_string()).append(": ").append(field.value()).append("\n");
    return text + res.body();
}

struct secrets_fixture : ozzie::testing::server_files {
    const test_client keeper{"keeper", distinctive("s3cr3t-")};
    std::vector<needle> needles;

    secrets_fixture() {
        ozzie::testing::write_clients_file(clients_file(), {keeper});
        needles.push_back({"the client's secret", keeper.secret});
        needles.push_back({"the client's token", keeper.token()});
        needles.push_back({"the client's credentials (id:secret)", keeper.id + ":" + keeper.secret});
    }

    // The server logs as much as it can: if it has a --log-level option, at debug.
    server_process::options server_options() const {
        std::vector<std::string> args = {"--threads", "2"};
        if (ozzie::testing::help_text(ozzie::testing::server_executable(), dir.path()).find("--log-level") !=
            std::string::npos) {
            args.push_back("--log-level");
            args.push_back("debug");
        }
        return ozzie::testing::process_options(*this, std::move(args));
    }

    // A string that will be sent somewhere and must not leak.
    std::string sensitive(std::string what, std::string_view prefix) {
        auto text = distinctive(prefix);
        needles.push_back({std::move(what), text});
        return text;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_FIXTURE_TEST_CASE(no_secret_or_token_in_the_logs_or_the_data_dir, secrets_fixture,
                        *boost::unit_test::timeout(300)) {
    std::vector<std::string> responses;  // every response, headers and body
    std::vector<std::string> stored_external_ids;
    {
        server_process server(server_options());
        const header_list good = {{"Authorization", keeper.authorization()},
                                  {"Content-Type", "application/json"}};
        auto keep = [&](const http_response& res) {
            responses.push_back(response_text(res));
            return res.result_int();
        };

        // Authenticated creates and reads, on one keep-alive connection.
        {
            http_client client(server.port());
            for (int i = 0; i < 5; ++i) {
                const std::string ext = distinctive("visible-ext-");
                boost::json::object body{{"external_user_id", ext},
                                         {"name", "Secret Keeper " + std::to_string(i)},
                                         {"email", "keeper" + std::to_string(i) + "@example.com"}};
                const auto created = client.request(http::verb::post, "/v1/users", good,
                                                    boost::json::serialize(body));
                BOOST_TEST_REQUIRE(keep(created) == 201u, created.body());
                stored_external_ids.push_back(ext);
                const auto id = std::string(boost::json::parse(created.body()).at("data").at("id").as_string());
                BOOST_TEST(keep(client.request(http::verb::get, "/v1/users/" + id, good)) == 200u);
                BOOST_TEST(keep(client.request(http::verb::get, "/v1/users/external:" + ext, good)) == 200u);
                BOOST_TEST(keep(client.request(http::verb::head, "/v1/users/" + id, good)) == 200u);
            }
            // A duplicate (409) and a validation error (400), authenticated.
            const std::string dup = R"({"external_user_id":")" + stored_external_ids.front() + R"("})";
            BOOST_TEST(keep(client.request(http::verb::post, "/v1/users", good, dup)) == 409u);
            BOOST_TEST(keep(client.request(http::verb::post, "/v1/users", good,
                                           R"({"external_user_id":"x","email":"nope"})")) == 400u);
            BOOST_TEST(keep(client.request(http::verb::get, "/v1/users/external:nobody", good)) == 404u);
        }

        // Failed authentications, each with a distinctive wrong secret or token.
        {
            http_client client(server.port());
            const auto wrong_secret = sensitive("a wrong secret of the real client", "wr0ng-");
            const auto wrong_token = base64(keeper.id + ":" + wrong_secret);
            needles.push_back({"the token of a wrong secret", wrong_token});
            const auto stranger_secret = sensitive("the secret of an unknown client", "str4nger-");
            const auto stranger_token = base64("stranger:" + stranger_secret);
            needles.push_back({"the token of an unknown client", stranger_token});
            const auto garbage = sensitive("a token that is not base64", "n0tb64-");
            const auto basic_secret = sensitive("a secret sent with the Basic scheme", "b4sic-");
            const auto basic_token = base64(keeper.id + ":" + basic_secret);
            needles.push_back({"a Basic token", basic_token});
            const auto no_colon = sensitive("a token without a colon", "n0c0lon-");
            const auto no_colon_token = base64(no_colon);
            needles.push_back({"a token without a colon (encoded)", no_colon_token});

            const std::vector<std::string> authorizations = {
                "Bearer " + wrong_token,  "Bearer " + stranger_token, "Bearer !" + garbage + "!",
                "Basic " + basic_token,   "Bearer " + no_colon_token, "bearer  " + wrong_token,
                keeper.secret,  // the bare secret, no scheme
                "Bearer " + base64("keeper:" + keeper.secret + "x"),
            };
            needles.push_back({"the token of the secret plus one character", base64("keeper:" + keeper.secret + "x")});
            for (const auto& authorization : authorizations) {
                const header_list headers = {{"Authorization", authorization},
                                             {"Content-Type", "application/json"}};
                BOOST_TEST(keep(client.request(http::verb::post, "/v1/users", headers,
                                               R"({"external_user_id":"never-stored"})")) == 401u,
                           authorization);
                BOOST_TEST(keep(client.request(http::verb::get, "/v1/users/external:never-stored",
                                               headers)) == 401u, authorization);
            }
        }

        // Secret-looking values where a careless server might log them: a body field, headers,
        // a query string.
        {
            http_client client(server.port());
            const auto password = sensitive("a password in a request body", "p4ssw0rd-");
            const auto api_key = sensitive("an api_key in a request body", "4pik3y-");
            boost::json::object body{{"external_user_id", "with-password"}, {"password", password}};
            BOOST_TEST(keep(client.request(http::verb::post, "/v1/users", good, boost::json::serialize(body))) == 400u);
            boost::json::object body2{{"external_user_id", "with-key"}, {"api_key", api_key}};
            BOOST_TEST(keep(client.request(http::verb::post, "/v1/users", good, boost::json::serialize(body2))) == 400u);

            const auto cookie = sensitive("a session cookie", "c00kie-");
            const auto header_key = sensitive("an X-Api-Key header", "h34derkey-");
            header_list headers = good;
            headers.emplace_back("Cookie", "session=" + cookie);
            headers.emplace_back("X-Api-Key", header_key);
            BOOST_TEST(keep(client.request(http::verb::get, "/v1/users/external:" + stored_external_ids.front(),
                                           headers)) == 200u);
            const auto query = sensitive("an access_token query parameter", "qu3ry-");
            const auto res = client.request(http::verb::get, "/v1/users/external:nobody?access_token=" + query, good);
            keep(res);
            BOOST_TEST((res.result_int() == 404u || res.result_int() == 400u), res.result_int());
        }

        // A malformed request carrying the real token: answered 400 and closed, not logged.
        {
            http_client client(server.port());
            client.write_raw("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + keeper.authorization() +
                             "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
            const auto res = client.read_response();
            BOOST_TEST(keep(res) == 400u);
        }
        {
            http_client client(server.port());
            client.write_raw("GET /v1/users/external:x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                             keeper.authorization() + "\r\nBad Header: " + keeper.secret + "\r\n\r\n");
            const auto res = client.read_response();
            BOOST_TEST(keep(res) == 400u);
        }

        // Graceful stop.
        server.signal(SIGTERM);
        const auto status = server.wait(60s);
        BOOST_TEST_REQUIRE(status.has_value(), "the server did not exit within 60 s of SIGTERM");
        BOOST_TEST((WIFEXITED(*status) && WEXITSTATUS(*status) == 0),
                   "after SIGTERM the server " << ozzie::testing::describe_status(*status));
    }

    const std::string log = ozzie::testing::read_whole_file(log_file());
    BOOST_TEST_MESSAGE("secrets test: " << responses.size() << " responses, " << needles.size()
                       << " sensitive strings, " << log.size() << " bytes of server output");
    // Positive controls: the output was captured, and the stop was graceful.
    BOOST_TEST(ozzie::testing::listening_port(log).has_value(), log);
    BOOST_TEST(log.find("SIGTERM") != std::string::npos, log);
    BOOST_TEST(ozzie::testing::log_says_stopped(log), log);

    for (const auto& leak : leaks_in(log, "the server's output", needles)) BOOST_ERROR(leak);

    const auto files = all_files(data_dir());
    BOOST_TEST(!files.empty());
    std::size_t bytes = 0;
    std::string everything;
    for (const auto& [path, content] : files) {
        bytes += content.size();
        everything += content;
        for (const auto& leak : leaks_in(content, path.string(), needles)) BOOST_ERROR(leak);
    }
    BOOST_TEST_MESSAGE("secrets test: scanned " << files.size() << " files, " << bytes << " bytes in the data dir");
    // Positive control: what was stored is visible to the scan.
    for (const auto& ext : stored_external_ids)
        BOOST_TEST(everything.find(ext) != std::string::npos, "stored external id " << ext << " not found in the data dir");

    // For good measure: no response echoes a secret or token back.
    for (const auto& res : responses)
        for (const auto& leak : leaks_in(res, "a response", needles)) BOOST_ERROR(leak);
}

// An operator who writes the plain secret into the clients file instead of its SHA-256 gets an
// error naming the line, not an error (or log line) that repeats the secret.
BOOST_FIXTURE_TEST_CASE(a_plain_secret_in_the_clients_file_is_not_echoed, secrets_fixture,
                        *boost::unit_test::timeout(120)) {
    const auto plain = sensitive("a plain secret written into the clients file", "pl41n-");
    {
        std::ofstream out(clients_file(), std::ios::app);
        out << "careless:" << plain << '\n';
    }
    std::string failure;
    try {
        server_process server(server_options());
        BOOST_ERROR("the server started with a malformed clients file");
    } catch (const std::runtime_error& e) {
        failure = e.what();
    }
    BOOST_TEST(failure.find("exited with status 1") != std::string::npos, failure);
    const std::string log = ozzie::testing::read_whole_file(log_file());
    BOOST_TEST(log.find("clients file") != std::string::npos, log);
    for (const auto& leak : leaks_in(log, "the server's output", needles)) BOOST_ERROR(leak);
    if (std::filesystem::exists(data_dir()))
        for (const auto& [path, content] : all_files(data_dir()))
            for (const auto& leak : leaks_in(content, path.string(), needles)) BOOST_ERROR(leak);
}

BOOST_AUTO_TEST_SUITE_END()
