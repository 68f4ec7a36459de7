// The query of GET /v1/users (http/list_query.hpp).
#include <boost/test/unit_test.hpp>

#include "http/list_query.hpp"

#include "support/result_text.hpp"

#include <string>

namespace {

using ozzie::testing::contains;
using ozzie::testing::message;
using ozzie::testing::outcome;

}  // namespace

BOOST_AUTO_TEST_SUITE(list_query_suite)

BOOST_AUTO_TEST_CASE(no_query_is_the_first_page_of_10) {
    for (const char* target : {"/v1/users", "/v1/users?", "/v1/users?&&"}) {
        const auto r = ozzie::parse_list_query(target);
        BOOST_TEST_REQUIRE(outcome(r) == "ok", target);
        BOOST_TEST(r->limit == 10u);
        BOOST_TEST((!r->starting_after && !r->ending_before && !r->stage));
    }
}

BOOST_AUTO_TEST_CASE(every_parameter_is_read_and_decoded) {
    const auto r = ozzie::parse_list_query(
        "/v1/users?limit=25&starting_after=ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV&onboarding_stage=plan%5Fpending");
    BOOST_TEST_REQUIRE(outcome(r) == "ok", message(r));
    BOOST_TEST(r->limit == 25u);
    BOOST_TEST(*r->starting_after == "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV");
    BOOST_TEST((*r->stage == ozzie::onboarding_stage::plan_pending));
    const auto back = ozzie::parse_list_query("http://host/v1/users?ending_before=ozz_usr_x");
    BOOST_TEST_REQUIRE(outcome(back) == "ok");
    BOOST_TEST(*back->ending_before == "ozz_usr_x");  // its form is the service's to check
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_validation_errors_naming_them) {
    const std::pair<std::string, std::string> cases[] = {
        {"limit=abc", "'limit'"},
        {"limit=", "'limit'"},
        {"limit", "'limit'"},
        {"limit=-1", "'limit'"},
        {"limit=1.5", "'limit'"},
        {"limit=99999999999999999999999", "'limit'"},
        {"limit=5&limit=6", "'limit'"},
        {"onboarding_stage=done", "'onboarding_stage'"},
        {"onboarding_stage=active&onboarding_stage=active", "'onboarding_stage'"},
        {"starting_after=a&starting_after=b", "'starting_after'"},
        {"expand=data", "'expand'"},
        {"Limit=5", "'Limit'"},
        {"limit=5%", "query string"},
    };
    for (const auto& [query, named] : cases) {
        const auto r = ozzie::parse_list_query("/v1/users?" + query);
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", query);
        BOOST_TEST(contains(message(r), named), query << " -> " << message(r));
    }
}

BOOST_AUTO_TEST_SUITE_END()
