// Updating and listing users through the in-process API (user_service::update and ::list), over
// a real store in a temp dir: the rules of PATCH and GET /v1/users, and their concurrency.
#include <boost/test/unit_test.hpp>

#include "storage/service_fixture.hpp"
#include "support/create_requests.hpp"
#include "support/result_text.hpp"

#include <ozzie/user_service.hpp>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using ozzie::onboarding_stage;
using ozzie::user_patch;
using ozzie::user_ref;
using ozzie::testing::contains;
using ozzie::testing::message;
using ozzie::testing::minimal_request;
using ozzie::testing::outcome;
using ozzie::testing::spec_request;

constexpr std::string_view client = "s2client";

user_ref by_id(const std::string& id) { return {user_ref::kind::id, id}; }
user_ref by_external(const std::string& external_id) { return {user_ref::kind::external, external_id}; }

struct lifecycle_fixture : ozzie::testing::service_fixture {
    ozzie::user create(const std::string& external_id, std::string_view owner = client) {
        auto created = service->create(owner, minimal_request(external_id));
        BOOST_TEST_REQUIRE(outcome(created) == "ok", message(created));
        return *created;
    }

    // The ids on the page `request` asks for.
    std::vector<std::string> ids_of(const ozzie::list_request& request) {
        const auto page = service->list(client, request);
        BOOST_TEST_REQUIRE(outcome(page) == "ok", message(page));
        std::vector<std::string> ids;
        for (const auto& u : page->users) ids.push_back(u.id);
        return ids;
    }
};

user_patch stage_patch(onboarding_stage stage) {
    user_patch p;
    p.stage = stage;
    return p;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(user_service_update, lifecycle_fixture)

BOOST_AUTO_TEST_CASE(a_patch_changes_the_fields_it_sets_and_keeps_the_others) {
    auto created = service->create(client, spec_request());
    BOOST_TEST_REQUIRE(outcome(created) == "ok");
    user_patch p;
    p.name = "Maria S. Santos";
    p.email = std::optional<std::string>{};  // null: cleared
    p.language = "pt";
    const auto updated = service->update(client, by_id(created->id), p);
    BOOST_TEST_REQUIRE(outcome(updated) == "ok", message(updated));
    auto expected = *created;
    expected.name = "Maria S. Santos";
    expected.email.reset();
    expected.language = "pt";
    BOOST_TEST((*updated == expected));
    restart();
    const auto read = service->find_by_id(client, created->id);
    BOOST_TEST_REQUIRE(outcome(read) == "ok");
    BOOST_TEST((*read == expected));
    BOOST_TEST((*service->find_by_external(client, "usr_8821") == expected));
}

BOOST_AUTO_TEST_CASE(an_empty_patch_changes_nothing_and_answers_the_user) {
    auto created = service->create(client, spec_request());
    BOOST_TEST_REQUIRE(outcome(created) == "ok");
    const auto same = service->update(client, by_external("usr_8821"), {});
    BOOST_TEST_REQUIRE(outcome(same) == "ok");
    BOOST_TEST((*same == *created));
}

BOOST_AUTO_TEST_CASE(fields_are_validated_as_on_create_with_the_same_messages) {
    const auto u = create("usr_1");
    // Each bad value, set by `set` in a patch and in a create, answers the same message.
    const auto check = [&](const auto& set) {
        user_patch p;
        auto c = minimal_request("usr_x");
        set(p, c);
        const auto updated = service->update(client, by_id(u.id), p);
        const auto created = service->create(client, c);
        BOOST_TEST(outcome(updated) == "VALIDATION_ERROR");
        BOOST_TEST(outcome(created) == "VALIDATION_ERROR");
        BOOST_TEST(message(updated) == message(created));
    };
    check([](user_patch& p, ozzie::new_user& c) { p.email = c.email = "not-an-email"; });
    check([](user_patch& p, ozzie::new_user& c) { p.phone = c.phone = "5551234"; });
    check([](user_patch& p, ozzie::new_user& c) { p.name = c.name = std::string(201, 'n'); });
    check([](user_patch& p, ozzie::new_user& c) { p.language = c.language = "fr"; });
    check([](user_patch& p, ozzie::new_user& c) { p.external_user_id = c.external_user_id = std::string(101, 'x'); });
    check([](user_patch& p, ozzie::new_user& c) { p.external_user_id = c.external_user_id = ""; });
    BOOST_TEST((*service->find_by_id(client, u.id) == u));  // unchanged
}

BOOST_AUTO_TEST_CASE(onboarding_stage_only_moves_forward) {
    const auto u = create("usr_1");
    BOOST_TEST(outcome(service->update(client, by_id(u.id), stage_patch(onboarding_stage::intake_pending))) == "ok");
    const auto skipped = service->update(client, by_id(u.id), stage_patch(onboarding_stage::active));
    BOOST_TEST_REQUIRE(outcome(skipped) == "ok");
    BOOST_TEST((skipped->stage == onboarding_stage::active));
    BOOST_TEST(outcome(service->update(client, by_id(u.id), stage_patch(onboarding_stage::active))) == "ok");
    const auto back = service->update(client, by_id(u.id), stage_patch(onboarding_stage::plan_pending));
    BOOST_TEST(outcome(back) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(back), "Field 'onboarding_stage'"), message(back));
    BOOST_TEST(contains(message(back), "'active'"), message(back));
    // A patch that moves the stage back changes nothing else either.
    auto mixed = stage_patch(onboarding_stage::intake_pending);
    mixed.name = "Changed";
    BOOST_TEST(outcome(service->update(client, by_id(u.id), mixed)) == "VALIDATION_ERROR");
    BOOST_TEST(!service->find_by_id(client, u.id)->name.has_value());

    const auto v = create("usr_2");
    BOOST_TEST(outcome(service->update(client, by_id(v.id), stage_patch(onboarding_stage::plan_pending))) == "ok");
    BOOST_TEST(outcome(service->update(client, by_id(v.id), stage_patch(onboarding_stage::intake_pending))) ==
               "VALIDATION_ERROR");
}

BOOST_AUTO_TEST_CASE(a_new_external_id_is_taken_and_the_old_one_released_at_once) {
    const auto u = create("usr_old");
    user_patch p;
    p.external_user_id = "usr_new";
    const auto moved = service->update(client, by_external("usr_old"), p);
    BOOST_TEST_REQUIRE(outcome(moved) == "ok");
    BOOST_TEST(moved->external_user_id == "usr_new");
    BOOST_TEST(moved->id == u.id);
    BOOST_TEST(outcome(service->find_by_external(client, "usr_old")) == "NOT_FOUND");
    BOOST_TEST(service->find_by_external(client, "usr_new")->id == u.id);
    const auto reused = create("usr_old");  // free again
    BOOST_TEST(reused.id != u.id);
    restart();
    BOOST_TEST(service->find_by_external(client, "usr_new")->id == u.id);
    BOOST_TEST(service->find_by_external(client, "usr_old")->id == reused.id);
}

BOOST_AUTO_TEST_CASE(an_external_id_held_by_another_user_is_a_conflict_with_the_create_message) {
    const auto a = create("usr_a");
    const auto b = create("usr_b");
    user_patch p;
    p.external_user_id = "usr_b";
    p.name = "Not applied";
    const auto taken = service->update(client, by_id(a.id), p);
    BOOST_TEST(outcome(taken) == "CONFLICT");
    BOOST_TEST(message(taken) == message(service->create(client, minimal_request("usr_b"))));
    BOOST_TEST((*service->find_by_id(client, a.id) == a));
    BOOST_TEST(service->find_by_external(client, "usr_b")->id == b.id);
    // Another client's user with that external id is no conflict.
    create("usr_c", "other");
    p = {};
    p.external_user_id = "usr_c";
    BOOST_TEST(outcome(service->update(client, by_id(a.id), p)) == "ok");
}

BOOST_AUTO_TEST_CASE(an_update_finds_its_user_as_lookups_do) {
    const auto mine = create("usr_1");
    user_patch p;
    p.name = "x";
    BOOST_TEST(outcome(service->update("other", by_id(mine.id), p)) == "FORBIDDEN");
    BOOST_TEST(outcome(service->update("other", by_external("usr_1"), p)) == "NOT_FOUND");
    BOOST_TEST(outcome(service->update(client, by_id("ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV"), p)) == "NOT_FOUND");
    BOOST_TEST(outcome(service->update(client, by_id("nonsense"), p)) == "NOT_FOUND");
    BOOST_TEST(outcome(service->update(client, by_external("nobody"), p)) == "NOT_FOUND");
    BOOST_TEST(!service->find_by_id(client, mine.id)->name.has_value());
}

BOOST_AUTO_TEST_CASE(updates_waiting_together_are_applied_in_turn) {
    // Submitted without waiting, so that the writer takes them in one batch: a swap of two
    // external ids through a third, and two changes of one user.
    const auto a = create("usr_a");
    const auto b = create("usr_b");
    std::vector<std::string> answers(5);
    std::latch done(5);
    const auto submit = [&](std::size_t i, user_ref ref, user_patch p) {
        service->async_update(client, std::move(ref), std::move(p), [&, i](ozzie::result<ozzie::user> r) {
            answers[i] = r ? r->external_user_id + "/" + (r->name ? *r->name : "-") : std::string(ozzie::code_name(r.error().code));
            done.count_down();
        });
    };
    user_patch to_tmp, b_to_a, tmp_to_b, named, renamed;
    to_tmp.external_user_id = "usr_tmp";
    b_to_a.external_user_id = "usr_a";
    tmp_to_b.external_user_id = "usr_b";
    named.name = "first";
    renamed.name = "second";
    submit(0, by_id(a.id), to_tmp);
    submit(1, by_external("usr_b"), b_to_a);
    submit(2, by_external("usr_tmp"), tmp_to_b);
    submit(3, by_external("usr_b"), named);  // a, by now
    submit(4, by_id(b.id), renamed);
    done.wait();
    BOOST_TEST(answers == (std::vector<std::string>{"usr_tmp/-", "usr_a/-", "usr_b/-", "usr_b/first", "usr_a/second"}),
               boost::test_tools::per_element());
    BOOST_TEST(service->find_by_external(client, "usr_b")->id == a.id);
    BOOST_TEST(service->find_by_external(client, "usr_a")->id == b.id);
    BOOST_TEST(outcome(service->find_by_external(client, "usr_tmp")) == "NOT_FOUND");
    restart();
    BOOST_TEST(*service->find_by_id(client, a.id)->name == "first");
    BOOST_TEST(service->find_by_external(client, "usr_b")->id == a.id);
    BOOST_TEST(service->find_by_external(client, "usr_a")->id == b.id);
}

BOOST_AUTO_TEST_CASE(parallel_updates_moving_external_ids_never_share_one) {
    // Eight threads move the external ids of 16 users around a pool of 24, as fast as they can;
    // creates and removals of pool ids run alongside. Afterwards, and throughout for readers,
    // each pool id names at most one user, and every index entry leads to its user.
    constexpr int users = 16, pool = 24, threads = 8, rounds = 150;
    std::vector<std::string> ids;
    for (int i = 0; i < users; ++i) ids.push_back(create("pool-" + std::to_string(i)).id);
    std::latch start(threads + 1);
    std::atomic<int> unexpected{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            std::mt19937 random(static_cast<unsigned>(t));
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                const auto target = "pool-" + std::to_string(random() % pool);
                user_patch p;
                p.external_user_id = target;
                const auto r = service->update(client, by_id(ids[random() % users]), p);
                if (!r && r.error().code != ozzie::errc::conflict) ++unexpected;
                if (r && r->external_user_id != target) ++unexpected;
            }
        });
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        start.arrive_and_wait();
        while (!stop) {
            for (int k = 0; k < pool; ++k) {
                const auto external_id = "pool-" + std::to_string(k);
                const auto found = service->find_by_external(client, external_id);
                if (found ? found->external_user_id != external_id : found.error().code != ozzie::errc::not_found)
                    ++unexpected;
            }
        }
    });
    for (auto& w : workers) w.join();
    stop = true;
    reader.join();
    BOOST_TEST(unexpected == 0);
    std::set<std::string> holders, external_ids;
    for (int k = 0; k < pool; ++k) {
        const auto found = service->find_by_external(client, "pool-" + std::to_string(k));
        if (!found) continue;
        BOOST_TEST(holders.insert(found->id).second, "two external ids lead to " << found->id);
        BOOST_TEST((*found == *service->find_by_id(client, found->id)), "the index's copy of " << found->id);
    }
    for (const auto& id : ids) {
        const auto u = service->find_by_id(client, id);
        BOOST_TEST_REQUIRE(outcome(u) == "ok");
        BOOST_TEST(external_ids.insert(u->external_user_id).second, "two users hold " << u->external_user_id);
        BOOST_TEST(service->find_by_external(client, u->external_user_id)->id == id);
    }
    BOOST_TEST(holders.size() == std::size_t(users));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(user_service_list, lifecycle_fixture)

BOOST_AUTO_TEST_CASE(a_walk_over_every_page_in_both_directions_has_no_duplicates_or_gaps) {
    constexpr int n = 300;
    std::vector<std::string> created;  // oldest first
    for (int i = 0; i < n; ++i) created.push_back(create("walk-" + std::to_string(i)).id);
    create("theirs", "other");
    const std::vector<std::string> newest_first(created.rbegin(), created.rend());

    for (const std::size_t limit : {1u, 7u, 10u, 100u}) {
        BOOST_TEST_CONTEXT("limit " << limit) {
            std::vector<std::string> forward;
            ozzie::list_request request;
            request.limit = limit;
            for (;;) {
                const auto page = service->list(client, request);
                BOOST_TEST_REQUIRE(outcome(page) == "ok");
                BOOST_TEST_REQUIRE(page->users.size() <= limit);
                for (const auto& u : page->users) forward.push_back(u.id);
                if (!page->has_more) break;
                BOOST_TEST_REQUIRE(page->users.size() == limit);
                request.starting_after = forward.back();
            }
            BOOST_TEST(forward == newest_first, boost::test_tools::per_element());

            // Back from the oldest: each page is the `limit` users just newer, newest first.
            std::vector<std::string> backward;
            ozzie::list_request back;
            back.limit = limit;
            back.ending_before = created.front();
            backward.push_back(created.front());
            for (;;) {
                const auto page = service->list(client, back);
                BOOST_TEST_REQUIRE(outcome(page) == "ok");
                BOOST_TEST_REQUIRE(page->users.size() <= limit);
                BOOST_TEST_REQUIRE(std::is_sorted(page->users.begin(), page->users.end(),
                                                  [](const auto& x, const auto& y) { return x.id > y.id; }));
                for (auto it = page->users.rbegin(); it != page->users.rend(); ++it) backward.push_back(it->id);
                if (!page->has_more) break;
                BOOST_TEST_REQUIRE(page->users.size() == limit);
                back.ending_before = page->users.front().id;
            }
            BOOST_TEST(backward == created, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(pages_hold_whole_users_and_the_default_limit_is_10) {
    auto full = service->create(client, spec_request());
    BOOST_TEST_REQUIRE(outcome(full) == "ok");
    const auto one = service->list(client, {});
    BOOST_TEST_REQUIRE(outcome(one) == "ok");
    BOOST_TEST_REQUIRE(one->users.size() == 1u);
    BOOST_TEST((one->users[0] == *full));
    BOOST_TEST(!one->has_more);
    for (int i = 0; i < 12; ++i) create("more-" + std::to_string(i));
    const auto first = service->list(client, {});
    BOOST_TEST(first->users.size() == 10u);
    BOOST_TEST(first->has_more);
    BOOST_TEST(service->list("nobody", {})->users.empty());
    BOOST_TEST(!service->list("nobody", {})->has_more);
}

BOOST_AUTO_TEST_CASE(the_filter_lists_the_users_at_one_stage_and_follows_updates) {
    std::vector<std::string> at_plan;
    for (int i = 0; i < 30; ++i) {
        const auto u = create("f-" + std::to_string(i));
        if (i % 3 == 0) {
            BOOST_TEST_REQUIRE(outcome(service->update(client, by_id(u.id), stage_patch(onboarding_stage::plan_pending))) == "ok");
            at_plan.insert(at_plan.begin(), u.id);
        }
    }
    ozzie::list_request request;
    request.limit = 100;
    request.stage = onboarding_stage::plan_pending;
    BOOST_TEST(ids_of(request) == at_plan, boost::test_tools::per_element());
    request.stage = onboarding_stage::intake_pending;
    BOOST_TEST(ids_of(request).size() == 20u);
    // Moving on takes a user out of its stage's list and into the next one's.
    BOOST_TEST_REQUIRE(outcome(service->update(client, by_id(at_plan[0]), stage_patch(onboarding_stage::active))) == "ok");
    request.stage = onboarding_stage::active;
    BOOST_TEST(ids_of(request) == std::vector<std::string>{at_plan[0]}, boost::test_tools::per_element());
    request.stage = onboarding_stage::plan_pending;
    BOOST_TEST(ids_of(request).size() == 9u);
    // Paging within a filter.
    request.limit = 4;
    request.starting_after = at_plan[2];
    BOOST_TEST(ids_of(request) == std::vector<std::string>(at_plan.begin() + 3, at_plan.begin() + 7),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_removed_user_leaves_the_list_and_its_id_still_works_as_a_cursor) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(create("r-" + std::to_string(i)).id);
    BOOST_TEST_REQUIRE(outcome(service->remove(client, by_id(ids[2]))) == "ok");
    ozzie::list_request request;
    BOOST_TEST(ids_of(request) == (std::vector<std::string>{ids[4], ids[3], ids[1], ids[0]}),
               boost::test_tools::per_element());
    request.starting_after = ids[2];
    BOOST_TEST(ids_of(request) == (std::vector<std::string>{ids[1], ids[0]}), boost::test_tools::per_element());
    request.starting_after.reset();
    request.ending_before = ids[2];
    BOOST_TEST(ids_of(request) == (std::vector<std::string>{ids[4], ids[3]}), boost::test_tools::per_element());
    restart();
    request.ending_before.reset();
    BOOST_TEST(ids_of(request).size() == 4u);
}

BOOST_AUTO_TEST_CASE(bad_requests_are_validation_errors_naming_the_parameter) {
    create("u");
    const auto check = [&](const ozzie::list_request& request, std::string_view names) {
        const auto page = service->list(client, request);
        BOOST_TEST(outcome(page) == "VALIDATION_ERROR");
        BOOST_TEST(contains(message(page), names), message(page));
    };
    ozzie::list_request r;
    r.limit = 0;
    check(r, "'limit'");
    r.limit = 101;
    check(r, "'limit'");
    r = {};
    r.starting_after = "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    r.ending_before = "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    check(r, "'starting_after' and 'ending_before'");
    r = {};
    r.starting_after = "usr_8821";
    check(r, "'starting_after'");
    r = {};
    r.ending_before = "";
    check(r, "'ending_before'");
    r = {};
    r.limit = 100;
    BOOST_TEST(outcome(service->list(client, r)) == "ok");
    r.limit = 1;
    BOOST_TEST(outcome(service->list(client, r)) == "ok");
}

BOOST_AUTO_TEST_SUITE_END()
