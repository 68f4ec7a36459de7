// The PostgreSQL store (source/storage/postgres/postgres_store.hpp) against the store contract
// (source/storage/store.hpp), on a real PostgreSQL 15: the cases of the RocksDB store's tests
// that apply (tests/storage/user_store_tests.cpp, retries_tests.cpp), through the blocking calls
// and the coroutine ones (on an io_context in the test's own thread), and what only a database
// across the network does: optimistic concurrency (conflict), and its outages.
#include <boost/test/unit_test.hpp>

#include "postgres/coroutine_runner.hpp"
#include "postgres/database_fixture.hpp"
#include "support/postgres_cluster.hpp"
#include "support/eventually.hpp"
#include "support/result_text.hpp"
#include "storage/same_user.hpp"

#include "service/ulid.hpp"
#include "storage/postgres/libpq.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/postgres/schema.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


namespace {

namespace pg = ozzie::postgres;
using ozzie::awaitable;
using ozzie::executor;
using ozzie::onboarding_stage;
using ozzie::user;
using ozzie::testing::flags;
using ozzie::testing::fresh_database;
using ozzie::testing::opt;
using ozzie::testing::outcome;
using ozzie::testing::run_coroutine;
using ozzie::testing::ulid_of;
using namespace std::chrono;


std::string describe(const user& u) {
    return u.id + " " + u.client_id + "/" + u.external_user_id + " " + opt(u.name) + " " + opt(u.email) + " " +
           opt(u.phone) + " " + u.language + " " + std::to_string(static_cast<int>(u.stage)) + " " +
           std::to_string(u.created_at.time_since_epoch().count());
}

std::string describe(const ozzie::result<user>& r) { return r ? describe(*r) : outcome(r); }

std::vector<std::string> ids_of(const ozzie::user_page& page) {
    std::vector<std::string> ids;
    for (const auto& u : page.users) ids.push_back(u.id);
    return ids;
}

ozzie::kept_record kept(std::string client, std::string key, sys_seconds created = floor<seconds>(system_clock::now())) {
    ozzie::kept_record r;
    r.client_id = std::move(client);
    r.key = std::move(key);
    r.fingerprint = std::string("\x00\xff\x10\"\\", 5) + std::string(27, '\x7f');  // 32 raw bytes
    r.created_at = created;
    r.answer.status = 201;
    r.answer.headers.emplace_back("ETag", "\"3f2a9c1e0b7d4a65\"");
    r.answer.headers.emplace_back("Location", "/v1/users/ozz_usr_x \xC3\xA9");
    r.answer.body = std::string("{\"a\":\"\x00\xfe\xff\\\"}", 12);
    return r;
}

class user_factory {
public:
    user make(std::string client_id, std::string external_user_id) {
        const auto now = time_point_cast<milliseconds>(system_clock::now());
        const auto id = ids_.next(now);
        user u;
        u.id = std::string(ozzie::user_id_prefix) + id.text;
        u.client_id = std::move(client_id);
        u.external_user_id = std::move(external_user_id);
        u.language = "en";
        u.created_at = time_point_cast<seconds>(id.time);
        return u;
    }
    user make_full(std::string client_id, std::string external_user_id) {
        user u = make(std::move(client_id), std::move(external_user_id));
        u.name = "Maria Santos";
        u.email = "maria@example.com";
        u.phone = "+15551234567";
        u.language = "pt";
        u.stage = onboarding_stage::active;
        return u;
    }

private:
    ozzie::ulid_generator ids_;
};

// A migrated database of its own and a store on it.
struct store_fixture : fresh_database {
    std::unique_ptr<ozzie::postgres_store> store;
    user_factory users;

    store_fixture() {
        pg::migrate(conn.get());
        store = std::make_unique<ozzie::postgres_store>(url(), std::vector<std::string>{}, hours(24));
    }

    ozzie::result<std::vector<bool>> insert(const std::vector<user>& batch,
                                            const ozzie::store::keep_answers& keep = {}) {
        return store->insert(std::span<const user>(batch), keep);
    }
    ozzie::result<void> update(const std::vector<ozzie::store::change>& changes,
                               const std::vector<ozzie::kept_record>& kept = {}) {
        return store->update(changes, kept);
    }
    ozzie::result<void> remove(const std::vector<user>& gone, const std::vector<ozzie::kept_record>& kept = {}) {
        return store->remove(gone, kept);
    }

    // The user is stored and found both ways, exactly as given.
    void check_stored(const user& u) {
        BOOST_TEST(describe(store->get({}, ulid_of(u))) == describe(u));
        BOOST_TEST(describe(store->find_external(u.client_id, u.external_user_id)) == describe(u));
    }
    void check_absent(const user& u) {
        BOOST_TEST(outcome(store->get({}, ulid_of(u))) == "NOT_FOUND");
    }
    long long count(const std::string& sql) { return pg::query_integer(conn.get(), sql); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(postgres_store)

BOOST_FIXTURE_TEST_CASE(refuses_a_database_without_the_schema, fresh_database) {
    try {
        ozzie::postgres_store store(url(), {}, hours(24));
        BOOST_FAIL("a store opened on an empty database");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(ozzie::testing::contains(e.what(), "ozzie-admin migrate --postgres URL"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(refuses_a_database_it_cannot_reach) {
    ozzie::testing::unused_port port;
    BOOST_CHECK_THROW(ozzie::postgres_store("postgresql://ozzie@127.0.0.1:" + std::to_string(port.port()) + "/x", {},
                                            hours(24)),
                      std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(users_round_trip_every_field, store_fixture) {
    user full = users.make_full("c", "usr_8821");
    user bare = users.make("c", "bare");  // absent optionals
    user odd = users.make("client.id-1_x", "a/b:c?d e \"q\" \\ {x,y} NULL \xC3\xA9 \xF0\x9F\x98\x80");
    odd.name = "";  // present but empty is not absent
    odd.email = "NULL";
    odd.phone = std::string(300, '9');
    odd.language = "es";
    odd.stage = onboarding_stage::plan_pending;
    odd.created_at = sys_seconds{seconds{-86400}};  // before the epoch
    BOOST_TEST(flags(insert({full, bare, odd})) == "1,1,1");
    check_stored(full);
    check_stored(bare);
    check_stored(odd);
    BOOST_TEST(count("select count(*) from users where name is null and email is null and phone is null") == 1);
}

BOOST_FIXTURE_TEST_CASE(unknown_ids_are_not_found, store_fixture) {
    const user u = users.make("c", "x");
    BOOST_TEST(outcome(store->get({}, ulid_of(u))) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_external("c", "x")) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_kept("c", "key")) == "NOT_FOUND");
    BOOST_TEST(flags(insert({u})) == "1");
    BOOST_TEST(outcome(store->find_external("d", "x")) == "NOT_FOUND");  // another client's
    BOOST_TEST(outcome(store->get({}, ulid_of(u))) == "ok");  // by id, whatever the client
}

BOOST_FIXTURE_TEST_CASE(an_empty_batch_stores_nothing, store_fixture) {
    BOOST_TEST(flags(insert({})) == "");
    BOOST_TEST(count("select count(*) from users") == 0);
}

BOOST_FIXTURE_TEST_CASE(conflicts_within_a_batch_and_against_the_table, store_fixture) {
    const user a = users.make_full("c", "a");
    const user a_again = users.make("c", "a");
    const user b = users.make("c", "b");
    const user a_third = users.make("c", "a");
    const user b_other_client = users.make("d", "b");
    BOOST_TEST(flags(insert({a, a_again, b, a_third, b_other_client})) == "1,0,1,0,1");
    check_stored(a);
    check_stored(b);
    check_stored(b_other_client);
    check_absent(a_again);
    check_absent(a_third);
    // Against the table: the first stays as it was.
    const user intruder = users.make("c", "a");
    const user fresh = users.make("c", "fresh");
    BOOST_TEST(flags(insert({intruder, fresh})) == "0,1");
    check_absent(intruder);
    check_stored(a);
    check_stored(fresh);
    // Case matters; client and external id do not run together.
    const user upper = users.make("c", "A");
    const user split_1 = users.make("x", "yz");
    const user split_2 = users.make("xy", "z");
    BOOST_TEST(flags(insert({upper, split_1, split_2})) == "1,1,1");
}

BOOST_FIXTURE_TEST_CASE(what_the_database_cannot_store_fails_the_whole_batch, store_fixture) {
    const user a = users.make("c", "a");
    BOOST_TEST(flags(insert({a})) == "1");
    // An id taken (the writer's ULIDs never repeat; this would be a bug): an error, not a 409,
    // and nothing of the batch is stored.
    user same_id = users.make("c", "other");
    same_id.id = a.id;
    const user fresh = users.make("c", "fresh");
    BOOST_TEST(flags(insert({fresh, same_id})) == "error: INTERNAL_ERROR");
    check_absent(fresh);
    // PostgreSQL's text holds no NUL (which a JSON name may carry as \u0000).
    user nul = users.make("c", "nul");
    nul.name = std::string("nul\0inside", 10);
    BOOST_TEST(flags(insert({nul})) == "error: INTERNAL_ERROR");
    check_absent(nul);
    BOOST_TEST(count("select count(*) from users") == 1);
}

BOOST_FIXTURE_TEST_CASE(kept_answers_go_in_the_same_transaction_as_the_users, store_fixture) {
    const user a = users.make("c", "a");
    const user a_again = users.make("c", "a");
    std::vector<bool> seen;
    BOOST_TEST(flags(insert({a, a_again}, [&](const std::vector<bool>& stored) {
                   seen = stored;
                   std::vector<ozzie::kept_record> k;
                   k.push_back(kept("c", "key-1"));
                   return k;
               })) == "1,0");
    BOOST_TEST(seen == (std::vector<bool>{true, false}), boost::test_tools::per_element());
    const auto found = store->find_kept("c", "key-1");
    BOOST_TEST_REQUIRE(outcome(found) == "ok");
    const auto expected = kept("c", "key-1", found->created_at);
    BOOST_TEST(found->fingerprint == expected.fingerprint);
    BOOST_TEST(found->answer.status == 201u);
    BOOST_TEST((found->answer == expected.answer));
    BOOST_TEST(found->created_at.time_since_epoch().count() == kept("c", "x").created_at.time_since_epoch().count(),
               "created at (the clock may have ticked)");
    BOOST_TEST(outcome(store->find_kept("d", "key-1")) == "NOT_FOUND");
    // Keys kept with no user at all.
    BOOST_TEST(flags(insert({}, [](const std::vector<bool>&) {
                   std::vector<ozzie::kept_record> k;
                   k.push_back(kept("c", "key-2"));
                   return k;
               })) == "");
    BOOST_TEST(outcome(store->find_kept("c", "key-2")) == "ok");
}

BOOST_FIXTURE_TEST_CASE(a_live_kept_answer_is_never_overwritten_an_expired_one_is, store_fixture) {
    auto first = kept("c", "live");
    first.answer.status = 200;
    auto old = kept("c", "old", floor<seconds>(system_clock::now()) - hours(48));
    old.answer.status = 200;
    BOOST_TEST(outcome(update({}, {first, old})) == "ok");
    BOOST_TEST(store->find_kept("c", "old")->answer.status == 200u);
    BOOST_TEST(outcome(update({}, {kept("c", "live"), kept("c", "old")})) == "ok");
    BOOST_TEST(store->find_kept("c", "live")->answer.status == 200u);  // alive: kept as it was
    BOOST_TEST(store->find_kept("c", "old")->answer.status == 201u);   // expired: replaced
}

BOOST_FIXTURE_TEST_CASE(list_pages_both_ways_with_and_without_a_stage, store_fixture) {
    // 23 users of client c (stages 0,1,2 in turn), and some of another client between them.
    std::vector<user> mine, batch;
    for (int i = 0; i < 23; ++i) {
        user u = users.make("c", "u" + std::to_string(i));
        u.stage = static_cast<onboarding_stage>(i % 3);
        mine.push_back(u);
        batch.push_back(u);
        if (i % 5 == 0) batch.push_back(users.make("other", "u" + std::to_string(i)));
    }
    BOOST_TEST_REQUIRE(flags(insert(batch)).find('0') == std::string::npos);
    std::vector<std::string> newest_first;
    for (auto it = mine.rbegin(); it != mine.rend(); ++it) newest_first.push_back(it->id);

    for (const std::optional<onboarding_stage> stage :
         {std::optional<onboarding_stage>{}, std::optional{onboarding_stage::plan_pending}}) {
        std::vector<std::string> expected;
        for (auto it = mine.rbegin(); it != mine.rend(); ++it)
            if (!stage || it->stage == *stage) expected.push_back(it->id);
        // Older pages from the newest, 7 at a time.
        std::vector<std::string> read;
        std::string cursor;
        int pages = 0;
        for (;; ++pages) {
            const auto page = store->list({.client_id = "c", .stage = stage, .cursor = cursor, .newer = false, .limit = 7});
            BOOST_TEST_REQUIRE(outcome(page) == "ok");
            for (const auto& u : page->users) read.push_back(u.id);
            if (!page->has_more) break;
            cursor = ulid_of(page->users.back());
            BOOST_TEST_REQUIRE(pages < 10);
        }
        BOOST_TEST(read == expected, boost::test_tools::per_element());
        BOOST_TEST(pages == static_cast<int>((expected.size() - 1) / 7));
        // Back from the oldest: each page the 7 just newer than the cursor, newest first.
        std::vector<std::string> back;  // oldest first
        cursor = expected.back().substr(ozzie::user_id_prefix.size());
        for (int guard = 0;; ++guard) {
            const auto page = store->list({.client_id = "c", .stage = stage, .cursor = cursor, .newer = true, .limit = 7});
            BOOST_TEST_REQUIRE(outcome(page) == "ok");
            BOOST_TEST_REQUIRE(!page->users.empty());
            BOOST_TEST(std::is_sorted(page->users.begin(), page->users.end(),
                                      [](const user& x, const user& y) { return x.id > y.id; }));
            for (auto it = page->users.rbegin(); it != page->users.rend(); ++it) back.push_back(it->id);
            if (!page->has_more) break;
            cursor = ulid_of(page->users.front());
            BOOST_TEST_REQUIRE(guard < 10);
        }
        std::vector<std::string> expected_back(expected.rbegin() + 1, expected.rend());
        BOOST_TEST(back == expected_back, boost::test_tools::per_element());
    }
    // The empty client, and a limit of one.
    const auto none = store->list({.client_id = "nobody", .stage = {}, .cursor = {}, .newer = false, .limit = 10});
    BOOST_TEST(none->users.empty());
    BOOST_TEST(!none->has_more);
    const auto one = store->list({.client_id = "c", .stage = {}, .cursor = {}, .newer = false, .limit = 1});
    BOOST_TEST(ids_of(*one) == std::vector<std::string>{newest_first.front()}, boost::test_tools::per_element());
    BOOST_TEST(one->has_more);
    // The oldest 3 through `newer` from an empty cursor: newest first, more beyond.
    const auto oldest = store->list({.client_id = "c", .stage = {}, .cursor = {}, .newer = true, .limit = 3});
    BOOST_TEST(ids_of(*oldest) == (std::vector<std::string>{mine[2].id, mine[1].id, mine[0].id}),
               boost::test_tools::per_element());
    BOOST_TEST(oldest->has_more);
    // A cursor that is no user's.
    const auto from_middle = store->list(
        {.client_id = "c", .stage = {}, .cursor = ulid_of(mine[10]) + "", .newer = false, .limit = 2});
    BOOST_TEST(ids_of(*from_middle) == (std::vector<std::string>{mine[9].id, mine[8].id}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(updates_move_external_ids_and_stages, store_fixture) {
    const user a = users.make("c", "a");
    const user b = users.make("c", "b");
    const user d = users.make("c", "d");
    BOOST_TEST(flags(insert({a, b, d})) == "1,1,1");
    // a and b swap their external ids; d moves to a new one and on in stage, with a name.
    user a2 = a, b2 = b, d2 = d;
    a2.external_user_id = "b";
    b2.external_user_id = "a";
    d2.external_user_id = "e";
    d2.stage = onboarding_stage::active;
    d2.name = "Dee";
    std::vector<ozzie::kept_record> k;
    k.push_back(kept("c", "update-key"));
    BOOST_TEST(outcome(update({{a, a2}, {b, b2}, {d, d2}}, k)) == "ok");
    check_stored(a2);
    check_stored(b2);
    check_stored(d2);
    BOOST_TEST(outcome(store->find_external("c", "d")) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_kept("c", "update-key")) == "ok");
    const auto active = store->list({.client_id = "c", .stage = onboarding_stage::active, .cursor = {}, .newer = false, .limit = 10});
    BOOST_TEST(ids_of(*active) == std::vector<std::string>{d.id}, boost::test_tools::per_element());
    // d's old external id is free again.
    const user d_again = users.make("c", "d");
    BOOST_TEST(flags(insert({d_again})) == "1");
}

BOOST_FIXTURE_TEST_CASE(a_stale_update_is_a_conflict_and_writes_nothing, store_fixture) {
    const user a = users.make("c", "a");
    const user b = users.make("c", "b");
    BOOST_TEST(flags(insert({a, b})) == "1,1");
    user a2 = a;
    a2.name = "first";
    BOOST_TEST(outcome(update({{a, a2}})) == "ok");
    // Another writer's view of a, as it was before: stale. b's change in the same call is not
    // written either, nor its kept answer.
    user a3 = a;
    a3.name = "second";
    user b2 = b;
    b2.stage = onboarding_stage::plan_pending;
    std::vector<ozzie::kept_record> k;
    k.push_back(kept("c", "stale-key"));
    BOOST_TEST(outcome(update({{b, b2}, {a, a3}}, k)) == "CONFLICT");
    check_stored(a2);
    check_stored(b);
    BOOST_TEST(outcome(store->find_kept("c", "stale-key")) == "NOT_FOUND");
    // A new external id taken since it was read (by a user outside the call): conflict too.
    user b3 = b;
    b3.external_user_id = "a";
    BOOST_TEST(outcome(update({{b, b3}})) == "CONFLICT");
    check_stored(b);
    // A user deleted since: conflict.
    BOOST_TEST(outcome(remove({a2})) == "ok");
    user a4 = a2;
    a4.language = "es";
    BOOST_TEST(outcome(update({{a2, a4}})) == "CONFLICT");
    check_absent(a2);
}

BOOST_FIXTURE_TEST_CASE(removals_check_the_user_as_read, store_fixture) {
    const user a = users.make_full("c", "a");
    const user b = users.make("c", "b");
    BOOST_TEST(flags(insert({a, b})) == "1,1");
    user stale_b = b;
    stale_b.language = "es";  // not as stored
    BOOST_TEST(outcome(remove({a, stale_b})) == "CONFLICT");
    check_stored(a);
    check_stored(b);
    std::vector<ozzie::kept_record> k;
    k.push_back(kept("c", "delete-key"));
    BOOST_TEST(outcome(remove({a, b}, k)) == "ok");
    check_absent(a);
    check_absent(b);
    BOOST_TEST(outcome(store->find_external("c", "a")) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_kept("c", "delete-key")) == "ok");
    BOOST_TEST(outcome(remove({a})) == "CONFLICT");  // gone already
    const user a_again = users.make("c", "a");
    BOOST_TEST(flags(insert({a_again})) == "1");
}

BOOST_FIXTURE_TEST_CASE(probes_figures_and_what_is_left_to_the_database_tools, store_fixture) {
    BOOST_TEST(outcome(store->probe_write()) == "ok");
    const auto f = store->stats();
    BOOST_TEST(f.writable);
    BOOST_TEST(f.block_cache_hits == 0u);
    BOOST_TEST(f.live_data_bytes == 0u);
    const auto compacted = store->compact();
    BOOST_TEST_REQUIRE(outcome(compacted) == "NOT_FOUND");
    BOOST_TEST(compacted.error().message.find("VACUUM") != std::string::npos, compacted.error().message);
    const auto copied = store->checkpoint("/nonexistent/x");
    BOOST_TEST_REQUIRE(outcome(copied) == "NOT_FOUND");
    BOOST_TEST(copied.error().message.find("pg_basebackup") != std::string::npos, copied.error().message);
}

BOOST_FIXTURE_TEST_CASE(expired_kept_answers_are_deleted_periodically, fresh_database) {
    pg::migrate(conn.get());
    ozzie::postgres_store_options o;
    o.url = url();
    o.idempotency_ttl = seconds(60);
    o.idempotency_purge_period = milliseconds(100);
    // Answers of every age: long expired (days apart: many purge windows), expired a minute
    // ago, and alive (for the next 40 s at least, longer than this test).
    const auto now = floor<seconds>(system_clock::now()).time_since_epoch().count();
    const std::vector<std::pair<std::string, long long>> ages = {
        {"ten-days", now - 10 * 86400}, {"three-days", now - 3 * 86400}, {"three-days-later", now - 3 * 86400 + 30},
        {"two-minutes", now - 120},     {"alive", now - 20},             {"new", now}};
    for (const auto& [key, created] : ages)
        pg::exec(conn.get(), "insert into idempotency_keys values ('c', '" + key + "', '\\x00', " +
                                 std::to_string(created) + ", 200, '[]', '')");
    // Through the store too.
    const auto store = std::make_unique<ozzie::postgres_store>(o);
    const std::vector<ozzie::kept_record> old{kept("c", "kept-old", floor<seconds>(system_clock::now()) - hours(2))};
    BOOST_TEST(outcome(store->update({}, old)) == "ok");
    const auto left = [&] { return pg::query_integer(conn.get(), "select count(*) from idempotency_keys"); };
    BOOST_TEST(ozzie::testing::eventually([&] { return left() == 2; }, seconds(10)));
    BOOST_TEST(pg::query_integer(conn.get(),
                                 "select count(*) from idempotency_keys where idempotency_key in ('alive', 'new')") == 2);
    BOOST_TEST(outcome(store->find_kept("c", "alive")) == "ok");
    BOOST_TEST(outcome(store->find_kept("c", "kept-old")) == "NOT_FOUND");
}

namespace {

struct async_answers {
    std::string by_id, by_external, kept_status, page, missing;
};

awaitable<void> read_async(const ozzie::postgres_store& store, user u, async_answers* out) {
    out->by_id = describe(co_await store.async_get({}, ulid_of(u)));
    out->by_external = describe(co_await store.async_find_external(u.client_id, u.external_user_id));
    const auto k = co_await store.async_find_kept(u.client_id, "async-key");
    out->kept_status = k ? std::to_string(k->answer.status) : outcome(k);
    ozzie::store::list_range range;
    range.client_id = u.client_id;
    const auto page = co_await store.async_list(range);
    out->page = page ? std::to_string(page->users.size()) + (page->has_more ? "+" : "") : outcome(page);
    out->missing = outcome(co_await store.async_get({}, "01ARZ3NDEKTSV4RRFFQ69G5FAV"));
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(coroutine_reads_answer_as_the_blocking_ones_on_the_callers_io_context, store_fixture) {
    const user u = users.make_full("c", "async");
    BOOST_TEST(flags(insert({u}, [](const std::vector<bool>&) {
                   std::vector<ozzie::kept_record> k;
                   k.push_back(kept("c", "async-key"));
                   return k;
               })) == "1");
    // Twice, each time on a new io_context of this thread: each gets a pool of its own.
    for (int round = 0; round < 2; ++round) {
        async_answers out;
        run_coroutine([&](executor) { return read_async(*store, u, &out); });
        BOOST_TEST(out.by_id == describe(u));
        BOOST_TEST(out.by_external == describe(u));
        BOOST_TEST(out.kept_status == "201");
        BOOST_TEST(out.page == "1");
        BOOST_TEST(out.missing == "NOT_FOUND");
    }
}

BOOST_FIXTURE_TEST_CASE(a_pool_outlives_its_store_harmlessly, fresh_database) {
    pg::migrate(conn.get());
    boost::asio::io_context io;
    async_answers first, second;
    user_factory users;
    const user u = users.make("c", "x");
    {
        ozzie::postgres_store store(url(), {}, hours(24));
        BOOST_TEST(flags(store.insert(std::vector<user>{u}, {})) == "1");
        run_coroutine(io, [&](executor) { return read_async(store, u, &first); });
    }
    // A second store (perhaps at the same address) on the same io_context: a pool of its own.
    ozzie::postgres_store store(url(), {}, hours(24));
    run_coroutine(io, [&](executor) { return read_async(store, u, &second); });
    BOOST_TEST(first.by_id == describe(u));
    BOOST_TEST(second.by_id == describe(u));
}

BOOST_FIXTURE_TEST_CASE(blocking_reads_from_many_threads_beside_the_writer, store_fixture) {
    const user first = users.make("c", "first");
    BOOST_TEST(flags(insert({first})) == "1");
    // Threads read while this one writes; they only count outcomes (Boost.Test is called from
    // this thread alone).
    std::atomic<int> found{0}, failed{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t)
        readers.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                const auto got = store->get({}, ulid_of(first));
                const auto page = store->list({.client_id = "c", .stage = {}, .cursor = {}, .newer = false, .limit = 5});
                (got && page ? found : failed).fetch_add(1);
            }
        });
    std::string writes;
    for (int i = 0; i < 20; ++i) writes += flags(insert({users.make("c", "w" + std::to_string(i))}));
    for (auto& r : readers) r.join();
    BOOST_TEST(writes == std::string(20, '1'));
    BOOST_TEST(found.load() == 200);
    BOOST_TEST(failed.load() == 0);
}

// Another node's transaction (here a session of the test) locks a's and b's rows in the order
// opposite to the writer's: PostgreSQL breaks the deadlock by rolling one of them back. The other
// session waits far longer before it checks (deadlock_timeout 30 s against the default 1 s), so
// the writer's transaction is the one rolled back; the store tries it again, and it succeeds
// once the other session is done, instead of answering unavailable.
BOOST_FIXTURE_TEST_CASE(a_write_rolled_back_for_a_deadlock_is_tried_again, store_fixture) {
    const user a = users.make("c", "a");
    const user b = users.make("c", "b");
    BOOST_TEST_REQUIRE(flags(insert({a, b})) == "1,1");
    user a2 = a, b2 = b;
    a2.name = "A";
    b2.name = "B";
    // The writer takes its rows by id: a's first (made first), then b's.
    const auto other = pg::connect(url());
    pg::exec(other.get(), "set deadlock_timeout = '30s'; begin; select 1 from users where id = '" + ulid_of(b) +
                              "' for update");
    std::optional<ozzie::result<void>> written;
    std::thread writer([&] { written = update({{b, b2}, {a, a2}}); });
    // Once the writer holds a's row and waits for b's, the other session asks for a's.
    const auto waiting = [&] {
        return count("select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = '" + name() +
                     "'");
    };
    const auto until = steady_clock::now() + seconds(60);
    while (waiting() == 0 && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(10));
    BOOST_TEST(waiting() == 1);
    BOOST_TEST_REQUIRE(PQsendQuery(other.get(), ("select 1 from users where id = '" + ulid_of(a) + "' for update").c_str()) == 1);
    // It gets the row once the writer's transaction is rolled back (its own deadlock check would
    // only come after 30 s).
    std::string answer;
    while (PGresult* r = PQgetResult(other.get())) {
        if (answer.empty()) answer = PQresStatus(PQresultStatus(r)) + std::string(" ") + PQresultErrorMessage(r);
        PQclear(r);
    }
    BOOST_TEST(answer.starts_with("PGRES_TUPLES_OK"), answer);
    // The writer tries again, waits for the other session, and succeeds once it is done.
    pg::exec(other.get(), "rollback");
    writer.join();
    BOOST_TEST_REQUIRE(written.has_value());
    BOOST_TEST(outcome(*written) == "ok");
    check_stored(a2);
    check_stored(b2);
}

BOOST_AUTO_TEST_CASE(an_outage_answers_unavailable_at_once_and_the_store_recovers_by_itself) {
    ozzie::testing::postgres_cluster cluster;
    pg::migrate(pg::connect(cluster.url()).get());
    ozzie::postgres_store store(cluster.url(), {}, hours(24));
    user_factory users;
    const user before = users.make("c", "before");
    BOOST_TEST(flags(store.insert(std::vector<user>{before}, {})) == "1");
    BOOST_TEST(outcome(store.get({}, ulid_of(before))) == "ok");

    cluster.stop();
    const user during = users.make("c", "during");
    const auto began = steady_clock::now();
    // The first calls on each connection find it broken; the next ones fail at once.
    std::string write, read, probe;
    for (int i = 0; i < 3; ++i) {
        write = flags(store.insert(std::vector<user>{during}, {}));
        read = outcome(store.get({}, ulid_of(before)));
        probe = outcome(store.probe_write());
    }
    const auto took = duration<double>(steady_clock::now() - began).count();
    BOOST_TEST(write == "error: SERVICE_UNAVAILABLE");
    BOOST_TEST(read == "SERVICE_UNAVAILABLE");
    BOOST_TEST(probe == "SERVICE_UNAVAILABLE");
    BOOST_TEST(took < 3.0);
    BOOST_TEST(!store.stats().writable);

    cluster.start();
    const auto until = steady_clock::now() + seconds(20);
    std::string again;
    while (steady_clock::now() < until) {
        again = flags(store.insert(std::vector<user>{during}, {}));
        if (again == "1") break;
        std::this_thread::sleep_for(milliseconds(50));
    }
    BOOST_TEST(again == "1");
    BOOST_TEST(store.stats().writable);
    BOOST_TEST(outcome(store.get({}, ulid_of(during))) == "ok");
    BOOST_TEST(outcome(store.get({}, ulid_of(before))) == "ok");
}

BOOST_AUTO_TEST_SUITE_END()
