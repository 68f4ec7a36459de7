// Safe retries and bulk in the in-process API (headers/ozzie/user_service.hpp): idempotency keys,
// If-Match, batches; and the store under them (kept answers written with their effect, expired
// ones removed by compactions). Over a real store in a temp dir.
#include <boost/test/unit_test.hpp>

#include "storage/rocksdb/encoding.hpp"
#include "storage/service_fixture.hpp"
#include "storage/rocksdb/rocksdb_store.hpp"
#include "support/create_requests.hpp"
#include "support/result_text.hpp"
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/user_service.hpp>

#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using ozzie::testing::contains;
using ozzie::testing::message;
using ozzie::testing::minimal_request;
using ozzie::testing::outcome;
using ozzie::testing::service_fixture;

using namespace std::chrono_literals;

using claimed = ozzie::result<std::variant<ozzie::idempotency_claim, ozzie::kept_answer>>;

// "claim", "kept <status> <body>", or the error's code.
std::string what(const claimed& c) {
    if (!c) return outcome(c);
    if (std::holds_alternative<ozzie::idempotency_claim>(*c)) return "claim";
    const auto& kept = std::get<ozzie::kept_answer>(*c);
    return "kept " + std::to_string(kept.status) + " " + kept.body;
}

ozzie::idempotency_claim take_claim(claimed c) {
    BOOST_TEST_REQUIRE(what(c) == "claim");
    return std::move(std::get<ozzie::idempotency_claim>(*c));
}

// Keeps a rendering of a create's answer: 201 and the user's id, or 409 and the message; other
// errors are not kept, as the HTTP server keeps none of its 5xx.
ozzie::keyed_write<ozzie::result<ozzie::user>> keep_create(ozzie::idempotency_claim claim) {
    return {std::move(claim), [](const ozzie::result<ozzie::user>& r) -> std::optional<ozzie::kept_answer> {
                if (r) return ozzie::kept_answer{201, {{"Location", "/v1/users/" + r->id}}, r->id};
                if (r.error().code == ozzie::errc::conflict) return ozzie::kept_answer{409, {}, r.error().message};
                return std::nullopt;
            }};
}

// The answer of an asynchronous call, waited for: `start(done)` starts it with `done`.
template <class Result, class Start>
Result wait_for(Start start) {
    std::promise<Result> answer;
    start([&answer](Result r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
}

// A create with a key, waited for.
ozzie::result<ozzie::user> keyed_create(ozzie::user_service& service, std::string_view client, ozzie::new_user request,
                                        ozzie::idempotency_claim claim) {
    return wait_for<ozzie::result<ozzie::user>>([&](auto done) {
        service.async_create(client, std::move(request), done, keep_create(std::move(claim)));
    });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(idempotency_keys, service_fixture)

// A key is new, then held while its write is under way, then answered from what it kept.
BOOST_AUTO_TEST_CASE(a_key_is_claimed_held_and_then_replayed) {
    auto claim = take_claim(service->claim_idempotency_key("acme", "k-1", "fp"));
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k-1", "fp")) == "IDEMPOTENCY_KEY_IN_USE");
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k-1", "other")) == "IDEMPOTENCY_KEY_IN_USE");
    // Another client's key of the same name is another key.
    BOOST_TEST(what(service->claim_idempotency_key("other", "k-1", "fp")) == "claim");
    const auto created = keyed_create(*service, "acme", minimal_request("u1"), std::move(claim));
    BOOST_TEST_REQUIRE(created.has_value());
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k-1", "fp")) == "kept 201 " + created->id);
    const auto kept = service->claim_idempotency_key("acme", "k-1", "fp");
    BOOST_TEST((std::get<ozzie::kept_answer>(*kept).headers ==
                std::vector<std::pair<std::string, std::string>>{{"Location", "/v1/users/" + created->id}}));
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k-1", "another request")) == "IDEMPOTENCY_KEY_REUSED");
    BOOST_TEST(contains(message(service->claim_idempotency_key("acme", "k-1", "x")), "'k-1'"));
    // Kept across a restart.
    restart();
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k-1", "fp")) == "kept 201 " + created->id);
}

// A claim given up without a write (the request failed before it) leaves the key new.
BOOST_AUTO_TEST_CASE(a_claim_released_without_a_write_leaves_the_key_new) {
    { auto claim = take_claim(service->claim_idempotency_key("acme", "k", "fp")); }
    auto claim = take_claim(service->claim_idempotency_key("acme", "k", "fp"));
    // A create refused by validation is answered at once; its claim goes with it, nothing kept.
    ozzie::new_user invalid = minimal_request("");
    BOOST_TEST(outcome(keyed_create(*service, "acme", invalid, std::move(claim))) == "VALIDATION_ERROR");
    BOOST_TEST(what(service->claim_idempotency_key("acme", "k", "fp")) == "claim");
}

// An answer the keep function does not keep (here: a 503 or 500 would not be) is not kept; a
// conflict is, and replays as such even after the user is gone.
BOOST_AUTO_TEST_CASE(only_kept_answers_are_replayed) {
    BOOST_TEST_REQUIRE(service->create("acme", minimal_request("taken")).has_value());
    const auto conflict =
        keyed_create(*service, "acme", minimal_request("taken"), take_claim(service->claim_idempotency_key("acme", "c", "fp")));
    BOOST_TEST(outcome(conflict) == "CONFLICT");
    BOOST_TEST(what(service->claim_idempotency_key("acme", "c", "fp")) == "kept 409 " + conflict.error().message);

    const auto fresh = wait_for<ozzie::result<ozzie::user>>([&](auto done) {
        service->async_create("acme", minimal_request("fresh"), done,
                              ozzie::keyed_write<ozzie::result<ozzie::user>>{
                                  take_claim(service->claim_idempotency_key("acme", "n", "fp")),
                                  [](const ozzie::result<ozzie::user>&) { return std::optional<ozzie::kept_answer>{}; }});
    });
    BOOST_TEST(fresh.has_value());
    BOOST_TEST(what(service->claim_idempotency_key("acme", "n", "fp")) == "claim");
}

BOOST_AUTO_TEST_CASE(malformed_keys_are_refused_naming_the_header) {
    for (const std::string& key : {std::string(), std::string(256, 'k'), std::string("a\x01"), std::string("caf\xC3\xA9"),
                                  std::string("tab\there"), std::string("del\x7F")}) {
        const auto c = service->claim_idempotency_key("acme", key, "fp");
        BOOST_TEST(what(c) == "VALIDATION_ERROR", key);
        BOOST_TEST(contains(message(c), "Idempotency-Key"));
    }
    BOOST_TEST(what(service->claim_idempotency_key("acme", std::string(255, '~'), "fp")) == "claim");
    BOOST_TEST(what(service->claim_idempotency_key("acme", " a b ", "fp")) == "claim");
}

// A keyed update and a keyed removal keep their answers in the write of their change; a
// precondition that fails is an answer too, and kept.
BOOST_AUTO_TEST_CASE(updates_and_removals_keep_their_answers) {
    const auto u = service->create("acme", minimal_request("u"));
    BOOST_TEST_REQUIRE(u.has_value());
    const auto keep_user = [](ozzie::idempotency_claim claim) {
        return ozzie::keyed_write<ozzie::result<ozzie::user>>{
            std::move(claim), [](const ozzie::result<ozzie::user>& r) {
                return std::optional<ozzie::kept_answer>{{r ? 200u : 412u, {}, r ? *r->name : r.error().message}};
            }};
    };
    ozzie::user_patch patch;
    patch.name = std::optional<std::string>("Ana");
    const auto updated = wait_for<ozzie::result<ozzie::user>>([&](auto done) {
        service->async_update("acme", {ozzie::user_ref::kind::id, u->id}, patch, done, ozzie::entity_tag(*u),
                              keep_user(take_claim(service->claim_idempotency_key("acme", "p", "fp"))));
    });
    BOOST_TEST_REQUIRE(updated.has_value());
    BOOST_TEST(what(service->claim_idempotency_key("acme", "p", "fp")) == "kept 200 Ana");
    // The old tag is stale now.
    const auto stale = wait_for<ozzie::result<ozzie::user>>([&](auto done) {
        service->async_update("acme", {ozzie::user_ref::kind::id, u->id}, patch, done, ozzie::entity_tag(*u),
                              keep_user(take_claim(service->claim_idempotency_key("acme", "p2", "fp"))));
    });
    BOOST_TEST(outcome(stale) == "PRECONDITION_FAILED");
    BOOST_TEST(what(service->claim_idempotency_key("acme", "p2", "fp")) == "kept 412 " + stale.error().message);

    const auto removed = wait_for<ozzie::result<void>>([&](auto done) {
        service->async_remove("acme", {ozzie::user_ref::kind::id, u->id}, done, ozzie::entity_tag(*updated),
                              ozzie::keyed_write<ozzie::result<void>>{
                                  take_claim(service->claim_idempotency_key("acme", "d", "fp")),
                                  [](const ozzie::result<void>& r) {
                                      return std::optional<ozzie::kept_answer>{{r ? 204u : 404u, {}, ""}};
                                  }});
    });
    BOOST_TEST(removed.has_value());
    BOOST_TEST(what(service->claim_idempotency_key("acme", "d", "fp")) == "kept 204 ");
    BOOST_TEST(outcome(service->find_by_id("acme", u->id)) == "NOT_FOUND");
}

// Many threads racing for one key: exactly one gets the claim at a time, and once its write is
// done every other finds its kept answer; one user is created. (The threads only count: Boost.Test
// checks from the test's own thread.)
BOOST_AUTO_TEST_CASE(racing_retries_create_one_user) {
    std::atomic<int> created{0}, replayed{0}, in_use{0}, unexpected{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                auto c = service->claim_idempotency_key("acme", "race", "fp");
                if (!c) {
                    ++(outcome(c) == "IDEMPOTENCY_KEY_IN_USE" ? in_use : unexpected);
                } else if (std::holds_alternative<ozzie::kept_answer>(*c)) {
                    ++replayed;
                } else {
                    // A second create would be a 409.
                    const auto r = keyed_create(*service, "acme", minimal_request("racer"),
                                                std::move(std::get<ozzie::idempotency_claim>(*c)));
                    ++(r ? created : unexpected);
                }
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(unexpected.load() == 0);
    BOOST_TEST(created.load() == 1);
    BOOST_TEST(created + replayed + in_use == 400);
    const auto page = service->list("acme", {});
    BOOST_TEST_REQUIRE(page.has_value());
    BOOST_TEST(page->users.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(preconditions, service_fixture)

BOOST_AUTO_TEST_CASE(if_match_guards_updates_and_removals) {
    const auto u = service->create("acme", minimal_request("u"));
    BOOST_TEST_REQUIRE(u.has_value());
    const ozzie::user_ref ref{ozzie::user_ref::kind::external, "u"};
    ozzie::user_patch patch;
    patch.name = std::optional<std::string>("Ana");
    const auto update = [&](std::optional<std::string> if_match) {
        return wait_for<ozzie::result<ozzie::user>>(
            [&](auto done) { service->async_update("acme", ref, patch, done, if_match); });
    };
    const auto remove = [&](std::optional<std::string> if_match) {
        return wait_for<ozzie::result<void>>([&](auto done) { service->async_remove("acme", ref, done, if_match); });
    };
    BOOST_TEST(outcome(update(std::string(R"("0000000000000000")"))) == "PRECONDITION_FAILED");
    BOOST_TEST(outcome(update("W/" + ozzie::entity_tag(*u))) == "PRECONDITION_FAILED");
    BOOST_TEST(!service->find_by_id("acme", u->id)->name.has_value());  // nothing changed
    const auto updated = update(R"("x", )" + ozzie::entity_tag(*u));
    BOOST_TEST_REQUIRE(updated.has_value());
    BOOST_TEST(ozzie::entity_tag(*updated) != ozzie::entity_tag(*u));
    BOOST_TEST(outcome(remove(ozzie::entity_tag(*u))) == "PRECONDITION_FAILED");
    BOOST_TEST(service->find_by_id("acme", u->id).has_value());
    BOOST_TEST(outcome(remove("*")) == "ok");
    // A user that is not there is not found, whatever the condition.
    BOOST_TEST(outcome(update("*")) == "NOT_FOUND");
    BOOST_TEST(outcome(remove(ozzie::entity_tag(*u))) == "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(batches, service_fixture)

// A batch is one group commit: one write of all its users, the first of two with one external
// id wins, and each request is answered in its place.
BOOST_AUTO_TEST_CASE(a_batch_is_one_commit_answered_in_order) {
    BOOST_TEST_REQUIRE(service->create("acme", minimal_request("stored")).has_value());
    const auto before = service->stats().commit_batch_size;
    std::vector<ozzie::result<ozzie::new_user>> requests;
    for (const auto* id : {"a", "b", "a", "stored", "", "c"}) requests.emplace_back(minimal_request(id));
    requests.emplace_back(ozzie::error{ozzie::errc::validation_error, "unparsable"});
    const auto answers = wait_for<ozzie::result<std::vector<ozzie::result<ozzie::user>>>>(
        [&](auto done) { service->async_create_batch("acme", requests, done); });
    BOOST_TEST_REQUIRE(answers.has_value());
    std::string outcomes;
    for (const auto& a : *answers) outcomes += outcome(a) + (a ? " " + a->external_user_id : "") + ",";
    BOOST_TEST(outcomes == "ok a,ok b,CONFLICT,CONFLICT,VALIDATION_ERROR,ok c,VALIDATION_ERROR,");
    BOOST_TEST(message((*answers)[6]) == "unparsable");
    const auto after = service->stats().commit_batch_size;
    BOOST_TEST(after.cumulative.back() == before.cumulative.back() + 1);  // one more commit
    BOOST_TEST(after.sum == before.sum + 5);  // of the five valid creates
    for (const auto* id : {"a", "b", "c"}) BOOST_TEST(service->find_by_external("acme", id).has_value());
}

BOOST_AUTO_TEST_CASE(a_batch_of_none_or_too_many_is_refused_at_once) {
    for (const std::size_t n : {std::size_t{0}, ozzie::user_service::max_batch_users + 1}) {
        std::vector<ozzie::result<ozzie::new_user>> requests(n, minimal_request("x"));
        bool called = false;
        service->async_create_batch("acme", requests, [&](auto r) {
            called = true;
            BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
        });
        BOOST_TEST(called);  // on this thread, before returning
    }
    BOOST_TEST(outcome(service->find_by_external("acme", "x")) == "NOT_FOUND");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kept_answers_in_the_store)

// A file system whose syncs fail while `failing` is set: a disk fault under the WAL.
class failing_sync_fs final : public rocksdb::FileSystemWrapper {
public:
    failing_sync_fs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
    const char* Name() const override { return "failing_sync_fs"; }
    std::atomic<bool> failing{false};

    rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* d) override {
        auto status = target()->NewWritableFile(name, o, file, d);
        if (status.ok()) *file = std::make_unique<failing_file>(std::move(*file), failing);
        return status;
    }

private:
    class failing_file final : public rocksdb::FSWritableFileOwnerWrapper {
    public:
        failing_file(std::unique_ptr<rocksdb::FSWritableFile> f, std::atomic<bool>& failing)
            : FSWritableFileOwnerWrapper(std::move(f)), failing_(failing) {}
        rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            if (failing_) return rocksdb::IOStatus::IOError("injected sync failure");
            return target()->Sync(o, d);
        }
        rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            if (failing_) return rocksdb::IOStatus::IOError("injected fsync failure");
            return target()->Fsync(o, d);
        }

    private:
        std::atomic<bool>& failing_;
    };
};

ozzie::user sample_user(std::string external_user_id) {
    ozzie::user u;
    u.id = "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX";
    u.client_id = "acme";
    u.external_user_id = std::move(external_user_id);
    u.language = "en";
    u.created_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    return u;
}

ozzie::kept_record sample_record(std::string key, std::chrono::sys_seconds created_at) {
    return {"acme", std::move(key), "fp", created_at, {201, {{"ETag", "\"t\""}}, "body"}};
}

// The kept answer and the user go in one write: when the write fails, neither is there.
BOOST_AUTO_TEST_CASE(a_failed_write_keeps_neither_the_user_nor_the_answer) {
    ozzie::testing::temp_dir dir;
    ozzie::store_options options;
    options.data_dir = dir.path() / "db";
    auto fs = std::make_shared<failing_sync_fs>();
    ozzie::rocksdb_store store(options, fs);
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const std::vector<ozzie::user> users{sample_user("u")};
    const auto keep = [&](const std::vector<bool>& stored) {
        BOOST_TEST(stored == std::vector<bool>{true});
        return std::vector<ozzie::kept_record>{sample_record("k", now)};
    };
    fs->failing = true;
    BOOST_TEST(outcome(store.insert(users, keep)) == "SERVICE_UNAVAILABLE");
    BOOST_TEST(outcome(store.find_kept("acme", "k")) == "NOT_FOUND");
    BOOST_TEST(outcome(store.get({}, users[0].id.substr(8))) == "NOT_FOUND");
    fs->failing = false;
    // The store recovers by itself; the same write then keeps both.
    bool written = false;
    for (int i = 0; i < 100 && !written; ++i) {
        written = store.insert(users, keep).has_value();
        if (!written) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST_REQUIRE(written);
    const auto kept = store.find_kept("acme", "k");
    BOOST_TEST_REQUIRE(kept.has_value());
    BOOST_TEST(kept->fingerprint == "fp");
    BOOST_TEST((kept->created_at == now));
    BOOST_TEST((kept->answer == ozzie::kept_answer{201, {{"ETag", "\"t\""}}, "body"}));
    BOOST_TEST(store.get({}, users[0].id.substr(8)).has_value());
}

// Compactions drop the answers older than the TTL and keep the others; lookups through the
// service ignore an expired one still on disk.
BOOST_AUTO_TEST_CASE(expired_answers_are_ignored_then_compacted_away) {
    ozzie::testing::temp_dir dir;
    ozzie::store_options options;
    options.data_dir = dir.path() / "db";
    options.idempotency_ttl = 1s;
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    {
        ozzie::rocksdb_store store(options);
        const std::vector<ozzie::kept_record> kept{sample_record("old", now - 5s), sample_record("new", now + 60s)};
        BOOST_TEST_REQUIRE(store.update({}, kept).has_value());
        BOOST_TEST(store.find_kept("acme", "old").has_value());  // in the memtable: no compaction yet
        BOOST_TEST_REQUIRE(store.compact().has_value());
        BOOST_TEST(outcome(store.find_kept("acme", "old")) == "NOT_FOUND");
        BOOST_TEST(store.find_kept("acme", "new").has_value());
    }
    {
        ozzie::rocksdb_store store(options);
        BOOST_TEST_REQUIRE(store.update({}, std::vector{sample_record("stale", now - 5s)}).has_value());
    }
    ozzie::user_service service(options);
    BOOST_TEST(what(service.claim_idempotency_key("acme", "stale", "fp")) == "claim");
    BOOST_TEST(what(service.claim_idempotency_key("acme", "new", "fp")) == "kept 201 body");
}

BOOST_AUTO_TEST_CASE(kept_records_round_trip_their_encoding) {
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    ozzie::kept_record r{"acme", "key", std::string("\0\xFF fp", 5), now,
                                   {409, {{"Location", "/x"}, {"ETag", "\"y\""}}, std::string(70000, 'b')}};
    const auto value = ozzie::encoding::kept_value(r);
    const auto back = ozzie::encoding::decode_kept("acme", "key", value);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->fingerprint == r.fingerprint);
    BOOST_TEST((back->created_at == now));
    BOOST_TEST((back->answer == r.answer));
    BOOST_TEST((ozzie::encoding::kept_created_at(value) == now));
    BOOST_TEST(!ozzie::encoding::decode_kept("acme", "key", value.substr(0, value.size() - 1)).has_value());
    BOOST_TEST(!ozzie::encoding::decode_kept("acme", "key", value + "x").has_value());
    BOOST_TEST(!ozzie::encoding::kept_created_at("\x01short").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
