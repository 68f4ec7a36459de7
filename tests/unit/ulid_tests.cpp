// ULIDs and Ozzie user ids (source/service/ulid.hpp).
#include <boost/test/unit_test.hpp>

#include "service/ulid.hpp"

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// 2025-05-05T14:30:00.123Z
const ozzie::milliseconds_time spec_time{std::chrono::milliseconds{1746455400123}};

bool all_crockford(std::string_view s) {
    for (char c : s)
        if (crockford.find(c) == std::string_view::npos) return false;
    return true;
}

// The 48-bit millisecond time in the first 10 characters; -1 if a character is not Crockford.
long long decode_time(std::string_view text) {
    long long value = 0;
    for (char c : text.substr(0, 10)) {
        auto digit = crockford.find(c);
        if (digit == std::string_view::npos) return -1;
        value = value * 32 + static_cast<long long>(digit);
    }
    return value;
}

long long ms_of(ozzie::milliseconds_time t) {
    return static_cast<long long>(t.time_since_epoch().count());
}

std::string optional_text(std::optional<std::string_view> v) {
    return v ? std::string(*v) : std::string("<nullopt>");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ulid_generation)

BOOST_AUTO_TEST_CASE(ulid_is_26_crockford_characters) {
    ozzie::ulid_generator gen;
    for (int i = 0; i < 100; ++i) {
        auto id = gen.next(spec_time + std::chrono::milliseconds{i * 7});
        BOOST_TEST(id.text.size() == 26u);
        BOOST_TEST(all_crockford(id.text), id.text);
        BOOST_TEST(ozzie::is_ulid(id.text), id.text);
    }
}

BOOST_AUTO_TEST_CASE(first_ten_characters_encode_the_millisecond_time) {
    ozzie::ulid_generator gen;
    auto id = gen.next(spec_time);
    BOOST_TEST(decode_time(id.text) == ms_of(spec_time));
    BOOST_TEST(ms_of(id.time) == ms_of(spec_time));
}

BOOST_AUTO_TEST_CASE(epoch_encodes_as_zeros) {
    ozzie::ulid_generator gen;
    auto id = gen.next(ozzie::milliseconds_time{});
    BOOST_TEST(id.text.substr(0, 10) == "0000000000");
    BOOST_TEST(decode_time(id.text) == 0);
}

BOOST_AUTO_TEST_CASE(largest_48_bit_time_encodes_as_7zzzzzzzzz) {
    ozzie::ulid_generator gen;
    const ozzie::milliseconds_time max_time{std::chrono::milliseconds{(std::int64_t{1} << 48) - 1}};
    auto id = gen.next(max_time);
    BOOST_TEST(id.text.substr(0, 10) == "7ZZZZZZZZZ");
    BOOST_TEST(decode_time(id.text) == (1LL << 48) - 1);
    BOOST_TEST(ozzie::is_ulid(id.text));
}

BOOST_AUTO_TEST_CASE(strictly_increasing_within_one_millisecond) {
    ozzie::ulid_generator gen;
    std::string previous = gen.next(spec_time).text;
    for (int i = 0; i < 5000; ++i) {
        auto id = gen.next(spec_time);
        BOOST_TEST_REQUIRE(id.text > previous, id.text << " after " << previous);
        BOOST_TEST_REQUIRE(decode_time(id.text) == ms_of(spec_time));
        previous = id.text;
    }
}

BOOST_AUTO_TEST_CASE(strictly_increasing_when_the_clock_steps_back) {
    ozzie::ulid_generator gen;
    auto first = gen.next(spec_time);
    auto earlier = gen.next(spec_time - 5s);
    BOOST_TEST(earlier.text > first.text);
    // Whatever time it chose, the text and the reported time agree.
    BOOST_TEST(decode_time(earlier.text) == ms_of(earlier.time));
    auto earlier_still = gen.next(spec_time - 1h);
    BOOST_TEST(earlier_still.text > earlier.text);
    BOOST_TEST(decode_time(earlier_still.text) == ms_of(earlier_still.time));
    // Back to a later time: still increasing, and it encodes the new time.
    auto later = gen.next(spec_time + 1s);
    BOOST_TEST(later.text > earlier_still.text);
    BOOST_TEST(decode_time(later.text) == ms_of(spec_time + 1s));
}

BOOST_AUTO_TEST_CASE(later_millisecond_sorts_after) {
    ozzie::ulid_generator gen;
    auto a = gen.next(spec_time);
    auto b = gen.next(spec_time + 1ms);
    BOOST_TEST(b.text > a.text);
    BOOST_TEST(decode_time(b.text) == ms_of(spec_time) + 1);
    BOOST_TEST(ms_of(b.time) == ms_of(spec_time) + 1);
}

BOOST_AUTO_TEST_CASE(random_part_differs_between_generators) {
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) {
        ozzie::ulid_generator gen;
        seen.insert(gen.next(spec_time).text);
    }
    BOOST_TEST(seen.size() == 50u);
}

BOOST_AUTO_TEST_CASE(random_part_is_not_constant_across_milliseconds) {
    ozzie::ulid_generator gen;
    std::set<std::string> randoms;
    for (int i = 0; i < 20; ++i) randoms.insert(gen.next(spec_time + std::chrono::milliseconds{i}).text.substr(10));
    BOOST_TEST(randoms.size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(is_ulid_checks)

BOOST_AUTO_TEST_CASE(accepts_well_formed_ulids) {
    BOOST_TEST(ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    BOOST_TEST(ozzie::is_ulid("00000000000000000000000000"));
    BOOST_TEST(ozzie::is_ulid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    BOOST_TEST(ozzie::is_ulid("0123456789ABCDEFGHJKMNPQRS"));
    BOOST_TEST(ozzie::is_ulid("01HX9KZMR4P5JQNBVT7YCW3DEX"));
}

BOOST_AUTO_TEST_CASE(rejects_wrong_lengths) {
    BOOST_TEST(!ozzie::is_ulid(""));
    BOOST_TEST(!ozzie::is_ulid("01HX9KZMR4P5JQNBVT7YCW3DE"));    // 25, the spec's example
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));  // 27
}

BOOST_AUTO_TEST_CASE(rejects_lower_case) {
    BOOST_TEST(!ozzie::is_ulid("01arz3ndektsv4rrffq69g5fav"));
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAv"));
}

BOOST_AUTO_TEST_CASE(rejects_letters_outside_crockford) {
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAL"));
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAO"));
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));
}

BOOST_AUTO_TEST_CASE(rejects_other_characters) {
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA-"));
    BOOST_TEST(!ozzie::is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA "));
    BOOST_TEST(!ozzie::is_ulid(std::string_view("01ARZ3NDEKTSV4RRFFQ69G5FA\0", 26)));
}

BOOST_AUTO_TEST_CASE(rejects_values_above_128_bits) {
    BOOST_TEST(!ozzie::is_ulid("80000000000000000000000000"));
    BOOST_TEST(!ozzie::is_ulid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    BOOST_TEST(!ozzie::is_ulid("ZZZZZZZZZZZZZZZZZZZZZZZZZZ"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_ids)

BOOST_AUTO_TEST_CASE(prefix_is_ozz_usr) {
    BOOST_TEST(ozzie::user_id_prefix == "ozz_usr_");
    BOOST_TEST(ozzie::ulid_chars == 26u);
}

BOOST_AUTO_TEST_CASE(ulid_of_a_well_formed_id) {
    ozzie::ulid_generator gen;
    auto id = gen.next(spec_time);
    const std::string user_id = "ozz_usr_" + id.text;
    BOOST_TEST(optional_text(ozzie::ulid_of_user_id(user_id)) == id.text);
    BOOST_TEST(optional_text(ozzie::ulid_of_user_id("ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV")) ==
               "01ARZ3NDEKTSV4RRFFQ69G5FAV");
}

BOOST_AUTO_TEST_CASE(spec_example_id_is_one_character_short_and_rejected) {
    BOOST_TEST(optional_text(ozzie::ulid_of_user_id("ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DE")) ==
               "<nullopt>");
}

BOOST_AUTO_TEST_CASE(wrong_or_missing_prefix_is_rejected) {
    const std::string ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    BOOST_TEST(!ozzie::ulid_of_user_id(ulid).has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("usr_" + ulid).has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_org_" + ulid).has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("OZZ_USR_" + ulid).has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr" + ulid).has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id(" ozz_usr_" + ulid).has_value());
}

BOOST_AUTO_TEST_CASE(malformed_ulid_after_the_prefix_is_rejected) {
    BOOST_TEST(!ozzie::ulid_of_user_id("").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_NOTEXIST").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_01arz3ndektsv4rrffq69g5fav").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAVX").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_81ARZ3NDEKTSV4RRFFQ69G5FAV").has_value());
    BOOST_TEST(!ozzie::ulid_of_user_id("ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
