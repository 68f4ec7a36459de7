// The in-process API (headers/ozzie/user_service.hpp), over a real store in a temp dir.
#include <boost/test/unit_test.hpp>

#include "service/ulid.hpp"

#include "storage/same_user.hpp"
#include "storage/service_fixture.hpp"
#include "storage/spawn_self.hpp"
#include "support/create_requests.hpp"
#include "support/result_text.hpp"
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>
#include <ozzie/user_service.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using ozzie::testing::check_same_user;
using ozzie::testing::message;
using ozzie::testing::minimal_request;
using ozzie::testing::opt;
using ozzie::testing::outcome;
using ozzie::testing::spec_request;

using namespace std::chrono;

// The user in `r`; fails the test (instead of dereferencing an error) if there is none.
const ozzie::user& require_user(const ozzie::result<ozzie::user>& r) {
    BOOST_TEST_REQUIRE(r.has_value(), "expected a user, got " << outcome(r) << ": " << message(r));
    return *r;
}

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The millisecond time in the first 10 characters of a ULID.
long long ulid_time_ms(std::string_view ulid) {
    long long value = 0;
    for (char c : ulid.substr(0, 10)) value = value * 32 + static_cast<long long>(crockford.find(c));
    return value;
}

bool is_well_formed_user_id(std::string_view id) {
    if (id.size() != 8 + 26 || id.substr(0, 8) != "ozz_usr_") return false;
    for (char c : id.substr(8))
        if (crockford.find(c) == std::string_view::npos) return false;
    return id[8] <= '7';
}

using ozzie::testing::service_fixture;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(user_service_create_and_find, service_fixture)

BOOST_AUTO_TEST_CASE(create_then_find_by_id_and_by_external) {
    auto created = service->create("s2client", spec_request());
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
    BOOST_TEST(created->client_id == "s2client");
    BOOST_TEST(created->external_user_id == "usr_8821");
    BOOST_TEST(opt(created->name) == "\"Maria Santos\"");
    BOOST_TEST(opt(created->email) == "\"maria@example.com\"");
    BOOST_TEST(opt(created->phone) == "\"+15551234567\"");
    BOOST_TEST(created->language == "en");

    auto by_id = service->find_by_id("s2client", created->id);
    BOOST_TEST_REQUIRE(outcome(by_id) == "ok", message(by_id));
    check_same_user(*by_id, *created);

    auto by_external = service->find_by_external("s2client", "usr_8821");
    BOOST_TEST_REQUIRE(outcome(by_external) == "ok", message(by_external));
    check_same_user(*by_external, *created);
}

BOOST_AUTO_TEST_CASE(defaults_of_a_new_user) {
    const auto before = system_clock::now();
    auto created = service->create("s2client", minimal_request("usr_min"));
    const auto after = system_clock::now();
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));

    BOOST_TEST(created->language == "en");
    BOOST_TEST(ozzie::to_string(created->stage) == "intake_pending");
    BOOST_TEST(opt(created->name) == "<null>");
    BOOST_TEST(opt(created->email) == "<null>");
    BOOST_TEST(opt(created->phone) == "<null>");

    // created_at is now, in whole seconds.
    const auto created_s = created->created_at.time_since_epoch().count();
    BOOST_TEST(created_s >= time_point_cast<seconds>(before).time_since_epoch().count() - 1);
    BOOST_TEST(created_s <= time_point_cast<seconds>(after).time_since_epoch().count() + 1);

    // The id is "ozz_usr_" + a 26-character ULID whose time is the creation time.
    BOOST_TEST(is_well_formed_user_id(created->id), created->id);
    BOOST_TEST(ozzie::ulid_of_user_id(created->id).has_value());
    const long long ms = ulid_time_ms(std::string_view(created->id).substr(8));
    BOOST_TEST(ms >= time_point_cast<milliseconds>(before).time_since_epoch().count() - 1000);
    BOOST_TEST(ms <= time_point_cast<milliseconds>(after).time_since_epoch().count() + 1000);
}

BOOST_AUTO_TEST_CASE(explicit_language_is_kept) {
    auto r = minimal_request("usr_pt");
    r.language = "pt";
    auto created = service->create("c", r);
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
    BOOST_TEST(created->language == "pt");
    const auto found = service->find_by_external("c", "usr_pt");
    BOOST_TEST(require_user(found).language == "pt");
}

BOOST_AUTO_TEST_CASE(external_id_with_special_characters) {
    const std::string ext = "a/b:c?d e \xC3\xA9 \xF0\x9F\x98\x80";
    auto created = service->create("c", minimal_request(ext));
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
    auto found = service->find_by_external("c", ext);
    BOOST_TEST_REQUIRE(outcome(found) == "ok");
    check_same_user(*found, *created);
}

BOOST_AUTO_TEST_CASE(validation_failure_stores_nothing) {
    auto r = minimal_request("usr_1");
    r.email = "not-an-email";
    auto created = service->create("c", r);
    BOOST_TEST(outcome(created) == "VALIDATION_ERROR");
    BOOST_TEST(message(created) ==
               "Field 'email' must be a valid email address. Received: 'not-an-email'.");
    BOOST_TEST(outcome(service->find_by_external("c", "usr_1")) == "NOT_FOUND");

    // The external id is still free: a valid create afterwards succeeds.
    auto retry = service->create("c", minimal_request("usr_1"));
    BOOST_TEST(outcome(retry) == "ok", message(retry));
}

BOOST_AUTO_TEST_CASE(every_kind_of_invalid_request_is_rejected_and_not_stored) {
    std::vector<ozzie::new_user> bad;
    bad.push_back(minimal_request(""));
    bad.push_back(minimal_request(std::string(101, 'x')));
    {
        auto r = minimal_request("bad_name");
        r.name = std::string(201, 'n');
        bad.push_back(r);
    }
    {
        auto r = minimal_request("bad_phone");
        r.phone = "5551234567";
        bad.push_back(r);
    }
    {
        auto r = minimal_request("bad_language");
        r.language = "fr";
        bad.push_back(r);
    }
    for (const auto& r : bad) {
        auto created = service->create("c", r);
        BOOST_TEST(outcome(created) == "VALIDATION_ERROR", r.external_user_id);
        BOOST_TEST(outcome(service->find_by_external("c", r.external_user_id)) == "NOT_FOUND");
    }
}

BOOST_AUTO_TEST_CASE(duplicate_is_a_conflict_with_the_spec_message) {
    auto first = service->create("s2client", spec_request());
    BOOST_TEST_REQUIRE(outcome(first) == "ok", message(first));
    auto second = service->create("s2client", minimal_request("usr_8821"));
    BOOST_TEST(outcome(second) == "CONFLICT");
    BOOST_TEST(message(second) ==
               "A user with external_user_id 'usr_8821' already exists under your API client. "
               "Use GET /v1/users/{user_id} to retrieve them.");
    // The original is untouched.
    auto found = service->find_by_external("s2client", "usr_8821");
    BOOST_TEST_REQUIRE(outcome(found) == "ok");
    check_same_user(*found, *first);
}

BOOST_AUTO_TEST_CASE(same_external_id_under_two_clients_is_two_users) {
    auto mine = service->create("client_a", minimal_request("usr_8821"));
    auto theirs = service->create("client_b", minimal_request("usr_8821"));
    BOOST_TEST_REQUIRE(outcome(mine) == "ok", message(mine));
    BOOST_TEST_REQUIRE(outcome(theirs) == "ok", message(theirs));
    BOOST_TEST(mine->id != theirs->id);
    check_same_user(require_user(service->find_by_external("client_a", "usr_8821")), *mine);
    check_same_user(require_user(service->find_by_external("client_b", "usr_8821")), *theirs);
}

BOOST_AUTO_TEST_CASE(unknown_id_is_not_found_with_the_spec_message) {
    auto r = service->find_by_id("s2client", "ozz_usr_NOTEXIST");
    BOOST_TEST(outcome(r) == "NOT_FOUND");
    BOOST_TEST(message(r) == "No user found with id 'ozz_usr_NOTEXIST' under your API client.");
}

BOOST_AUTO_TEST_CASE(well_formed_but_unknown_id_is_not_found) {
    ozzie::ulid_generator gen;
    const std::string id =
        "ozz_usr_" + gen.next(time_point_cast<milliseconds>(system_clock::now())).text;
    BOOST_TEST(outcome(service->find_by_id("c", id)) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(unknown_external_id_is_not_found) {
    BOOST_TEST(outcome(service->find_by_external("c", "nobody")) == "NOT_FOUND");
    BOOST_TEST(outcome(service->find_by_external("c", "")) == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(other_clients_user_is_forbidden_by_id_and_invisible_by_external) {
    auto theirs = service->create("client_b", minimal_request("usr_b"));
    BOOST_TEST_REQUIRE(outcome(theirs) == "ok", message(theirs));
    auto by_id = service->find_by_id("client_a", theirs->id);
    BOOST_TEST(outcome(by_id) == "FORBIDDEN");
    BOOST_TEST(!message(by_id).empty());
    BOOST_TEST(outcome(service->find_by_external("client_a", "usr_b")) == "NOT_FOUND");
    // The owner still sees it.
    BOOST_TEST(outcome(service->find_by_id("client_b", theirs->id)) == "ok");
}

BOOST_AUTO_TEST_CASE(malformed_ids_are_not_found_never_thrown) {
    auto created = service->create("c", minimal_request("usr_1"));
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
    const std::string ulid = created->id.substr(8);
    std::string lower = created->id;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));

    const std::vector<std::string> malformed = {
        "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DE",  // the spec's 25-character example
        "",
        "ozz_usr_",
        "ozz_usr_!!!garbage!!!",
        "ozz_usr_" + std::string(26, '\xFF'),
        lower,
        ulid,                      // no prefix
        "usr_" + ulid,             // wrong prefix
        "OZZ_USR_" + ulid,         // prefix in the wrong case
        created->id + "0",         // 27 characters
        created->id.substr(0, created->id.size() - 1),
        "external:usr_1",          // the HTTP form is not an Ozzie id
        std::string("ozz_usr_") + std::string(26, '\0'),
    };
    for (const auto& id : malformed) {
        ozzie::result<ozzie::user> r = ozzie::error{ozzie::errc::internal, "not called"};
        BOOST_CHECK_NO_THROW(r = service->find_by_id("c", id));
        BOOST_TEST(outcome(r) == "NOT_FOUND", "id of " << id.size() << " bytes");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_service_concurrency, service_fixture)

BOOST_AUTO_TEST_CASE(forty_simultaneous_duplicates_give_one_user) {
    constexpr int threads = 40;
    std::vector<ozzie::result<ozzie::user>> results(
        threads, ozzie::error{ozzie::errc::internal, "not run"});
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            auto r = minimal_request("usr_race");
            r.name = "thread " + std::to_string(i);
            start.arrive_and_wait();
            results[i] = service->create("s2client", r);
        });
    }
    for (auto& t : workers) t.join();

    int successes = 0, conflicts = 0, others = 0;
    std::optional<ozzie::user> winner;
    for (const auto& r : results) {
        if (r.has_value()) {
            ++successes;
            winner = *r;
        } else if (r.error().code == ozzie::errc::conflict) {
            ++conflicts;
        } else {
            ++others;
            BOOST_TEST_MESSAGE("unexpected error: " << r.error().message);
        }
    }
    BOOST_TEST(successes == 1);
    BOOST_TEST(conflicts == threads - 1);
    BOOST_TEST(others == 0);
    BOOST_TEST_REQUIRE(winner.has_value());

    auto stored = service->find_by_external("s2client", "usr_race");
    BOOST_TEST_REQUIRE(outcome(stored) == "ok");
    check_same_user(*stored, *winner);

    // Still exactly one after a restart.
    restart();
    stored = service->find_by_external("s2client", "usr_race");
    BOOST_TEST_REQUIRE(outcome(stored) == "ok");
    check_same_user(*stored, *winner);
    BOOST_TEST(outcome(service->create("s2client", minimal_request("usr_race"))) == "CONFLICT");
}

BOOST_AUTO_TEST_CASE(many_threads_creating_distinct_users_all_succeed) {
    constexpr int threads = 8;
    constexpr int per_thread = 25;
    std::vector<std::vector<ozzie::result<ozzie::user>>> results(threads);
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                const std::string client = "client_" + std::to_string(t % 2);
                results[t].push_back(service->create(
                    client, minimal_request("t" + std::to_string(t) + "_u" + std::to_string(i))));
            }
        });
    }
    for (auto& w : workers) w.join();

    std::set<std::string> ids;
    for (int t = 0; t < threads; ++t) {
        BOOST_TEST_REQUIRE(results[t].size() == static_cast<std::size_t>(per_thread));
        std::string previous;
        for (const auto& r : results[t]) {
            BOOST_TEST_REQUIRE(outcome(r) == "ok", message(r));
            BOOST_TEST(is_well_formed_user_id(r->id), r->id);
            // One thread's creates are sequential, so their ids increase.
            BOOST_TEST(r->id > previous, r->id << " after " << previous);
            previous = r->id;
            ids.insert(r->id);
            check_same_user(require_user(service->find_by_id(r->client_id, r->id)), *r);
            check_same_user(
                require_user(service->find_by_external(r->client_id, r->external_user_id)), *r);
        }
    }
    BOOST_TEST(ids.size() == static_cast<std::size_t>(threads * per_thread));
}

BOOST_AUTO_TEST_CASE(reads_run_alongside_writes) {
    auto seed = service->create("c", minimal_request("seed"));
    BOOST_TEST_REQUIRE(outcome(seed) == "ok");
    std::atomic<bool> done{false};
    std::atomic<int> bad_reads{0};
    std::thread reader([&] {
        while (!done) {
            auto r = service->find_by_id("c", seed->id);
            if (!r.has_value() || !(*r == *seed)) ++bad_reads;
        }
    });
    for (int i = 0; i < 50; ++i)
        BOOST_TEST(outcome(service->create("c", minimal_request("w" + std::to_string(i)))) == "ok");
    done = true;
    reader.join();
    BOOST_TEST(bad_reads == 0);
}

// Creates and removals of one external id from many threads at once: every answer is a success,
// CONFLICT or NOT_FOUND, and at the end the index and the records agree (the id is held by at
// most one user, and only by a user that is there).
BOOST_AUTO_TEST_CASE(concurrent_creates_and_removals_of_one_external_id_stay_consistent) {
    constexpr int threads = 8, rounds = 200;
    std::latch start(threads);
    std::atomic<int> unexpected{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                if ((i + t) % 2 == 0) {
                    const auto r = service->create("s2client", minimal_request("usr_churn"));
                    if (!r && r.error().code != ozzie::errc::conflict) ++unexpected;
                } else {
                    const auto r = service->remove("s2client", {ozzie::user_ref::kind::external, "usr_churn"});
                    if (!r && r.error().code != ozzie::errc::not_found) ++unexpected;
                }
            }
        });
    for (auto& w : workers) w.join();
    BOOST_TEST(unexpected == 0);
    const auto held = service->find_by_external("s2client", "usr_churn");
    if (held) {
        BOOST_TEST(outcome(service->find_by_id("s2client", held->id)) == "ok");
        BOOST_TEST(outcome(service->create("s2client", minimal_request("usr_churn"))) == "CONFLICT");
    } else {
        BOOST_TEST(outcome(held) == "NOT_FOUND");
        BOOST_TEST(outcome(service->create("s2client", minimal_request("usr_churn"))) == "ok");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_service_remove, service_fixture)

// The remove's outcome, as outcome() gives it for other results: "ok" or the error code's name.
std::string removal(const ozzie::result<void>& r) {
    return r ? "ok" : std::string(ozzie::code_name(r.error().code));
}

BOOST_AUTO_TEST_CASE(a_removed_user_is_gone_after_a_restart_and_its_external_id_is_free) {
    auto created = service->create("s2client", spec_request());
    BOOST_TEST_REQUIRE(outcome(created) == "ok");
    BOOST_TEST(removal(service->remove("s2client", {ozzie::user_ref::kind::id, created->id})) == "ok");
    BOOST_TEST(outcome(service->find_by_id("s2client", created->id)) == "NOT_FOUND");
    BOOST_TEST(removal(service->remove("s2client", {ozzie::user_ref::kind::id, created->id})) == "NOT_FOUND");
    restart();
    BOOST_TEST(outcome(service->find_by_id("s2client", created->id)) == "NOT_FOUND");
    BOOST_TEST(outcome(service->find_by_external("s2client", "usr_8821")) == "NOT_FOUND");
    BOOST_TEST(outcome(service->create("s2client", spec_request())) == "ok");
}

BOOST_AUTO_TEST_CASE(removal_answers_as_lookups_do) {
    auto mine = service->create("s2client", spec_request());
    BOOST_TEST_REQUIRE(outcome(mine) == "ok");
    BOOST_TEST(removal(service->remove("other", {ozzie::user_ref::kind::id, mine->id})) == "FORBIDDEN");
    BOOST_TEST(removal(service->remove("other", {ozzie::user_ref::kind::external, "usr_8821"})) == "NOT_FOUND");
    BOOST_TEST(removal(service->remove("s2client", {ozzie::user_ref::kind::id, "nonsense"})) == "NOT_FOUND");
    BOOST_TEST(outcome(service->find_by_id("s2client", mine->id)) == "ok");
    BOOST_TEST(removal(service->remove("s2client", {ozzie::user_ref::kind::external, "usr_8821"})) == "ok");
    BOOST_TEST(outcome(service->find_by_external("s2client", "usr_8821")) == "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_service_async_create, service_fixture)

BOOST_AUTO_TEST_CASE(handler_is_called_exactly_once_with_the_user) {
    std::mutex m;
    std::condition_variable cv;
    int calls = 0;
    std::optional<ozzie::result<ozzie::user>> answer;
    service->async_create("c", minimal_request("usr_async"), [&](ozzie::result<ozzie::user> r) {
        std::lock_guard lock(m);
        ++calls;
        answer = std::move(r);
        cv.notify_all();
    });
    {
        std::unique_lock lock(m);
        // A guard against hanging forever, not a timing assertion.
        BOOST_TEST_REQUIRE(cv.wait_for(lock, minutes(2), [&] { return calls > 0; }));
    }
    // Destroying the service answers anything pending; nothing more may arrive for this one.
    service.reset();
    std::lock_guard lock(m);
    BOOST_TEST(calls == 1);
    BOOST_TEST_REQUIRE(answer.has_value());
    BOOST_TEST(outcome(*answer) == "ok", message(*answer));
}

BOOST_AUTO_TEST_CASE(created_user_is_readable_when_the_handler_runs) {
    std::mutex m;
    std::condition_variable cv;
    bool called = false;
    std::string found_outcome;
    service->async_create("c", minimal_request("usr_visible"), [&](ozzie::result<ozzie::user> r) {
        std::string seen = r.has_value() ? outcome(service->find_by_id("c", r->id)) : outcome(r);
        std::lock_guard lock(m);
        found_outcome = seen;
        called = true;
        cv.notify_all();
    });
    std::unique_lock lock(m);
    BOOST_TEST_REQUIRE(cv.wait_for(lock, minutes(2), [&] { return called; }));
    BOOST_TEST(found_outcome == "ok");
}

BOOST_AUTO_TEST_CASE(validation_error_is_answered_at_once_on_the_calling_thread) {
    int calls = 0;
    std::thread::id called_on;
    std::string got;
    service->async_create("c", minimal_request(""), [&](ozzie::result<ozzie::user> r) {
        ++calls;
        called_on = std::this_thread::get_id();
        got = outcome(r);
    });
    // Already answered before async_create returned.
    BOOST_TEST(calls == 1);
    BOOST_TEST((called_on == std::this_thread::get_id()));
    BOOST_TEST(got == "VALIDATION_ERROR");
}

BOOST_AUTO_TEST_CASE(every_pending_create_is_answered_once_before_destruction_ends) {
    constexpr int count = 200;
    auto calls = std::make_shared<std::vector<std::atomic<int>>>(count);
    auto oks = std::make_shared<std::atomic<int>>(0);
    auto conflicts = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < count; ++i) {
        // Every fourth create reuses an external id, so some answers are conflicts.
        const std::string ext = (i % 4 == 3) ? "dup_" + std::to_string(i - 1)
                                             : "dup_" + std::to_string(i);
        service->async_create("c", minimal_request(ext), [calls, oks, conflicts, i](ozzie::result<ozzie::user> r) {
            ++(*calls)[i];
            if (r.has_value())
                ++*oks;
            else if (r.error().code == ozzie::errc::conflict)
                ++*conflicts;
        });
    }
    // No waiting: the destructor must answer everything already submitted.
    service.reset();
    for (int i = 0; i < count; ++i) BOOST_TEST((*calls)[i].load() == 1, "create " << i);
    BOOST_TEST(oks->load() == count - count / 4);
    BOOST_TEST(conflicts->load() == count / 4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_service_restart, service_fixture)

BOOST_AUTO_TEST_CASE(users_survive_destroying_and_recreating_the_service) {
    auto full = service->create("s2client", spec_request());
    auto minimal = service->create("s2client", minimal_request("usr_min"));
    auto other = service->create("other", minimal_request("usr_8821"));
    BOOST_TEST_REQUIRE(outcome(full) == "ok");
    BOOST_TEST_REQUIRE(outcome(minimal) == "ok");
    BOOST_TEST_REQUIRE(outcome(other) == "ok");

    restart();

    for (const auto* u : {&*full, &*minimal, &*other}) {
        auto by_id = service->find_by_id(u->client_id, u->id);
        BOOST_TEST_REQUIRE(outcome(by_id) == "ok", u->id);
        check_same_user(*by_id, *u);
        auto by_external = service->find_by_external(u->client_id, u->external_user_id);
        BOOST_TEST_REQUIRE(outcome(by_external) == "ok", u->external_user_id);
        check_same_user(*by_external, *u);
    }
    BOOST_TEST(outcome(service->find_by_id("s2client", other->id)) == "FORBIDDEN");
    BOOST_TEST(outcome(service->create("s2client", minimal_request("usr_8821"))) == "CONFLICT");

    // The restarted service still takes new users.
    auto later = service->create("s2client", minimal_request("usr_later"));
    BOOST_TEST(outcome(later) == "ok", message(later));
}

BOOST_AUTO_TEST_CASE(sync_false_service_works_and_persists) {
    service.reset();
    options.sync = false;
    service = std::make_unique<ozzie::user_service>(options);
    auto created = service->create("c", minimal_request("nosync"));
    BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
    restart();
    auto found = service->find_by_external("c", "nosync");
    BOOST_TEST_REQUIRE(outcome(found) == "ok");
    check_same_user(*found, *created);
}

BOOST_AUTO_TEST_CASE(second_service_on_an_open_directory_throws) {
    BOOST_CHECK_THROW(ozzie::user_service second(options), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_service_crash)

namespace {

void check_creates_survive_a_crash(bool sync) {
    ozzie::testing::temp_dir dir;
    const auto data_dir = dir.path() / "db";
    ozzie::testing::run_crash_child("crash_children/service_creates_then_is_killed", data_dir, sync);

    ozzie::store_options options;
    options.data_dir = data_dir;
    ozzie::user_service service(options);
    for (int i = 0; i < 20; ++i) {
        const std::string ext = "crash_" + std::to_string(i);
        auto found = service.find_by_external("crash_client", ext);
        BOOST_TEST_REQUIRE(outcome(found) == "ok", ext << " was acknowledged but lost in the crash");
        BOOST_TEST(opt(found->name) == opt("crash user " + std::to_string(i)));
        BOOST_TEST(outcome(service.find_by_id("crash_client", found->id)) == "ok");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(acknowledged_creates_survive_a_process_crash_with_sync_true) {
    check_creates_survive_a_crash(true);
}

BOOST_AUTO_TEST_CASE(acknowledged_creates_survive_a_process_crash_with_sync_false) {
    check_creates_survive_a_crash(false);
}

BOOST_AUTO_TEST_SUITE_END()

// The child processes of the crash tests (disabled: they run only when a crash test starts them).
BOOST_AUTO_TEST_SUITE(crash_children)

// Creates users, waits for every acknowledgement, then dies by SIGKILL without closing anything.
BOOST_AUTO_TEST_CASE(service_creates_then_is_killed, *boost::unit_test::disabled()) {
    const auto options = ozzie::testing::crash_child_store_options();
    if (!options) {
        BOOST_TEST_MESSAGE("runs only as the child of a crash test");
        return;
    }
    auto* service = new ozzie::user_service(*options);  // deliberately never destroyed

    // Half one by one, half concurrently (so they may share a commit batch).
    for (int i = 0; i < 10; ++i) {
        auto r = minimal_request("crash_" + std::to_string(i));
        r.name = "crash user " + std::to_string(i);
        BOOST_TEST_REQUIRE(outcome(service->create("crash_client", r)) == "ok");
    }
    std::mutex m;
    std::condition_variable cv;
    int answered = 0, ok = 0;
    for (int i = 10; i < 20; ++i) {
        auto r = minimal_request("crash_" + std::to_string(i));
        r.name = "crash user " + std::to_string(i);
        service->async_create("crash_client", r, [&](ozzie::result<ozzie::user> result) {
            std::lock_guard lock(m);
            ++answered;
            if (result.has_value()) ++ok;
            cv.notify_all();
        });
    }
    {
        std::unique_lock lock(m);
        BOOST_TEST_REQUIRE(cv.wait_for(lock, minutes(2), [&] { return answered == 10; }));
        BOOST_TEST_REQUIRE(ok == 10);
    }
    ozzie::testing::die_like_a_crash();
}

BOOST_AUTO_TEST_SUITE_END()
