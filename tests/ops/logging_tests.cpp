// Structured logs (issue 5), from the real ozzie-server executable: its stderr captured in a file
// (support/server_process.hpp). Every line is a JSON object with time, level and event; each
// request gives one "request" line with its request id, client id, method, route template,
// status and latency; the response's X-Request-Id is the log's request_id; a sane incoming
// X-Request-Id is kept and an insane one replaced; nothing that names a person (email, phone)
// and no secret or token is ever written; the lifecycle events listening / stopping / stopped
// appear in that order. --log-level warning leaves the request lines out; an unknown level fails
// at start with a clear message.
#include "support/child_process.hpp"
#include "support/credentials.hpp"
#include "support/distinctive.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ozzie::testing::base64;
using ozzie::testing::header_list;
using ozzie::testing::header_value;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::server_process;
using ozzie::testing::test_client;

// `prefix` and 24 random lower-case letters and digits: a string that appears nowhere by chance.
std::string distinctive(std::string_view prefix) {
    return ozzie::testing::distinctive(prefix, 24, "abcdefghijklmnopqrstuvwxyz0123456789");
}

struct log_line {
    std::size_t number;
    std::string text;
    json::object fields;
};

// Every line of `log`, each required to be a JSON object with string time, level and event.
std::vector<log_line> parse_log(const std::string& log) {
    std::vector<log_line> lines;
    static const std::regex time_form(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");
    static const std::set<std::string> levels = {"trace", "debug", "info", "warning", "error", "critical"};
    std::size_t start = 0, number = 0;
    while (start < log.size()) {
        auto end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        std::string text = log.substr(start, end - start);
        start = end + 1;
        ++number;
        BOOST_TEST_CONTEXT("log line " << number << ": " << text) {
            boost::system::error_code ec;
            const auto v = json::parse(text, ec);
            BOOST_TEST(!ec, "not JSON");
            if (ec) continue;
            BOOST_TEST(v.is_object(), "not a JSON object");
            if (!v.is_object()) continue;
            const auto& o = v.as_object();
            for (const char* key : {"time", "level", "event"})
                BOOST_TEST((o.contains(key) && o.at(key).is_string()), "no string " << key);
            if (o.contains("time") && o.at("time").is_string())
                BOOST_TEST(std::regex_match(std::string(o.at("time").as_string()), time_form));
            if (o.contains("level") && o.at("level").is_string())
                BOOST_TEST(levels.count(std::string(o.at("level").as_string())) == 1u);
            lines.push_back({number, std::move(text), o});
        }
    }
    return lines;
}

std::string str(const json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::vector<log_line> with_event(const std::vector<log_line>& lines, std::string_view event) {
    std::vector<log_line> found;
    for (const auto& l : lines)
        if (str(l.fields, "event") == event) found.push_back(l);
    return found;
}

bool is_sane_request_id(const std::string& id) {
    return !id.empty() && id.size() <= 128 && std::regex_match(id, std::regex("[A-Za-z0-9._:-]+"));
}

struct log_fixture : ozzie::testing::server_files {
    const test_client client{"logger", distinctive("s3cr3t-")};

    log_fixture() { ozzie::testing::write_clients_file(clients_file(), {client}); }
};

// What the test sent and what it got, to find in the log.
struct sent_request {
    std::string what;
    std::string method;
    std::string route;
    std::string target;
    unsigned status;
    std::string client_id;
    std::string response_request_id;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

BOOST_FIXTURE_TEST_CASE(one_json_line_per_request_and_lifecycle_events, log_fixture, *boost::unit_test::timeout(180)) {
    const std::string email = distinctive("mail") + "@example.com";
    const std::string phone = "+1555" + std::to_string(1000000 + std::random_device{}() % 8999999);
    const std::string external = distinctive("ext-");
    const std::string name = distinctive("Name ");
    const std::string wrong_secret = distinctive("wr0ng-");
    const std::string wrong_token = base64(client.id + ":" + wrong_secret);
    const std::string token = client.token();
    const std::string insane_spaces = "trace id with spaces";
    const std::string insane_long(200, 'a');

    std::vector<sent_request> sent;
    std::string user_id;
    int port = 0;
    {
        server_process server(ozzie::testing::process_options(*this, {"--threads", "2", "--log-level", "info"}));
        port = server.port();
        http_client c(server.port());
        const header_list auth = {{"Authorization", client.authorization()}, {"Content-Type", "application/json"}};
        const auto record = [&](std::string what, http::verb method, std::string route, std::string target,
                                const http_response& res, unsigned expected, std::string client_id) {
            BOOST_TEST(res.result_int() == expected, what << ": " << res.body());
            const auto id = header_value(res, "X-Request-Id");
            BOOST_TEST(is_sane_request_id(id), what << ": X-Request-Id '" << id << "'");
            sent.push_back({std::move(what), std::string(http::to_string(method)), std::move(route), std::move(target),
                            res.result_int(), std::move(client_id), id});
        };

        const auto body = json::serialize(
            json::object{{"external_user_id", external}, {"name", name}, {"email", email}, {"phone", phone}});
        const auto created = c.request(http::verb::post, "/v1/users", auth, body);
        record("create", http::verb::post, "/v1/users", "/v1/users", created, 201, client.id);
        user_id = std::string(json::parse(created.body()).at("data").at("id").as_string());
        const auto get_target = "/v1/users/" + user_id;
        record("get by id", http::verb::get, "/v1/users/{user_id}", get_target,
               c.request(http::verb::get, get_target, auth), 200, client.id);
        const auto ext_target = "/v1/users/external:" + external;
        record("get by external id", http::verb::get, "/v1/users/{user_id}", ext_target,
               c.request(http::verb::get, ext_target, auth), 200, client.id);
        record("wrong secret", http::verb::get, "/v1/users/{user_id}", get_target,
               c.request(http::verb::get, get_target, {{"Authorization", "Bearer " + wrong_token}}), 401, "");
        const auto missing_target = "/v1/users/external:" + distinctive("missing-");
        record("not found", http::verb::get, "/v1/users/{user_id}", missing_target,
               c.request(http::verb::get, missing_target, auth), 404, client.id);
        record("no route", http::verb::get, "unmatched", "/nowhere", c.request(http::verb::get, "/nowhere", auth), 404, "");

        header_list traced = auth;
        traced.emplace_back("X-Request-Id", "trace-abc.123");
        const auto kept = c.request(http::verb::get, get_target, traced);
        record("sane X-Request-Id", http::verb::get, "/v1/users/{user_id}", get_target, kept, 200, client.id);
        BOOST_TEST(header_value(kept, "X-Request-Id") == "trace-abc.123");

        for (const auto& insane : {insane_spaces, insane_long}) {
            header_list h = auth;
            h.emplace_back("X-Request-Id", insane);
            const auto res = c.request(http::verb::get, get_target, h);
            record("insane X-Request-Id", http::verb::get, "/v1/users/{user_id}", get_target, res, 200, client.id);
            BOOST_TEST(header_value(res, "X-Request-Id") != insane);
        }
        // A request on a connection of its own, closed by the client afterwards.
        {
            http_client other(server.port());
            record("other connection", http::verb::post, "/v1/users", "/v1/users",
                   other.request(http::verb::post, "/v1/users", auth, R"({"external_user_id":"x","email":"not-an-email"})"),
                   400, client.id);
        }

        server.signal(SIGTERM);
        const auto exit = server.wait(60s);
        BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop");
        BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));
    }

    const std::string log = ozzie::testing::read_whole_file(log_file());
    BOOST_TEST_MESSAGE("the server's log:\n" << log);
    const auto lines = parse_log(log);
    BOOST_TEST_REQUIRE(!lines.empty());

    // One request line per request, matched by request id.
    const auto requests = with_event(lines, "request");
    BOOST_TEST(requests.size() == sent.size());
    BOOST_TEST_REQUIRE(!requests.empty());
    std::map<std::string, log_line> by_id;
    for (const auto& l : requests) {
        const auto id = str(l.fields, "request_id");
        BOOST_TEST(is_sane_request_id(id), l.text);
        BOOST_TEST(by_id.emplace(id, l).second, "request_id logged twice: " << l.text);
        for (const char* key : {"request_id", "client_id", "method", "route", "status", "latency_us"})
            BOOST_TEST(l.fields.contains(key), "no " << key << ": " << l.text);
        BOOST_TEST((l.fields.contains("latency_us") && (l.fields.at("latency_us").is_int64() ||
                                                        l.fields.at("latency_us").is_uint64()) &&
                    l.fields.at("latency_us").to_number<double>() >= 0),
                   l.text);
        BOOST_TEST(str(l.fields, "level") == "info", l.text);
    }
    for (const auto& s : sent) {
        BOOST_TEST_CONTEXT(s.what) {
            const auto it = by_id.find(s.response_request_id);
            BOOST_TEST((it != by_id.end()), "no request line with the response's X-Request-Id " << s.response_request_id);
            if (it == by_id.end()) continue;
            const auto& f = it->second.fields;
            BOOST_TEST(str(f, "method") == s.method, it->second.text);
            BOOST_TEST(str(f, "route") == s.route, it->second.text);
            BOOST_TEST(str(f, "client_id") == s.client_id, it->second.text);
            BOOST_TEST((f.contains("status") && f.at("status").is_number() &&
                        f.at("status").to_number<double>() == static_cast<double>(s.status)),
                       it->second.text);
        }
    }
    // The sane incoming id is kept; the insane ones appear nowhere.
    BOOST_TEST(by_id.count("trace-abc.123") == 1u);
    BOOST_TEST(log.find(insane_spaces) == std::string::npos);
    BOOST_TEST(log.find(insane_long) == std::string::npos);

    // Never the raw path, a person's data, a secret or a token.
    const std::vector<std::pair<std::string, std::string>> never = {
        {"the user id", user_id},
        {"the external id in a path", "external:" + external},
        {"a name", name},
        {"an email", email},
        {"a phone number", phone},
        {"the secret", client.secret},
        {"the token", token},
        {"the digest of the secret", ozzie::testing::sha256_hex(client.secret)},
        {"a wrong secret", wrong_secret},
        {"a wrong token", wrong_token},
    };
    for (const auto& [what, text] : never) BOOST_TEST(log.find(text) == std::string::npos, what << " in the log");
    BOOST_TEST(log.find("@example.com") == std::string::npos, "an email address in the log");

    // Lifecycle: listening (with the port) before every request, then stopping, then stopped last.
    const auto listening = with_event(lines, "listening");
    const auto stopping = with_event(lines, "stopping");
    const auto stopped = with_event(lines, "stopped");
    BOOST_TEST_REQUIRE(listening.size() == 1u);
    BOOST_TEST_REQUIRE(stopping.size() == 1u);
    BOOST_TEST_REQUIRE(stopped.size() == 1u);
    BOOST_TEST((listening[0].fields.contains("port") && listening[0].fields.at("port").to_number<double>() == port));
    BOOST_TEST(listening[0].number < requests.front().number);
    // (A request answered just before the signal may be logged just after "stopping": its line is
    // written once its answer is, so only "stopped" is ordered after every request line.)
    BOOST_TEST(stopped[0].number > requests.back().number);
    BOOST_TEST(stopping[0].number < stopped[0].number);
    BOOST_TEST(stopped[0].number == lines.back().number, "lines after stopped");
    BOOST_TEST(str(stopping[0].fields, "signal") == "SIGTERM");
}

// Request lines are buffered per thread (no syscall per request) but handed on every second, so
// a running server's log is never more than about a second behind.
BOOST_FIXTURE_TEST_CASE(a_request_line_appears_within_seconds_while_the_server_runs, log_fixture,
                        *boost::unit_test::timeout(120)) {
    server_process server(ozzie::testing::process_options(*this, {"--threads", "2", "--log-level", "info"}));
    http_client c(server.port());
    const auto res = c.request(http::verb::get, "/v1/users/external:" + distinctive("nobody-"),
                               {{"Authorization", client.authorization()}});
    BOOST_TEST_REQUIRE(res.result_int() == 404u);
    const auto id = header_value(res, "X-Request-Id");
    const auto logged = [&] {
        for (const auto& l : with_event(parse_log(server.new_log()), "request"))
            if (str(l.fields, "request_id") == id) return true;
        return false;
    };
    // The flush is every second; 10 s leaves room for a loaded machine.
    BOOST_TEST(ozzie::testing::eventually(logged, 10s), "no request line for " << id << " in:\n" << server.new_log());
}

// SIGINT (Ctrl-C) stops the server as SIGTERM does: exit status 0, the request lines still
// buffered are written, "stopped" comes last.
BOOST_FIXTURE_TEST_CASE(sigint_stops_gracefully_as_sigterm_does, log_fixture, *boost::unit_test::timeout(120)) {
    std::string id;
    {
        server_process server(ozzie::testing::process_options(*this, {"--threads", "2", "--log-level", "info"}));
        http_client c(server.port());
        const auto res = c.request(http::verb::get, "/v1/users/external:" + distinctive("nobody-"),
                                   {{"Authorization", client.authorization()}});
        BOOST_TEST_REQUIRE(res.result_int() == 404u);
        id = header_value(res, "X-Request-Id");
        server.signal(SIGINT);
        const auto exit = server.wait(60s);
        BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop on SIGINT");
        BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));
    }
    const auto lines = parse_log(ozzie::testing::read_whole_file(log_file()));
    const auto stopping = with_event(lines, "stopping");
    BOOST_TEST_REQUIRE(stopping.size() == 1u);
    BOOST_TEST(str(stopping[0].fields, "signal") == "SIGINT");
    const auto requests = with_event(lines, "request");
    BOOST_TEST_REQUIRE(requests.size() == 1u);
    BOOST_TEST(str(requests[0].fields, "request_id") == id);
    BOOST_TEST_REQUIRE(!lines.empty());
    BOOST_TEST(str(lines.back().fields, "event") == "stopped");
}

BOOST_FIXTURE_TEST_CASE(log_level_warning_leaves_out_the_request_lines, log_fixture, *boost::unit_test::timeout(180)) {
    // At warning the server does not log its port: it is read from the listening socket instead.
    ozzie::testing::child_process server(
        {ozzie::testing::server_executable().string(), "--listen", "127.0.0.1:0", "--data-dir",
         data_dir().string(), "--clients", clients_file().string(), "--threads", "1", "--log-level", "warning"},
        log_file(), log_file());
    std::set<std::uint16_t> ports;
    BOOST_TEST_REQUIRE(ozzie::testing::eventually(
                           [&] {
                               ports = ozzie::testing::listening_ports(server.pid());
                               return !ports.empty() || !server.running() || server.wait(0ms).has_value();
                           },
                           60s),
                       "the server did not start: " << server.err());
    BOOST_TEST_REQUIRE(server.running(), "the server exited: " << server.err());
    BOOST_TEST_REQUIRE(ports.size() == 1u, "one listener expected");
    {
        http_client c(*ports.begin());
        const header_list auth = {{"Authorization", client.authorization()}, {"Content-Type", "application/json"}};
        BOOST_TEST(c.request(http::verb::post, "/v1/users", auth, ozzie::testing::create_body("quiet")).result_int() == 201u);
        BOOST_TEST(c.request(http::verb::get, "/v1/users/external:quiet", auth).result_int() == 200u);
        BOOST_TEST(c.request(http::verb::get, "/v1/users/external:quiet").result_int() == 401u);
        BOOST_TEST(c.request(http::verb::get, "/v1/users/external:nobody", auth).result_int() == 404u);
    }
    server.signal(SIGTERM);
    const auto exit = server.wait(60s);
    BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop");
    BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));

    const auto log = ozzie::testing::read_whole_file(log_file());
    const auto lines = parse_log(log);
    BOOST_TEST(with_event(lines, "request").empty(), log);
    for (const auto& l : lines) {
        const auto level = str(l.fields, "level");
        BOOST_TEST((level == "warning" || level == "error" || level == "critical"), l.text);
    }
}

BOOST_FIXTURE_TEST_CASE(an_unknown_log_level_fails_at_start_with_a_clear_message, log_fixture,
                        *boost::unit_test::timeout(120)) {
    const auto result = ozzie::testing::run_command(
        {ozzie::testing::server_executable().string(), "--listen", "127.0.0.1:0", "--data-dir", data_dir().string(),
         "--clients", clients_file().string(), "--log-level", "nonsense"},
        dir.path(), 60s);
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(result.err.find("log-level") != std::string::npos, result.describe());
    BOOST_TEST(result.err.find("info") != std::string::npos, "the message should name the valid levels: "
                                                                  << result.describe());
    BOOST_TEST(result.err.find("listening") == std::string::npos, result.describe());

    // In-process, server::start refuses it too.
    ozzie::user_service service({.data_dir = dir.path() / "in-process"});
    ozzie::server_options o;
    o.port = 0;
    o.threads = 1;
    o.clients_file = clients_file();
    o.log_level = "nonsense";
    ozzie::server s(service, o);
    std::string message;
    try {
        s.start();
    } catch (const std::exception& e) {
        message = e.what();
    }
    BOOST_TEST(message.find("nonsense") != std::string::npos, "start(): '" << message << "'");
}

BOOST_AUTO_TEST_SUITE_END()
