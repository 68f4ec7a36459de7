// Online backup (issue 5): a consistent copy of the store taken while the server keeps serving,
// through POST /backup on the admin listener and through the real `ozzie-admin backup`
// executable. Under load (threads creating users continuously over HTTP), the test records which
// creates were acknowledged (201 received) before each backup request was sent; a restore (a new
// user_service, or the real ozzie-server, on a copy of the backup) must have every one of them,
// by id and by external id, and the server that was backed up must have served every request
// throughout, without an error.
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/unused_port.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using ozzie::testing::admin_conforms;
using ozzie::testing::alice;
using ozzie::testing::auth_headers;
using ozzie::testing::bob;
using ozzie::testing::create_body;
using ozzie::testing::eventually;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::is_error_envelope;
using ozzie::testing::ops_server;
using ozzie::testing::test_client;

struct acknowledged {
    const test_client* client;
    std::string external_id;
    std::string id;
};

// Threads creating users over HTTP, each on its own keep-alive connection, until finish().
// Every 201 is recorded; anything else (another status, an I/O error) is an error.
class create_load {
public:
    create_load(std::uint16_t port, int threads) {
        for (int t = 0; t < threads; ++t)
            threads_.emplace_back([this, port, t] { run(port, t); });
    }
    ~create_load() { finish(); }

    void finish() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return acked_.size();
    }
    // The creates acknowledged so far.
    std::vector<acknowledged> snapshot() const {
        std::lock_guard lock(mutex_);
        return acked_;
    }
    std::vector<std::string> errors() const {
        std::lock_guard lock(mutex_);
        return errors_;
    }
    // Waits (bounded) until `n` creates more than now have been acknowledged.
    bool wait_for_more(std::size_t n) {
        const auto target = count() + n;
        return eventually([&] { return count() >= target || !errors().empty(); }, 60s) && errors().empty();
    }

private:
    void run(std::uint16_t port, int t) {
        const test_client& client = t % 2 == 0 ? alice : bob;
        try {
            http_client c(port);
            for (int i = 0; !stop_; ++i) {
                const auto external = "load-" + std::to_string(t) + "-" + std::to_string(i);
                const auto res = c.request(http::verb::post, "/v1/users", auth_headers(client), create_body(external));
                if (res.result_int() != 201) {
                    std::lock_guard lock(mutex_);
                    errors_.push_back(external + ": " + std::to_string(res.result_int()) + " " + res.body());
                    return;
                }
                const auto body = json::parse(res.body());
                std::lock_guard lock(mutex_);
                acked_.push_back({&client, external, std::string(body.at("data").at("id").as_string())});
            }
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            errors_.push_back("thread " + std::to_string(t) + ": " + e.what());
        }
    }

    mutable std::mutex mutex_;
    std::vector<acknowledged> acked_;
    std::vector<std::string> errors_;
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

http_response post_backup(std::uint16_t admin_port, const std::filesystem::path& directory) {
    http_client admin(admin_port, 120s, admin_conforms);
    return admin.request(http::verb::post, "/backup", {{"Content-Type", "application/json"}},
                         json::serialize(json::object{{"directory", directory.string()}}));
}

// A copy of `backup` in `into`, as an operator restores one (the backup itself stays untouched).
std::filesystem::path restore_copy(const std::filesystem::path& backup, const std::filesystem::path& into) {
    std::filesystem::copy(backup, into, std::filesystem::copy_options::recursive);
    return into;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backup)

BOOST_FIXTURE_TEST_CASE(a_backup_under_load_restores_every_user_acknowledged_before_it, ops_server,
                        *boost::unit_test::timeout(240)) {
    ozzie::testing::temp_dir backups;
    const auto admin_executable = ozzie::testing::executable_from_env("OZZIE_ADMIN");
    const auto b1 = backups.path() / "through-endpoint";
    const auto b2 = backups.path() / "through-ozzie-admin";

    std::vector<acknowledged> before1, before2, all;
    {
        create_load load(port, 3);
        BOOST_TEST_REQUIRE(load.wait_for_more(30), joined(load.errors()));

        // 1. POST /backup on the admin listener.
        before1 = load.snapshot();
        const auto res = post_backup(admin_port, b1);
        BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
        BOOST_TEST(ozzie::testing::header_value(res, "Content-Type").starts_with("application/json"));
        BOOST_TEST(std::filesystem::is_directory(b1));
        // The server keeps serving after it.
        BOOST_TEST_REQUIRE(load.wait_for_more(20), joined(load.errors()));

        // 2. The real ozzie-admin executable.
        before2 = load.snapshot();
        const auto result = ozzie::testing::run_command(
            {admin_executable.string(), "backup", b2.string(), "--admin", "127.0.0.1:" + std::to_string(admin_port)},
            backups.path(), 120s);
        BOOST_TEST_REQUIRE(result.exit_code == 0, result.describe());
        BOOST_TEST(std::filesystem::is_directory(b2));
        BOOST_TEST_REQUIRE(load.wait_for_more(20), joined(load.errors()));

        load.finish();
        BOOST_TEST(load.errors().empty(), "the server failed requests during the backups:\n" << joined(load.errors()));
        all = load.snapshot();
    }
    BOOST_TEST_MESSAGE(before1.size() << " creates acknowledged before the first backup, " << before2.size()
                                      << " before the second, " << all.size() << " in all");
    BOOST_TEST(before1.size() < before2.size());
    BOOST_TEST(before2.size() < all.size());

    // The server that was backed up still has everything and still works.
    {
        http_client c(port);
        for (const auto& u : all)
            BOOST_TEST(c.request(http::verb::get, "/v1/users/" + u.id, auth_headers(*u.client)).result_int() == 200u,
                       u.external_id);
        http_client admin(admin_port, 30s, admin_conforms);
        BOOST_TEST(admin.request(http::verb::get, "/readyz").result_int() == 200u);
    }

    // Restore the first backup into a new user_service on a copy of it.
    {
        const auto data = restore_copy(b1, backups.path() / "restored-1");
        ozzie::user_service restored({.data_dir = data});
        std::size_t missing = 0;
        for (const auto& u : before1) {
            BOOST_TEST_CONTEXT(u.client->id << " " << u.external_id << " " << u.id) {
                const auto by_id = restored.find_by_id(u.client->id, u.id);
                BOOST_TEST(by_id.has_value());
                if (by_id) {
                    BOOST_TEST(by_id->external_user_id == u.external_id);
                    BOOST_TEST(by_id->client_id == u.client->id);
                } else {
                    ++missing;
                }
                const auto by_external = restored.find_by_external(u.client->id, u.external_id);
                BOOST_TEST(by_external.has_value());
                if (by_external) BOOST_TEST(by_external->id == u.id);
            }
        }
        BOOST_TEST(missing == 0u, missing << " of " << before1.size() << " acknowledged users missing");
        // Users acknowledged later may or may not be in it, but never half: a consistent copy has
        // a user's record and its external id index entry together, or neither.
        std::size_t later_present = 0;
        for (std::size_t i = before1.size(); i < all.size(); ++i) {
            const auto& u = all[i];
            const bool by_id = restored.find_by_id(u.client->id, u.id).has_value();
            const bool by_external = restored.find_by_external(u.client->id, u.external_id).has_value();
            BOOST_TEST(by_id == by_external, u.external_id << ": by id " << by_id << ", by external id " << by_external);
            later_present += by_id ? 1 : 0;
        }
        BOOST_TEST_MESSAGE(later_present << " of the " << all.size() - before1.size()
                                         << " users acknowledged after the first backup began are in it");
        // A restored store takes new creates.
        BOOST_TEST(restored.create(alice.id, ozzie::new_user{"after-restore", {}, {}, {}, {}}).has_value());
    }

    // Restore the second backup and serve it with the real ozzie-server.
    {
        const auto data = restore_copy(b2, backups.path() / "restored-2");
        ozzie::testing::server_process restored({.executable = ozzie::testing::server_executable(),
                                                 .data_dir = data,
                                                 .clients_file = clients_file(),
                                                 .log_file = backups.path() / "restored-2.log",
                                                 .extra_args = {"--threads", "1"}});
        http_client c(restored.port());
        std::size_t missing = 0;
        for (const auto& u : before2) {
            const auto by_id = c.request(http::verb::get, "/v1/users/" + u.id, auth_headers(*u.client));
            const auto by_external =
                c.request(http::verb::get, "/v1/users/external:" + u.external_id, auth_headers(*u.client));
            const bool ok = by_id.result_int() == 200 && by_external.result_int() == 200 &&
                            json::parse(by_id.body()).at("data").at("external_user_id") == json::value(u.external_id) &&
                            json::parse(by_external.body()).at("data").at("id") == json::value(u.id);
            if (!ok) ++missing;
            BOOST_TEST(ok, u.external_id << ": " << by_id.result_int() << " " << by_id.body() << " / "
                                         << by_external.result_int() << " " << by_external.body());
        }
        BOOST_TEST(missing == 0u, missing << " of " << before2.size() << " acknowledged users missing");
    }
}

BOOST_FIXTURE_TEST_CASE(a_backup_into_an_existing_directory_fails_and_the_server_keeps_working, ops_server,
                        *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir scratch;
    {
        http_client c(port);
        BOOST_TEST_REQUIRE(c.request(http::verb::post, "/v1/users", auth_headers(alice), create_body("before")).result_int() ==
                           201u);
    }
    // An existing empty directory, and one with a file in it (which must survive).
    const auto empty = scratch.path() / "empty";
    const auto occupied = scratch.path() / "occupied";
    std::filesystem::create_directories(empty);
    std::filesystem::create_directories(occupied);
    {
        std::ofstream(occupied / "precious.txt") << "keep me";
    }
    for (const auto& dir : {empty, occupied}) {
        BOOST_TEST_CONTEXT(dir) {
            const auto res = post_backup(admin_port, dir);
            BOOST_TEST(res.result_int() >= 400u, res.body());
            BOOST_TEST(res.result_int() != 404u);
            BOOST_TEST(is_error_envelope(res), res.body());
        }
    }
    BOOST_TEST(ozzie::testing::read_whole_file(occupied / "precious.txt") == "keep me");
    BOOST_TEST(std::distance(std::filesystem::directory_iterator(occupied), std::filesystem::directory_iterator()) == 1);

    // ozzie-admin reports the failure with a non-zero exit.
    const auto result = ozzie::testing::run_command(
        {ozzie::testing::executable_from_env("OZZIE_ADMIN").string(), "backup", occupied.string(), "--admin",
         "127.0.0.1:" + std::to_string(admin_port)},
        scratch.path(), 120s);
    BOOST_TEST(result.exit_code != 0, result.describe());
    BOOST_TEST(result.exit_code != -1, result.describe());
    BOOST_TEST(result.out.find("\"error\"") != std::string::npos, result.describe());

    // The server keeps working: creates, reads, readiness, and a backup to a new directory.
    http_client c(port);
    BOOST_TEST(c.request(http::verb::post, "/v1/users", auth_headers(alice), create_body("after")).result_int() == 201u);
    BOOST_TEST(c.request(http::verb::get, "/v1/users/external:before", auth_headers(alice)).result_int() == 200u);
    http_client admin(admin_port, 30s, admin_conforms);
    BOOST_TEST(admin.request(http::verb::get, "/readyz").result_int() == 200u);
    const auto fresh = post_backup(admin_port, scratch.path() / "fresh");
    BOOST_TEST(fresh.result_int() == 200u, fresh.body());
}

BOOST_AUTO_TEST_CASE(ozzie_admin_backup_without_a_server_fails_with_a_message, *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir scratch;
    const ozzie::testing::unused_port nobody;
    const auto result = ozzie::testing::run_command(
        {ozzie::testing::executable_from_env("OZZIE_ADMIN").string(), "backup", (scratch.path() / "b").string(),
         "--admin", "127.0.0.1:" + std::to_string(nobody.port())},
        scratch.path(), 60s);
    BOOST_TEST(result.exit_code > 0, result.describe());
    BOOST_TEST(!result.err.empty(), result.describe());
    BOOST_TEST(!std::filesystem::exists(scratch.path() / "b"));
}

BOOST_FIXTURE_TEST_CASE(a_backup_request_without_a_directory_is_a_validation_error, ops_server) {
    http_client admin(admin_port, 30s, admin_conforms);
    for (const std::string body : {"", "{}", "not json", R"({"directory":""})", R"({"directory":42})", "[]"}) {
        const auto res = admin.request(http::verb::post, "/backup", {{"Content-Type", "application/json"}}, body);
        BOOST_TEST(res.result_int() == 400u, "body " << body << ": " << res.body());
        BOOST_TEST(is_error_envelope(res, "VALIDATION_ERROR"), "body " << body << ": " << res.body());
    }
    BOOST_TEST(admin.request(http::verb::get, "/healthz").result_int() == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
