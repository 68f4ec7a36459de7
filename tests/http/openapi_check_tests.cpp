// Tests of the OpenAPI checker itself (tests/support/openapi_check.hpp) and of docs/openapi.yaml:
// responses that must fail do, the examples match their schemas, and every error code of
// headers/ozzie/errors.hpp is documented with its status.
#include "support/http_client.hpp"
#include "support/openapi_check.hpp"

#include <ozzie/errors.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
namespace http = ozzie::testing::http;
using ozzie::testing::http_response;
using ozzie::testing::openapi_document;

const openapi_document& api() {
    return ozzie::testing::ozzie_openapi();
}

const json::object maria = {{"id", "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEF"},
                            {"external_user_id", "usr_8821"},
                            {"name", "Maria Santos"},
                            {"email", "maria@example.com"},
                            {"phone", "+15551234567"},
                            {"language", "en"},
                            {"onboarding_stage", "intake_pending"},
                            {"created_at", "2025-05-05T14:30:00Z"}};

http_response response(unsigned status, const json::value& body,
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       std::string content_type = "application/json") {
    http_response res{static_cast<http::status>(status), 11};
    if (!content_type.empty()) res.set(http::field::content_type, content_type);
    res.set("X-Request-Id", "5c1221e1fedaf72f-1");
    for (const auto& [name, value] : headers) res.set(name, value);
    res.body() = body.is_null() ? std::string() : json::serialize(body);
    res.prepare_payload();
    return res;
}

json::value user_envelope(const json::object& data) {
    return json::object{{"object", "user"}, {"data", data}};
}

json::value error_body(std::string_view code, std::string_view message = "what went wrong") {
    return json::object{{"error", json::object{{"code", code}, {"message", message}}}};
}

// A user's ETag, as every user response (200, 201) carries one.
const std::pair<std::string, std::string> etag{"ETag", "\"3f2a9c1e0b7d4a65\""};

http_response created(const json::object& data) {
    return response(201, user_envelope(data),
                    {{"Location", "/v1/users/" + std::string(data.at("id").as_string())}, etag});
}

// The violations of a response, each also logged (--log_level=message shows them).
std::vector<std::string> violations(std::string_view method, std::string_view target,
                                    const http_response& res) {
    auto found = api().check(method, target, res);
    for (const auto& v : found) BOOST_TEST_MESSAGE("  violation: " << v);
    return found;
}

bool any_mentions(const std::vector<std::string>& found, std::string_view text) {
    for (const auto& v : found)
        if (v.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(openapi_checker)

BOOST_AUTO_TEST_CASE(the_document_loads_as_openapi_3_1_with_bearer_auth) {
    const json::object& root = api().root().as_object();
    BOOST_TEST(std::string_view(root.at("openapi").as_string()).starts_with("3.1."));
    BOOST_TEST(root.at("servers").as_array().at(0).at("url") ==
               json::value("http://127.0.0.1:8080"));
    const json::value& bearer = root.at("components").at("securitySchemes").at("bearerAuth");
    BOOST_TEST(bearer.at("scheme") == json::value("bearer"));
    BOOST_TEST(root.at("paths").as_object().contains("/v1/users"));
    BOOST_TEST(root.at("paths").as_object().contains("/v1/users/{user_id}"));
}

BOOST_AUTO_TEST_CASE(the_http_tests_check_every_response) {
    BOOST_TEST(static_cast<bool>(ozzie::testing::check_every_response));
}

BOOST_AUTO_TEST_CASE(conforming_responses_pass) {
    BOOST_TEST(violations("POST", "/v1/users", created(maria)).empty());
    json::object nulls = maria;
    nulls["name"] = nullptr;
    nulls["email"] = nullptr;
    nulls["phone"] = nullptr;
    nulls["onboarding_stage"] = "active";
    BOOST_TEST(violations("GET", "/v1/users/ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEF?x=1",
                          response(200, user_envelope(nulls), {etag}))
                   .empty());
    // The user id takes the rest of the path, '/' included.
    BOOST_TEST(violations("GET", "/v1/users/external:a/b", response(200, user_envelope(maria), {etag}))
                   .empty());
    http_response head = response(200, nullptr, {etag});
    head.content_length(200);
    BOOST_TEST(violations("HEAD", "/v1/users/external:usr_8821", head).empty());
    BOOST_TEST(violations("GET", "/v1/users/x", response(404, error_body("NOT_FOUND"))).empty());
    BOOST_TEST(violations("GET", "/nowhere", response(404, error_body("NOT_FOUND"))).empty());
    BOOST_TEST(
        violations("POST", "/v1/users",
                   response(401, error_body("UNAUTHORIZED"), {{"WWW-Authenticate", "Bearer"}}))
            .empty());
    BOOST_TEST(violations("PUT", "/v1/users/x",
                          response(405, error_body("METHOD_NOT_ALLOWED"), {{"Allow", "GET, HEAD, PATCH, DELETE"}}))
                   .empty());
    BOOST_TEST(violations("DELETE", "/v1/users/x", response(204, nullptr, {}, "")).empty());
    BOOST_TEST(violations("POST", "/v1/users",
                          response(413, error_body("PAYLOAD_TOO_LARGE"), {{"Connection", "close"}}))
                   .empty());
}

BOOST_AUTO_TEST_CASE(an_extra_field_fails) {
    json::object extra = maria;
    extra["nickname"] = "Mari";
    BOOST_TEST(any_mentions(violations("POST", "/v1/users", created(extra)), "'nickname'"));

    json::object envelope = user_envelope(maria).as_object();
    envelope["meta"] = json::object{};
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", response(200, envelope)), "'meta'"));

    json::object error = error_body("NOT_FOUND").as_object();
    error["error"].as_object()["details"] = "more";
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", response(404, error)), "'details'"));
}

BOOST_AUTO_TEST_CASE(a_missing_field_fails) {
    json::object missing = maria;
    missing.erase("phone");  // null would be fine; absent is not
    BOOST_TEST(any_mentions(violations("POST", "/v1/users", created(missing)), "'phone'"));
    BOOST_TEST(
        !violations("GET", "/v1/users/x",
                    response(404, json::object{{"error", json::object{{"code", "NOT_FOUND"}}}}))
             .empty());
}

BOOST_AUTO_TEST_CASE(a_wrong_type_or_value_fails) {
    const auto fails = [](std::string_view field, json::value value) {
        json::object data = maria;
        data[field] = std::move(value);
        BOOST_TEST_CONTEXT(field << " = " << json::serialize(data[field])) {
            BOOST_TEST(any_mentions(violations("POST", "/v1/users", created(data)),
                                    "$.data." + std::string(field)));
        }
    };
    fails("name", 5);
    fails("name", json::array{"Maria"});
    fails("external_user_id", nullptr);
    fails("language", nullptr);  // nullable in requests, never in responses
    fails("language", "fr");
    fails("onboarding_stage", "done");
    fails("created_at", "2025-05-05 14:30:00");
    fails("created_at", "2025-05-05T14:30:00.123Z");
    fails("created_at", "2025-13-05T14:30:00Z");
    fails("phone", "15551234567");
    fails("email", "not-an-email");
    fails("name", json::string(std::string(201, 'a')));
    fails("external_user_id", "");
    // maxLength counts code points: 200 two-byte characters fit, 201 do not.
    std::string accents;
    for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";
    json::object data = maria;
    data["name"] = accents;
    BOOST_TEST(violations("POST", "/v1/users", created(data)).empty());
    fails("name", json::string(accents + "\xC3\xA9"));

    json::object envelope = user_envelope(maria).as_object();
    envelope["object"] = "customer";
    BOOST_TEST(!violations("GET", "/v1/users/x", response(200, envelope)).empty());
    BOOST_TEST(!violations("GET", "/v1/users/x", response(200, json::array{})).empty());
}

BOOST_AUTO_TEST_CASE(a_malformed_id_fails) {
    for (const char* id :
         {"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DE" /* 25 */,
          "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEI" /* I */,
          "ozz_usr_81HX9KZMR4P5JQNBVT7YCW3DEF" /* over 128 bits */,
          "usr_01HX9KZMR4P5JQNBVT7YCW3DEF", "ozz_usr_01hx9kzmr4p5jqnbvt7ycw3def"}) {
        BOOST_TEST_CONTEXT(id) {
            json::object data = maria;
            data["id"] = id;
            BOOST_TEST(any_mentions(
                violations("GET", "/v1/users/x", response(200, user_envelope(data))), "$.data.id"));
        }
    }
}

BOOST_AUTO_TEST_CASE(an_undocumented_status_fails) {
    const auto undocumented = [](std::string_view method, std::string_view target, unsigned status,
                                 const json::value& body) {
        BOOST_TEST_CONTEXT(method << " " << target << " -> " << status) {
            BOOST_TEST(
                any_mentions(violations(method, target, response(status, body)), "not documented"));
        }
    };
    undocumented("GET", "/v1/users/x", 201, user_envelope(maria));  // a GET never creates
    undocumented("POST", "/v1/users", 200, user_envelope(maria));   // a create is 201
    undocumented("POST", "/v1/users", 404, error_body("NOT_FOUND"));
    undocumented("GET", "/v1/users/x", 409, error_body("CONFLICT"));
    undocumented("GET", "/v1/users/x", 418, error_body("INTERNAL_ERROR"));
    undocumented("POST", "/v1/users", 204, nullptr);
    // Unknown paths and methods: routing comes before authentication.
    undocumented("GET", "/nowhere", 401, error_body("UNAUTHORIZED"));
    undocumented("GET", "/v1/users/", 200, user_envelope(maria));
    undocumented("DELETE", "/v1/users", 401, error_body("UNAUTHORIZED"));
    undocumented("DELETE", "/v1/users", 404, error_body("NOT_FOUND"));
}

BOOST_AUTO_TEST_CASE(an_error_code_that_does_not_fit_the_status_fails) {
    BOOST_TEST(!violations("GET", "/v1/users/x", response(404, error_body("CONFLICT"))).empty());
    BOOST_TEST(!violations("GET", "/v1/users/x", response(404, error_body("NOT_A_CODE"))).empty());
    BOOST_TEST(
        !violations("GET", "/nowhere", response(400, error_body("VALIDATION_ERROR"))).empty());
    BOOST_TEST(
        !violations("GET", "/v1/users/x", response(404, error_body("NOT_FOUND", ""))).empty());
    BOOST_TEST(
        !violations("GET", "/v1/users/x", response(404, json::object{{"error", "NOT_FOUND"}}))
             .empty());
}

BOOST_AUTO_TEST_CASE(a_missing_or_malformed_header_fails) {
    BOOST_TEST(any_mentions(violations("POST", "/v1/users", response(201, user_envelope(maria))),
                            "Location"));
    BOOST_TEST(
        any_mentions(violations("POST", "/v1/users",
                                response(201, user_envelope(maria), {{"Location", "/v1/users/1"}})),
                     "header Location"));
    BOOST_TEST(
        any_mentions(violations("GET", "/v1/users/x", response(401, error_body("UNAUTHORIZED"))),
                     "WWW-Authenticate"));
    http_response anonymous = created(maria);
    anonymous.erase("X-Request-Id");
    BOOST_TEST(any_mentions(violations("POST", "/v1/users", anonymous), "X-Request-Id"));
    BOOST_TEST(
        any_mentions(violations("POST", "/v1/users",
                                response(409, error_body("CONFLICT"), {{"X-Request-Id", "a b"}})),
                     "X-Request-Id"));
    BOOST_TEST(any_mentions(
        violations("GET", "/v1/users/x",
                   response(429, error_body("RATE_LIMITED"), {{"Retry-After", "soon"}})),
        "Retry-After"));
    BOOST_TEST(any_mentions(
        violations("PUT", "/v1/users", response(405, error_body("METHOD_NOT_ALLOWED"))), "Allow"));
    // Allow must list exactly the path's methods.
    BOOST_TEST(any_mentions(
        violations("PUT", "/v1/users",
                   response(405, error_body("METHOD_NOT_ALLOWED"), {{"Allow", "GET, HEAD"}})),
        "Allow"));
    BOOST_TEST(any_mentions(
        violations("POST", "/v1/users/x",
                   response(405, error_body("METHOD_NOT_ALLOWED"), {{"Allow", "GET"}})),
        "Allow"));
}

BOOST_AUTO_TEST_CASE(a_wrong_content_type_or_body_fails) {
    BOOST_TEST(any_mentions(
        violations("POST", "/v1/users", response(409, error_body("CONFLICT"), {}, "text/plain")),
        "Content-Type"));
    BOOST_TEST(
        any_mentions(violations("POST", "/v1/users", response(409, error_body("CONFLICT"), {}, "")),
                     "Content-Type"));
    http_response not_json = response(409, nullptr);
    not_json.body() = "CONFLICT";
    not_json.prepare_payload();
    BOOST_TEST(any_mentions(violations("POST", "/v1/users", not_json), "not JSON"));
    http_response head = response(200, nullptr);
    head.body() = "{}";
    BOOST_TEST(any_mentions(violations("HEAD", "/v1/users/x", head), "HEAD"));
    // A parameter of the media type is fine.
    BOOST_TEST(
        violations("POST", "/v1/users",
                   response(409, error_body("CONFLICT"), {}, "application/json; charset=utf-8"))
            .empty());
}

BOOST_AUTO_TEST_CASE(require_throws_with_every_violation) {
    json::object bad = maria;
    bad["name"] = 5;
    bad["extra"] = true;
    try {
        api().require("POST", "/v1/users", response(201, user_envelope(bad)));
        BOOST_ERROR("require did not throw");
    } catch (const ozzie::testing::openapi_violation& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("Location") != std::string::npos, what);
        BOOST_TEST(what.find("$.data.name") != std::string::npos, what);
        BOOST_TEST(what.find("'extra'") != std::string::npos, what);
    }
}

// What issue 10 added: ETag, 304, 412, the idempotency answers, and the batch route.
BOOST_AUTO_TEST_CASE(conditional_idempotent_and_batch_responses) {
    BOOST_TEST(violations("GET", "/v1/users/x", response(200, user_envelope(maria), {etag})).empty());
    // A user response without its ETag, or with a malformed one, fails.
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", response(200, user_envelope(maria))), "ETag"));
    BOOST_TEST(any_mentions(violations("PATCH", "/v1/users/x",
                                       response(200, user_envelope(maria), {{"ETag", "W/\"3f2a9c1e0b7d4a65\""}})),
                            "header ETag"));
    // 304: an ETag and no body, on GET and HEAD of a user only.
    BOOST_TEST(violations("GET", "/v1/users/x", response(304, nullptr, {etag}, "")).empty());
    BOOST_TEST(violations("HEAD", "/v1/users/x", response(304, nullptr, {etag}, "")).empty());
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", response(304, nullptr, {}, "")), "ETag"));
    http_response with_body = response(304, nullptr, {etag});
    with_body.body() = "{}";  // prepare_payload refuses a 304 with a body
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", with_body), "no content"));
    BOOST_TEST(any_mentions(violations("GET", "/v1/users", response(304, nullptr, {etag}, "")), "not documented"));
    // 412 on PATCH and DELETE; 422 and 409 IDEMPOTENCY_KEY_IN_USE on the keyed operations.
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"PATCH", "/v1/users/x"}, {"DELETE", "/v1/users/x"}}) {
        BOOST_TEST(violations(method, target, response(412, error_body("PRECONDITION_FAILED"))).empty());
    }
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/x", response(412, error_body("PRECONDITION_FAILED"))),
                            "not documented"));
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/v1/users"}, {"POST", "/v1/users/batch"}, {"PATCH", "/v1/users/x"}, {"DELETE", "/v1/users/x"}}) {
        BOOST_TEST_CONTEXT(method << " " << target) {
            BOOST_TEST(violations(method, target, response(422, error_body("IDEMPOTENCY_KEY_REUSED"))).empty());
            BOOST_TEST(violations(method, target,
                                  response(409, error_body("IDEMPOTENCY_KEY_IN_USE"), {{"Retry-After", "1"}}))
                           .empty());
        }
    }
    BOOST_TEST(any_mentions(violations("DELETE", "/v1/users/x", response(409, error_body("IDEMPOTENCY_KEY_IN_USE"))),
                            "Retry-After"));
    BOOST_TEST(!violations("DELETE", "/v1/users/x", response(409, error_body("CONFLICT"))).empty());
    BOOST_TEST(!violations("GET", "/v1/users/x", response(422, error_body("IDEMPOTENCY_KEY_REUSED"))).empty());
    // A replay: the stored answer and Idempotent-Replayed: true.
    BOOST_TEST(violations("POST", "/v1/users",
                          response(201, user_envelope(maria),
                                   {etag, {"Location", "/v1/users/ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEF"},
                                    {"Idempotent-Replayed", "true"}}))
                   .empty());
    BOOST_TEST(violations("DELETE", "/v1/users/x", response(204, nullptr, {{"Idempotent-Replayed", "true"}}, ""))
                   .empty());
    BOOST_TEST(any_mentions(violations("DELETE", "/v1/users/x",
                                       response(204, nullptr, {{"Idempotent-Replayed", "yes"}}, "")),
                            "Idempotent-Replayed"));

    // The batch: one result per input, each a 201 user or a failure whose code fits its status.
    const auto batch = [](json::array results) {
        return response(200, json::object{{"object", "list"}, {"data", std::move(results)}});
    };
    const json::object created_item{{"status", 201}, {"object", "user"}, {"data", maria}};
    const auto failed_item = [](int status, std::string_view code) {
        return json::object{{"status", status}, {"error", error_body(code).at("error")}};
    };
    BOOST_TEST(violations("POST", "/v1/users/batch",
                          batch({created_item, failed_item(409, "CONFLICT"), failed_item(400, "VALIDATION_ERROR"),
                                 failed_item(503, "SERVICE_UNAVAILABLE"), failed_item(500, "INTERNAL_ERROR")}))
                   .empty());
    BOOST_TEST(!violations("POST", "/v1/users/batch", batch({})).empty());
    BOOST_TEST(!violations("POST", "/v1/users/batch", batch({failed_item(409, "VALIDATION_ERROR")})).empty());
    BOOST_TEST(!violations("POST", "/v1/users/batch", batch({failed_item(404, "NOT_FOUND")})).empty());
    json::object created_with_error = created_item;
    created_with_error["error"] = error_body("CONFLICT").at("error");
    BOOST_TEST(!violations("POST", "/v1/users/batch", batch({created_with_error})).empty());
    json::object created_as_200 = created_item;
    created_as_200["status"] = 200;
    BOOST_TEST(!violations("POST", "/v1/users/batch", batch({created_as_200})).empty());
    BOOST_TEST(any_mentions(violations("POST", "/v1/users/batch", response(201, user_envelope(maria))),
                            "not documented"));
    // The batch route serves POST only; its 405 says so.
    BOOST_TEST(violations("GET", "/v1/users/batch",
                          response(405, error_body("METHOD_NOT_ALLOWED"), {{"Allow", "POST"}}))
                   .empty());
    BOOST_TEST(any_mentions(violations("GET", "/v1/users/batch",
                                       response(405, error_body("METHOD_NOT_ALLOWED"), {{"Allow", "GET, HEAD, POST"}})),
                            "Allow"));
}

// The JSON Schema keywords a document may use, on a document of its own.
BOOST_AUTO_TEST_CASE(the_schema_subset) {
    const openapi_document doc = openapi_document::parse(R"(
openapi: 3.1.0
info: {title: t, version: '1'}
paths: {}
components:
  schemas:
    Thing:
      type: object
      required: [n]
      additionalProperties: false
      properties:
        n: {type: integer}
        s: {$ref: '#/components/schemas/Short'}
        k: {const: 'yes'}
        e: {type: [string, 'null'], enum: [a, null]}
        q: {type: string, pattern: 'b+'}
        f: {type: number}
        a: {type: array, maxItems: 2, items: {type: integer, minimum: 1, maximum: 100}}
        o: {type: array, minItems: 1, items: {oneOf: [{type: integer}, {type: number, minimum: 2}]}}
    Short: {type: [string, boolean], minLength: 2, maxLength: 3}
)");
    const json::value& thing = doc.root().at("components").at("schemas").at("Thing");
    const auto ok = [&](const char* text) {
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(doc.validate(json::parse(text), thing).empty());
        }
    };
    const auto bad = [&](const char* text) {
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(!doc.validate(json::parse(text), thing).empty());
        }
    };
    ok(R"({"n": 1})");
    ok(R"({"n": 2.0, "s": "\u00e9\u00e9\u00e9", "k": "yes", "e": null, "q": "abbc", "f": 1.5})");
    ok(R"({"n": 1, "s": true, "e": "a"})");  // type arrays; lengths apply to strings only
    ok(R"({"n": 1, "a": []})");
    ok(R"({"n": 1, "a": [1, 100]})");
    ok(R"({"n": 1, "o": [2.5]})");  // oneOf: exactly one matches
    ok(R"({"n": 1, "o": [1]})");
    bad(R"({"n": 1.5})");
    bad(R"({"n": "1"})");
    bad(R"({})");
    bad(R"({"n": 1, "x": 1})");
    bad(R"({"n": 1, "s": "a"})");
    bad(R"({"n": 1, "s": "\u00e9\u00e9\u00e9\u00e9"})");
    bad(R"({"n": 1, "s": 3})");
    bad(R"({"n": 1, "k": "no"})");
    bad(R"({"n": 1, "e": "b"})");
    bad(R"({"n": 1, "q": "ac"})");
    bad(R"({"n": 1, "f": "1"})");
    bad(R"([])");
    bad(R"({"n": 1, "a": [0]})");
    bad(R"({"n": 1, "a": [101]})");
    bad(R"({"n": 1, "a": ["1"]})");
    bad(R"({"n": 1, "a": [1, 2, 3]})");
    bad(R"({"n": 1, "o": []})");     // minItems
    bad(R"({"n": 1, "o": [3]})");    // oneOf: both match
    bad(R"({"n": 1, "o": [0.5]})");  // oneOf: neither matches

    // Other keywords, bad references and bad patterns are refused at load.
    const auto refused = [](const char* schema) {
        BOOST_TEST_CONTEXT(schema) {
            BOOST_CHECK_THROW(openapi_document::parse(std::string(R"(
openapi: 3.1.0
info: {title: t, version: '1'}
paths: {}
components:
  schemas:
    X: )") + schema),
                              std::runtime_error);
        }
    };
    refused("{type: array, items: [{type: string}]}");  // the array form: its meaning changed in 2020-12
    refused("{anyOf: [{type: string}]}");
    refused("{oneOf: [{type: strin}]}");  // the schemas of oneOf are checked too
    refused("{type: string, pattern: '('}");
    refused("{$ref: '#/components/schemas/Nowhere'}");
    refused("{type: strin}");
    refused("{additionalProperties: {type: string}}");
    // Draft 7 ignores what stands beside a $ref: refused rather than silently unchecked.
    refused("{properties: {a: {type: string}, b: {$ref: '#/components/schemas/X/properties/a', "
            "minLength: 1}}}");
    BOOST_CHECK_THROW(openapi_document::parse("openapi: 3.0.3\npaths: {}\n"), std::runtime_error);
    BOOST_CHECK_THROW(openapi_document::parse("openapi: 3.1.0\npaths: {a: 1\n"),
                      std::runtime_error);
}

// Every example in the document matches its schema: request examples, parameter examples and
// response examples.
BOOST_AUTO_TEST_CASE(every_example_matches_its_schema) {
    std::size_t checked = 0;
    const auto check_media = [&](const json::value& media_node, const std::string& where) {
        const json::object& media = api().resolve(media_node).as_object();
        const json::value* schema = media.if_contains("schema");
        if (!schema) return;
        const auto check_one = [&](const json::value& example, const std::string& at) {
            const auto found = api().validate(example, *schema, at);
            for (const auto& v : found) BOOST_TEST_MESSAGE("  violation: " << v);
            BOOST_TEST(found.empty(), at);
            ++checked;
        };
        if (const auto* example = media.if_contains("example"))
            check_one(*example, where + "/example");
        if (const auto* examples = media.if_contains("examples"))
            for (const auto& [name, e] : examples->as_object())
                check_one(api().resolve(e).at("value"), where + "/examples/" + std::string(name));
    };
    const json::object& components = api().root().at("components").as_object();
    for (const auto& [name, r] : components.at("responses").as_object())
        if (const auto* content = r.as_object().if_contains("content"))  // a 304 has none
            for (const auto& [type, media] : content->as_object())
                check_media(media,
                            "#/components/responses/" + std::string(name) + "/" + std::string(type));
    for (const char* path : {"/v1/users", "/v1/users/batch"}) {
        const json::value& post = api().root().at("paths").at(path).at("post");
        for (const auto& [type, media] : post.at("requestBody").at("content").as_object())
            check_media(media, "POST " + std::string(path) + " request " + std::string(type));
    }
    for (const auto& [name, parameter] : components.at("parameters").as_object())
        check_media(parameter, "#/components/parameters/" + std::string(name));
    for (const auto& [name, h] : components.at("headers").as_object())
        if (const auto* example = h.as_object().if_contains("example"))
            BOOST_TEST(api().validate(*example, h.at("schema")).empty(), name);
    for (const auto& [name, h] :
         components.at("responses").at("UserCreated").at("headers").as_object())
        if (const auto* example = api().resolve(h).as_object().if_contains("example"))
            BOOST_TEST(api().validate(*example, api().resolve(h).at("schema")).empty(), name);
    BOOST_TEST(checked >= 30u);
    BOOST_TEST_MESSAGE(checked << " examples checked");
}

// Every code of headers/ozzie/errors.hpp is in the document's ErrorCode, with nothing more, and
// some request may answer it with its status.
BOOST_AUTO_TEST_CASE(every_error_code_is_documented_with_its_status) {
    const json::array& codes =
        api().root().at("components").at("schemas").at("ErrorCode").at("enum").as_array();
    std::size_t count = 0;
    for (int i = static_cast<int>(ozzie::errc::validation_error);
         i <= static_cast<int>(ozzie::errc::idempotency_key_in_use); ++i, ++count) {
        const auto e = static_cast<ozzie::errc>(i);
        const std::string code(ozzie::code_name(e));
        BOOST_TEST_CONTEXT(code << " " << ozzie::http_status(e)) {
            BOOST_TEST(std::find(codes.begin(), codes.end(), json::value(code)) != codes.end());
            const http_response res = response(ozzie::http_status(e), error_body(code),
                                               {{"WWW-Authenticate", "Bearer"},
                                                {"Retry-After", "1"},
                                                {"Connection", "close"},
                                                {"Allow", "GET, HEAD, POST"}});
            bool answered_somewhere = false;
            for (const auto& [method, target] :
                 std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/users"},
                                                                  {"GET", "/v1/users/x"},
                                                                  {"PATCH", "/v1/users/x"},
                                                                  {"DELETE", "/v1/users"},
                                                                  {"GET", "/nowhere"}})
                answered_somewhere = answered_somewhere || api().check(method, target, res).empty();
            BOOST_TEST(answered_somewhere);
        }
    }
    BOOST_TEST(codes.size() == count);
}

BOOST_AUTO_TEST_SUITE_END()
