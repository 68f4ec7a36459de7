// utf8_length and quote_for_message (source/service/utf8.hpp).
#include <boost/test/unit_test.hpp>

#include "service/utf8.hpp"

#include <string>
#include <string_view>

namespace {

// utf8_length as a number, -1 for "not valid UTF-8", so that BOOST_TEST can print it.
long long length_of(std::string_view s) {
    auto n = ozzie::utf8_length(s);
    return n ? static_cast<long long>(*n) : -1;
}

std::string repeat(std::string_view piece, std::size_t times) {
    std::string out;
    for (std::size_t i = 0; i < times; ++i) out += piece;
    return out;
}

const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

BOOST_AUTO_TEST_SUITE(utf8_length_suite)

BOOST_AUTO_TEST_CASE(empty_string_has_length_zero) {
    BOOST_TEST(length_of("") == 0);
}

BOOST_AUTO_TEST_CASE(ascii_counts_one_per_byte) {
    BOOST_TEST(length_of("a") == 1);
    BOOST_TEST(length_of("usr_8821") == 8);
    BOOST_TEST(length_of(std::string(100, 'x')) == 100);
}

BOOST_AUTO_TEST_CASE(nul_is_a_valid_code_point) {
    BOOST_TEST(length_of(std::string_view("a\0b", 3)) == 3);
}

BOOST_AUTO_TEST_CASE(two_byte_characters_count_as_one) {
    BOOST_TEST(length_of("\xC3\xA9") == 1);        // é U+00E9
    BOOST_TEST(length_of("\xC2\x80") == 1);        // U+0080, smallest 2-byte
    BOOST_TEST(length_of("\xDF\xBF") == 1);        // U+07FF, largest 2-byte
    BOOST_TEST(length_of("Jos\xC3\xA9") == 4);     // José
    BOOST_TEST(length_of(repeat("\xC3\xA9", 200)) == 200);
}

BOOST_AUTO_TEST_CASE(three_byte_characters_count_as_one) {
    BOOST_TEST(length_of("\xE2\x82\xAC") == 1);  // € U+20AC
    BOOST_TEST(length_of("\xE0\xA0\x80") == 1);  // U+0800, smallest 3-byte
    BOOST_TEST(length_of("\xED\x9F\xBF") == 1);  // U+D7FF, just below the surrogates
    BOOST_TEST(length_of("\xEE\x80\x80") == 1);  // U+E000, just above the surrogates
    BOOST_TEST(length_of("\xEF\xBF\xBF") == 1);  // U+FFFF
    BOOST_TEST(length_of("\xE6\x97\xA5\xE6\x9C\xAC") == 2);  // 日本
}

BOOST_AUTO_TEST_CASE(four_byte_characters_count_as_one) {
    BOOST_TEST(length_of("\xF0\x90\x80\x80") == 1);  // U+10000, smallest 4-byte
    BOOST_TEST(length_of("\xF0\x9D\x84\x9E") == 1);  // 𝄞 U+1D11E
    BOOST_TEST(length_of("\xF4\x8F\xBF\xBF") == 1);  // U+10FFFF, the largest code point
}

BOOST_AUTO_TEST_CASE(emoji_counts_as_one_character) {
    BOOST_TEST(length_of("\xF0\x9F\x98\x80") == 1);  // 😀 U+1F600
    BOOST_TEST(length_of(repeat("\xF0\x9F\x98\x80", 100)) == 100);
}

BOOST_AUTO_TEST_CASE(mixed_widths_are_counted_in_code_points) {
    // a é € 😀  = 1 + 2 + 3 + 4 bytes, 4 characters
    BOOST_TEST(length_of("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 4);
}

BOOST_AUTO_TEST_CASE(overlong_forms_are_invalid) {
    BOOST_TEST(length_of("\xC0\x80") == -1);          // overlong NUL
    BOOST_TEST(length_of("\xC1\xBF") == -1);          // overlong U+007F
    BOOST_TEST(length_of("\xE0\x80\x80") == -1);      // overlong 3-byte NUL
    BOOST_TEST(length_of("\xE0\x9F\xBF") == -1);      // overlong U+07FF
    BOOST_TEST(length_of("\xF0\x80\x80\x80") == -1);  // overlong 4-byte NUL
    BOOST_TEST(length_of("\xF0\x8F\xBF\xBF") == -1);  // overlong U+FFFF
}

BOOST_AUTO_TEST_CASE(lone_continuation_bytes_are_invalid) {
    BOOST_TEST(length_of("\x80") == -1);
    BOOST_TEST(length_of("\xBF") == -1);
    BOOST_TEST(length_of("abc\x80") == -1);
    BOOST_TEST(length_of("\xC3\xA9\xA9") == -1);  // é followed by a stray continuation
}

BOOST_AUTO_TEST_CASE(surrogates_are_invalid) {
    BOOST_TEST(length_of("\xED\xA0\x80") == -1);  // U+D800
    BOOST_TEST(length_of("\xED\xBF\xBF") == -1);  // U+DFFF
    BOOST_TEST(length_of("\xED\xA0\xBD\xED\xB8\x80") == -1);  // CESU-8 style pair for 😀
}

BOOST_AUTO_TEST_CASE(code_points_above_u10ffff_are_invalid) {
    BOOST_TEST(length_of("\xF4\x90\x80\x80") == -1);  // U+110000
    BOOST_TEST(length_of("\xF5\x80\x80\x80") == -1);
    BOOST_TEST(length_of("\xF7\xBF\xBF\xBF") == -1);
}

BOOST_AUTO_TEST_CASE(bytes_that_never_appear_in_utf8_are_invalid) {
    BOOST_TEST(length_of("\xFE") == -1);
    BOOST_TEST(length_of("\xFF") == -1);
    BOOST_TEST(length_of("\xF8\x88\x80\x80\x80") == -1);  // old 5-byte form
}

BOOST_AUTO_TEST_CASE(truncated_sequences_are_invalid) {
    BOOST_TEST(length_of("\xC3") == -1);
    BOOST_TEST(length_of("\xE2\x82") == -1);
    BOOST_TEST(length_of("\xF0\x9F\x98") == -1);
    BOOST_TEST(length_of("ab\xF0\x9F") == -1);
    // A lead byte followed by a non-continuation byte is truncated too.
    BOOST_TEST(length_of("\xC3" "a") == -1);
    BOOST_TEST(length_of("\xE2\x82" "a") == -1);
    BOOST_TEST(length_of("\xF0\x9F\x98" "a") == -1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(quote_for_message_suite)

BOOST_AUTO_TEST_CASE(valid_short_text_is_unchanged) {
    BOOST_TEST(ozzie::quote_for_message("not-an-email") == "not-an-email");
    BOOST_TEST(ozzie::quote_for_message("") == "");
    const std::string mixed = "Zo\xC3\xAB \xE2\x82\xAC \xF0\x9F\x98\x80";
    BOOST_TEST(ozzie::quote_for_message(mixed) == mixed);
}

BOOST_AUTO_TEST_CASE(invalid_bytes_become_replacement_characters) {
    BOOST_TEST(ozzie::quote_for_message("a\xFF" "b") == "a" + replacement + "b");
    BOOST_TEST(ozzie::quote_for_message("\x80") == replacement);
    BOOST_TEST(ozzie::quote_for_message("x\xFE") == "x" + replacement);
}

BOOST_AUTO_TEST_CASE(every_invalid_input_gives_valid_utf8_with_a_replacement) {
    for (std::string_view bad : {std::string_view("\xC0\x80"), std::string_view("\xED\xA0\x80"),
                                 std::string_view("\xF4\x90\x80\x80"), std::string_view("ab\xE2\x82"),
                                 std::string_view("\xC3"), std::string_view("\xF0\x9F\x98" "z")}) {
        const std::string quoted = ozzie::quote_for_message(bad);
        BOOST_TEST(ozzie::utf8_length(quoted).has_value(), "output is valid UTF-8 for input of "
                                                                << bad.size() << " bytes");
        BOOST_TEST(quoted.find(replacement) != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(valid_characters_around_invalid_bytes_are_kept) {
    const std::string quoted = ozzie::quote_for_message("Jos\xC3\xA9\xFF!");
    BOOST_TEST(quoted == "Jos\xC3\xA9" + replacement + "!");
}

BOOST_AUTO_TEST_CASE(text_of_exactly_max_chars_is_not_cut) {
    const std::string s(100, 'x');
    BOOST_TEST(ozzie::quote_for_message(s) == s);
    BOOST_TEST(ozzie::quote_for_message("abc", 3) == "abc");
}

BOOST_AUTO_TEST_CASE(text_longer_than_max_chars_is_cut_and_marked) {
    BOOST_TEST(ozzie::quote_for_message(std::string(101, 'x')) == std::string(100, 'x') + "...");
    BOOST_TEST(ozzie::quote_for_message(std::string(5000, 'y')) == std::string(100, 'y') + "...");
    BOOST_TEST(ozzie::quote_for_message("abcdef", 3) == "abc...");
}

BOOST_AUTO_TEST_CASE(cut_counts_code_points_and_never_splits_a_character) {
    BOOST_TEST(ozzie::quote_for_message(repeat("\xC3\xA9", 5), 3) == repeat("\xC3\xA9", 3) + "...");
    BOOST_TEST(ozzie::quote_for_message(repeat("\xF0\x9F\x98\x80", 4), 2) ==
               repeat("\xF0\x9F\x98\x80", 2) + "...");
    // 100 two-byte characters fit the default limit even though they are 200 bytes.
    BOOST_TEST(ozzie::quote_for_message(repeat("\xC3\xA9", 100)) == repeat("\xC3\xA9", 100));
}

BOOST_AUTO_TEST_SUITE_END()
