// Several nodes migrating one database at once (an orchestrator starting them together): every
// migration succeeds, each step is applied and recorded once. The races are forced where they
// can be: a third session holds the lock, or the half-created version table, until both
// migrations are seen waiting for it in pg_stat_activity.
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"

#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <chrono>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace pg = ozzie::postgres;
using ozzie::testing::fresh_database;

// What a migration on a thread of its own gave: its report, or what it threw. (Boost.Test's
// assertions are for the main thread: the threads only return values.)
struct outcome {
    pg::migration_report report;
    std::string failure;
};

// Migrates the database at `url` on a new connection, on another thread; `ready` counts down
// once it is connected, so that several such migrations start together. `ready` must outlive
// the future.
std::future<outcome> migrate_async(const std::string& url, std::latch& ready) {
    return std::async(std::launch::async, [url, &ready] {
        outcome o;
        bool arrived = false;
        try {
            const auto conn = pg::connect(url);
            arrived = true;
            ready.arrive_and_wait();
            o.report = pg::migrate(conn.get());
        } catch (const std::exception& e) {
            if (!arrived) ready.count_down();  // not to hold the others back
            o.failure = e.what();
        }
        return o;
    });
}

outcome get(std::future<outcome>& f) {
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) return {{}, "hung for a minute"};
    return f.get();
}

// Waits until `n` sessions of conn's database are waiting for a lock (the forced race has begun).
void wait_for_lock_waiters(PGconn* conn, int n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pg::query_integer(conn, "select count(*) from pg_stat_activity where datname = current_database() and "
                                   "wait_event_type = 'Lock'") < n) {
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < until), "the migrations never waited for the lock");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// Two outcomes of concurrent migrations of an empty database: both succeeded, one applied
// migration 1 and the other found it done.
void check_one_applied(const outcome& a, const outcome& b) {
    BOOST_TEST(a.failure == "");
    BOOST_TEST(b.failure == "");
    BOOST_TEST(a.report.applied.size() + b.report.applied.size() == 1u);
    BOOST_TEST(a.report.to_version == pg::schema_version);
    BOOST_TEST(b.report.to_version == pg::schema_version);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(concurrent_migration)

BOOST_FIXTURE_TEST_CASE(two_migrations_started_together_apply_each_step_once, fresh_database) {
    std::latch ready(2);
    auto first = migrate_async(url(), ready);
    auto second = migrate_async(url(), ready);
    const auto a = get(first);
    const auto b = get(second);
    check_one_applied(a, b);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 1);
    BOOST_TEST(pg::schema_status(conn.get()).version == pg::schema_version);
}

BOOST_FIXTURE_TEST_CASE(a_migration_waits_for_one_in_progress_then_finds_it_done, fresh_database) {
    pg::migrate(conn.get(), {});  // the version table, empty
    // A session holding the lock stands for a migration in progress; both wait for it, then one
    // applies migration 1 and the other, reading the version after the lock, finds it applied.
    // (The futures are declared first so that, if a check below throws, the holder's connection
    // closes first, releasing the lock: a future's destructor waits for its thread.)
    std::latch ready(2);
    std::future<outcome> first, second;
    const auto holder = pg::connect(url());
    pg::exec(holder.get(), "begin; lock table ozzie_schema_migrations in exclusive mode");
    first = migrate_async(url(), ready);
    second = migrate_async(url(), ready);
    wait_for_lock_waiters(conn.get(), 2);
    BOOST_TEST(pg::schema_status(conn.get()).version == 0);  // readers are not blocked by the lock
    pg::exec(holder.get(), "commit");
    const auto a = get(first);
    const auto b = get(second);
    check_one_applied(a, b);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 1);
}

BOOST_FIXTURE_TEST_CASE(a_migration_racing_the_version_tables_creation_succeeds, fresh_database) {
    // Another node's version table, created and not yet committed: this migration's create
    // waits for it, then fails on the catalog's unique index once it commits, and must look again.
    std::latch ready(1);
    std::future<outcome> migration;  // before `other`: see the test above
    const auto other = pg::connect(url());
    pg::exec(other.get(), "begin; create table ozzie_schema_migrations (version integer primary key, applied_at "
                          "timestamptz not null default now())");
    migration = migrate_async(url(), ready);
    wait_for_lock_waiters(conn.get(), 1);
    pg::exec(other.get(), "commit");
    const auto o = get(migration);
    BOOST_TEST(o.failure == "");
    BOOST_TEST(o.report.applied == std::vector<int>{1});
    BOOST_TEST(pg::schema_status(conn.get()).version == pg::schema_version);
}

BOOST_AUTO_TEST_SUITE_END()
