// The RocksDB store (source/storage/rocksdb/rocksdb_store.hpp) and its encoding (source/storage/rocksdb/encoding.hpp).
#include <boost/test/unit_test.hpp>

#include "service/ulid.hpp"
#include "storage/rocksdb/encoding.hpp"
#include "storage/rocksdb/rocksdb_store.hpp"
#include "storage/rocksdb/row_cache.hpp"

#include "storage/power_loss_fs.hpp"
#include "storage/same_user.hpp"
#include "storage/spawn_self.hpp"
#include "support/result_text.hpp"
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/statistics.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using ozzie::testing::check_same_user;
using ozzie::testing::flags;
using ozzie::testing::opt;
using ozzie::testing::outcome;
using ozzie::testing::ulid_of;

using namespace std::chrono;


// Builds users by hand: ids from a ULID generator, created_at in whole seconds.
class user_factory {
public:
    ozzie::user make(std::string client_id, std::string external_user_id) {
        const auto now = time_point_cast<milliseconds>(system_clock::now());
        const auto id = ids_.next(now);
        ozzie::user u;
        u.id = std::string(ozzie::user_id_prefix) + id.text;
        u.client_id = std::move(client_id);
        u.external_user_id = std::move(external_user_id);
        u.language = "en";
        u.stage = ozzie::onboarding_stage::intake_pending;
        u.created_at = time_point_cast<seconds>(id.time);
        return u;
    }

    ozzie::user make_full(std::string client_id, std::string external_user_id) {
        ozzie::user u = make(std::move(client_id), std::move(external_user_id));
        u.name = "Maria Santos";
        u.email = "maria@example.com";
        u.phone = "+15551234567";
        u.language = "pt";
        u.stage = ozzie::onboarding_stage::active;
        return u;
    }

private:
    ozzie::ulid_generator ids_;
};

// The users the crash tests' child stores before it is killed.
constexpr int crash_users = 20;

ozzie::user crash_user(user_factory& users, int i) {
    ozzie::user u = users.make_full("crash_client", "crash_" + std::to_string(i));
    u.name = "crash user " + std::to_string(i);
    return u;
}

// The journal of synced sizes of a power-loss child storing in `data_dir`.
std::filesystem::path sync_journal(const std::filesystem::path& data_dir) {
    return data_dir.parent_path() / "sync-journal";
}

// A fresh temp dir per test and a store opened in it.
struct store_fixture {
    ozzie::testing::temp_dir dir;
    ozzie::store_options options;
    std::unique_ptr<ozzie::rocksdb_store> store;
    user_factory users;

    store_fixture() {
        options.data_dir = dir.path() / "db";
        open();
    }
    ~store_fixture() { store.reset(); }  // close before the temp dir goes

    void open() { store = std::make_unique<ozzie::rocksdb_store>(options); }
    void reopen() {
        store.reset();
        open();
    }

    ozzie::result<std::vector<bool>> insert(const std::vector<ozzie::user>& batch) {
        return store->insert(std::span<const ozzie::user>(batch), {});
    }

    // The user is stored and reachable both ways, and the index points at it.
    void check_stored(const ozzie::user& u) {
        auto got = store->get({}, ulid_of(u));
        BOOST_TEST_REQUIRE(outcome(got) == "ok", "get " << u.id);
        check_same_user(*got, u);
        auto indexed = store->find_external(u.client_id, u.external_user_id);
        BOOST_TEST_REQUIRE(outcome(indexed) == "ok",
                           "find_external " << u.client_id << "/" << u.external_user_id);
        check_same_user(*indexed, u);
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(user_store_basics, store_fixture)

BOOST_AUTO_TEST_CASE(insert_then_get_and_find_external) {
    const ozzie::user u = users.make_full("s2client", "usr_8821");
    BOOST_TEST(flags(insert({u})) == "1");
    check_stored(u);
}

BOOST_AUTO_TEST_CASE(user_with_absent_optionals_round_trips) {
    const ozzie::user u = users.make("s2client", "usr_minimal");
    BOOST_TEST(flags(insert({u})) == "1");
    check_stored(u);
}

BOOST_AUTO_TEST_CASE(every_onboarding_stage_round_trips) {
    std::vector<ozzie::user> batch;
    for (auto stage : {ozzie::onboarding_stage::intake_pending, ozzie::onboarding_stage::plan_pending,
                       ozzie::onboarding_stage::active}) {
        ozzie::user u = users.make("c", "stage_" + std::to_string(static_cast<int>(stage)));
        u.stage = stage;
        batch.push_back(u);
    }
    BOOST_TEST(flags(insert(batch)) == "1,1,1");
    for (const auto& u : batch) check_stored(u);
}

BOOST_AUTO_TEST_CASE(unusual_values_round_trip) {
    ozzie::user u = users.make("client.id-1_x", "a/b:c?d e \xC3\xA9 \xF0\x9F\x98\x80");
    u.name = std::string("nul\0inside", 10);
    u.email = "";  // present but empty is not absent
    u.phone = std::string(300, '9');
    u.language = "es";
    u.created_at = sys_seconds{seconds{-86400}};  // before the epoch
    BOOST_TEST(flags(insert({u})) == "1");
    check_stored(u);
}

BOOST_AUTO_TEST_CASE(get_of_unknown_ulid_is_not_found) {
    ozzie::ulid_generator gen;
    const auto unknown = gen.next(time_point_cast<milliseconds>(system_clock::now())).text;
    BOOST_TEST(outcome(store->get({}, unknown)) == "NOT_FOUND");
    // Also after something else was stored.
    BOOST_TEST(flags(insert({users.make("c", "e")})) == "1");
    BOOST_TEST(outcome(store->get({}, unknown)) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(find_external_of_unknown_is_not_found) {
    BOOST_TEST(outcome(store->find_external("c", "nobody")) == "NOT_FOUND");
    BOOST_TEST(flags(insert({users.make("c", "somebody")})) == "1");
    BOOST_TEST(outcome(store->find_external("c", "nobody")) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_external("c", "somebod")) == "NOT_FOUND");  // no prefix match
    BOOST_TEST(outcome(store->find_external("c", "somebody2")) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_external("other", "somebody")) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(empty_batch_stores_nothing) {
    BOOST_TEST(flags(insert({})) == "");
}

BOOST_AUTO_TEST_CASE(duplicate_within_one_batch_keeps_only_the_first) {
    const ozzie::user first = users.make_full("c", "dup");
    const ozzie::user second = users.make("c", "dup");
    BOOST_TEST(flags(insert({first, second})) == "1,0");
    check_stored(first);
    BOOST_TEST(outcome(store->get({}, ulid_of(second))) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(mixed_batch_stores_the_free_ones) {
    const ozzie::user a = users.make("c", "a");
    const ozzie::user a_again = users.make("c", "a");
    const ozzie::user b = users.make("c", "b");
    const ozzie::user a_third = users.make("c", "a");
    const ozzie::user b_other_client = users.make("d", "b");
    BOOST_TEST(flags(insert({a, a_again, b, a_third, b_other_client})) == "1,0,1,0,1");
    check_stored(a);
    check_stored(b);
    check_stored(b_other_client);
    BOOST_TEST(outcome(store->get({}, ulid_of(a_again))) == "NOT_FOUND");
    BOOST_TEST(outcome(store->get({}, ulid_of(a_third))) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(same_external_id_under_two_clients_is_two_users) {
    const ozzie::user mine = users.make("client_a", "usr_8821");
    const ozzie::user theirs = users.make("client_b", "usr_8821");
    BOOST_TEST(flags(insert({mine, theirs})) == "1,1");
    check_stored(mine);
    check_stored(theirs);
}

BOOST_AUTO_TEST_CASE(client_and_external_id_do_not_run_together) {
    // ("a", "bc") and ("ab", "c") must be different index keys.
    const ozzie::user one = users.make("a", "bc");
    const ozzie::user two = users.make("ab", "c");
    BOOST_TEST(flags(insert({one, two})) == "1,1");
    check_stored(one);
    check_stored(two);
}

BOOST_AUTO_TEST_CASE(conflict_against_an_existing_user) {
    const ozzie::user original = users.make_full("c", "usr_8821");
    BOOST_TEST(flags(insert({original})) == "1");
    const ozzie::user intruder = users.make("c", "usr_8821");
    BOOST_TEST(flags(insert({intruder})) == "0");
    BOOST_TEST(outcome(store->get({}, ulid_of(intruder))) == "NOT_FOUND");
    // The index still points at the original, unchanged.
    check_stored(original);
}

BOOST_AUTO_TEST_CASE(external_ids_differing_only_in_case_are_different) {
    const ozzie::user lower = users.make("c", "usr_a");
    const ozzie::user upper = users.make("c", "USR_A");
    BOOST_TEST(flags(insert({lower, upper})) == "1,1");
    check_stored(lower);
    check_stored(upper);
}

BOOST_AUTO_TEST_CASE(index_is_consistent_for_many_users) {
    std::vector<ozzie::user> all;
    for (int batch = 0; batch < 10; ++batch) {
        std::vector<ozzie::user> users_of_batch;
        for (int i = 0; i < 30; ++i) {
            users_of_batch.push_back(users.make("client_" + std::to_string(i % 3),
                                                "ext_" + std::to_string(batch) + "_" +
                                                    std::to_string(i)));
        }
        auto r = insert(users_of_batch);
        BOOST_TEST_REQUIRE(outcome(r) == "ok");
        BOOST_TEST(r->size() == users_of_batch.size());
        for (bool stored : *r) BOOST_TEST(stored);
        all.insert(all.end(), users_of_batch.begin(), users_of_batch.end());
    }
    for (const auto& u : all) check_stored(u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_store_persistence, store_fixture)

BOOST_AUTO_TEST_CASE(users_survive_close_and_reopen) {
    const ozzie::user full = users.make_full("s2client", "usr_8821");
    const ozzie::user minimal = users.make("s2client", "usr_minimal");
    ozzie::user other = users.make("other", "usr_8821");
    other.name = "Jo\xC3\xA3o";
    other.stage = ozzie::onboarding_stage::plan_pending;
    BOOST_TEST(flags(insert({full, minimal, other})) == "1,1,1");

    reopen();
    check_stored(full);
    check_stored(minimal);
    check_stored(other);

    // The index survived too: a duplicate is still refused after reopening.
    BOOST_TEST(flags(insert({users.make("s2client", "usr_8821")})) == "0");
    // And the store still takes new users.
    const ozzie::user later = users.make("s2client", "usr_later");
    BOOST_TEST(flags(insert({later})) == "1");

    reopen();
    check_stored(full);
    check_stored(later);
}

BOOST_AUTO_TEST_CASE(refused_duplicate_is_not_there_after_reopen) {
    const ozzie::user first = users.make("c", "dup");
    const ozzie::user second = users.make("c", "dup");
    BOOST_TEST(flags(insert({first, second})) == "1,0");
    reopen();
    check_stored(first);
    BOOST_TEST(outcome(store->get({}, ulid_of(second))) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(sync_false_works_and_persists) {
    store.reset();
    options.sync = false;
    open();
    const ozzie::user u = users.make_full("c", "no_sync");
    BOOST_TEST(flags(insert({u})) == "1");
    check_stored(u);
    reopen();
    check_stored(u);
}

BOOST_AUTO_TEST_CASE(reopen_with_the_other_sync_setting) {
    const ozzie::user u = users.make("c", "switch");
    BOOST_TEST(flags(insert({u})) == "1");
    store.reset();
    options.sync = false;
    open();
    check_stored(u);
}

BOOST_AUTO_TEST_CASE(opening_a_directory_already_open_throws) {
    BOOST_CHECK_THROW(ozzie::rocksdb_store second(options), std::runtime_error);
    // The first one still works.
    const ozzie::user u = users.make("c", "still_works");
    BOOST_TEST(flags(insert({u})) == "1");
    check_stored(u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_store_crash)

namespace {

// For each crash user, whether the store in `data_dir` holds it: its index entry, and a record
// that matches it. An index entry without its record fails the test.
std::vector<bool> crash_users_in(const std::filesystem::path& data_dir) {
    ozzie::store_options options;
    options.data_dir = data_dir;
    ozzie::rocksdb_store store(options);
    std::vector<bool> present;
    for (int i = 0; i < crash_users; ++i) {
        auto indexed = store.find_external("crash_client", "crash_" + std::to_string(i));
        if (!indexed) {
            BOOST_TEST_REQUIRE(outcome(indexed) == "NOT_FOUND");
            present.push_back(false);
            continue;
        }
        BOOST_TEST(indexed->external_user_id == "crash_" + std::to_string(i));
        BOOST_TEST(opt(indexed->name) == opt("crash user " + std::to_string(i)));
        auto got = store.get({}, std::string_view(indexed->id).substr(8));
        BOOST_TEST_REQUIRE(outcome(got) == "ok", "the record of user " << i << " is gone, its index entry is not");
        BOOST_TEST((*got == *indexed));
        present.push_back(true);
    }
    return present;
}

// How many user records the store in `data_dir` holds, counted with RocksDB directly: with
// crash_users_in, that no record outlived its index entry.
std::size_t records_in(const std::filesystem::path& data_dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string_view name : {std::string_view(rocksdb::kDefaultColumnFamilyName), ozzie::encoding::users_cf,
                                        ozzie::encoding::external_ids_cf, ozzie::encoding::meta_cf})
        families.emplace_back(std::string(name), rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    const auto opened = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data_dir.string(), families, &handles, &raw);
    BOOST_TEST_REQUIRE(opened.ok(), opened.ToString());
    std::size_t records = 0;
    {
        const std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[1]));
        for (it->SeekToFirst(); it->Valid(); it->Next()) ++records;
    }
    for (auto* handle : handles) raw->DestroyColumnFamilyHandle(handle);
    delete raw;
    return records;
}

// What survives a crash child (`removes`: it removed the even-numbered users before dying), as
// crash_users_in says, once `lose_power` has cut the files back to what was synced if asked.
std::vector<bool> after_a_crash(const char* child, bool sync, bool removes) {
    ozzie::testing::temp_dir dir;
    const auto data_dir = dir.path() / "db";
    ozzie::testing::run_crash_child(std::string("crash_children/") + child, data_dir, sync, removes);
    if (std::string_view(child) == "store_inserts_then_loses_power")
        BOOST_TEST_MESSAGE("sync " << sync << ": " << ozzie::testing::lose_unsynced_data(sync_journal(data_dir))
                                   << " bytes not synced were lost");
    auto present = crash_users_in(data_dir);
    const auto kept = static_cast<std::size_t>(std::count(present.begin(), present.end(), true));
    BOOST_TEST(records_in(data_dir) == kept, "records without their index entry");
    return present;
}

// Every user stored, and (with `removes`) exactly the odd-numbered ones.
std::vector<bool> expected(bool removes) {
    std::vector<bool> present;
    for (int i = 0; i < crash_users; ++i) present.push_back(!removes || i % 2 == 1);
    return present;
}

}  // namespace

BOOST_AUTO_TEST_CASE(inserts_survive_a_process_crash_with_sync_true) {
    BOOST_TEST(after_a_crash("store_inserts_then_is_killed", true, false) == expected(false),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(inserts_survive_a_process_crash_with_sync_false) {
    BOOST_TEST(after_a_crash("store_inserts_then_is_killed", false, false) == expected(false),
               boost::test_tools::per_element());
}

// A removal acknowledged before the crash stays done: the user does not come back.
BOOST_AUTO_TEST_CASE(removals_survive_a_process_crash_with_sync_true_and_false) {
    for (const bool sync : {true, false})
        BOOST_TEST_CONTEXT("sync " << sync) {
            BOOST_TEST(after_a_crash("store_inserts_then_is_killed", sync, true) == expected(true),
                       boost::test_tools::per_element());
        }
}

// --sync true promises that a power loss takes nothing acknowledged: every insert returned
// after its WAL sync, so cutting every file back to what was synced keeps them all; and every
// removal returned after its own, so no removed user comes back.
BOOST_AUTO_TEST_CASE(inserts_and_removals_acknowledged_with_sync_true_survive_a_power_loss) {
    BOOST_TEST(after_a_crash("store_inserts_then_loses_power", true, false) == expected(false),
               boost::test_tools::per_element());
    BOOST_TEST(after_a_crash("store_inserts_then_loses_power", true, true) == expected(true),
               boost::test_tools::per_element());
}

// The control: with --sync false the same power loss takes acknowledged inserts (their WAL was
// never synced), so the simulation does drop what a power cut would, and the test above bites.
BOOST_AUTO_TEST_CASE(a_power_loss_takes_inserts_acknowledged_with_sync_false) {
    const auto present = after_a_crash("store_inserts_then_loses_power", false, false);
    BOOST_TEST(std::count(present.begin(), present.end(), true) < crash_users);
}

BOOST_AUTO_TEST_SUITE_END()

// The child processes of the crash tests (disabled: they run only when a crash test starts them).
BOOST_AUTO_TEST_SUITE(crash_children)

namespace {

// One batch, then single inserts, as the commit queue would write them; if the parent asked,
// the removal of every even-numbered user, one write each; then SIGKILL.
[[noreturn]] void insert_crash_users_then_die(ozzie::rocksdb_store& store) {
    user_factory users;
    std::vector<ozzie::user> all;
    for (int i = 0; i < crash_users; ++i) all.push_back(crash_user(users, i));
    const std::span<const ozzie::user> first_half(all.data(), crash_users / 2);
    BOOST_TEST_REQUIRE(outcome(store.insert(first_half, {})) == "ok");
    for (int i = crash_users / 2; i < crash_users; ++i)
        BOOST_TEST_REQUIRE(flags(store.insert(std::span<const ozzie::user>(&all[i], 1), {})) == "1");
    if (ozzie::testing::crash_child_removes())
        for (int i = 0; i < crash_users; i += 2)
            BOOST_TEST_REQUIRE(store.remove(std::span<const ozzie::user>(&all[i], 1), {}).has_value());
    ozzie::testing::die_like_a_crash();
}

}  // namespace

// Not run by itself: the crash tests start this binary again to run just this case, which
// stores users (and removes some, if asked) and then dies by SIGKILL without closing the store.
BOOST_AUTO_TEST_CASE(store_inserts_then_is_killed, *boost::unit_test::disabled()) {
    const auto options = ozzie::testing::crash_child_store_options();
    if (!options) {
        BOOST_TEST_MESSAGE("runs only as the child of a crash test");
        return;
    }
    insert_crash_users_then_die(*new ozzie::rocksdb_store(*options));  // deliberately never closed
}

// The same on a file system that notes what was synced, for the power-loss tests.
BOOST_AUTO_TEST_CASE(store_inserts_then_loses_power, *boost::unit_test::disabled()) {
    const auto options = ozzie::testing::crash_child_store_options();
    if (!options) {
        BOOST_TEST_MESSAGE("runs only as the child of a crash test");
        return;
    }
    const auto file_system = std::make_shared<ozzie::testing::power_loss_fs>(sync_journal(options->data_dir));
    insert_crash_users_then_die(*new ozzie::rocksdb_store(*options, file_system));  // never closed
}

BOOST_AUTO_TEST_SUITE_END()

// The row cache in front of the store's lookups (source/storage/rocksdb/row_cache.hpp).
BOOST_FIXTURE_TEST_SUITE(user_store_row_cache, store_fixture)

BOOST_AUTO_TEST_CASE(a_change_or_removal_is_seen_at_once_by_id_and_by_external_id) {
    const ozzie::user u = users.make_full("rc_client", "rc_old");
    BOOST_TEST_REQUIRE(flags(insert({u})) == "1");
    check_stored(u);  // both lookups now in the cache
    check_stored(u);

    ozzie::user renamed = u;
    renamed.name = "Renamed";
    renamed.external_user_id = "rc_new";
    const std::vector<ozzie::store::change> changes{{u, renamed}};
    BOOST_TEST_REQUIRE(outcome(store->update(changes, {})) == "ok");
    check_stored(renamed);
    BOOST_TEST(outcome(store->find_external("rc_client", "rc_old")) == "NOT_FOUND");

    const std::vector<ozzie::user> gone{renamed};
    BOOST_TEST_REQUIRE(outcome(store->remove(gone, {})) == "ok");
    BOOST_TEST(outcome(store->get({}, ulid_of(u))) == "NOT_FOUND");
    BOOST_TEST(outcome(store->find_external("rc_client", "rc_new")) == "NOT_FOUND");
}

// Readers look the user up without a pause while the writer changes it: a lookup that starts
// after a change is acknowledged never answers the user as it was before (a read that raced
// the write and was kept in the cache after it would).
BOOST_AUTO_TEST_CASE(lookups_racing_changes_never_see_an_acknowledged_change_undone,
                     *boost::unit_test::timeout(120)) {
    options.sync = false;  // writes of microseconds, as long as a lookup: the race is close
    reopen();
    ozzie::user current = users.make_full("rc_client", "rc_racing");
    current.name = "0";
    BOOST_TEST_REQUIRE(flags(insert({current})) == "1");
    constexpr int changes = 20000;
    std::atomic<int> acknowledged{0};
    std::atomic<bool> done{false};
    std::atomic<int> stale{0}, failed{0}, lookups{0};
    const std::string ulid = ulid_of(current);  // the readers' own copy: the writer changes `current`
    const auto read_loop = [&](bool by_external) {
        while (!done.load()) {
            const int floor = acknowledged.load();
            const auto found = by_external ? store->find_external("rc_client", "rc_racing") : store->get({}, ulid);
            if (!found || !found->name) {
                ++failed;
                continue;
            }
            if (std::stoi(*found->name) < floor) ++stale;
            ++lookups;
        }
    };
    std::thread by_id(read_loop, false), by_external(read_loop, true);
    for (int i = 1; i <= changes; ++i) {
        ozzie::user next = current;
        next.name = std::to_string(i);
        const std::vector<ozzie::store::change> change{{current, next}};
        if (outcome(store->update(change, {})) != "ok") ++failed;
        current = next;
        acknowledged.store(i);
    }
    done.store(true);
    by_id.join();
    by_external.join();
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(stale.load() == 0, stale.load() << " lookups answered a user older than an acknowledged change");
    BOOST_TEST(lookups.load() > changes);
}

// The warm-up at open (rocksdb_store::impl::warm_up), done.
void wait_for_warm_up(const ozzie::rocksdb_store& store) {
    const auto deadline = steady_clock::now() + seconds(60);
    while (store.stats().row_cache_warming && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    BOOST_TEST_REQUIRE(!store.stats().row_cache_warming, "the row cache's warm-up did not end in 60 s");
}

// `count` users of client "warm", stored with WAL syncs off (quicker), oldest first.
std::vector<ozzie::user> insert_many(store_fixture& f, int count) {
    std::vector<ozzie::user> made;
    for (int i = 0; i < count; ++i) made.push_back(f.users.make_full("warm", "warm-" + std::to_string(i)));
    for (std::size_t at = 0; at < made.size(); at += 1000) {
        const std::vector<ozzie::user> batch(made.begin() + static_cast<std::ptrdiff_t>(at),
                                             made.begin() + static_cast<std::ptrdiff_t>(std::min(at + 1000, made.size())));
        BOOST_TEST_REQUIRE(outcome(f.insert(batch)) == "ok");
    }
    return made;
}

BOOST_AUTO_TEST_CASE(a_reopened_store_fills_the_cache_with_its_users) {
    options.sync = false;
    reopen();
    const auto stored = insert_many(*this, 3000);
    reopen();
    wait_for_warm_up(*store);
    BOOST_TEST(store->stats().row_cache_warmed == 3000u);
    const auto before = store->stats();
    for (const auto& u : stored) {
        const auto got = store->get({}, ulid_of(u));
        BOOST_TEST_REQUIRE(outcome(got) == "ok");
        check_same_user(*got, u);
    }
    const auto after = store->stats();
    BOOST_TEST(after.row_cache_hits - before.row_cache_hits == 3000u);
    BOOST_TEST(after.row_cache_misses == before.row_cache_misses);
}

BOOST_AUTO_TEST_CASE(a_cache_smaller_than_the_store_holds_its_newest_users) {
    options.sync = false;
    reopen();
    const auto stored = insert_many(*this, 3000);
    options.row_cache_bytes = 64 << 10;  // a few hundred users
    reopen();
    wait_for_warm_up(*store);
    const auto warmed = store->stats().row_cache_warmed;
    BOOST_TEST(warmed > 100u);
    BOOST_TEST(warmed < 1000u);
    const auto hits_of = [&](const ozzie::user& u) {
        const auto before = store->stats().row_cache_hits;
        BOOST_TEST_REQUIRE(outcome(store->get({}, ulid_of(u))) == "ok");
        return store->stats().row_cache_hits - before;
    };
    BOOST_TEST(hits_of(stored.back()) == 1u);   // the newest
    BOOST_TEST(hits_of(stored.front()) == 0u);  // the oldest
}

// The writer changes users while the warm-up reads them: once the warm-up is over, every
// lookup answers each user as last changed (a value the warm-up read before a change and kept
// after it would answer the user as it was).
BOOST_AUTO_TEST_CASE(the_warm_up_never_keeps_a_user_as_it_was_before_a_change, *boost::unit_test::timeout(120)) {
    options.sync = false;  // changes of microseconds: many of them during the warm-up
    reopen();
    auto current = insert_many(*this, 20000);
    reopen();
    std::mt19937 random(20261130);
    std::uniform_int_distribution<std::size_t> pick(0, current.size() - 1);
    int changes = 0;
    for (; store->stats().row_cache_warming; ++changes) {
        auto& u = current[pick(random)];
        ozzie::user next = u;
        next.name = "change " + std::to_string(changes);
        const std::vector<ozzie::store::change> change{{u, next}};
        BOOST_TEST_REQUIRE(outcome(store->update(change, {})) == "ok");
        u = next;
    }
    BOOST_TEST_MESSAGE(changes << " changes during the warm-up");
    BOOST_TEST(changes > 0);
    int stale = 0;
    for (const auto& u : current) {
        const auto got = store->get({}, ulid_of(u));
        BOOST_TEST_REQUIRE(outcome(got) == "ok");
        if (got->name != u.name) ++stale;
    }
    BOOST_TEST(stale == 0, stale << " users answered as they were before a change");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(row_cache_alone)

ozzie::row_cache cache_of(std::size_t bytes) { return ozzie::row_cache(bytes, rocksdb::CreateDBStatistics()); }

std::string found(const ozzie::row_cache& cache, std::string_view key) {
    const auto pinned = cache.find(key);
    return pinned ? std::string(pinned.value()) : "(none)";
}

BOOST_AUTO_TEST_CASE(a_value_kept_is_found_until_forgotten) {
    auto cache = cache_of(1 << 20);
    BOOST_TEST(found(cache, "k") == "(none)");
    cache.keep(cache.before_read("k"), "k", "value");
    BOOST_TEST(found(cache, "k") == "value");
    cache.keep(cache.before_read("k"), "k", "");
    BOOST_TEST(found(cache, "k") == "");
    cache.forget("k");
    BOOST_TEST(found(cache, "k") == "(none)");
}

BOOST_AUTO_TEST_CASE(a_read_with_a_forget_after_its_ticket_is_not_kept) {
    auto cache = cache_of(1 << 20);
    const auto before = cache.before_read("k");
    cache.forget("k");  // the writer changed "k" while it was read
    cache.keep(before, "k", "old");
    BOOST_TEST(found(cache, "k") == "(none)");
    cache.keep(cache.before_read("k"), "k", "new");
    BOOST_TEST(found(cache, "k") == "new");
}

BOOST_AUTO_TEST_CASE(tickets_of_many_reads_refuse_what_a_forget_came_after) {
    auto cache = cache_of(1 << 20);
    const auto tickets = cache.before_reads();
    std::string unchanged = "unchanged";  // in another shard than "changed", whose forget refuses its whole shard
    for (int i = 0; tickets.of(unchanged).shard == tickets.of("changed").shard; ++i)
        unchanged = "unchanged-" + std::to_string(i);
    cache.forget("changed");
    BOOST_TEST(cache.keep_if_room(tickets.of("changed"), "changed", "old"));  // room, but not kept
    BOOST_TEST(found(cache, "changed") == "(none)");
    BOOST_TEST(cache.keep_if_room(tickets.of(unchanged), unchanged, "value"));
    BOOST_TEST(found(cache, unchanged) == "value");
}

BOOST_AUTO_TEST_CASE(keep_if_room_keeps_until_the_cache_is_nine_tenths_full_and_evicts_nothing) {
    auto cache = cache_of(64 << 10);
    const std::string value(100, 'v');
    int kept = 0;
    for (; kept < 10000; ++kept) {
        const auto key = "key-" + std::to_string(kept);
        if (!cache.keep_if_room(cache.before_read(key), key, value)) break;
    }
    BOOST_TEST(kept > 100);
    BOOST_TEST(kept < 1000);
    for (int i = 0; i < kept; i += 50) BOOST_TEST(found(cache, "key-" + std::to_string(i)) == value);
    BOOST_TEST(!cache_of(0).keep_if_room({}, "k", "v"));
}

BOOST_AUTO_TEST_CASE(no_capacity_keeps_nothing) {
    auto cache = cache_of(0);
    cache.keep(cache.before_read("k"), "k", "value");
    BOOST_TEST(found(cache, "k") == "(none)");
    cache.forget("k");
}

BOOST_AUTO_TEST_CASE(the_capacity_bounds_what_is_kept_and_the_latest_stay) {
    auto cache = cache_of(64 << 10);
    const std::string value(100, 'v');
    constexpr int keys = 10000;  // about 1.1 MB of keys and values, in a 64 KiB cache
    for (int i = 0; i < keys; ++i) {
        const auto key = "key-" + std::to_string(i);
        cache.keep(cache.before_read(key), key, value);
    }
    int kept = 0;
    for (int i = 0; i < keys; ++i) kept += cache.find("key-" + std::to_string(i)) ? 1 : 0;
    BOOST_TEST(kept > 0);
    BOOST_TEST(kept < 1000);
    BOOST_TEST(found(cache, "key-" + std::to_string(keys - 1)) == value);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_store_open_failures)

BOOST_AUTO_TEST_CASE(data_dir_that_is_a_file_throws) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "not-a-directory";
    std::ofstream(file) << "x";
    ozzie::store_options options;
    options.data_dir = file;
    BOOST_CHECK_THROW(ozzie::rocksdb_store store(options), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(storage_encoding)

BOOST_AUTO_TEST_CASE(user_key_is_the_ulid) {
    user_factory users;
    const ozzie::user u = users.make("c", "e");
    BOOST_TEST(ozzie::encoding::user_key(u) == ulid_of(u));
    BOOST_TEST(ozzie::encoding::user_key(u).size() == 26u);
}

BOOST_AUTO_TEST_CASE(value_round_trips) {
    user_factory users;
    ozzie::user full = users.make_full("c", "e");
    ozzie::user minimal = users.make("c", "e2");
    for (const auto& u : {full, minimal}) {
        const std::string value = ozzie::encoding::user_value(u);
        BOOST_TEST(static_cast<int>(static_cast<unsigned char>(value.at(0))) == 1);  // version 1
        auto decoded = ozzie::encoding::decode_user(ozzie::encoding::user_key(u), value);
        BOOST_TEST_REQUIRE(decoded.has_value());
        check_same_user(*decoded, u);
    }
}

BOOST_AUTO_TEST_CASE(unknown_or_damaged_values_do_not_decode) {
    user_factory users;
    const ozzie::user u = users.make_full("c", "e");
    const std::string key(ozzie::encoding::user_key(u));
    std::string value = ozzie::encoding::user_value(u);
    BOOST_TEST(!ozzie::encoding::decode_user(key, "").has_value());
    std::string other_version = value;
    other_version[0] = 2;
    BOOST_TEST(!ozzie::encoding::decode_user(key, other_version).has_value());
    // Cut short anywhere, the value is not a user.
    for (std::size_t n = 1; n < value.size(); ++n)
        BOOST_TEST(!ozzie::encoding::decode_user(key, std::string_view(value).substr(0, n)).has_value(),
                   "prefix of " << n << " bytes");
    // Trailing bytes are not ignored either.
    BOOST_TEST(!ozzie::encoding::decode_user(key, value + "x").has_value());
}

BOOST_AUTO_TEST_CASE(external_key_is_client_nul_external) {
    BOOST_TEST(ozzie::encoding::external_key("s2client", "usr_8821") ==
               std::string("s2client\0usr_8821", 17));
    BOOST_TEST(ozzie::encoding::external_key("a", "bc") != ozzie::encoding::external_key("ab", "c"));
}

BOOST_AUTO_TEST_SUITE_END()

// Bulk loading and reading for ozzie-admin's import and export: load() writes exactly the keys
// and values insert() writes, durable after finish_load(), never half a user after a crash; and
// for_each_user() reads a client's users as the list index orders them.
BOOST_FIXTURE_TEST_SUITE(user_store_bulk, store_fixture)

namespace {

// Bytes as text, those that are not printable ASCII as \xNN.
std::string printable(std::string_view bytes) {
    std::string out;
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7F) {
            out += c;
            continue;
        }
        constexpr std::string_view hex = "0123456789abcdef";
        out += "\\x";
        out += hex[byte >> 4];
        out += hex[byte & 0xF];
    }
    return out;
}

// Every key and value of the column families that hold users, read with RocksDB directly, as
// "family:key = value" lines.
std::vector<std::string> stored_keys(const std::filesystem::path& data_dir) {
    const std::vector<std::string_view> names = {ozzie::encoding::users_cf, ozzie::encoding::external_ids_cf,
                                                 ozzie::encoding::client_users_cf};
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
    for (const auto name : names) families.emplace_back(std::string(name), rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    const auto opened = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data_dir.string(), families, &handles, &raw);
    BOOST_TEST_REQUIRE(opened.ok(), opened.ToString());
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[i + 1]));
        for (it->SeekToFirst(); it->Valid(); it->Next())
            keys.push_back(std::string(names[i]) + ":" + printable(it->key().ToStringView()) + " = " +
                           printable(it->value().ToStringView()));
    }
    for (auto* handle : handles) raw->DestroyColumnFamilyHandle(handle);
    delete raw;
    return keys;
}

// Users of two clients at every stage, full and minimal.
std::vector<ozzie::user> assorted_users(user_factory& users) {
    std::vector<ozzie::user> all;
    for (int i = 0; i < 12; ++i) {
        auto u = i % 2 ? users.make_full(i % 4 < 2 ? "c" : "d", "u" + std::to_string(i))
                       : users.make(i % 4 < 2 ? "c" : "d", "u" + std::to_string(i));
        u.stage = static_cast<ozzie::onboarding_stage>(i % 3);
        all.push_back(std::move(u));
    }
    return all;
}

// The ids for_each_user passes, in its order.
std::vector<std::string> ids_read(const ozzie::rocksdb_store& store, std::string_view client_id) {
    std::vector<std::string> ids;
    const auto read = store.for_each_user(client_id, [&ids](const ozzie::user& u) { ids.push_back(u.id); });
    BOOST_TEST_REQUIRE(outcome(read) == "ok");
    return ids;
}

}  // namespace

BOOST_AUTO_TEST_CASE(load_writes_the_keys_and_values_insert_writes) {
    const auto all = assorted_users(users);
    BOOST_TEST(flags(insert(all)) == "1,1,1,1,1,1,1,1,1,1,1,1");
    ozzie::store_options loaded_options;
    loaded_options.data_dir = dir.path() / "loaded";
    {
        ozzie::rocksdb_store loaded(loaded_options);
        BOOST_TEST_REQUIRE(outcome(loaded.load(std::span(all).first(5))) == "ok");
        BOOST_TEST_REQUIRE(outcome(loaded.load(std::span(all).subspan(5))) == "ok");
        BOOST_TEST_REQUIRE(outcome(loaded.finish_load()) == "ok");
        for (const auto& u : all) {  // read back at once, as the import's conflict checks do
            BOOST_TEST(outcome(loaded.get({}, ulid_of(u))) == "ok");
            BOOST_TEST(outcome(loaded.find_external(u.client_id, u.external_user_id)) == "ok");
        }
    }
    store.reset();
    const auto inserted_keys = stored_keys(options.data_dir);
    BOOST_TEST(inserted_keys.size() == 3 * all.size());
    BOOST_TEST(stored_keys(loaded_options.data_dir) == inserted_keys, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(loaded_users_are_served_after_a_reopen) {
    const auto all = assorted_users(users);
    BOOST_TEST_REQUIRE(outcome(store->load(all)) == "ok");
    BOOST_TEST_REQUIRE(outcome(store->finish_load()) == "ok");
    reopen();
    for (const auto& u : all) check_stored(u);
    const auto page = store->list(
        {.client_id = "c", .stage = ozzie::onboarding_stage::active, .cursor = {}, .newer = false, .limit = 100});
    BOOST_TEST_REQUIRE(outcome(page) == "ok");
    BOOST_TEST(page->users.size() == 2u);  // u5 and u8
    for (const auto& u : page->users) BOOST_TEST((u.stage == ozzie::onboarding_stage::active));
}

BOOST_AUTO_TEST_CASE(for_each_user_reads_every_user_of_the_client_newest_first_as_list_pages_do) {
    std::vector<ozzie::user> all;
    std::vector<std::string> expected;
    for (int i = 0; i < 250; ++i) {  // a client's users at every stage, among another client's
        auto u = users.make(i % 5 == 4 ? "other" : "c", "u" + std::to_string(i));
        u.stage = static_cast<ozzie::onboarding_stage>((i * 7) % 3);
        if (u.client_id == "c") expected.push_back(u.id);
        all.push_back(std::move(u));
    }
    BOOST_TEST_REQUIRE(outcome(insert(all)) == "ok");
    std::reverse(expected.begin(), expected.end());  // ids grow with time: newest first
    BOOST_TEST(ids_read(*store, "c") == expected, boost::test_tools::per_element());

    // The pages of list, walked with cursors, give the same users in the same order.
    std::vector<std::string> paged;
    for (std::string cursor;;) {
        const auto page = store->list({.client_id = "c", .stage = {}, .cursor = cursor, .newer = false, .limit = 7});
        BOOST_TEST_REQUIRE(outcome(page) == "ok");
        for (const auto& u : page->users) paged.push_back(u.id);
        if (!page->has_more) break;
        cursor = ulid_of(page->users.back());
    }
    BOOST_TEST(paged == expected, boost::test_tools::per_element());

    // Whole users, and nothing for a client that has none.
    BOOST_TEST_REQUIRE(outcome(store->for_each_user("c", [&](const ozzie::user& u) {
        check_same_user(u, all[static_cast<std::size_t>(std::stoi(u.external_user_id.substr(1)))]);
    })) == "ok");
    BOOST_TEST(ids_read(*store, "nobody").empty());
    BOOST_TEST(ids_read(*store, "ot").empty());  // no prefix match on the client id
}

BOOST_AUTO_TEST_CASE(for_each_user_reads_one_snapshot) {
    const auto all = assorted_users(users);
    BOOST_TEST_REQUIRE(outcome(insert(all)) == "ok");
    std::vector<std::string> read;
    const auto pass = store->for_each_user("c", [&](const ozzie::user& u) {
        // c's oldest user, removed while the pass is at the newest, is still in it.
        if (read.empty()) BOOST_TEST_REQUIRE(outcome(store->remove(std::span(all).first(1), {})) == "ok");
        read.push_back(u.id);
    });
    BOOST_TEST(outcome(pass) == "ok");
    BOOST_TEST_REQUIRE(read.size() == 6u);
    BOOST_TEST(read.back() == all[0].id);
    BOOST_TEST(ids_read(*store, "c").size() == 5u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_store_bulk_crash)

namespace {

// After a load child's crash (and, for `lose_power`, its unsynced data cut away), the crash
// users the store holds: each whole (crash_users_in: index entry and record; records_in: no
// record without its entry), and always the first ones, as the loads came.
std::vector<bool> after_a_load_crash(const char* child, bool lose_power) {
    ozzie::testing::temp_dir dir;
    const auto data_dir = dir.path() / "db";
    ozzie::testing::run_crash_child(std::string("crash_children_bulk/") + child, data_dir, false);
    if (lose_power)
        BOOST_TEST_MESSAGE(ozzie::testing::lose_unsynced_data(sync_journal(data_dir)) << " bytes not synced were lost");
    const auto present = user_store_crash::crash_users_in(data_dir);
    const auto kept = static_cast<std::size_t>(std::count(present.begin(), present.end(), true));
    BOOST_TEST(user_store_crash::records_in(data_dir) == kept, "records without their index entry");
    BOOST_TEST(std::is_partitioned(present.begin(), present.end(), [](bool p) { return p; }),
               "a later load kept while an earlier one was lost");
    return present;
}

}  // namespace

BOOST_AUTO_TEST_CASE(loads_survive_a_process_crash) {
    const auto present = after_a_load_crash("load_then_is_killed", false);
    BOOST_TEST(std::count(present.begin(), present.end(), true) == crash_users);
}

BOOST_AUTO_TEST_CASE(a_power_loss_before_finish_load_keeps_whole_users_only) {
    after_a_load_crash("load_then_loses_power", false);
    after_a_load_crash("load_then_loses_power", true);
}

BOOST_AUTO_TEST_CASE(loads_finished_survive_a_power_loss) {
    const auto present = after_a_load_crash("load_finish_then_lose_power", true);
    BOOST_TEST(std::count(present.begin(), present.end(), true) == crash_users);
}

BOOST_AUTO_TEST_SUITE_END()

// The child processes of the bulk crash tests (disabled: run only when a crash test starts them).
BOOST_AUTO_TEST_SUITE(crash_children_bulk)

namespace {

// The crash users loaded one a call (a crash may come between any two), finished if `finish`,
// then SIGKILL.
[[noreturn]] void load_crash_users_then_die(ozzie::rocksdb_store& store, bool finish) {
    user_factory users;
    for (int i = 0; i < crash_users; ++i) {
        const auto u = crash_user(users, i);
        BOOST_TEST_REQUIRE(store.load(std::span(&u, 1)).has_value());
    }
    if (finish) BOOST_TEST_REQUIRE(store.finish_load().has_value());
    ozzie::testing::die_like_a_crash();
}

void run_load_child(bool lose_power, bool finish) {
    const auto options = ozzie::testing::crash_child_store_options();
    if (!options) {
        BOOST_TEST_MESSAGE("runs only as the child of a crash test");
        return;
    }
    if (!lose_power) load_crash_users_then_die(*new ozzie::rocksdb_store(*options), finish);  // never closed
    const auto file_system = std::make_shared<ozzie::testing::power_loss_fs>(sync_journal(options->data_dir));
    load_crash_users_then_die(*new ozzie::rocksdb_store(*options, file_system), finish);
}

}  // namespace

BOOST_AUTO_TEST_CASE(load_then_is_killed, *boost::unit_test::disabled()) { run_load_child(false, false); }
BOOST_AUTO_TEST_CASE(load_then_loses_power, *boost::unit_test::disabled()) { run_load_child(true, false); }
BOOST_AUTO_TEST_CASE(load_finish_then_lose_power, *boost::unit_test::disabled()) { run_load_child(true, true); }

BOOST_AUTO_TEST_SUITE_END()
