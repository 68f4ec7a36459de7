// The field rules of POST /v1/users (source/service/validation.hpp).
#include <boost/test/unit_test.hpp>

#include "service/validation.hpp"

#include "support/create_requests.hpp"
#include "support/result_text.hpp"

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <boost/system/system_error.hpp>

#include <string>
#include <tuple>
#include <string_view>

namespace {

using ozzie::testing::contains;
using ozzie::testing::message;
using ozzie::testing::minimal_request;
using ozzie::testing::outcome;
using ozzie::testing::spec_request;

std::string repeat(std::string_view piece, std::size_t times) {
    std::string out;
    for (std::size_t i = 0; i < times; ++i) out += piece;
    return out;
}

const std::string e_acute = "\xC3\xA9";             // é, 2 bytes
const std::string grinning = "\xF0\x9F\x98\x80";    // 😀, 4 bytes

}  // namespace

BOOST_AUTO_TEST_SUITE(email_rules)

BOOST_AUTO_TEST_CASE(accepts_ordinary_addresses) {
    BOOST_TEST(ozzie::is_valid_email("maria@example.com"));
    BOOST_TEST(ozzie::is_valid_email("a@b.co"));
    BOOST_TEST(ozzie::is_valid_email("first.last+tag@mail.example.org"));
    BOOST_TEST(ozzie::is_valid_email("user_1-x@sub-domain.example.com.br"));
}

BOOST_AUTO_TEST_CASE(rejects_missing_or_repeated_at) {
    BOOST_TEST(!ozzie::is_valid_email("not-an-email"));
    BOOST_TEST(!ozzie::is_valid_email(""));
    BOOST_TEST(!ozzie::is_valid_email("maria@@example.com"));
    BOOST_TEST(!ozzie::is_valid_email("a@b@example.com"));
}

BOOST_AUTO_TEST_CASE(rejects_empty_local_part_or_domain) {
    BOOST_TEST(!ozzie::is_valid_email("@example.com"));
    BOOST_TEST(!ozzie::is_valid_email("maria@"));
    BOOST_TEST(!ozzie::is_valid_email("@"));
}

BOOST_AUTO_TEST_CASE(rejects_domain_without_dot_or_with_empty_labels) {
    BOOST_TEST(!ozzie::is_valid_email("maria@example"));
    BOOST_TEST(!ozzie::is_valid_email("maria@example..com"));
    BOOST_TEST(!ozzie::is_valid_email("maria@.example.com"));
    BOOST_TEST(!ozzie::is_valid_email("maria@example.com."));
    BOOST_TEST(!ozzie::is_valid_email("maria@."));
}

BOOST_AUTO_TEST_CASE(rejects_whitespace_and_control_characters) {
    BOOST_TEST(!ozzie::is_valid_email("ma ria@example.com"));
    BOOST_TEST(!ozzie::is_valid_email("maria@exa mple.com"));
    BOOST_TEST(!ozzie::is_valid_email(" maria@example.com"));
    BOOST_TEST(!ozzie::is_valid_email("maria@example.com "));
    BOOST_TEST(!ozzie::is_valid_email("maria@example.com\n"));
    BOOST_TEST(!ozzie::is_valid_email("ma\tria@example.com"));
    BOOST_TEST(!ozzie::is_valid_email("ma\x01ria@example.com"));
    BOOST_TEST(!ozzie::is_valid_email(std::string_view("ma\0ria@example.com", 18)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(e164_rules)

BOOST_AUTO_TEST_CASE(accepts_the_spec_example) {
    BOOST_TEST(ozzie::is_valid_e164("+15551234567"));
}

BOOST_AUTO_TEST_CASE(digit_count_bounds_are_2_to_15) {
    BOOST_TEST(!ozzie::is_valid_e164("+1"));
    BOOST_TEST(ozzie::is_valid_e164("+12"));
    BOOST_TEST(ozzie::is_valid_e164("+123456789012345"));    // 15 digits
    BOOST_TEST(!ozzie::is_valid_e164("+1234567890123456"));  // 16 digits
    BOOST_TEST(!ozzie::is_valid_e164("+"));
    BOOST_TEST(!ozzie::is_valid_e164(""));
}

BOOST_AUTO_TEST_CASE(first_digit_must_be_1_to_9) {
    BOOST_TEST(!ozzie::is_valid_e164("+05551234567"));
    BOOST_TEST(!ozzie::is_valid_e164("+0"));
    BOOST_TEST(ozzie::is_valid_e164("+95551234567"));
    BOOST_TEST(ozzie::is_valid_e164("+10"));  // later digits may be 0
}

BOOST_AUTO_TEST_CASE(plus_sign_is_required_and_only_once) {
    BOOST_TEST(!ozzie::is_valid_e164("15551234567"));
    BOOST_TEST(!ozzie::is_valid_e164("++15551234567"));
    BOOST_TEST(!ozzie::is_valid_e164("+1555+1234567"));
    BOOST_TEST(!ozzie::is_valid_e164("0015551234567"));
}

BOOST_AUTO_TEST_CASE(nothing_but_digits_after_the_plus) {
    BOOST_TEST(!ozzie::is_valid_e164("+1 555 123 4567"));
    BOOST_TEST(!ozzie::is_valid_e164("+1-555-123-4567"));
    BOOST_TEST(!ozzie::is_valid_e164("+1555abc4567"));
    BOOST_TEST(!ozzie::is_valid_e164("+1(555)1234567"));
    BOOST_TEST(!ozzie::is_valid_e164(" +15551234567"));
    BOOST_TEST(!ozzie::is_valid_e164("+15551234567 "));
    BOOST_TEST(!ozzie::is_valid_e164("+15551234567\n"));
    // Arabic-Indic digit five (U+0665) is a digit to Unicode, not to E.164.
    BOOST_TEST(!ozzie::is_valid_e164("+1\xD9\xA5\xD9\xA5"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(language_rules)

BOOST_AUTO_TEST_CASE(accepts_en_pt_es) {
    BOOST_TEST(ozzie::is_supported_language("en"));
    BOOST_TEST(ozzie::is_supported_language("pt"));
    BOOST_TEST(ozzie::is_supported_language("es"));
}

BOOST_AUTO_TEST_CASE(rejects_everything_else) {
    BOOST_TEST(!ozzie::is_supported_language(""));
    BOOST_TEST(!ozzie::is_supported_language("EN"));
    BOOST_TEST(!ozzie::is_supported_language("Pt"));
    BOOST_TEST(!ozzie::is_supported_language("fr"));
    BOOST_TEST(!ozzie::is_supported_language("en-US"));
    BOOST_TEST(!ozzie::is_supported_language("english"));
    BOOST_TEST(!ozzie::is_supported_language("en "));
    BOOST_TEST(!ozzie::is_supported_language("e"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validate_request)

BOOST_AUTO_TEST_CASE(full_valid_request_passes) {
    BOOST_TEST(outcome(ozzie::validate(spec_request())) == "ok");
}

BOOST_AUTO_TEST_CASE(only_external_user_id_is_required) {
    BOOST_TEST(outcome(ozzie::validate(minimal_request())) == "ok");
}

BOOST_AUTO_TEST_CASE(every_supported_language_passes) {
    for (const char* lang : {"en", "pt", "es"}) {
        auto r = minimal_request();
        r.language = lang;
        BOOST_TEST(outcome(ozzie::validate(r)) == "ok", "language " << lang);
    }
}

BOOST_AUTO_TEST_CASE(empty_external_user_id_is_rejected) {
    auto result = ozzie::validate(minimal_request(""));
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'external_user_id'"), message(result));
}

BOOST_AUTO_TEST_CASE(external_user_id_of_100_ascii_characters_passes_101_does_not) {
    BOOST_TEST(outcome(ozzie::validate(minimal_request(std::string(100, 'a')))) == "ok");
    auto result = ozzie::validate(minimal_request(std::string(101, 'a')));
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'external_user_id'"), message(result));
    // The received value is quoted (perhaps shortened).
    BOOST_TEST(contains(message(result), "'" + std::string(100, 'a')), message(result));
}

BOOST_AUTO_TEST_CASE(external_user_id_length_counts_characters_not_bytes) {
    // 100 two-byte characters are 200 bytes but only 100 characters.
    BOOST_TEST(outcome(ozzie::validate(minimal_request(repeat(e_acute, 100)))) == "ok");
    // 100 emoji are 400 bytes, still 100 characters.
    BOOST_TEST(outcome(ozzie::validate(minimal_request(repeat(grinning, 100)))) == "ok");
    auto result = ozzie::validate(minimal_request(repeat(e_acute, 101)));
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'external_user_id'"), message(result));
    BOOST_TEST(outcome(ozzie::validate(minimal_request(repeat(grinning, 101)))) ==
               "VALIDATION_ERROR");
}

BOOST_AUTO_TEST_CASE(external_user_id_may_hold_url_special_characters) {
    // The issue: external ids may contain '/', ':', '?', spaces and non-ASCII characters.
    BOOST_TEST(outcome(ozzie::validate(minimal_request("a/b:c?d e " + e_acute))) == "ok");
}

BOOST_AUTO_TEST_CASE(external_user_id_that_is_not_utf8_is_rejected) {
    auto result = ozzie::validate(minimal_request("usr_\xFF"));
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'external_user_id'"), message(result));
}

BOOST_AUTO_TEST_CASE(name_of_200_characters_passes_201_does_not) {
    auto r = minimal_request();
    r.name = repeat(e_acute, 200);
    BOOST_TEST(outcome(ozzie::validate(r)) == "ok");
    r.name = std::string(200, 'n');
    BOOST_TEST(outcome(ozzie::validate(r)) == "ok");

    r.name = repeat(e_acute, 201);
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'name'"), message(result));

    r.name = std::string(201, 'n');
    result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "'" + std::string(100, 'n')), message(result));
}

BOOST_AUTO_TEST_CASE(name_with_a_nul_is_rejected) {
    auto r = minimal_request();
    r.name = std::string("Ma\0ria", 6);
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'name' must not contain the character U+0000"), message(result));
    ozzie::user_patch patch;
    patch.name = std::optional<std::string>(std::string("\0", 1));
    BOOST_TEST(outcome(ozzie::validate(patch)) == "VALIDATION_ERROR");
}

BOOST_AUTO_TEST_CASE(external_ids_a_create_could_make_are_the_valid_ones) {
    BOOST_TEST(ozzie::is_valid_external_user_id("usr_8821"));
    BOOST_TEST(ozzie::is_valid_external_user_id(std::string(100, 'x')));
    BOOST_TEST(!ozzie::is_valid_external_user_id(std::string(101, 'x')));
    BOOST_TEST(!ozzie::is_valid_external_user_id(""));
    BOOST_TEST(!ozzie::is_valid_external_user_id(std::string("usr\0tail", 8)));
    BOOST_TEST(!ozzie::is_valid_external_user_id("tab\there"));
    BOOST_TEST(!ozzie::is_valid_external_user_id("\xC3("));
}

BOOST_AUTO_TEST_CASE(name_that_is_not_utf8_is_rejected) {
    auto r = minimal_request();
    r.name = "Mar\xC3";
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'name'"), message(result));
}

BOOST_AUTO_TEST_CASE(invalid_email_message_is_the_spec_text) {
    auto r = minimal_request();
    r.email = "not-an-email";
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(message(result) ==
               "Field 'email' must be a valid email address. Received: 'not-an-email'.");
}

BOOST_AUTO_TEST_CASE(email_longer_than_254_bytes_is_rejected) {
    const std::string domain = "@example.com";  // 12 bytes
    auto r = minimal_request();
    r.email = std::string(ozzie::max_email_bytes - domain.size(), 'a') + domain;
    BOOST_TEST(r.email->size() == 254u);
    BOOST_TEST(outcome(ozzie::validate(r)) == "ok");
    r.email = std::string(ozzie::max_email_bytes - domain.size() + 1, 'a') + domain;
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'email'"), message(result));
}

BOOST_AUTO_TEST_CASE(invalid_phone_names_the_field_and_value) {
    auto r = minimal_request();
    r.phone = "+05551234567";
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'phone'"), message(result));
    BOOST_TEST(contains(message(result), "'+05551234567'"), message(result));

    r.phone = "555-1234";
    result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "'555-1234'"), message(result));
}

BOOST_AUTO_TEST_CASE(unsupported_language_names_the_field_and_value) {
    auto r = minimal_request();
    r.language = "fr";
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(result), "Field 'language'"), message(result));
    BOOST_TEST(contains(message(result), "'fr'"), message(result));
}

BOOST_AUTO_TEST_CASE(invalid_values_are_named_in_the_message) {
    auto r = minimal_request();
    r.email = "maria@example";
    auto result = ozzie::validate(r);
    BOOST_TEST(contains(message(result), "'maria@example'"), message(result));
}

BOOST_AUTO_TEST_CASE(first_failing_field_in_spec_order_is_reported) {
    // Spec table order: external_user_id, name, email, phone, language.
    ozzie::new_user r;
    r.external_user_id = "";
    r.name = std::string(201, 'n');
    r.email = "bad";
    r.phone = "bad";
    r.language = "xx";
    BOOST_TEST(contains(message(ozzie::validate(r)), "Field 'external_user_id'"));
    r.external_user_id = "ok";
    BOOST_TEST(contains(message(ozzie::validate(r)), "Field 'name'"));
    r.name = "ok";
    BOOST_TEST(contains(message(ozzie::validate(r)), "Field 'email'"));
    r.email = "ok@example.com";
    BOOST_TEST(contains(message(ozzie::validate(r)), "Field 'phone'"));
    r.phone = "+15551234567";
    BOOST_TEST(contains(message(ozzie::validate(r)), "Field 'language'"));
    r.language = "es";
    BOOST_TEST(outcome(ozzie::validate(r)) == "ok");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_value_is_quoted_safely) {
    auto r = minimal_request();
    r.email = "bad\xFF";
    auto result = ozzie::validate(r);
    BOOST_TEST(outcome(result) == "VALIDATION_ERROR");
    // The message goes into JSON: it must itself be valid UTF-8, so the byte became U+FFFD.
    BOOST_TEST(contains(message(result), "bad\xEF\xBF\xBD"), message(result));
    BOOST_TEST(!contains(message(result), "\xFF"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_codes)

BOOST_AUTO_TEST_CASE(each_code_has_its_public_name_and_http_status) {
    const std::tuple<ozzie::errc, std::string, unsigned> codes[] = {
        {ozzie::errc::validation_error, "VALIDATION_ERROR", 400},
        {ozzie::errc::unauthorized, "UNAUTHORIZED", 401},
        {ozzie::errc::forbidden, "FORBIDDEN", 403},
        {ozzie::errc::not_found, "NOT_FOUND", 404},
        {ozzie::errc::method_not_allowed, "METHOD_NOT_ALLOWED", 405},
        {ozzie::errc::conflict, "CONFLICT", 409},
        {ozzie::errc::payload_too_large, "PAYLOAD_TOO_LARGE", 413},
        {ozzie::errc::internal, "INTERNAL_ERROR", 500},
        {ozzie::errc::precondition_failed, "PRECONDITION_FAILED", 412},
        {ozzie::errc::idempotency_key_reused, "IDEMPOTENCY_KEY_REUSED", 422},
        {ozzie::errc::idempotency_key_in_use, "IDEMPOTENCY_KEY_IN_USE", 409},
    };
    for (const auto& [code, name, status] : codes) {
        BOOST_TEST(ozzie::code_name(code) == name);
        BOOST_TEST(ozzie::http_status(code) == status, name);
    }
}

BOOST_AUTO_TEST_CASE(codes_travel_as_boost_error_codes) {
    const boost::system::error_code ec = ozzie::errc::conflict;
    BOOST_TEST((ec.category() == ozzie::error_category()));
    BOOST_TEST(ec.value() == static_cast<int>(ozzie::errc::conflict));
    BOOST_TEST((ec == ozzie::make_error_code(ozzie::errc::conflict)));
    BOOST_TEST((ec != ozzie::make_error_code(ozzie::errc::not_found)));
    BOOST_TEST(!ec.message().empty());
}

BOOST_AUTO_TEST_CASE(value_of_an_error_result_throws_system_error) {
    ozzie::result<int> r = ozzie::error{ozzie::errc::not_found, "No user found."};
    BOOST_TEST(!r.has_value());
    try {
        (void)r.value();
        BOOST_FAIL("value() of an error did not throw");
    } catch (const boost::system::system_error& e) {
        BOOST_TEST((e.code() == ozzie::make_error_code(ozzie::errc::not_found)));
        BOOST_TEST(std::string(e.what()).find("No user found.") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
