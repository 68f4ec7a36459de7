// Two user_services on one PostgreSQL database, as two server nodes are: each has its own writer,
// so a change can find its user changed by the other node between its read and its write. The
// store refuses such a write as stale, and the writer reads again and decides again
// (commit_queue's write_retrying): no change is lost and none fails for it.
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"
#include "support/result_text.hpp"

#include "storage/postgres/schema.hpp"

#include <ozzie/user_service.hpp>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using ozzie::testing::fresh_database;
using ozzie::testing::outcome;

struct two_nodes : fresh_database {
    two_nodes() {
        ozzie::postgres::migrate(conn.get());
        ozzie::store_options options;
        options.postgres = url();
        first.emplace(options);
        second.emplace(options);
    }
    std::optional<ozzie::user_service> first;
    std::optional<ozzie::user_service> second;
};

// `rounds` changes of one field of the user, each through `service`, each answer's outcome kept.
// A client pauses a little between its changes (up to 2 ms): changes collide often, but neither
// node writes the user without a pause, which would starve the other's every retry.
std::vector<std::string> change_each_round(ozzie::user_service& service, const ozzie::user_ref& ref, int rounds,
                                           bool names) {
    std::vector<std::string> outcomes;
    std::minstd_rand random(names ? 1 : 2);
    for (int i = 0; i < rounds; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
        ozzie::user_patch patch;
        if (names) patch.name = std::optional<std::string>("name " + std::to_string(i));
        else patch.email = std::optional<std::string>("mail" + std::to_string(i) + "@example.com");
        outcomes.push_back(outcome(service.update("acme", ref, std::move(patch))));
    }
    return outcomes;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(changes_of_one_user_through_two_nodes_at_once_all_apply, two_nodes) {
    const auto created = first->create("acme", {.external_user_id = "shared", .name = {}, .email = {}, .phone = {},
                                                .language = {}});
    BOOST_TEST_REQUIRE(created.has_value());
    const ozzie::user_ref ref{ozzie::user_ref::kind::id, created->id};
    constexpr int rounds = 200;
    std::vector<std::string> names;
    std::vector<std::string> emails;
    {
        std::jthread renaming([&] { names = change_each_round(*first, ref, rounds, true); });
        std::jthread mailing([&] { emails = change_each_round(*second, ref, rounds, false); });
    }
    // Every change answered with the user as changed: none refused for the other node's.
    BOOST_TEST(names == std::vector<std::string>(rounds, "ok"), boost::test_tools::per_element());
    BOOST_TEST(emails == std::vector<std::string>(rounds, "ok"), boost::test_tools::per_element());
    // And none lost: each node's last change is there, whichever node reads it.
    for (auto* node : {&*first, &*second}) {
        const auto now = node->find_by_id("acme", created->id);
        BOOST_TEST_REQUIRE(now.has_value());
        BOOST_TEST(now->name.value_or("(none)") == "name " + std::to_string(rounds - 1));
        BOOST_TEST(now->email.value_or("(none)") == "mail" + std::to_string(rounds - 1) + "@example.com");
    }
}

BOOST_FIXTURE_TEST_CASE(a_removal_racing_changes_on_another_node_leaves_no_user_and_no_failure, two_nodes) {
    const auto created = first->create("acme", {.external_user_id = "doomed", .name = {}, .email = {}, .phone = {},
                                                .language = {}});
    BOOST_TEST_REQUIRE(created.has_value());
    const ozzie::user_ref ref{ozzie::user_ref::kind::external, "doomed"};
    std::vector<std::string> changes;
    std::string removal;
    {
        std::jthread changing([&] { changes = change_each_round(*first, ref, 40, true); });
        std::jthread removing([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            removal = outcome(second->remove("acme", ref));
        });
    }
    BOOST_TEST(removal == "ok");
    // Each change came before the removal (ok) or after it (NOT_FOUND); never a 503.
    for (const auto& c : changes) BOOST_TEST((c == "ok" || c == "NOT_FOUND"), c);
    BOOST_TEST(outcome(first->find_by_external("acme", "doomed")) == "NOT_FOUND");
}
