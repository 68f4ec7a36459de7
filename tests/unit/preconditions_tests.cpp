// Entity tags (ozzie::entity_tag) and the If-Match / If-None-Match rules
// (source/service/preconditions.hpp).
#include <boost/test/unit_test.hpp>

#include "service/preconditions.hpp"

#include <ozzie/user.hpp>

#include <set>
#include <string>

namespace {

ozzie::user sample() {
    ozzie::user u;
    u.id = "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX";
    u.client_id = "acme";
    u.external_user_id = "usr_1";
    u.name = "Maria";
    u.language = "en";
    u.created_at = std::chrono::sys_seconds(std::chrono::seconds(1'700'000'000));
    return u;
}

const std::string current = R"("0123456789abcdef")";

}  // namespace

BOOST_AUTO_TEST_SUITE(entity_tags)

BOOST_AUTO_TEST_CASE(a_tag_is_a_quoted_16_digit_hex_string_the_same_for_equal_users) {
    const auto tag = ozzie::entity_tag(sample());
    BOOST_TEST(tag.size() == 18u);
    BOOST_TEST(tag.front() == '"');
    BOOST_TEST(tag.back() == '"');
    BOOST_TEST(tag.substr(1, 16).find_first_not_of("0123456789abcdef") == std::string::npos);
    BOOST_TEST(ozzie::entity_tag(sample()) == tag);
}

// Any change of any field gives another tag, also a change that moves bytes between fields.
BOOST_AUTO_TEST_CASE(every_field_change_changes_the_tag) {
    std::set<std::string> tags{ozzie::entity_tag(sample())};
    const auto changed = [&tags](auto change) {
        auto u = sample();
        change(u);
        return tags.insert(ozzie::entity_tag(u)).second;
    };
    BOOST_TEST(changed([](ozzie::user& u) { u.id.back() = 'Y'; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.client_id = "other"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.external_user_id = "usr_2"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.name = "Mario"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.name.reset(); }));
    BOOST_TEST(changed([](ozzie::user& u) { u.name = ""; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.email = "m@example.com"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.phone = "+15551234567"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.language = "pt"; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.stage = ozzie::onboarding_stage::plan_pending; }));
    BOOST_TEST(changed([](ozzie::user& u) { u.created_at += std::chrono::seconds(1); }));
    // The same bytes split otherwise between two fields.
    BOOST_TEST(changed([](ozzie::user& u) {
        u.external_user_id = "usr_1M";
        u.name = "aria";
    }));
    BOOST_TEST(changed([](ozzie::user& u) {
        u.name.reset();
        u.email = "Maria";
    }));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(if_match_rules)

BOOST_AUTO_TEST_CASE(if_match_compares_strongly) {
    BOOST_TEST(ozzie::if_match_passes(current, current));
    BOOST_TEST(ozzie::if_match_passes("*", current));
    BOOST_TEST(ozzie::if_match_passes("  *  ", current));
    BOOST_TEST(ozzie::if_match_passes(R"("aaaa", )" + current, current));
    BOOST_TEST(ozzie::if_match_passes(R"("aaaa",)" + current + R"(,"bbbb")", current));
    BOOST_TEST(ozzie::if_match_passes(" \t" + current + " \t", current));
    BOOST_TEST(!ozzie::if_match_passes("W/" + current, current));  // a weak tag never matches strongly
    BOOST_TEST(!ozzie::if_match_passes(R"("0123456789abcdee")", current));
    BOOST_TEST(!ozzie::if_match_passes("0123456789abcdef", current));  // unquoted: malformed
    BOOST_TEST(!ozzie::if_match_passes("", current));
    BOOST_TEST(!ozzie::if_match_passes(R"("0123456789abcdef)", current));  // unterminated
    BOOST_TEST(!ozzie::if_match_passes(R"(junk, )" + current, current));  // a malformed list names nothing
    BOOST_TEST(!ozzie::if_match_passes("*, " + current.substr(0, 5), current));
}

BOOST_AUTO_TEST_CASE(if_none_match_compares_weakly) {
    BOOST_TEST(ozzie::if_none_match_names(current, current));
    BOOST_TEST(ozzie::if_none_match_names("W/" + current, current));
    BOOST_TEST(ozzie::if_none_match_names("*", current));
    BOOST_TEST(ozzie::if_none_match_names(R"(W/"x", )" + current, current));
    BOOST_TEST(!ozzie::if_none_match_names(R"("x", W/"y")", current));
    BOOST_TEST(!ozzie::if_none_match_names("", current));
    BOOST_TEST(!ozzie::if_none_match_names("w/" + current, current));  // W/ is case-sensitive
}

BOOST_AUTO_TEST_SUITE_END()
