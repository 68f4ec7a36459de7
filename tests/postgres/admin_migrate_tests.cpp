// `ozzie-admin migrate --postgres URL`, the real executable against the suite's cluster: what it
// prints and its exit status when it applies the schema, when there is nothing to do, and when it
// must refuse (a newer schema, no database at the URL, no URL).
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/unused_port.hpp"

#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace {

namespace pg = ozzie::postgres;
using ozzie::testing::command_result;
using ozzie::testing::fresh_database;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

int version_of(PGconn* conn) { return pg::schema_status(conn).version; }

struct admin_fixture : fresh_database {
    ozzie::testing::temp_dir scratch;  // the commands' captured output

    command_result admin(std::vector<std::string> args) {
        args.insert(args.begin(), ozzie::testing::executable_from_env("OZZIE_ADMIN").string());
        return ozzie::testing::run_command(std::move(args), scratch.path());
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(admin_migrate)

BOOST_FIXTURE_TEST_CASE(migrates_an_empty_database_then_has_nothing_to_do, admin_fixture) {
    const auto first = admin({"migrate", "--postgres", url()});
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.describe());
    BOOST_TEST(first.out == "applied migration 1 (users and idempotency keys)\nschema is at version 1\n",
               first.describe());
    BOOST_TEST(first.err == "", first.describe());  // no notices from the server on the terminal
    BOOST_TEST(!pg::check_schema(conn.get()).has_value());

    const auto second = admin({"migrate", "--postgres", url()});
    BOOST_TEST(second.exit_code == 0, second.describe());
    BOOST_TEST(second.out == "schema is at version 1; nothing to do\n", second.describe());
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 1);
}

BOOST_FIXTURE_TEST_CASE(takes_a_conninfo_string_too, admin_fixture) {
    const auto port = std::to_string(ozzie::testing::suite_cluster::get().port());
    const auto result =
        admin({"migrate", "--postgres", "host=127.0.0.1 port=" + port + " user=ozzie dbname=" + name()});
    BOOST_TEST(result.exit_code == 0, result.describe());
    BOOST_TEST(pg::schema_status(conn.get()).version == pg::schema_version);
}

BOOST_FIXTURE_TEST_CASE(migrates_into_the_schema_the_urls_search_path_names, admin_fixture) {
    // As the README says: options=-csearch_path=api, percent-encoded in the URI. (Not a schema
    // named like the role, ozzie: the default search_path, "$user", public, would pick that.)
    pg::exec(conn.get(), "create schema api");
    const auto result = admin({"migrate", "--postgres", url() + "?options=-csearch_path%3Dapi"});
    BOOST_TEST(result.exit_code == 0, result.describe());
    BOOST_TEST(pg::query_integer(conn.get(), "select (to_regclass('api.users') is not null)::int") == 1);
    BOOST_TEST(pg::query_integer(conn.get(), "select (to_regclass('public.users') is not null)::int") == 0);
    BOOST_TEST(version_of(conn.get()) == 0);  // this connection's search_path: public, empty
    pg::exec(conn.get(), "set search_path = api");
    BOOST_TEST(version_of(conn.get()) == pg::schema_version);
}

BOOST_FIXTURE_TEST_CASE(says_which_migration_failed_and_leaves_nothing_of_it, admin_fixture) {
    // Another program's "users" table is in the way: migration 1 fails as a whole.
    pg::exec(conn.get(), "create table users (n int)");
    const auto result = admin({"migrate", "--postgres", url()});
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(has(result.err, "ozzie-admin: migration 1 (users and idempotency keys) failed and was rolled back; "
                               "the schema stays at version 0: ERROR:  relation \"users\" already exists"),
               result.describe());
    BOOST_TEST(pg::query_integer(conn.get(), "select (to_regclass('idempotency_keys') is not null)::int") == 0);
    BOOST_TEST(pg::schema_status(conn.get()).version == 0);
}

BOOST_FIXTURE_TEST_CASE(refuses_a_newer_schema, admin_fixture) {
    pg::migrate(conn.get());
    pg::exec(conn.get(), "insert into ozzie_schema_migrations (version) values (" +
                             std::to_string(pg::schema_version + 1) + ")");
    const auto result = admin({"migrate", "--postgres", url()});
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(has(result.err, "newer"), result.describe());
    BOOST_TEST(!has(result.out, "applied"), result.describe());
}

BOOST_FIXTURE_TEST_CASE(says_so_when_the_database_cannot_be_reached, admin_fixture) {
    const ozzie::testing::unused_port nothing;  // connections to it are refused
    const auto started = std::chrono::steady_clock::now();
    const auto result =
        admin({"migrate", "--postgres", "postgresql://ozzie:secret@127.0.0.1:" + std::to_string(nothing.port()) + "/x"});
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(has(result.err, "ozzie-admin: cannot connect to PostgreSQL: "), result.describe());
    BOOST_TEST(has(result.err, "Connection refused"), result.describe());
    BOOST_TEST(!has(result.err, "secret"), result.describe());  // the URL's password is not echoed
    BOOST_TEST(result.out == "", result.describe());
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(10)));
}

BOOST_FIXTURE_TEST_CASE(needs_a_url, admin_fixture) {
    const auto result = admin({"migrate"});
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(has(result.err, "--postgres URL is required"), result.describe());
    const auto help = admin({"--help"});
    BOOST_TEST(help.exit_code == 0, help.describe());
    BOOST_TEST(has(help.err, "ozzie-admin migrate --postgres URL"), help.describe());
}

BOOST_AUTO_TEST_SUITE_END()
