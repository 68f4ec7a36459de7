// The JSON of users, create requests, batches and import lines (source/http/user_json.hpp) and
// the JSON text writer and time reader under it (source/json_text.hpp).
#include <boost/test/unit_test.hpp>

#include "http/user_json.hpp"
#include "json_text.hpp"

#include "support/result_text.hpp"

#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace json = boost::json;

namespace {

using ozzie::testing::contains;
using ozzie::testing::message;
using ozzie::testing::opt;
using ozzie::testing::outcome;

using namespace std::chrono;

// 2025-05-05T14:30:00Z
const sys_seconds spec_created_at = sys_days{year{2025} / May / 5} + hours{14} + minutes{30};

ozzie::user spec_user() {
    ozzie::user u;
    u.id = "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX";
    u.client_id = "s2client";
    u.external_user_id = "usr_8821";
    u.name = "Maria Santos";
    u.email = "maria@example.com";
    u.phone = "+15551234567";
    u.language = "en";
    u.stage = ozzie::onboarding_stage::active;
    u.created_at = spec_created_at;
    return u;
}

std::vector<std::string> keys_of(const json::object& o) {
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    return keys;
}

std::string user_body(const ozzie::user& u) {
    std::string body;
    ozzie::append_user_body(body, u);
    return body;
}

std::string utc_text(sys_seconds t) {
    std::string text;
    ozzie::json_text::append_utc_time(text, t);
    return text;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(user_body_rendering)

BOOST_AUTO_TEST_CASE(spec_example_renders_exactly) {
    const std::string body = user_body(spec_user());
    json::value parsed;
    BOOST_REQUIRE_NO_THROW(parsed = json::parse(body));
    // Re-serializing keeps the member order, so this checks order and values exactly.
    BOOST_TEST(json::serialize(parsed) ==
               R"({"object":"user","data":{"id":"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX",)"
               R"("external_user_id":"usr_8821","name":"Maria Santos","email":"maria@example.com",)"
               R"("phone":"+15551234567","language":"en","onboarding_stage":"active",)"
               R"("created_at":"2025-05-05T14:30:00Z"}})");
}

BOOST_AUTO_TEST_CASE(has_exactly_the_documented_fields_in_order) {
    const json::value parsed = json::parse(user_body(spec_user()));
    BOOST_REQUIRE(parsed.is_object());
    BOOST_TEST(joined(keys_of(parsed.as_object())) == "object,data");
    BOOST_TEST(parsed.at("object").as_string() == "user");
    BOOST_REQUIRE(parsed.at("data").is_object());
    BOOST_TEST(joined(keys_of(parsed.at("data").as_object())) ==
               "id,external_user_id,name,email,phone,language,onboarding_stage,created_at");
}

BOOST_AUTO_TEST_CASE(owner_client_id_is_not_exposed) {
    const std::string body = user_body(spec_user());
    BOOST_TEST(!contains(body, "client_id"));
    BOOST_TEST(!contains(body, "s2client"));
}

BOOST_AUTO_TEST_CASE(absent_optional_fields_are_null) {
    ozzie::user u = spec_user();
    u.name.reset();
    u.email.reset();
    u.phone.reset();
    const json::value parsed = json::parse(user_body(u));
    const json::object& data = parsed.at("data").as_object();
    BOOST_TEST(data.size() == 8u);
    BOOST_REQUIRE(data.contains("name"));
    BOOST_REQUIRE(data.contains("email"));
    BOOST_REQUIRE(data.contains("phone"));
    BOOST_TEST(data.at("name").is_null());
    BOOST_TEST(data.at("email").is_null());
    BOOST_TEST(data.at("phone").is_null());
    BOOST_TEST(data.at("external_user_id").as_string() == "usr_8821");
    BOOST_TEST(data.at("language").as_string() == "en");
}

BOOST_AUTO_TEST_CASE(each_onboarding_stage_has_its_api_spelling) {
    ozzie::user u = spec_user();
    const std::pair<ozzie::onboarding_stage, std::string> stages[] = {
        {ozzie::onboarding_stage::intake_pending, "intake_pending"},
        {ozzie::onboarding_stage::plan_pending, "plan_pending"},
        {ozzie::onboarding_stage::active, "active"},
    };
    for (const auto& [stage, text] : stages) {
        u.stage = stage;
        BOOST_TEST(ozzie::to_string(stage) == text);
        const json::value parsed = json::parse(user_body(u));
        BOOST_TEST(parsed.at("data").at("onboarding_stage").as_string() == text);
    }
}

BOOST_AUTO_TEST_CASE(created_at_is_utc_with_seconds_and_z) {
    const json::value parsed = json::parse(user_body(spec_user()));
    BOOST_TEST(parsed.at("data").at("created_at").as_string() == "2025-05-05T14:30:00Z");
}

BOOST_AUTO_TEST_CASE(special_characters_are_escaped_and_round_trip) {
    ozzie::user u = spec_user();
    u.external_user_id = "ext \"quoted\" \\ back/slash\ttab";
    u.name = "Zo\xC3\xAB \"Z\" O'Neil\nsecond line \xF0\x9F\x98\x80 \xE6\x97\xA5";
    u.email = "weird\x01" "ctl@example.com";  // control characters must be escaped too
    const std::string body = user_body(u);
    json::value parsed;
    BOOST_REQUIRE_NO_THROW(parsed = json::parse(body));
    const json::object& data = parsed.at("data").as_object();
    BOOST_TEST(std::string(data.at("external_user_id").as_string()) == u.external_user_id);
    BOOST_TEST(std::string(data.at("name").as_string()) == *u.name);
    BOOST_TEST(std::string(data.at("email").as_string()) == *u.email);
    // A raw newline inside a JSON string would be invalid; it must be escaped.
    BOOST_TEST(!contains(body, "\n"));
}

BOOST_AUTO_TEST_CASE(appends_to_what_the_buffer_holds) {
    std::string out = "kept:";
    ozzie::append_user_body(out, spec_user());
    BOOST_TEST(out == "kept:" + user_body(spec_user()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(utc_time_suite)

BOOST_AUTO_TEST_CASE(spec_example) { BOOST_TEST(utc_text(spec_created_at) == "2025-05-05T14:30:00"); }

BOOST_AUTO_TEST_CASE(unix_epoch) { BOOST_TEST(utc_text(sys_seconds{}) == "1970-01-01T00:00:00"); }

BOOST_AUTO_TEST_CASE(fields_are_zero_padded) {
    const sys_seconds t = sys_days{year{2000} / February / 29} + hours{1} + minutes{2} + seconds{3};
    BOOST_TEST(utc_text(t) == "2000-02-29T01:02:03");
}

BOOST_AUTO_TEST_CASE(last_second_of_a_year) {
    const sys_seconds t = sys_days{year{2024} / December / 31} + hours{23} + minutes{59} + seconds{59};
    BOOST_TEST(utc_text(t) == "2024-12-31T23:59:59");
}

BOOST_AUTO_TEST_CASE(years_below_1000_have_four_digits) {
    BOOST_TEST(utc_text(sys_days{year{987} / January / 2}) == "0987-01-02T00:00:00");
}

BOOST_AUTO_TEST_SUITE_END()

// The writer must give the bytes Boost.JSON's serializer gives, escapes included.
BOOST_AUTO_TEST_SUITE(json_text_suite)

std::string written(std::string_view s) {
    std::string out;
    ozzie::json_text::append_string(out, s);
    return out;
}

BOOST_AUTO_TEST_CASE(every_ascii_character_is_escaped_as_boost_json_does) {
    for (int c = 0; c < 0x80; ++c) {
        const std::string s = "a" + std::string(1, static_cast<char>(c)) + "b";
        BOOST_TEST(written(s) == json::serialize(json::string(s)), "character " << c);
    }
}

BOOST_AUTO_TEST_CASE(utf8_passes_through_and_runs_of_escapes_are_exact) {
    for (const std::string& s : {std::string(""), std::string("\\"), std::string("\"\"\\\\"), std::string("\x01\x1f\x7f"),
                                std::string("Zo\xC3\xAB \xF0\x9F\x98\x80 \xE6\x97\xA5"), std::string("end\n"),
                                std::string("\tstart"), std::string("nul\0inside", 10)}) {
        BOOST_TEST(written(s) == json::serialize(json::string(s)));
        BOOST_TEST(json::parse(written(s)).as_string() == s);
    }
}

BOOST_AUTO_TEST_CASE(numbers_are_decimal) {
    for (const std::uint64_t n : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{201}, std::uint64_t{18446744073709551615u}}) {
        std::string out;
        ozzie::json_text::append_number(out, n);
        BOOST_TEST(out == std::to_string(n));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_new_user_suite)

BOOST_AUTO_TEST_CASE(full_spec_request_is_parsed) {
    auto r = ozzie::parse_new_user(R"({
        "external_user_id": "usr_8821",
        "name": "Maria Santos",
        "email": "maria@example.com",
        "phone": "+15551234567",
        "language": "en"
    })");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(r->external_user_id == "usr_8821");
    BOOST_TEST(opt(r->name) == "\"Maria Santos\"");
    BOOST_TEST(opt(r->email) == "\"maria@example.com\"");
    BOOST_TEST(opt(r->phone) == "\"+15551234567\"");
    BOOST_TEST(opt(r->language) == "\"en\"");
}

// Escapes in keys and values, nulls, split strings: read as any JSON reader would.
BOOST_AUTO_TEST_CASE(escapes_and_nulls_are_read_exactly) {
    auto r = ozzie::parse_new_user(
        R"({"external_user_id":"a\"b\\c\u00e9","na\u006de":null,"email":"x\u0040y.co","phone":null,"language":"pt"}  )"
        "\n");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(r->external_user_id == "a\"b\\c\xC3\xA9");
    BOOST_TEST(!r->name.has_value());
    BOOST_TEST(opt(r->email) == "\"x@y.co\"");
    BOOST_TEST(!r->phone.has_value());
    BOOST_TEST(opt(r->language) == "\"pt\"");
}

// The depth limit is 32: a field's value nested to depth 32 in all is still JSON (and so a type
// error, naming the field), one level more is refused as JSON too deep.
BOOST_AUTO_TEST_CASE(json_depth_32_is_read_and_33_is_refused) {
    const auto body = [](std::size_t depth) {  // the object is one level; the arrays the rest
        return R"({"external_user_id":"deep","name":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    };
    const auto at_limit = ozzie::parse_new_user(body(32));
    BOOST_REQUIRE(!at_limit.has_value());
    BOOST_TEST(contains(at_limit.error().message, "'name'"), at_limit.error().message);
    BOOST_TEST(contains(at_limit.error().message, "must be a string"), at_limit.error().message);
    const auto over = ozzie::parse_new_user(body(33));
    BOOST_REQUIRE(!over.has_value());
    BOOST_TEST((over.error().code == ozzie::errc::validation_error));
    BOOST_TEST(contains(over.error().message, "'name'"), over.error().message);
    BOOST_TEST(contains(over.error().message, "deep"), over.error().message);
}

BOOST_AUTO_TEST_CASE(minimal_request_leaves_optionals_absent) {
    auto r = ozzie::parse_new_user(R"({"external_user_id":"usr_1"})");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(r->external_user_id == "usr_1");
    BOOST_TEST(opt(r->name) == "<null>");
    BOOST_TEST(opt(r->email) == "<null>");
    BOOST_TEST(opt(r->phone) == "<null>");
    BOOST_TEST(opt(r->language) == "<null>");
}

BOOST_AUTO_TEST_CASE(json_escapes_are_decoded) {
    auto r = ozzie::parse_new_user(
        R"({"external_user_id":"a\/b \"q\" \u00e9 \ud83d\ude00","name":"line1\nline2"})");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(r->external_user_id == "a/b \"q\" \xC3\xA9 \xF0\x9F\x98\x80");
    BOOST_TEST(opt(r->name) == "\"line1\nline2\"");
}

BOOST_AUTO_TEST_CASE(null_name_email_phone_mean_absent) {
    auto r = ozzie::parse_new_user(
        R"({"external_user_id":"usr_1","name":null,"email":null,"phone":null})");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(opt(r->name) == "<null>");
    BOOST_TEST(opt(r->email) == "<null>");
    BOOST_TEST(opt(r->phone) == "<null>");
}

BOOST_AUTO_TEST_CASE(field_values_are_left_to_validate) {
    // The header: "Field values are checked by validate(), not here."
    auto r = ozzie::parse_new_user(
        R"({"external_user_id":"usr_1","email":"not-an-email","phone":"123","language":"fr"})");
    BOOST_REQUIRE_MESSAGE(r.has_value(), message(r));
    BOOST_TEST(opt(r->email) == "\"not-an-email\"");
    BOOST_TEST(opt(r->phone) == "\"123\"");
    BOOST_TEST(opt(r->language) == "\"fr\"");
}

BOOST_AUTO_TEST_CASE(body_that_is_not_an_object_is_rejected) {
    for (std::string_view body : {"[]", "[{\"external_user_id\":\"x\"}]", "42", "\"x\"", "null",
                                  "true", "", " ", "{", "}", "{\"external_user_id\":",
                                  "{'external_user_id':'x'}", "external_user_id=x",
                                  "{\"external_user_id\":\"x\"} trailing",
                                  "{\"external_user_id\":\"x\",}"}) {
        auto r = ozzie::parse_new_user(body);
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", "body: " << body);
        if (!r.has_value()) BOOST_TEST(!r.error().message.empty(), "body: " << body);
    }
}

BOOST_AUTO_TEST_CASE(read_only_fields_are_rejected_by_name) {
    for (std::string field : {"id", "onboarding_stage", "created_at", "object"}) {
        const std::string body =
            R"({"external_user_id":"usr_1",")" + field + R"(":"x"})";
        auto r = ozzie::parse_new_user(body);
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", field);
        BOOST_TEST(contains(message(r), "'" + field + "'"), field << ": " << message(r));
    }
}

BOOST_AUTO_TEST_CASE(read_only_field_is_rejected_whatever_its_value) {
    auto r = ozzie::parse_new_user(R"({"external_user_id":"usr_1","id":null})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'id'"), message(r));
    r = ozzie::parse_new_user(R"({"onboarding_stage":"active","external_user_id":"usr_1"})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'onboarding_stage'"), message(r));
}

BOOST_AUTO_TEST_CASE(unknown_field_is_rejected_by_name) {
    auto r = ozzie::parse_new_user(R"({"external_user_id":"usr_1","nickname":"mari"})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'nickname'"), message(r));

    r = ozzie::parse_new_user(R"({"external_user_id":"usr_1","client_id":"other"})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'client_id'"), message(r));

    // Field names are case-sensitive: "Email" is not "email".
    r = ozzie::parse_new_user(R"({"external_user_id":"usr_1","Email":"a@b.co"})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'Email'"), message(r));
}

BOOST_AUTO_TEST_CASE(missing_external_user_id_is_rejected) {
    auto r = ozzie::parse_new_user("{}");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'external_user_id'"), message(r));

    r = ozzie::parse_new_user(R"({"name":"Maria"})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'external_user_id'"), message(r));
}

BOOST_AUTO_TEST_CASE(null_external_user_id_is_rejected) {
    auto r = ozzie::parse_new_user(R"({"external_user_id":null})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "'external_user_id'"), message(r));
}

BOOST_AUTO_TEST_CASE(wrong_types_are_rejected_by_field_name) {
    const std::pair<std::string, std::string> cases[] = {
        {"external_user_id", R"({"external_user_id":8821})"},
        {"external_user_id", R"({"external_user_id":["usr_1"]})"},
        {"external_user_id", R"({"external_user_id":{"id":"usr_1"}})"},
        {"external_user_id", R"({"external_user_id":true})"},
        {"name", R"({"external_user_id":"usr_1","name":42})"},
        {"name", R"({"external_user_id":"usr_1","name":false})"},
        {"email", R"({"external_user_id":"usr_1","email":{}})"},
        {"email", R"({"external_user_id":"usr_1","email":["maria@example.com"]})"},
        {"phone", R"({"external_user_id":"usr_1","phone":15551234567})"},
        {"language", R"({"external_user_id":"usr_1","language":1})"},
        {"language", R"({"external_user_id":"usr_1","language":["en"]})"},
    };
    for (const auto& [field, body] : cases) {
        auto r = ozzie::parse_new_user(body);
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", body);
        BOOST_TEST(contains(message(r), "'" + field + "'"), body << " -> " << message(r));
    }
}

BOOST_AUTO_TEST_CASE(wrong_type_message_shows_the_received_json) {
    auto r = ozzie::parse_new_user(R"({"external_user_id":"usr_1","name":42})");
    BOOST_TEST(outcome(r) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(r), "42"), message(r));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_user_patch_suite)

BOOST_AUTO_TEST_CASE(every_field_is_read_and_null_clears_the_clearable_ones) {
    auto r = ozzie::parse_user_patch(
        R"({"external_user_id":"usr_2","name":null,"email":"a@b.co","phone":null,"language":"es","onboarding_stage":"plan_pending"})");
    BOOST_TEST_REQUIRE(outcome(r) == "ok", message(r));
    BOOST_TEST(*r->external_user_id == "usr_2");
    BOOST_TEST_REQUIRE(r->name.has_value());
    BOOST_TEST(!r->name->has_value());
    BOOST_TEST(**r->email == "a@b.co");
    BOOST_TEST_REQUIRE(r->phone.has_value());
    BOOST_TEST(!r->phone->has_value());
    BOOST_TEST(*r->language == "es");
    BOOST_TEST((*r->stage == ozzie::onboarding_stage::plan_pending));
}

BOOST_AUTO_TEST_CASE(an_empty_object_changes_nothing) {
    const auto r = ozzie::parse_user_patch("{}");
    BOOST_TEST_REQUIRE(outcome(r) == "ok");
    BOOST_TEST((!r->external_user_id && !r->name && !r->email && !r->phone && !r->language && !r->stage));
}

BOOST_AUTO_TEST_CASE(null_is_refused_where_a_field_cannot_be_cleared) {
    for (const std::string field : {"external_user_id", "language", "onboarding_stage"}) {
        const auto r = ozzie::parse_user_patch("{\"" + field + "\":null}");
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", field);
        BOOST_TEST(contains(message(r), "Field '" + field + "'"), message(r));
        BOOST_TEST(contains(message(r), "Received: null"), message(r));
    }
}

BOOST_AUTO_TEST_CASE(read_only_unknown_duplicate_and_mistyped_fields_are_named) {
    const std::pair<std::string, std::string> cases[] = {
        {"'id'", R"({"id":"ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV"})"},
        {"'created_at'", R"({"name":"a","created_at":"2025-01-01T00:00:00Z"})"},
        {"'object'", R"({"object":"user"})"},
        {"'nickname'", R"({"nickname":"x"})"},
        {"'name'", R"({"name":"a","name":"b"})"},
        {"'name'", R"({"name":42})"},
        {"'onboarding_stage'", R"({"onboarding_stage":"done"})"},
        {"'onboarding_stage'", R"({"onboarding_stage":2})"},
        {"'external_user_id'", R"({"external_user_id":["x"]})"},
    };
    for (const auto& [named, body] : cases) {
        const auto r = ozzie::parse_user_patch(body);
        BOOST_TEST(outcome(r) == "VALIDATION_ERROR", body);
        BOOST_TEST(contains(message(r), named), body << " -> " << message(r));
    }
    // The unknown-field message lists what a PATCH may hold, onboarding_stage included.
    BOOST_TEST(contains(message(ozzie::parse_user_patch(R"({"x":1})")), "onboarding_stage."));
    BOOST_TEST(outcome(ozzie::parse_user_patch("[]")) == "VALIDATION_ERROR");
    BOOST_TEST(outcome(ozzie::parse_user_patch("{")) == "VALIDATION_ERROR");
    BOOST_TEST(outcome(ozzie::parse_user_patch("")) == "VALIDATION_ERROR");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(list_rendering)

BOOST_AUTO_TEST_CASE(a_list_holds_the_user_objects_of_single_answers) {
    ozzie::user_page page;
    for (int i = 0; i < 2; ++i) {
        ozzie::user u;
        u.id = "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FA" + std::to_string(i);
        u.client_id = "c";
        u.external_user_id = "usr_\"" + std::to_string(i);
        u.language = "en";
        page.users.push_back(u);
    }
    page.has_more = true;
    std::string out;
    ozzie::append_list_body(out, page);
    const auto list = boost::json::parse(out).as_object();
    BOOST_TEST(list.size() == 3u);
    BOOST_TEST(list.at("object").as_string() == "list");
    BOOST_TEST(list.at("has_more").as_bool());
    BOOST_TEST_REQUIRE(list.at("data").as_array().size() == 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        std::string single;
        ozzie::append_user_body(single, page.users[i]);
        BOOST_TEST(list.at("data").as_array()[i] == boost::json::parse(single).at("data"));
    }
    out.clear();
    ozzie::append_list_body(out, {});
    BOOST_TEST(out == R"({"object":"list","data":[],"has_more":false})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_utc_time_suite)

BOOST_AUTO_TEST_CASE(reads_what_append_utc_time_writes_and_z) {
    for (const auto t : {spec_created_at, sys_seconds{}, sys_seconds{sys_days{year{2024} / February / 29}} + 86399s,
                         sys_seconds{sys_days{year{9999} / December / 31}}, sys_seconds{sys_days{year{1} / 1 / 1}}}) {
        const auto text = utc_text(t) + "Z";
        const auto read = ozzie::json_text::parse_utc_time(text);
        BOOST_TEST_REQUIRE(read.has_value(), text);
        BOOST_TEST(read->time_since_epoch().count() == t.time_since_epoch().count(), text);
    }
}

BOOST_AUTO_TEST_CASE(anything_else_is_refused) {
    for (const std::string_view text :
         {"", "2025-05-05T14:30:00", "2025-05-05T14:30:00z", "2025-05-05 14:30:00Z", "2025-05-05T14:30:00.000Z",
          "2025-05-05T14:30:00+00:00", "2025-05-05T14:30Z", "25-05-05T14:30:00Z", " 2025-05-05T14:30:00Z",
          "2025-05-05T14:30:00Z ", "2025-5-05T14:30:00Z", "2025-05-05T14:3a:00Z", "+025-05-05T14:30:00Z",
          "2025-13-05T14:30:00Z", "2025-00-05T14:30:00Z", "2025-05-00T14:30:00Z", "2025-04-31T14:30:00Z",
          "2025-02-29T14:30:00Z", "2025-05-05T24:00:00Z", "2025-05-05T14:60:00Z", "2025-05-05T14:30:60Z"})
        BOOST_TEST(!ozzie::json_text::parse_utc_time(text).has_value(), text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_import_line_suite)

namespace {

std::string exported_line(const ozzie::user& u) {
    std::string line;
    ozzie::append_user_object(line, u);
    return line;
}

// The user object of the spec's user with `field` replaced by `value` (JSON text), or left out
// if `value` is empty.
std::string spec_object_with(std::string_view field, std::string_view value) {
    auto object = json::parse(exported_line(spec_user())).as_object();
    if (value.empty()) object.erase(field);
    else object[field] = json::parse(value);
    return json::serialize(object);
}

// The error of a line that must fail, as "CODE: message"; "ok" if it did not fail.
std::string failure(std::string_view line) {
    const auto read = ozzie::parse_import_line(line);
    return read ? "ok" : outcome(read) + ": " + read.error().message;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_create_body_is_read_as_parse_new_user_reads_it) {
    for (const std::string_view body :
         {R"({"external_user_id":"usr_8821","name":"Maria","email":"m@example.com","phone":"+15551234567","language":"pt"})",
          R"({"external_user_id":"usr_1"})", R"( {"name":null,"external_user_id":"a\"b"} )"}) {
        const auto read = ozzie::parse_import_line(body);
        BOOST_TEST_REQUIRE(outcome(read) == "ok", body << ": " << message(read));
        const auto* request = std::get_if<ozzie::new_user>(&*read);
        BOOST_TEST_REQUIRE(request, body);
        const auto expected = ozzie::parse_new_user(body);
        BOOST_TEST(request->external_user_id == expected->external_user_id);
        BOOST_TEST(opt(request->name) == opt(expected->name));
        BOOST_TEST(opt(request->email) == opt(expected->email));
        BOOST_TEST(opt(request->phone) == opt(expected->phone));
        BOOST_TEST(opt(request->language) == opt(expected->language));
    }
}

BOOST_AUTO_TEST_CASE(a_bad_create_body_gets_parse_new_user_s_message) {
    for (const std::string_view body :
         {R"({"external_user_id":"a","created_at":"2025-05-05T14:30:00Z"})", R"({"external_user_id":"a","object":"user"})",
          R"({"external_user_id":"a","onboarding_stage":"active"})", R"({"external_user_id":"a","nickname":"x"})",
          R"({"name":"no external id"})", R"({"external_user_id":7})", R"({"external_user_id":"a","name":1})",
          R"({"external_user_id":"a","external_user_id":"b"})", "[]", "{", "", "not json", R"({"external_user_id":"a"} x)"}) {
        const auto expected = ozzie::parse_new_user(body);
        BOOST_TEST_REQUIRE(!expected.has_value(), body);
        BOOST_TEST(failure(body) == "VALIDATION_ERROR: " + expected.error().message, body);
    }
}

BOOST_AUTO_TEST_CASE(an_exported_user_object_reads_back_as_the_same_user) {
    auto full = spec_user();
    auto minimal = spec_user();
    minimal.name.reset();
    minimal.email.reset();
    minimal.phone.reset();
    minimal.stage = ozzie::onboarding_stage::intake_pending;
    minimal.external_user_id = "a/b \"c\" \xC3\xA9\n";
    minimal.created_at = sys_seconds{};
    for (auto expected : {full, minimal}) {
        const auto line = exported_line(expected);
        const auto read = ozzie::parse_import_line(line);
        BOOST_TEST_REQUIRE(outcome(read) == "ok", line << ": " << message(read));
        const auto* u = std::get_if<ozzie::user>(&*read);
        BOOST_TEST_REQUIRE(u, line);
        expected.client_id.clear();  // the owner is not in the object: the import sets it
        BOOST_TEST((*u == expected), line);
        BOOST_TEST(exported_line(*u) == line);
    }
    // Fields in any order, as any JSON writer may put them.
    const auto reordered = ozzie::parse_import_line(
        R"({"created_at":"2025-05-05T14:30:00Z","onboarding_stage":"plan_pending","language":"es","phone":null,)"
        R"("email":null,"name":null,"external_user_id":"x","id":"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX"})");
    BOOST_TEST_REQUIRE(outcome(reordered) == "ok", message(reordered));
    BOOST_TEST((std::get<ozzie::user>(*reordered).stage == ozzie::onboarding_stage::plan_pending));
}

BOOST_AUTO_TEST_CASE(every_field_of_a_user_object_is_required) {
    for (const std::string field :
         {"external_user_id", "name", "email", "phone", "language", "onboarding_stage", "created_at"})
        BOOST_TEST(failure(spec_object_with(field, "")) == "VALIDATION_ERROR: Field '" + field + "' is required.", field);
}

BOOST_AUTO_TEST_CASE(a_user_object_with_a_field_it_does_not_have_is_refused) {
    for (const std::string field : {"object", "client_id", "nickname", "Email"}) {
        const auto result = failure(spec_object_with(field, R"("x")"));
        BOOST_TEST(contains(result, "VALIDATION_ERROR: Field '" + field + "' is not a recognized field."), result);
        BOOST_TEST(contains(result, "Allowed fields: id, external_user_id, name, email, phone, language, "
                                    "onboarding_stage, created_at."),
                   result);
    }
}

BOOST_AUTO_TEST_CASE(a_user_object_s_values_are_checked_by_field) {
    const std::pair<std::string, std::string> cases[] = {
        {"id", R"("usr_8821")"},
        {"id", R"("ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DE")"},      // a character short
        {"id", R"("ozz_usr_81HX9KZMR4P5JQNBVT7YCW3DEX")"},     // over 128 bits
        {"id", R"("ozz_usr_01hx9kzmr4p5jqnbvt7ycw3dex")"},     // lower case
        {"id", "null"},
        {"id", "42"},
        {"external_user_id", "null"},
        {"external_user_id", "[]"},
        {"name", "42"},
        {"email", "{}"},
        {"phone", "15551234567"},
        {"language", "null"},
        {"onboarding_stage", R"("done")"},
        {"onboarding_stage", "2"},
        {"onboarding_stage", "null"},
        {"created_at", R"("2025-05-05T14:30:00")"},
        {"created_at", R"("2025-05-05T14:30:00.000Z")"},
        {"created_at", R"("2025-02-30T14:30:00Z")"},
        {"created_at", "1746455400"},
    };
    for (const auto& [field, value] : cases) {
        const auto result = failure(spec_object_with(field, value));
        BOOST_TEST(contains(result, "VALIDATION_ERROR: Field '" + field + "'"), field << " " << value << ": " << result);
    }
    BOOST_TEST(failure(spec_object_with("created_at", R"("2025-05-05")")) ==
               "VALIDATION_ERROR: Field 'created_at' must be a UTC time to the second as the API writes it, e.g. "
               "2025-05-05T14:30:00Z. Received: '2025-05-05'.");
    BOOST_TEST(failure(spec_object_with("onboarding_stage", R"("done")")) ==
               "VALIDATION_ERROR: Field 'onboarding_stage' must be one of 'intake_pending', 'plan_pending' or "
               "'active'. Received: 'done'.");
}

// The fields a create sets are left to validate(), as parse_new_user leaves them.
BOOST_AUTO_TEST_CASE(a_user_object_s_create_fields_are_left_to_validate) {
    const auto read = ozzie::parse_import_line(spec_object_with("email", R"("not-an-email")"));
    BOOST_TEST_REQUIRE(outcome(read) == "ok", message(read));
    BOOST_TEST(opt(std::get<ozzie::user>(*read).email) == "\"not-an-email\"");
}

BOOST_AUTO_TEST_CASE(a_user_object_s_duplicate_field_or_bad_json_is_named) {
    const auto line = exported_line(spec_user());
    BOOST_TEST(failure(line.substr(0, line.size() - 1) + R"(,"id":"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX"})") ==
               "VALIDATION_ERROR: " + ozzie::parse_new_user(R"({"id":1,"id":2})").error().message);
    BOOST_TEST(contains(failure(line.substr(0, line.size() - 1)), "VALIDATION_ERROR"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batch_parsing_and_rendering)

// Each create body of a batch is read as a single create reads it: the same request, or the same
// error, in its place.
BOOST_AUTO_TEST_CASE(each_create_body_is_read_as_a_single_create) {
    const std::vector<std::string> bodies = {
        R"({"external_user_id":"a","name":"A","email":"a@example.com","phone":null,"language":"pt"})",
        R"({"external_user_id":"b","id":"x"})",
        R"({"external_user_id":"c","nickname":"x"})",
        R"({"external_user_id":"d","name":"x","name":"y"})",
        R"({"external_user_id":7})",
        R"({"name":"no id"})",
        R"({"external_user_id":"g","email":"x","email":"y"})",
        R"({"external_user_id":"f","onboarding_stage":"active"})",
    };
    std::string batch = R"({"users":[)";
    for (std::size_t i = 0; i < bodies.size(); ++i) batch += (i ? "," : "") + bodies[i];
    batch += "]}";
    const auto parsed = ozzie::parse_batch(batch, 1000);
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), message(parsed));
    BOOST_REQUIRE(parsed->size() == bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        const auto single = ozzie::parse_new_user(bodies[i]);
        const auto& in_batch = (*parsed)[i];
        BOOST_TEST_CONTEXT(bodies[i]) {
            BOOST_TEST(single.has_value() == in_batch.has_value());
            if (single && in_batch) {
                BOOST_TEST(single->external_user_id == in_batch->external_user_id);
                BOOST_TEST(opt(single->name) == opt(in_batch->name));
                BOOST_TEST(opt(single->email) == opt(in_batch->email));
                BOOST_TEST(opt(single->phone) == opt(in_batch->phone));
                BOOST_TEST(opt(single->language) == opt(in_batch->language));
            } else if (!single && !in_batch) {
                BOOST_TEST(message(single) == message(in_batch));
            }
        }
    }
}

// An element that is not an object is that element's error; the elements after it keep their
// places (a repeated key is found in the right one).
BOOST_AUTO_TEST_CASE(an_element_that_is_not_an_object_is_its_own_error) {
    const auto parsed = ozzie::parse_batch(
        R"({"users":["x",7,[{"a":1,"a":2}],{"external_user_id":"c1","external_user_id":"c2"},null,{"external_user_id":"ok"}]})",
        1000);
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), message(parsed));
    BOOST_REQUIRE(parsed->size() == 6u);
    for (const std::size_t i : {0u, 1u, 2u, 4u}) {
        BOOST_TEST(outcome((*parsed)[i]) == "VALIDATION_ERROR");
        BOOST_TEST(message((*parsed)[i]) == "Element " + std::to_string(i) +
                                                " of 'users' must be a JSON object, a create body such as "
                                                "{\"external_user_id\": \"usr_8821\"}.");
    }
    BOOST_TEST(message((*parsed)[3]) == "Field 'external_user_id' appears more than once. Send each field once.");
    BOOST_REQUIRE((*parsed)[5].has_value());
    BOOST_TEST((*parsed)[5]->external_user_id == "ok");
}

// Anything but {"users":[1 to max bodies]} is refused whole.
BOOST_AUTO_TEST_CASE(a_body_of_another_shape_is_refused_whole) {
    for (const std::string body :
         {R"({"users":[]})", R"({"users":{}})", R"({"users":"x"})", R"({"users":null})", R"({})", R"([])",
          R"({"users":[{"external_user_id":"a"}],"more":1})", R"({"people":[{"external_user_id":"a"}]})", "3",
          R"({"users":[{"external_user_id":"a"},{"external_user_id":"b"},{"external_user_id":"c"}]})"}) {
        const auto parsed = ozzie::parse_batch(body, 2);
        BOOST_TEST_CONTEXT(body) {
            BOOST_TEST(outcome(parsed) == "VALIDATION_ERROR");
            BOOST_TEST(contains(message(parsed), "{\"users\": [...]}"));
            BOOST_TEST(contains(message(parsed), "1 to 2 create bodies"));
        }
    }
    for (const std::string body : {R"({"users":[)", R"({"users":[{"external_user_id":"a"}]} x)", ""}) {
        const auto parsed = ozzie::parse_batch(body, 2);
        BOOST_TEST(outcome(parsed) == "VALIDATION_ERROR", body);
        BOOST_TEST(contains(message(parsed), "valid JSON"), body);
    }
    BOOST_TEST(ozzie::parse_batch(R"({"users":[{"external_user_id":"a"},{"external_user_id":"b"}]})", 2).has_value());
    // "users" twice would be collapsed into one by a JSON reader: refused instead.
    const auto twice = ozzie::parse_batch(R"({"users":[{"external_user_id":"a"}],"users":[{"external_user_id":"b"}]})", 2);
    BOOST_TEST(outcome(twice) == "VALIDATION_ERROR");
    BOOST_TEST(contains(message(twice), "Field 'users' appears more than once"));
}

// Every answer in order, with its status: a user as a single create's data, an error as the
// envelope's error member.
BOOST_AUTO_TEST_CASE(answers_are_rendered_in_order_with_their_status) {
    std::vector<ozzie::result<ozzie::user>> answers;
    answers.emplace_back(spec_user());
    answers.emplace_back(ozzie::error{ozzie::errc::conflict, "taken \"x\""});
    answers.emplace_back(ozzie::error{ozzie::errc::validation_error, "bad"});
    answers.emplace_back(ozzie::error{ozzie::errc::unavailable, "disk"});
    std::string out;
    ozzie::append_batch_body(out, answers);
    const auto body = json::parse(out).as_object();
    BOOST_TEST(keys_of(body) == (std::vector<std::string>{"object", "data"}));
    BOOST_TEST(body.at("object").as_string() == "list");
    const auto& data = body.at("data").as_array();
    BOOST_REQUIRE(data.size() == 4u);
    std::string single;
    ozzie::append_user_body(single, spec_user());
    BOOST_TEST(keys_of(data[0].as_object()) == (std::vector<std::string>{"status", "object", "data"}));
    BOOST_TEST(data[0].at("status").as_int64() == 201);
    BOOST_TEST(data[0].at("object").as_string() == "user");
    BOOST_TEST(data[0].at("data") == json::parse(single).at("data"));
    const std::tuple<int, std::string, std::string> failures[] = {
        {409, "CONFLICT", "taken \"x\""}, {400, "VALIDATION_ERROR", "bad"}, {503, "SERVICE_UNAVAILABLE", "disk"}};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& [status, code, text] = failures[i];
        BOOST_TEST(keys_of(data[i + 1].as_object()) == (std::vector<std::string>{"status", "error"}));
        BOOST_TEST(data[i + 1].at("status").as_int64() == status);
        BOOST_TEST(data[i + 1].at("error").at("code").as_string() == code);
        BOOST_TEST(data[i + 1].at("error").at("message").as_string() == text);
    }
}

BOOST_AUTO_TEST_SUITE_END()
