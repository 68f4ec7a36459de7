// HTTP tests of the Users API: a real server on 127.0.0.1 (port 0) with a temp store and clients
// file, and a real HTTP/1.1 client over TCP. The contract is ../shared/spec/users-api.txt and
// issue 2: statuses, the exact JSON shapes, headers, tenancy, percent-encoded external ids,
// keep-alive, concurrent duplicate creates and restarts (update and list: lifecycle_tests.cpp).
// Every response of the suite is also checked against docs/openapi.yaml (see
// check_every_response below).
#include "http/users_api.hpp"

#include <latch>
#include <sstream>
#include <thread>

namespace {

using namespace ozzie::testing::users_api;

struct check_every_response_against_openapi {
    check_every_response_against_openapi() {
        ozzie::testing::ozzie_openapi();  // loads it now: a broken document stops the suite
        ozzie::testing::check_every_response = [](const ozzie::testing::http_request& req,
                                                  const http_response& res) {
            const auto method = req.method_string();
            const auto target = req.target();
            conforms({method.data(), method.size()}, {target.data(), target.size()}, res);
        };
    }
    ~check_every_response_against_openapi() {
        ozzie::testing::check_every_response = nullptr;
        BOOST_TEST_MESSAGE(responses_checked << " responses checked against docs/openapi.yaml");
    }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(check_every_response_against_openapi);

BOOST_FIXTURE_TEST_SUITE(users_api, server_fixture)

// ---------------------------------------------------------------------------------------------
// POST /v1/users

BOOST_AUTO_TEST_CASE(create_with_the_spec_example_returns_201_and_the_user) {
    const auto before = std::chrono::system_clock::now();
    const http_response res = post_users(maria_body);
    const auto after = std::chrono::system_clock::now();

    const json::object data = check_user(res, 201);
    expect_fields(data, {{"external_user_id", "usr_8821"},
                         {"name", "Maria Santos"},
                         {"email", "maria@example.com"},
                         {"phone", "+15551234567"},
                         {"language", "en"},
                         {"onboarding_stage", "intake_pending"}});

    // created_at is the creation time (whole seconds) and the ULID encodes it in milliseconds.
    const auto created = parse_timestamp(str(data.at("created_at")));
    BOOST_TEST_REQUIRE(created.has_value());
    BOOST_TEST((*created >= std::chrono::floor<std::chrono::seconds>(before) - 1s &&
                *created <= std::chrono::ceil<std::chrono::seconds>(after) + 1s),
               "created_at " << str(data.at("created_at")) << " is not the time of the request");
    const auto id_time = ulid_time(str(data.at("id")));
    BOOST_TEST((id_time >= std::chrono::floor<std::chrono::milliseconds>(before) - 1s &&
                id_time <= std::chrono::ceil<std::chrono::milliseconds>(after) + 1s),
               "the id's ULID does not encode the creation time");
    BOOST_TEST(res.keep_alive());
}

// The request's Content-Type is not checked (docs/openapi.yaml): no header, or another one,
// still creates, as `curl -d` (form encoding) does.
BOOST_AUTO_TEST_CASE(a_create_without_a_json_content_type_is_accepted) {
    const auto none = request(http::verb::post, "/v1/users", spec_token, R"({"external_user_id":"no-type"})");
    expect_fields(check_user(none, 201), {{"external_user_id", "no-type"}});
    const auto form = request(http::verb::post, "/v1/users", spec_token, R"({"external_user_id":"form-type"})",
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
    expect_fields(check_user(form, 201), {{"external_user_id", "form-type"}});
}

BOOST_AUTO_TEST_CASE(create_with_only_external_user_id_gives_nulls_and_english) {
    const json::object data = check_user(post_users(R"({"external_user_id":"x"})"), 201);
    expect_fields(data, {{"external_user_id", "x"},
                         {"name", nullptr},
                         {"email", nullptr},
                         {"phone", nullptr},
                         {"language", "en"},
                         {"onboarding_stage", "intake_pending"}});
}

BOOST_AUTO_TEST_CASE(create_accepts_every_language_and_values_at_the_limits) {
    const json::object pt = check_user(
        post_users(body_of({{"external_user_id", "lang-pt"}, {"language", "pt"}})), 201);
    BOOST_TEST(pt.at("language") == json::value("pt"));
    const json::object es = check_user(
        post_users(body_of({{"external_user_id", "lang-es"}, {"language", "es"}})), 201);
    BOOST_TEST(es.at("language") == json::value("es"));

    // 100 characters of external id (200 bytes), 200 two-byte and 200 four-byte characters of
    // name: lengths count characters, not bytes. 15 digits of phone, a plus-tagged email.
    const std::string external_id = repeat("\xC3\xBC", 100);  // 'ü' x 100
    const std::string accents = repeat("\xC3\xA9", 200);      // 'é' x 200
    const std::string emoji = repeat("\xF0\x9F\x98\x80", 200);  // U+1F600 x 200
    const json::object a = check_user(post_users(body_of({{"external_user_id", external_id},
                                                          {"name", accents},
                                                          {"email", "first.last+tag@mail.example.co"},
                                                          {"phone", "+155512345678901"}})),
                                      201);
    expect_fields(a, {{"external_user_id", external_id},
                      {"name", accents},
                      {"email", "first.last+tag@mail.example.co"},
                      {"phone", "+155512345678901"}});
    const json::object b =
        check_user(post_users(body_of({{"external_user_id", repeat("a", 100)}, {"name", emoji}})),
                   201);
    expect_fields(b, {{"external_user_id", repeat("a", 100)}, {"name", emoji}});
}

BOOST_AUTO_TEST_CASE(ids_are_distinct_and_increase_with_each_create) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        const json::object data =
            check_user(post_users(body_of({{"external_user_id", "seq-" + std::to_string(i)}})), 201);
        ids.push_back(str(data.at("id")));
    }
    for (std::size_t i = 1; i < ids.size(); ++i)
        BOOST_TEST(ids[i - 1] < ids[i], ids[i - 1] << " then " << ids[i]);
}

BOOST_AUTO_TEST_CASE(duplicate_external_user_id_gets_409_with_the_spec_message) {
    const json::object first = check_user(post_users(maria_body), 201);
    const http_response second = post_users(
        body_of({{"external_user_id", "usr_8821"}, {"name", "Somebody Else"}, {"language", "pt"}}));
    BOOST_TEST(check_error(second, 409, "CONFLICT") == conflict_message);
    // The stored user is still the first one.
    const json::object stored = check_user(get(external_target("usr_8821")), 200);
    BOOST_TEST(json::value(stored) == json::value(first));
}

// ---------------------------------------------------------------------------------------------
// GET and HEAD /v1/users/{user_id}

BOOST_AUTO_TEST_CASE(get_by_id_returns_the_created_user) {
    const json::object created = check_user(post_users(maria_body), 201);
    const http_response res = get(user_target(str(created.at("id"))));
    const json::object data = check_user(res, 200);
    BOOST_TEST(json::value(data) == json::value(created));
}

BOOST_AUTO_TEST_CASE(get_by_external_id_returns_the_created_user) {
    const json::object created = check_user(post_users(maria_body), 201);
    const json::object data = check_user(get("/v1/users/external:usr_8821"), 200);
    BOOST_TEST(json::value(data) == json::value(created));
}

BOOST_AUTO_TEST_CASE(head_answers_like_get_without_a_body) {
    const json::object created = check_user(post_users(maria_body), 201);
    const std::string target = user_target(str(created.at("id")));
    const header_list auth = {{"Authorization", std::string(spec_token)}};

    http_client client{port};
    const http_response got = client.request(http::verb::get, target, auth);
    BOOST_TEST_REQUIRE(got.result_int() == 200u);
    const http_response head = client.request(http::verb::head, target, auth);
    BOOST_TEST(head.result_int() == 200u);
    BOOST_TEST(head.body().empty());
    check_json_content_type(head);
    if (head.count(http::field::content_length) != 0)
        BOOST_TEST(header(head, http::field::content_length) == std::to_string(got.body().size()));
    // Had the server sent a body after the HEAD answer, this next answer would be garbled.
    const http_response again = client.request(http::verb::get, target, auth);
    BOOST_TEST(check_user(again, 200) == created);

    const http_response by_external =
        client.request(http::verb::head, "/v1/users/external:usr_8821", auth);
    BOOST_TEST(by_external.result_int() == 200u);
    BOOST_TEST(by_external.body().empty());
    const http_response unknown =
        client.request(http::verb::head, "/v1/users/external:nobody", auth);
    BOOST_TEST(unknown.result_int() == 404u);
    const http_response unauthenticated = client.request(http::verb::head, target);
    BOOST_TEST(unauthenticated.result_int() == 401u);
    // The connection is still in step.
    BOOST_TEST(check_user(client.request(http::verb::get, target, auth), 200) == created);
}

// ---------------------------------------------------------------------------------------------
// Validation: 400 VALIDATION_ERROR naming the field, and nothing stored.

namespace {

struct rejected_case {
    std::string description;
    std::string body;
    std::string field;        // the field the message must name in quotes; empty: none
    std::string external_id;  // must still be unknown afterwards; empty: no check
    std::string received = {};  // text the message must quote (the value received); empty: none
};

void expect_rejected(const server_fixture& f, const std::vector<rejected_case>& cases) {
    for (const rejected_case& c : cases) {
        BOOST_TEST_CONTEXT(c.description << ": " << c.body) {
            const std::string message = check_error(f.post_users(c.body), 400, "VALIDATION_ERROR");
            if (!c.field.empty())
                BOOST_TEST(names_field(message, c.field),
                           "the message does not name '" << c.field << "': " << message);
            if (!c.received.empty())
                BOOST_TEST(message.find(c.received) != std::string::npos,
                           "the message does not show " << c.received << ": " << message);
            if (!c.external_id.empty())
                check_error(f.get(external_target(c.external_id)), 404, "NOT_FOUND");
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(invalid_email_gets_the_spec_message) {
    const http_response res =
        post_users(body_of({{"external_user_id", "usr_8821"}, {"email", "not-an-email"}}));
    BOOST_TEST(check_error(res, 400, "VALIDATION_ERROR") ==
               "Field 'email' must be a valid email address. Received: 'not-an-email'.");
    check_error(get("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(invalid_emails_are_rejected) {
    std::vector<rejected_case> cases;
    int n = 0;
    for (const char* email : {"a@b", "a b@example.com", "a@@example.com", "@example.com",
                              "a@example..com", "a@.example.com", "a@example.com ", ""}) {
        const std::string ext = "email-" + std::to_string(n++);
        cases.push_back({std::string("email '") + email + "'",
                         body_of({{"external_user_id", ext}, {"email", email}}), "email", ext,
                         std::string("'") + email + "'"});
    }
    expect_rejected(*this, cases);
}

BOOST_AUTO_TEST_CASE(invalid_phones_are_rejected) {
    std::vector<rejected_case> cases;
    int n = 0;
    for (const char* phone : {"15551234567", "+05551234567", "+1555123456789012", "+1 555 123 4567",
                              "+1555-123-4567", "+", "++15551234567", "+1555123456a", "",
                              "+15551234567\n", "tel:+15551234567"}) {
        const std::string ext = "phone-" + std::to_string(n++);
        const bool printable = std::string_view(phone).find('\n') == std::string_view::npos;
        cases.push_back({std::string("phone '") + phone + "'",
                         body_of({{"external_user_id", ext}, {"phone", phone}}), "phone", ext,
                         printable ? std::string("'") + phone + "'" : std::string()});
    }
    // Full-width digits are not ASCII digits.
    cases.push_back({"full-width digits",
                     body_of({{"external_user_id", "phone-fw"},
                              {"phone", "+\xEF\xBC\x91\xEF\xBC\x95\xEF\xBC\x95\xEF\xBC\x95"}}),
                     "phone", "phone-fw"});
    expect_rejected(*this, cases);
}

BOOST_AUTO_TEST_CASE(unsupported_languages_are_rejected) {
    std::vector<rejected_case> cases;
    int n = 0;
    for (const char* language : {"fr", "EN", "english", "", " en", "en-US", "pt_BR"}) {
        const std::string ext = "lang-" + std::to_string(n++);
        cases.push_back({std::string("language '") + language + "'",
                         body_of({{"external_user_id", ext}, {"language", language}}), "language",
                         ext, std::string("'") + language + "'"});
    }
    expect_rejected(*this, cases);
}

BOOST_AUTO_TEST_CASE(name_over_200_characters_is_rejected) {
    expect_rejected(*this,
                    {{"201 two-byte characters",
                      body_of({{"external_user_id", "name-1"}, {"name", repeat("\xC3\xA9", 201)}}),
                      "name", "name-1"},
                     {"201 ASCII characters",
                      body_of({{"external_user_id", "name-2"}, {"name", repeat("a", 201)}}),
                      "name", "name-2"}});
    // 200 'é' (400 bytes) is within the limit.
    const json::object data = check_user(
        post_users(body_of({{"external_user_id", "name-3"}, {"name", repeat("\xC3\xA9", 200)}})),
        201);
    BOOST_TEST(data.at("name") == json::value(repeat("\xC3\xA9", 200)));
}

BOOST_AUTO_TEST_CASE(external_user_id_must_be_1_to_100_characters) {
    expect_rejected(
        *this,
        {{"101 characters", body_of({{"external_user_id", repeat("a", 101)}}), "external_user_id",
          repeat("a", 101)},
         {"101 two-byte characters", body_of({{"external_user_id", repeat("\xC3\xBC", 101)}}),
          "external_user_id", repeat("\xC3\xBC", 101)},
         {"empty", body_of({{"external_user_id", ""}}), "external_user_id", ""}});
    check_user(post_users(body_of({{"external_user_id", repeat("a", 100)}})), 201);
}

BOOST_AUTO_TEST_CASE(missing_external_user_id_is_rejected) {
    expect_rejected(*this, {{"empty object", "{}", "external_user_id", ""},
                            {"other fields only",
                             body_of({{"name", "Maria Santos"}, {"email", "maria@example.com"}}),
                             "external_user_id", ""}});
}

BOOST_AUTO_TEST_CASE(values_of_the_wrong_type_are_rejected) {
    expect_rejected(
        *this,
        {{"external_user_id number", R"({"external_user_id":8821})", "external_user_id", "8821",
          "8821"},
         {"external_user_id null", R"({"external_user_id":null})", "external_user_id", ""},
         {"external_user_id array", R"({"external_user_id":["usr"]})", "external_user_id", ""},
         {"external_user_id object", R"({"external_user_id":{"id":"usr"}})", "external_user_id",
          ""},
         {"name number", R"({"external_user_id":"type-1","name":5})", "name", "type-1"},
         {"name object", R"({"external_user_id":"type-2","name":{"first":"Maria"}})", "name",
          "type-2"},
         {"email boolean", R"({"external_user_id":"type-3","email":true})", "email", "type-3",
          "true"},
         {"phone number", R"({"external_user_id":"type-4","phone":15551234567})", "phone",
          "type-4", "15551234567"},
         {"language array", R"({"external_user_id":"type-5","language":["en"]})", "language",
          "type-5", "en"}});
}

BOOST_AUTO_TEST_CASE(read_only_fields_are_rejected) {
    expect_rejected(
        *this,
        {{"id", R"({"external_user_id":"ro-1","id":"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEF"})", "id",
          "ro-1"},
         {"onboarding_stage", R"({"external_user_id":"ro-2","onboarding_stage":"active"})",
          "onboarding_stage", "ro-2"},
         {"created_at", R"({"external_user_id":"ro-3","created_at":"2025-05-05T14:30:00Z"})",
          "created_at", "ro-3"},
         {"object", R"({"external_user_id":"ro-4","object":"user"})", "object", "ro-4"}});
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_rejected) {
    expect_rejected(
        *this,
        {{"nickname", R"({"external_user_id":"unk-1","nickname":"Mari"})", "nickname", "unk-1"},
         {"field names are case-sensitive", R"({"external_user_id":"unk-2","Email":"a@b.co"})",
          "Email", "unk-2"},
         {"the envelope instead of the fields",
          R"({"object":"user","data":{"external_user_id":"unk-3"}})", "", "unk-3"}});
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_a_json_object_is_rejected) {
    expect_rejected(*this, {{"empty body", "", "", ""},
                            {"not JSON", "external_user_id=usr_8821", "", "usr_8821"},
                            {"truncated object", R"({"external_user_id":"usr_8821")", "",
                             "usr_8821"},
                            {"trailing garbage", R"({"external_user_id":"usr_8821"} x)", "",
                             "usr_8821"},
                            {"trailing comma", R"({"external_user_id":"usr_8821",})", "",
                             "usr_8821"},
                            {"array", R"([{"external_user_id":"usr_8821"}])", "", "usr_8821"},
                            {"string", R"("usr_8821")", "", "usr_8821"},
                            {"number", "42", "", ""},
                            {"null", "null", "", ""},
                            {"invalid UTF-8", "{\"external_user_id\":\"usr_\xFF\"}", "", ""}});
}

BOOST_AUTO_TEST_CASE(a_rejected_create_does_not_reserve_the_external_id) {
    check_error(post_users(body_of({{"external_user_id", "usr_8821"}, {"phone", "555"}})), 400,
                "VALIDATION_ERROR");
    check_error(get("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
    const json::object created = check_user(post_users(maria_body), 201);
    BOOST_TEST(created.at("phone") == json::value("+15551234567"));
}

// ---------------------------------------------------------------------------------------------
// Authentication: every bad credential gets the same 401, checked before the body.

BOOST_AUTO_TEST_CASE(bad_credentials_get_the_same_401) {
    const json::object existing = check_user(post_users(maria_body), 201);
    const std::string by_id = user_target(str(existing.at("id")));

    const std::vector<std::pair<std::string, std::string>> tokens = {
        {"no header", std::string(no_auth)},
        {"empty bearer", "Bearer "},
        {"scheme alone", "Bearer"},
        {"bad base64", "Bearer !!!not*base64!!!"},
        {"no colon", "Bearer czJjbGllbnRzMnNlY3JldA=="},             // "s2clients2secret"
        {"unknown client", "Bearer bm9ib2R5OnMyc2VjcmV0"},           // "nobody:s2secret"
        {"wrong secret", "Bearer czJjbGllbnQ6d3Jvbmctc2VjcmV0"},     // "s2client:wrong-secret"
        {"empty secret", "Bearer czJjbGllbnQ6"},                     // "s2client:"
        {"secret with a trailing space", "Bearer czJjbGllbnQ6czJzZWNyZXQg"},
        {"empty client id", "Bearer OnMyc2VjcmV0"},                  // ":s2secret"
        {"other client's secret", "Bearer czJjbGllbnQ6MHRoZXItczNjcmV0"},  // "s2client:0ther-s3cret"
        {"Basic scheme", "Basic czJjbGllbnQ6czJzZWNyZXQ="},
        {"raw credentials", "s2client:s2secret"},
    };
    std::optional<std::string> first_body;
    for (const auto& [description, token] : tokens) {
        BOOST_TEST_CONTEXT(description << " (" << token << ")") {
            const std::string probe = "auth-probe";
            for (const http_response& res :
                 {post_users(body_of({{"external_user_id", probe}}), token), get(by_id, token),
                  get("/v1/users/external:usr_8821", token)}) {
                check_error(res, 401, "UNAUTHORIZED");
                BOOST_TEST(header(res, http::field::www_authenticate).starts_with("Bearer"),
                           "WWW-Authenticate: " << header(res, http::field::www_authenticate));
                if (!first_body) first_body = res.body();
                BOOST_TEST(res.body() == *first_body);
            }
            check_error(get(external_target(probe)), 404, "NOT_FOUND");
        }
    }
}

BOOST_AUTO_TEST_CASE(authentication_is_checked_before_the_body) {
    for (std::string_view token :
         {no_auth, std::string_view("Bearer czJjbGllbnQ6d3Jvbmctc2VjcmV0")}) {
        BOOST_TEST_CONTEXT("token '" << token << "'") {
            check_error(post_users("this is not JSON", token), 401, "UNAUTHORIZED");
            check_error(post_users("", token), 401, "UNAUTHORIZED");
            check_error(post_users(R"({"external_user_id":"x","id":"ozz_usr_X"})", token), 401,
                        "UNAUTHORIZED");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Delete

BOOST_AUTO_TEST_CASE(a_deleted_user_is_gone_and_its_external_id_is_free_at_once) {
    const json::object created = check_user(post_users(maria_body), 201);
    const std::string id = str(created.at("id"));
    check_deleted(remove(user_target(id)));
    check_error(get(user_target(id)), 404, "NOT_FOUND");
    check_error(get("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
    check_error(remove(user_target(id)), 404, "NOT_FOUND");  // deleting again

    // The external id makes a new user, with a new id; by external id this time.
    const json::object again = check_user(post_users(maria_body), 201);
    BOOST_TEST(str(again.at("id")) != id);
    check_deleted(remove("/v1/users/external:usr_8821"));
    check_error(get(user_target(str(again.at("id")))), 404, "NOT_FOUND");
    check_error(remove("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(delete_keeps_tenancy_and_id_rules) {
    const json::object mine = check_user(post_users(maria_body), 201);
    const std::string id = str(mine.at("id"));
    // Another client: 403 by Ozzie id, and its own (absent) user by external id; nothing removed.
    check_error(remove(user_target(id), other_token), 403, "FORBIDDEN");
    check_error(remove("/v1/users/external:usr_8821", other_token), 404, "NOT_FOUND");
    BOOST_TEST(check_user(get(user_target(id)), 200) == mine);
    // A malformed id is not found; broken percent-encoding is a 400, as for GET.
    check_error(remove("/v1/users/not-an-id"), 404, "NOT_FOUND");
    check_error(remove("/v1/users/external:%zz"), 400, "VALIDATION_ERROR");
    // Without credentials: 401, nothing removed.
    check_error(request(http::verb::delete_, user_target(id), ""), 401, "UNAUTHORIZED");
    BOOST_TEST(check_user(get(user_target(id)), 200) == mine);
}

BOOST_AUTO_TEST_CASE(a_percent_encoded_external_id_is_deleted_by_its_decoded_value) {
    check_user(post_users(body_of({{"external_user_id", "a/b c%"}})), 201);
    check_deleted(remove(external_target("a/b c%")));
    check_error(get(external_target("a/b c%")), 404, "NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// Tenancy

BOOST_AUTO_TEST_CASE(another_clients_user_is_forbidden_by_id_and_invisible_by_external_id) {
    const json::object created = check_user(post_users(maria_body), 201);
    const std::string id = str(created.at("id"));

    check_error(get(user_target(id), other_token), 403, "FORBIDDEN");
    check_error(get("/v1/users/external:usr_8821", other_token), 404, "NOT_FOUND");
    // The owner still sees it.
    BOOST_TEST(check_user(get(user_target(id)), 200) == created);
}

BOOST_AUTO_TEST_CASE(the_same_external_id_under_two_clients_is_two_users) {
    const json::object mine = check_user(post_users(maria_body), 201);
    const json::object theirs = check_user(post_users(maria_body, other_token), 201);
    const std::string my_id = str(mine.at("id"));
    const std::string their_id = str(theirs.at("id"));
    BOOST_TEST(my_id != their_id);

    BOOST_TEST(check_user(get("/v1/users/external:usr_8821"), 200) == mine);
    BOOST_TEST(check_user(get("/v1/users/external:usr_8821", other_token), 200) == theirs);
    check_error(get(user_target(their_id)), 403, "FORBIDDEN");
    check_error(get(user_target(my_id), other_token), 403, "FORBIDDEN");
    // Each client's own duplicate is still a conflict.
    check_error(post_users(maria_body, other_token), 409, "CONFLICT");
}

// ---------------------------------------------------------------------------------------------
// 404 and 405

BOOST_AUTO_TEST_CASE(unknown_user_ids_get_404) {
    const json::object created = check_user(post_users(maria_body), 201);
    // A well-formed id that differs from the real one in its last character.
    std::string well_formed = str(created.at("id"));
    well_formed.back() = well_formed.back() == 'Z' ? 'Y' : 'Z';

    BOOST_TEST(check_error(get("/v1/users/ozz_usr_NOTEXIST"), 404, "NOT_FOUND") ==
               "No user found with id 'ozz_usr_NOTEXIST' under your API client.");
    for (const std::string& id :
         {std::string("ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DE"),  // the spec's id: 25 characters
          std::string("ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEF"), well_formed,
          std::string("ozz_usr_ZZZZZZZZZZZZZZZZZZZZZZZZZZ"),  // 26 characters over 128 bits
          std::string("ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEFG"),  // 27 characters
          std::string("ozz_usr_"), std::string("ozz_usr_01hx9kzmr4p5jqnbvt7ycw3de!"),
          std::string("garbage"), std::string("usr_8821"), std::string("external:"),
          std::string("external:nobody"), std::string("%00"), std::string("ozz_usr_%2F..%2F"),
          std::string(2000, 'A')}) {
        BOOST_TEST_CONTEXT("id '" << id << "'") {
            check_error(get(user_target(id)), 404, "NOT_FOUND");
        }
    }
}

// A NUL ends a C string: a store that took the id as one (libpq's parameters are) would find
// the user named by what comes before it. No create can make such an id, so it names no user.
BOOST_AUTO_TEST_CASE(an_external_id_with_a_nul_names_no_user_not_its_prefix) {
    const json::object maria = check_user(post_users(maria_body), 201);
    check_error(get("/v1/users/external:usr_8821%00tail"), 404, "NOT_FOUND");
    check_error(remove("/v1/users/external:usr_8821%00tail"), 404, "NOT_FOUND");
    check_error(request(http::verb::patch, "/v1/users/external:usr_8821%00", spec_token, R"({"name":"Mallory"})",
                        {{"Content-Type", "application/json"}}),
                404, "NOT_FOUND");
    BOOST_TEST(check_user(get("/v1/users/external:usr_8821"), 200) == maria);
}

BOOST_AUTO_TEST_CASE(a_name_with_a_nul_is_refused_on_every_store) {
    check_error(post_users(R"({"external_user_id":"nul","name":"a\u0000b"})"), 400, "VALIDATION_ERROR");
    check_error(get("/v1/users/external:nul"), 404, "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(malformed_percent_encoding_is_a_client_error) {
    for (const char* target :
         {"/v1/users/external:%", "/v1/users/external:%Z1", "/v1/users/external:abc%2",
          "/v1/users/external:%C3%28" /* invalid UTF-8 */}) {
        BOOST_TEST_CONTEXT("target " << target) {
            check_error(get(target), 400, "VALIDATION_ERROR");
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_routes_get_404_in_the_error_envelope) {
    for (const char* target : {"/v2/x", "/", "/v1", "/v1/", "/v1/user", "/v1/usersx",
                               "/v2/users/external:usr_8821", "/V1/USERS"}) {
        BOOST_TEST_CONTEXT("GET " << target) { check_error(get(target), 404, "NOT_FOUND"); }
    }
    check_error(request(http::verb::post, "/v2/x", spec_token, maria_body), 404, "NOT_FOUND");
    check_error(request(http::verb::post, "/", spec_token, maria_body), 404, "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(wrong_methods_get_405_with_allow) {
    for (http::verb method : {http::verb::delete_, http::verb::put, http::verb::patch}) {
        BOOST_TEST_CONTEXT(method << " /v1/users") {
            const http_response res = request(method, "/v1/users", spec_token);
            check_error(res, 405, "METHOD_NOT_ALLOWED");
            BOOST_TEST((allowed(res) == std::set<std::string>{"GET", "HEAD", "POST"}),
                       "Allow: " << header(res, http::field::allow));
        }
    }
    for (http::verb method : {http::verb::post, http::verb::put, http::verb::options}) {
        BOOST_TEST_CONTEXT(method << " /v1/users/abc") {
            const http_response res = request(method, "/v1/users/abc", spec_token, maria_body);
            check_error(res, 405, "METHOD_NOT_ALLOWED");
            BOOST_TEST((allowed(res) == std::set<std::string>{"GET", "HEAD", "PATCH", "DELETE"}),
                       "Allow: " << header(res, http::field::allow));
        }
    }
    // Nothing was created by the POST to a user's path.
    check_error(get("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// Percent-encoded external ids

BOOST_AUTO_TEST_CASE(external_ids_are_percent_decoded_from_the_path) {
    const std::vector<std::string> external_ids = {
        "Jos\xC3\xA9/\xC3\xA5" "b?c d:e",  // "José/åb?c d:e"
        "a/b", "a:b", "a?b", "a b", "a+b", "a#b", "100%", "50%25", "external:nested",
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // 日本語
        "emoji \xF0\x9F\x98\x80", "semi;colon,comma&amp=eq", "trailing/", "/leading"};
    std::vector<std::string> ids;
    for (const std::string& ext : external_ids) {
        BOOST_TEST_CONTEXT("create '" << ext << "'") {
            const json::object data = check_user(post_users(body_of({{"external_user_id", ext}})), 201);
            BOOST_TEST(data.at("external_user_id") == json::value(ext));
            ids.push_back(str(data.at("id")));
        }
    }
    for (std::size_t i = 0; i < external_ids.size(); ++i) {
        BOOST_TEST_CONTEXT("GET '" << external_ids[i] << "' as " << external_target(external_ids[i])) {
            const json::object data = check_user(get(external_target(external_ids[i])), 200);
            BOOST_TEST(data.at("external_user_id") == json::value(external_ids[i]));
            BOOST_TEST(data.at("id") == json::value(ids[i]));
        }
    }

    const auto id_of = [&](std::string_view ext) {
        return json::value(ids[std::find(external_ids.begin(), external_ids.end(), ext) -
                               external_ids.begin()]);
    };
    // Lower-case hex digits decode the same.
    BOOST_TEST(check_user(get("/v1/users/external:a%2fb"), 200).at("id") == id_of("a/b"));
    BOOST_TEST(check_user(get("/v1/users/external:" + percent_encode(external_ids[0], true)), 200)
                   .at("id") == id_of(external_ids[0]));
    // In a path '+' is a plus, not a space; ':' needs no encoding.
    BOOST_TEST(check_user(get("/v1/users/external:a+b"), 200).at("id") == id_of("a+b"));
    BOOST_TEST(check_user(get("/v1/users/external:a:b"), 200).at("id") == id_of("a:b"));
    BOOST_TEST(check_user(get("/v1/users/external:external:nested"), 200).at("id") ==
               id_of("external:nested"));
    // An unencoded '/' still belongs to the external id (the route takes the rest of the path).
    BOOST_TEST(check_user(get("/v1/users/external:a/b"), 200).at("id") == id_of("a/b"));
    // Decoding happens once: "%2525" is "%25", not "%".
    BOOST_TEST(check_user(get("/v1/users/external:50%2525"), 200).at("id") == id_of("50%25"));
    // The id is taken exactly: no trimming, no case folding.
    check_error(get("/v1/users/external:A%2FB"), 404, "NOT_FOUND");
    check_error(get("/v1/users/external:a%2Fb%20"), 404, "NOT_FOUND");
}

// ---------------------------------------------------------------------------------------------
// Connections

BOOST_AUTO_TEST_CASE(keep_alive_serves_many_requests_on_one_connection) {
    const header_list auth = {{"Authorization", std::string(spec_token)}};
    const header_list json_auth = {{"Authorization", std::string(spec_token)},
                                   {"Content-Type", "application/json"}};
    http_client client{port};

    const http_response created = client.request(http::verb::post, "/v1/users", json_auth, maria_body);
    const json::object user = check_user(created, 201);
    BOOST_TEST(created.keep_alive());
    const std::string by_id = user_target(str(user.at("id")));

    for (int round = 0; round < 3; ++round) {
        BOOST_TEST_CONTEXT("round " << round) {
            std::vector<http_response> answers;
            answers.push_back(client.request(http::verb::get, by_id, auth));
            BOOST_TEST(check_user(answers.back(), 200) == user);
            answers.push_back(client.request(http::verb::get, "/v1/users/external:usr_8821", auth));
            BOOST_TEST(check_user(answers.back(), 200) == user);
            answers.push_back(client.request(http::verb::post, "/v1/users", json_auth, maria_body));
            check_error(answers.back(), 409, "CONFLICT");
            answers.push_back(client.request(http::verb::post, "/v1/users", json_auth,
                                             R"({"external_user_id":"k","phone":"1"})"));
            check_error(answers.back(), 400, "VALIDATION_ERROR");
            answers.push_back(client.request(http::verb::get, "/v1/users/ozz_usr_NOTEXIST", auth));
            check_error(answers.back(), 404, "NOT_FOUND");
            answers.push_back(client.request(http::verb::get, by_id));
            check_error(answers.back(), 401, "UNAUTHORIZED");
            answers.push_back(client.request(http::verb::delete_, "/v1/users", auth));
            check_error(answers.back(), 405, "METHOD_NOT_ALLOWED");
            answers.push_back(client.request(http::verb::get, "/nowhere", auth));
            check_error(answers.back(), 404, "NOT_FOUND");
            answers.push_back(client.request(
                http::verb::post, "/v1/users", json_auth,
                body_of({{"external_user_id", "keep-" + std::to_string(round)}})));
            check_user(answers.back(), 201);
            for (const http_response& answer : answers) BOOST_TEST(answer.keep_alive());
        }
    }
}

BOOST_AUTO_TEST_CASE(connection_close_is_honoured) {
    {
        http_client client{port};
        const http_response res =
            client.request(http::verb::get, "/v1/users/external:usr_8821",
                           {{"Authorization", std::string(spec_token)}, {"Connection", "close"}});
        check_error(res, 404, "NOT_FOUND");
        BOOST_TEST(!res.keep_alive());
        BOOST_TEST(client.closed_by_server());
    }
    {
        // HTTP/1.0 without keep-alive: one answer, then the server closes.
        http_client client{port};
        client.write_raw("GET /v1/users/external:usr_8821 HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                         "Authorization: " + std::string(spec_token) + "\r\n\r\n");
        const http_response res =
            conforms("GET", "/v1/users/external:usr_8821", client.read_response());
        check_error(res, 404, "NOT_FOUND");
        BOOST_TEST(client.closed_by_server());
    }
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
    const json::object user = check_user(post_users(maria_body), 201);
    const std::string auth = "Authorization: " + std::string(spec_token) + "\r\n";
    const std::string body = R"({"external_user_id":"piped"})";
    http_client client{port};
    client.write_raw("GET /v1/users/external:nobody HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                     "\r\n"
                     "POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                     "Content-Type: application/json\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body +
                     "GET " + user_target(str(user.at("id"))) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                     auth + "\r\n");
    check_error(conforms("GET", "/v1/users/external:nobody", client.read_response()), 404,
                "NOT_FOUND");
    BOOST_TEST(check_user(conforms("POST", "/v1/users", client.read_response()), 201)
                   .at("external_user_id") == json::value("piped"));
    BOOST_TEST(check_user(conforms("GET", user_target(str(user.at("id"))), client.read_response()),
                          200) == user);
}

BOOST_AUTO_TEST_CASE(a_chunked_body_is_accepted) {
    const auto chunk = [](std::string_view data) {
        std::ostringstream out;
        out << std::hex << data.size() << "\r\n" << data << "\r\n";
        return out.str();
    };
    http_client client{port};
    client.write_raw("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: " + std::string(spec_token) + "\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     chunk(R"({"external_use)") + chunk(R"(r_id":"chunky"})") + "0\r\n\r\n");
    const json::object data = check_user(conforms("POST", "/v1/users", client.read_response()), 201);
    BOOST_TEST(data.at("external_user_id") == json::value("chunky"));
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_gets_413) {
    // Only the headers are sent: the declared length alone is over the 64 KiB default limit.
    http_client client{port};
    client.write_raw("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: " + std::string(spec_token) + "\r\n"
                     "Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n");
    check_error(conforms("POST", "/v1/users", client.read_response()), 413, "PAYLOAD_TOO_LARGE");
}

BOOST_AUTO_TEST_CASE(headers_over_the_limit_get_431) {
    // The default header limit is 8 KiB.
    http_client client{port};
    client.write_raw("GET /v1/users/external:usr_8821 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: " + std::string(spec_token) + "\r\n"
                     "X-Padding: " + std::string(9000, 'p') + "\r\n\r\n");
    check_error(conforms("GET", "/v1/users/external:usr_8821", client.read_response()), 431,
                "REQUEST_HEADERS_TOO_LARGE");
}

BOOST_AUTO_TEST_CASE(a_malformed_request_gets_400_bad_request_and_the_connection_closes) {
    http_client client{port};
    client.write_raw("THIS IS NOT HTTP\r\n\r\n");
    const http_response res = client.read_response();
    check_error(res, 400, "BAD_REQUEST");
    BOOST_TEST(!res.keep_alive());
    BOOST_TEST(client.closed_by_server());
}

// ---------------------------------------------------------------------------------------------
// Concurrency

namespace {

struct outcome {
    unsigned status = 0;
    std::string body;
    std::string error;  // an exception's text, if the request failed
};

// Sends one POST /v1/users per body, each on its own connection and its own thread, all
// released together once every connection is open.
std::vector<outcome> post_concurrently(std::uint16_t port, const std::vector<std::string>& bodies) {
    std::vector<outcome> outcomes(bodies.size());
    std::latch start(static_cast<std::ptrdiff_t>(bodies.size()));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        threads.emplace_back([&, i] {
            std::optional<http_client> client;
            try {
                client.emplace(port);
            } catch (const std::exception& e) {
                outcomes[i].error = e.what();
            }
            start.arrive_and_wait();
            if (!client) return;
            try {
                const http_response res = client->request(
                    http::verb::post, "/v1/users",
                    {{"Authorization", std::string(spec_token)},
                     {"Content-Type", "application/json"}},
                    bodies[i]);
                outcomes[i].status = res.result_int();
                outcomes[i].body = res.body();
            } catch (const std::exception& e) {
                outcomes[i].error = e.what();
            }
        });
    }
    for (std::thread& t : threads) t.join();
    return outcomes;
}

http_response as_response(const outcome& o) {
    http_response res{static_cast<http::status>(o.status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = o.body;
    return res;
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_duplicate_creates_give_exactly_one_201) {
    constexpr std::size_t n = 40;
    const std::vector<outcome> outcomes =
        post_concurrently(port, std::vector<std::string>(n, maria_body));

    std::vector<std::size_t> created;
    std::size_t conflicts = 0;
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST_CONTEXT("request " << i) {
            BOOST_TEST(outcomes[i].error.empty(), outcomes[i].error);
            BOOST_TEST((outcomes[i].status == 201u || outcomes[i].status == 409u),
                       "status " << outcomes[i].status << ": " << outcomes[i].body);
            if (outcomes[i].status == 201) created.push_back(i);
            if (outcomes[i].status == 409) ++conflicts;
        }
    }
    BOOST_TEST(created.size() == 1u);
    BOOST_TEST(conflicts == n - 1);
    BOOST_TEST_REQUIRE(!created.empty());

    // Bodies were checked above only by status; now their exact shapes.
    const json::object winner = check_user(as_response(outcomes[created[0]]), 201);
    for (const outcome& o : outcomes)
        if (o.status == 409)
            BOOST_TEST(check_error(as_response(o), 409, "CONFLICT") == conflict_message);

    BOOST_TEST(check_user(get("/v1/users/external:usr_8821"), 200) == winner);
    BOOST_TEST(check_user(get(user_target(str(winner.at("id")))), 200) == winner);
}

BOOST_AUTO_TEST_CASE(concurrent_distinct_creates_all_succeed) {
    constexpr std::size_t n = 40;
    std::vector<std::string> bodies;
    for (std::size_t i = 0; i < n; ++i)
        bodies.push_back(body_of({{"external_user_id", "parallel-" + std::to_string(i)}}));
    const std::vector<outcome> outcomes = post_concurrently(port, bodies);

    std::set<std::string> ids;
    for (std::size_t i = 0; i < n; ++i) {
        BOOST_TEST_CONTEXT("request " << i) {
            BOOST_TEST_REQUIRE(outcomes[i].error.empty(), outcomes[i].error);
            const json::object data = check_user(as_response(outcomes[i]), 201);
            BOOST_TEST(data.at("external_user_id") ==
                       json::value("parallel-" + std::to_string(i)));
            ids.insert(str(data.at("id")));
            BOOST_TEST(check_user(get(external_target("parallel-" + std::to_string(i))), 200) ==
                       data);
        }
    }
    BOOST_TEST(ids.size() == n);
}

// ---------------------------------------------------------------------------------------------
// Stop and restart

BOOST_AUTO_TEST_CASE(stop_closes_idle_keep_alive_connections) {
    http_client client{port};
    const http_response res = client.request(http::verb::get, "/v1/users/external:usr_8821",
                                             {{"Authorization", std::string(spec_token)}});
    check_error(res, 404, "NOT_FOUND");
    BOOST_TEST_REQUIRE(res.keep_alive());
    stop();  // must return although the connection is open
    BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(users_survive_a_restart) {
    const json::object maria = check_user(post_users(maria_body), 201);
    const json::object minimal =
        check_user(post_users(R"({"external_user_id":"Jos\u00e9/x y"})"), 201);
    const json::object theirs = check_user(post_users(maria_body, other_token), 201);
    const std::uint16_t old_port = port;

    stop();
    start();
    BOOST_TEST_MESSAGE("restarted: port " << old_port << " -> " << port);

    BOOST_TEST(check_user(get(user_target(str(maria.at("id")))), 200) == maria);
    BOOST_TEST(check_user(get(user_target(str(minimal.at("id")))), 200) == minimal);
    BOOST_TEST(check_user(get(user_target(str(theirs.at("id"))), other_token), 200) == theirs);
    BOOST_TEST(check_user(get("/v1/users/external:usr_8821"), 200) == maria);
    BOOST_TEST(check_user(get(external_target("Jos\xC3\xA9/x y")), 200) == minimal);
    BOOST_TEST(check_user(get("/v1/users/external:usr_8821", other_token), 200) == theirs);
    check_error(get(user_target(str(theirs.at("id")))), 403, "FORBIDDEN");

    // The index survived too: a duplicate is still a conflict, and new users can be created.
    BOOST_TEST(check_error(post_users(maria_body), 409, "CONFLICT") == conflict_message);
    const json::object later = check_user(post_users(R"({"external_user_id":"after-restart"})"), 201);
    BOOST_TEST(later.at("id") != maria.at("id"));
    BOOST_TEST(check_user(get("/v1/users/external:after-restart"), 200) == later);
}

BOOST_AUTO_TEST_SUITE_END()
