// The test harness itself (support/postgres_cluster.hpp), on clusters of their own: it stops and
// starts a cluster with its data kept, makes a streaming replica, and leaves nothing behind.
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"
#include "support/postgres_cluster.hpp"

#include "storage/postgres/libpq.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace {

namespace pg = ozzie::postgres;
using ozzie::testing::postgres_cluster;
using ozzie::testing::sqlstate_of;

bool accepts(const std::string& url) { return PQping((url + "?connect_timeout=2").c_str()) == PQPING_OK; }

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(stops_and_starts_again_with_its_data) {
    postgres_cluster cluster;
    pg::exec(pg::connect(cluster.url()).get(), "create table kept (n int); insert into kept values (42)");
    cluster.stop();
    BOOST_TEST(!cluster.running());
    BOOST_TEST(!accepts(cluster.url()));
    BOOST_CHECK_THROW(pg::connect(cluster.url()), pg::error);
    cluster.start();
    BOOST_TEST(accepts(cluster.url()));
    BOOST_TEST(pg::query_integer(pg::connect(cluster.url()).get(), "select n from kept") == 42);
}

BOOST_AUTO_TEST_CASE(runs_postgres_as_an_unprivileged_user_and_leaves_nothing_behind) {
    std::filesystem::path root;
    std::string url;
    {
        postgres_cluster cluster;
        url = cluster.url();
        root = cluster.data_dir().parent_path();
        BOOST_TEST(std::filesystem::is_directory(cluster.data_dir()));
        // The server's processes run as the user the harness chose: never root.
        const auto superuser = pg::connect(url);
        const auto r = pg::exec(superuser.get(), "select pg_read_file('postmaster.pid', 0, 20)");
        const long pid = std::stol(PQgetvalue(r.get(), 0, 0));
        struct stat st {};
        BOOST_TEST_REQUIRE(::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0);
        BOOST_TEST(st.st_uid != 0u);
        if (::geteuid() != 0) BOOST_TEST(st.st_uid == ::geteuid());
    }
    BOOST_TEST(!std::filesystem::exists(root));
    BOOST_TEST(!accepts(url));
}

BOOST_AUTO_TEST_CASE(a_replica_streams_the_primarys_writes_and_refuses_its_own) {
    postgres_cluster primary;
    const auto writer = pg::connect(primary.url());
    pg::exec(writer.get(), "create table t (n int); insert into t values (1)");
    const auto replica = postgres_cluster::replica_of(primary);
    BOOST_TEST(replica->port() != primary.port());
    const auto reader = pg::connect(replica->url());
    BOOST_TEST(pg::query_integer(reader.get(), "select pg_is_in_recovery()::int") == 1);
    BOOST_TEST(pg::query_integer(reader.get(), "select count(*) from t") == 1);  // in the base backup
    pg::exec(writer.get(), "insert into t values (2)");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pg::query_integer(reader.get(), "select count(*) from t") != 2) {
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < until), "the replica never saw the second row");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    BOOST_TEST(sqlstate_of(reader.get(), "insert into t values (3)") == "25006");  // read_only_sql_transaction
}

BOOST_AUTO_TEST_SUITE_END()
