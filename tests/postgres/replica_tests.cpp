// Read replicas (postgres_store_options::replica_urls) on a real streaming replica of the suite's
// cluster (pg_basebackup -R), owned by each test: lookups go to the replica, what it has not
// replayed is found on the primary, and a replica that stops costs no failed lookup.
//
// Which server answered a lookup is told by the data, not by timing: with the replica's replay
// paused (pg_wal_replay_pause), a user renamed directly on the primary still has its old name on
// the replica, so a lookup answering the old name was served by the replica, and one answering
// the new name by the primary.
#include <boost/test/unit_test.hpp>

#include "postgres/coroutine_runner.hpp"
#include "postgres/database_fixture.hpp"
#include "support/postgres_cluster.hpp"
#include "storage/same_user.hpp"

#include "service/ulid.hpp"
#include "storage/postgres/libpq.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/postgres/schema.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace pg = ozzie::postgres;
namespace net = boost::asio;
using ozzie::awaitable;
using ozzie::executor;
using ozzie::user;
using ozzie::testing::fresh_database;
using ozzie::testing::postgres_cluster;
using ozzie::testing::run_coroutine;
using ozzie::testing::suite_cluster;
using ozzie::testing::ulid_of;
using namespace std::chrono;


// What a lookup answered: the user's name, or the error's code.
std::string name_or_error(const ozzie::result<user>& r) {
    if (!r) return "error " + std::to_string(static_cast<int>(r.error().code));
    return r->name.value_or("(no name)");
}

[[gnu::noinline]] awaitable<void> pause_for(milliseconds d) {
    using timer = net::basic_waitable_timer<steady_clock, net::wait_traits<steady_clock>, executor>;
    timer t(co_await net::this_coro::executor, d);
    co_await t.async_wait(net::use_awaitable_t<executor>{});
}

// A migrated database of its own, a streaming replica of the suite's cluster made after it (so
// the database is in its base backup), and a store that reads the replica.
struct replica_fixture : fresh_database {
    std::unique_ptr<postgres_cluster> replica;
    pg::connection on_replica;  // to this test's database on the replica
    std::unique_ptr<ozzie::postgres_store> store;
    ozzie::ulid_generator ids;

    replica_fixture() {
        pg::migrate(conn.get());
        replica = postgres_cluster::replica_of(suite_cluster::get());
        on_replica = pg::connect(replica_url());
        ozzie::postgres_store_options o;
        o.url = url();
        o.replica_urls = {replica_url()};
        store = std::make_unique<ozzie::postgres_store>(std::move(o));
    }

    std::string replica_url() const { return replica->url(name()); }

    user make(const std::string& external, const std::string& name) {
        const auto id = ids.next(time_point_cast<milliseconds>(system_clock::now()));
        user u;
        u.id = std::string(ozzie::user_id_prefix) + id.text;
        u.client_id = "c";
        u.external_user_id = external;
        u.name = name;
        u.language = "en";
        u.created_at = time_point_cast<seconds>(id.time);
        return u;
    }

    void insert(const user& u) {
        const auto stored = store->insert(std::vector<user>{u}, {});
        BOOST_TEST_REQUIRE(stored.has_value());
        BOOST_TEST_REQUIRE(stored->at(0));
    }

    // The name of user `u` on the replica, read directly ("" if it has no such row).
    std::string name_on_replica(const user& u) {
        const auto r = pg::exec(on_replica.get(), "select coalesce(name, '') from users where id = '" + ulid_of(u) + "'");
        return PQntuples(r.get()) == 0 ? "" : PQgetvalue(r.get(), 0, 0);
    }

    void wait_until_replica_has(const user& u, const std::string& name) {
        const auto until = steady_clock::now() + seconds(60);
        while (name_on_replica(u) != name) {
            BOOST_TEST_REQUIRE((steady_clock::now() < until), "the replica never replayed " << u.id << " as " << name);
            std::this_thread::sleep_for(milliseconds(10));
        }
    }

    void pause_replay() {
        pg::exec(on_replica.get(), "select pg_wal_replay_pause()");
        const auto until = steady_clock::now() + seconds(60);
        while (pg::query_integer(on_replica.get(), "select (pg_get_wal_replay_pause_state() = 'paused')::int") != 1) {
            BOOST_TEST_REQUIRE((steady_clock::now() < until), "the replica's replay never paused");
            std::this_thread::sleep_for(milliseconds(10));
        }
    }
    void resume_replay() { pg::exec(on_replica.get(), "select pg_wal_replay_resume()"); }

    // Renames `u` on the primary only, behind the store's back (a write another node made).
    void rename_on_primary(const user& u, const std::string& name) {
        pg::exec(conn.get(), "update users set name = '" + name + "' where id = '" + ulid_of(u) + "'");
    }
};

// (The coroutines are functions, not lambdas, and never inlined: g++ 12 warns of a mismatched
// delete, wrongly, on the frame of a coroutine inlined into its caller.)

[[gnu::noinline]] awaitable<void> look_up_until(const ozzie::postgres_store& store, const user& u, const std::string& wanted,
                              std::string* last) {
    const auto until = steady_clock::now() + seconds(60);
    for (;;) {
        *last = name_or_error(co_await store.async_get(u.client_id, ulid_of(u)));
        if (*last == wanted || steady_clock::now() >= until) co_return;
        co_await pause_for(milliseconds(10));
    }
}

// Looks `u` up by id (on `io`, one io_context for the whole test: its pool stays) until the
// answer is `wanted` or a generous deadline passes; returns the last answer.
std::string lookup_until(net::io_context& io, const ozzie::postgres_store& store, const user& u,
                         const std::string& wanted) {
    std::string last;
    run_coroutine(io, [&](executor) { return look_up_until(store, u, wanted, &last); });
    return last;
}

struct answers {
    std::vector<std::string> old_by_id, old_by_external, fresh_by_id, fresh_by_external, missing;
    std::string page;
};

[[gnu::noinline]] awaitable<void> look_up_both(const ozzie::postgres_store& store, const user& old, const user& fresh, answers* a) {
    for (int i = 0; i < 20; ++i) {
        a->old_by_id.push_back(name_or_error(co_await store.async_get(old.client_id, ulid_of(old))));
        a->old_by_external.push_back(name_or_error(co_await store.async_find_external("c", old.external_user_id)));
        a->fresh_by_id.push_back(name_or_error(co_await store.async_get(fresh.client_id, ulid_of(fresh))));
        a->fresh_by_external.push_back(name_or_error(co_await store.async_find_external("c", fresh.external_user_id)));
        a->missing.push_back(name_or_error(co_await store.async_find_external("c", "nobody")));
    }
    ozzie::store::list_range range;
    range.client_id = "c";
    const auto page = co_await store.async_list(range);
    if (!page) co_return;
    for (const auto& u : page->users) a->page += u.name.value_or("") + ";";
}

struct counts {
    int lookups = 0, from_replica = 0, from_primary = 0, after_stop = 0;
    std::vector<std::string> failures;
};

// Lookups of `everyone` ("before" on the replica, "after" on the primary) until 200 have been
// made after `stopped`.
[[gnu::noinline]] awaitable<void> look_up_through_a_stop(const ozzie::postgres_store& store, const std::vector<user>& everyone,
                                       const std::atomic<bool>& stopped, counts* n) {
    const auto until = steady_clock::now() + seconds(120);  // a safety net
    while (n->after_stop < 200 && steady_clock::now() < until) {
        const bool was_stopped = stopped;
        const auto& u = everyone[static_cast<std::size_t>(n->lookups) % everyone.size()];
        std::vector<ozzie::result<user>> got;
        got.push_back(co_await store.async_get(u.client_id, ulid_of(u)));
        got.push_back(co_await store.async_find_external("c", u.external_user_id));
        for (const auto& r : got) {
            ++n->lookups;
            const auto name = name_or_error(r);
            if (name == "before") ++n->from_replica;
            else if (name == "after") ++n->from_primary;
            else n->failures.push_back(u.id + ": " + name);
            if (was_stopped) {
                ++n->after_stop;
                if (name != "after") n->failures.push_back(u.id + " after the stop: " + name);
            }
        }
        if (!was_stopped) co_await pause_for(milliseconds(1));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replicas)

BOOST_FIXTURE_TEST_CASE(lookups_read_the_replica_and_what_it_has_not_replayed_the_primary, replica_fixture) {
    net::io_context io;
    const user old = make("old", "before");
    insert(old);
    wait_until_replica_has(old, "before");

    pause_replay();
    const user fresh = make("fresh", "created while the replica is paused");
    insert(fresh);
    rename_on_primary(old, "after");
    BOOST_TEST(name_on_replica(fresh) == "");  // not replayed: only the primary has it
    BOOST_TEST(name_on_replica(old) == "before");

    // The replica's connections are made on the io_context's first lookup; until they are up,
    // lookups go to the primary ("after"). Then the replica answers ("before"), every time.
    BOOST_TEST(lookup_until(io, *store, old, "before") == "before");
    answers a;
    run_coroutine(io, [&](executor) { return look_up_both(*store, old, fresh, &a); });
    const std::vector<std::string> before(20, "before");
    const std::vector<std::string> created(20, "created while the replica is paused");
    const std::vector<std::string> not_found(20, "error " + std::to_string(static_cast<int>(ozzie::errc::not_found)));
    BOOST_TEST(a.old_by_id == before, boost::test_tools::per_element());  // the replica's
    BOOST_TEST(a.old_by_external == before, boost::test_tools::per_element());
    BOOST_TEST(a.fresh_by_id == created, boost::test_tools::per_element());  // the primary's, as a fallback
    BOOST_TEST(a.fresh_by_external == created, boost::test_tools::per_element());
    BOOST_TEST(a.missing == not_found, boost::test_tools::per_element());  // asked of both
    BOOST_TEST(a.page == "created while the replica is paused;after;");

    // The blocking reads (the writer's) read the primary.
    BOOST_TEST(name_or_error(store->get(old.client_id, ulid_of(old))) == "after");
    BOOST_TEST(name_or_error(store->find_external("c", "old")) == "after");

    // Replay resumes: the replica catches up, and serves the new state.
    resume_replay();
    wait_until_replica_has(fresh, "created while the replica is paused");
    wait_until_replica_has(old, "after");
    BOOST_TEST(lookup_until(io, *store, old, "after") == "after");
}

BOOST_FIXTURE_TEST_CASE(a_replica_that_stops_costs_no_failed_lookup_and_serves_again_once_back, replica_fixture) {
    net::io_context io;
    std::vector<user> everyone;
    for (int i = 0; i < 10; ++i) {
        everyone.push_back(make("u" + std::to_string(i), "before"));
        insert(everyone.back());
    }
    wait_until_replica_has(everyone.back(), "before");
    pause_replay();
    for (const auto& u : everyone) rename_on_primary(u, "after");
    BOOST_TEST(lookup_until(io, *store, everyone[0], "before") == "before");  // the replica serves

    // The replica stops (at once, like a crash) while lookups go on; every one of them must
    // find its user, from the replica before, from the primary after.
    std::atomic<bool> stopped{false};
    std::thread stopper([&] {
        std::this_thread::sleep_for(milliseconds(100));
        replica->stop();
        stopped = true;
    });
    counts n;
    run_coroutine(io, [&](executor) { return look_up_through_a_stop(*store, everyone, stopped, &n); });
    stopper.join();
    BOOST_TEST(n.failures.empty(), n.failures.size() << " failed lookups, the first: "
                                                     << (n.failures.empty() ? "" : n.failures.front()));
    BOOST_TEST(n.after_stop >= 200);
    BOOST_TEST(n.from_replica > 0);
    BOOST_TEST_MESSAGE(n.lookups << " lookups: " << n.from_replica << " by the replica, " << n.from_primary
                                 << " by the primary");

    // Back (replay resumes on a start): its connections reconnect by themselves. Paused again
    // with the users renamed once more, the replica shows it serves again.
    replica->start();
    on_replica = pg::connect(replica_url());
    wait_until_replica_has(everyone.back(), "after");
    pause_replay();
    for (const auto& u : everyone) rename_on_primary(u, "again");
    BOOST_TEST(lookup_until(io, *store, everyone[0], "after") == "after");  // the replica's
    BOOST_TEST(name_or_error(store->get(everyone[0].client_id, ulid_of(everyone[0]))) == "again");  // the primary's
    resume_replay();
}

BOOST_AUTO_TEST_SUITE_END()
