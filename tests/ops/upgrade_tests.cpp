// Upgrading: the real ozzie-server started on a data directory of schema version 1 (written as
// the builds before the list index wrote it) migrates it before it listens, says so in its log
// (from which version to which, how many users), and then serves every old user, in lists too.
#include "support/credentials.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"
#include "support/v1_store.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <sstream>
#include <string>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
using namespace std::chrono_literals;

// The log's JSON lines whose event is `event`.
std::vector<json::object> events(const std::string& log, std::string_view event) {
    std::vector<json::object> out;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        boost::system::error_code ec;
        const auto v = json::parse(line, ec);
        if (!ec && v.is_object() && v.as_object().contains("event") && v.at("event") == json::value(event))
            out.push_back(v.as_object());
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upgrade)

BOOST_FIXTURE_TEST_CASE(a_version_1_data_directory_is_migrated_at_start_and_served, ozzie::testing::server_files) {
    ozzie::testing::write_clients_file(clients_file(), {ozzie::testing::alice, ozzie::testing::bob});
    auto users = ozzie::testing::v1_users("alice", 120);
    const auto bobs = ozzie::testing::v1_users("bob", 5, 500);
    users.insert(users.end(), bobs.begin(), bobs.end());
    ozzie::testing::write_v1_store(data_dir(), users);

    ozzie::testing::server_process server(ozzie::testing::process_options(*this));
    const auto log = server.new_log();
    const auto started = events(log, "schema_migration_started");
    const auto migrated = events(log, "schema_migrated");
    BOOST_TEST_REQUIRE(started.size() == 1u, log);
    BOOST_TEST_REQUIRE(migrated.size() == 1u, log);
    BOOST_TEST(migrated[0].at("from_version") == json::value(1));
    BOOST_TEST(migrated[0].at("to_version") == json::value(2));
    BOOST_TEST(migrated[0].at("users") == json::value(125));
    BOOST_TEST(log.find("schema_migrated") < log.find("\"listening\""), "migrated before listening:\n" << log);

    ozzie::testing::http_client client(server.port());
    const ozzie::testing::header_list auth = {{"Authorization", ozzie::testing::alice.authorization()}};
    const auto page = client.request(http::verb::get, "/v1/users?limit=100", auth);
    BOOST_TEST_REQUIRE(page.result_int() == 200u, page.body());
    const auto data = json::parse(page.body()).at("data").as_array();
    BOOST_TEST_REQUIRE(data.size() == 100u);
    BOOST_TEST(data[0].at("id") == json::value("ozz_usr_" + users[119].ulid));
    BOOST_TEST(data[0].at("name") == json::value("Person 119"));
    BOOST_TEST(json::parse(page.body()).at("has_more") == json::value(true));
    const auto by_external = client.request(http::verb::get, "/v1/users/external:alice-user-7", auth);
    BOOST_TEST(by_external.result_int() == 200u, by_external.body());

    // A second start finds nothing left to migrate.
    server.signal(SIGTERM);
    BOOST_TEST_REQUIRE(server.wait(30s).has_value());
    ozzie::testing::server_process again(ozzie::testing::process_options(*this));
    BOOST_TEST(events(again.new_log(), "schema_migration_started").empty(), again.new_log());
    ozzie::testing::http_client second(again.port());
    const auto bob_page = second.request(http::verb::get, "/v1/users",
                                         {{"Authorization", ozzie::testing::bob.authorization()}});
    BOOST_TEST(json::parse(bob_page.body()).at("data").as_array().size() == 5u, bob_page.body());
}

BOOST_AUTO_TEST_SUITE_END()
