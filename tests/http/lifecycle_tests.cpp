// HTTP tests of updating and listing users: PATCH /v1/users/{user_id} and GET (and HEAD)
// /v1/users, on a real server over loopback, every answer also checked against
// docs/openapi.yaml (the suite's global fixture, http_tests.cpp).
#include "http/users_api.hpp"

#include <string>
#include <vector>

namespace {

using namespace ozzie::testing::users_api;

const header_list json_content = {{"Content-Type", "application/json"}};

struct lifecycle_fixture : server_fixture {
    http_response patch(std::string_view target, std::string body, std::string_view token = spec_token) const {
        return request(http::verb::patch, target, token, std::move(body), json_content);
    }

    std::string create(const std::string& external_id, std::string_view token = spec_token) const {
        return str(check_user(post_users(body_of({{"external_user_id", external_id}}), token), 201).at("id"));
    }

    // Checks a list answer: 200, {"object":"list","data":[...],"has_more":...} with exactly those
    // keys, each element a user object exactly as a single answer's data. Returns the answer.
    json::object check_list(const http_response& res) const {
        BOOST_TEST_CONTEXT("response body: " << res.body()) {
            BOOST_TEST_REQUIRE(res.result_int() == 200u);
            check_json_content_type(res);
            const json::value v = parse_body(res);
            BOOST_TEST_REQUIRE(v.is_object());
            BOOST_TEST_REQUIRE(keys_of(v.as_object()) == (std::vector<std::string>{"object", "data", "has_more"}),
                               boost::test_tools::per_element());
            BOOST_TEST(v.at("object") == json::value("list"));
            BOOST_TEST_REQUIRE(v.at("has_more").is_bool());
            BOOST_TEST_REQUIRE(v.at("data").is_array());
            for (const auto& u : v.at("data").as_array()) {
                BOOST_TEST_REQUIRE(u.is_object());
                BOOST_TEST_REQUIRE(keys_of(u.as_object()) == user_fields, boost::test_tools::per_element());
            }
            return v.as_object();
        }
        return {};  // not reached
    }

    // The ids on a list page.
    static std::vector<std::string> ids(const json::object& list) {
        std::vector<std::string> out;
        for (const auto& u : list.at("data").as_array()) out.push_back(str(u.at("id")));
        return out;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(update_api, lifecycle_fixture)

BOOST_AUTO_TEST_CASE(a_patch_answers_200_with_the_whole_user_changed) {
    const json::object created = check_user(post_users(maria_body), 201);
    const std::string target = user_target(str(created.at("id")));
    const json::object updated =
        check_user(patch(target, R"({"name":"Maria S. Santos","email":null,"onboarding_stage":"plan_pending"})"), 200);
    json::object expected = created;
    expected["name"] = "Maria S. Santos";
    expected["email"] = nullptr;
    expected["onboarding_stage"] = "plan_pending";
    BOOST_TEST(updated == expected);
    BOOST_TEST(check_user(get(target), 200) == expected);
    BOOST_TEST(check_user(get("/v1/users/external:usr_8821"), 200) == expected);
    // {} changes nothing.
    BOOST_TEST(check_user(patch(target, "{}"), 200) == expected);
    BOOST_TEST(check_user(patch("/v1/users/external:usr_8821", R"({"language":"pt","phone":"+5511987654321"})"), 200)
                   .at("language") == json::value("pt"));
}

BOOST_AUTO_TEST_CASE(a_new_external_id_is_taken_and_the_old_one_released) {
    const std::string id = str(check_user(post_users(maria_body), 201).at("id"));
    const json::object moved = check_user(patch("/v1/users/external:usr_8821", body_of({{"external_user_id", "a/b c%"}})), 200);
    BOOST_TEST(str(moved.at("id")) == id);
    BOOST_TEST(str(moved.at("external_user_id")) == "a/b c%");
    check_error(get("/v1/users/external:usr_8821"), 404, "NOT_FOUND");
    BOOST_TEST(check_user(get(external_target("a/b c%")), 200) == moved);
    BOOST_TEST(create("usr_8821") != id);
    // Taking an external id another of the client's users holds: 409, with the create message.
    BOOST_TEST(check_error(patch(user_target(id), R"({"external_user_id":"usr_8821","name":"x"})"), 409, "CONFLICT") ==
               conflict_message);
    BOOST_TEST(check_user(get(user_target(id)), 200) == moved);
}

BOOST_AUTO_TEST_CASE(fields_are_validated_as_on_create) {
    const json::object created = check_user(post_users(maria_body), 201);
    const std::string target = user_target(str(created.at("id")));
    // Each bad value answers the message a create with it answers.
    const std::vector<std::pair<std::string, json::value>> bad_values = {
        {"email", json::value("not-an-email")},     {"phone", json::value("5551234")},
        {"language", json::value("fr")},           {"name", json::value(std::string(201, 'n'))},
        {"external_user_id", json::value("")},      {"external_user_id", json::value(std::string(101, 'x'))},
        {"name", json::value(42)}};
    for (const auto& [field, value] : bad_values) {
        BOOST_TEST_CONTEXT(field << " = " << value) {
            json::object as_create{{"external_user_id", "usr_new"}};
            as_create[field] = value;
            json::object as_patch;
            as_patch[field] = value;
            const auto updated = check_error(patch(target, body_of(as_patch)), 400, "VALIDATION_ERROR");
            BOOST_TEST(updated == check_error(post_users(body_of(as_create)), 400, "VALIDATION_ERROR"));
            BOOST_TEST(names_field(updated, field), updated);
        }
    }
    for (const char* field : {"external_user_id", "language", "onboarding_stage"})
        BOOST_TEST(names_field(check_error(patch(target, body_of({{field, nullptr}})), 400, "VALIDATION_ERROR"), field));
    for (const char* field : {"id", "created_at", "object", "nickname"})
        BOOST_TEST(names_field(check_error(patch(target, body_of({{field, "x"}})), 400, "VALIDATION_ERROR"), field));
    BOOST_TEST(names_field(check_error(patch(target, R"({"onboarding_stage":"done"})"), 400, "VALIDATION_ERROR"),
                           "onboarding_stage"));
    check_error(patch(target, "not json"), 400, "VALIDATION_ERROR");
    check_error(patch(target, "[]"), 400, "VALIDATION_ERROR");
    check_error(patch(target, R"({"name":"a","name":"b"})"), 400, "VALIDATION_ERROR");
    BOOST_TEST(check_user(get(target), 200) == created);  // nothing changed
}

BOOST_AUTO_TEST_CASE(onboarding_stage_only_moves_forward) {
    const std::string target = user_target(create("usr_1"));
    check_user(patch(target, R"({"onboarding_stage":"intake_pending"})"), 200);
    BOOST_TEST(check_user(patch(target, R"({"onboarding_stage":"active"})"), 200).at("onboarding_stage") ==
               json::value("active"));
    check_user(patch(target, R"({"onboarding_stage":"active"})"), 200);
    const auto back = check_error(patch(target, R"({"onboarding_stage":"plan_pending","name":"x"})"), 400,
                                  "VALIDATION_ERROR");
    BOOST_TEST(names_field(back, "onboarding_stage"), back);
    BOOST_TEST(check_user(get(target), 200).at("name").is_null());
}

BOOST_AUTO_TEST_CASE(a_patch_keeps_tenancy_and_id_rules) {
    const json::object mine = check_user(post_users(maria_body), 201);
    const std::string target = user_target(str(mine.at("id")));
    check_error(patch(target, R"({"name":"x"})", other_token), 403, "FORBIDDEN");
    check_error(patch("/v1/users/external:usr_8821", R"({"name":"x"})", other_token), 404, "NOT_FOUND");
    check_error(patch("/v1/users/ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV", R"({"name":"x"})"), 404, "NOT_FOUND");
    check_error(patch("/v1/users/external:%zz", R"({"name":"x"})"), 400, "VALIDATION_ERROR");
    check_error(request(http::verb::patch, target, no_auth, R"({"name":"x"})"), 401, "UNAUTHORIZED");
    BOOST_TEST(check_user(get(target), 200) == mine);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(list_api, lifecycle_fixture)

BOOST_AUTO_TEST_CASE(a_walk_over_every_page_in_both_directions_has_no_duplicates_or_gaps) {
    constexpr int n = 230;
    std::vector<std::string> created;  // oldest first
    for (int i = 0; i < n; ++i) created.push_back(create("walk-" + std::to_string(i)));
    create("theirs", other_token);
    const std::vector<std::string> newest_first(created.rbegin(), created.rend());

    for (const int limit : {1, 37, 100}) {
        BOOST_TEST_CONTEXT("limit " << limit) {
            http_client client{port};
            const header_list auth = {{"Authorization", std::string(spec_token)}};
            std::vector<std::string> forward;
            std::string query = "?limit=" + std::to_string(limit);
            for (;;) {
                const auto page = check_list(client.request(http::verb::get, "/v1/users" + query, auth));
                const auto on_page = ids(page);
                BOOST_TEST_REQUIRE(on_page.size() <= std::size_t(limit));
                forward.insert(forward.end(), on_page.begin(), on_page.end());
                if (!page.at("has_more").as_bool()) break;
                BOOST_TEST_REQUIRE(on_page.size() == std::size_t(limit));
                query = "?limit=" + std::to_string(limit) + "&starting_after=" + forward.back();
            }
            BOOST_TEST(forward == newest_first, boost::test_tools::per_element());

            std::vector<std::string> backward{created.front()};
            for (std::string cursor = created.front();;) {
                const auto page = check_list(client.request(
                    http::verb::get, "/v1/users?ending_before=" + cursor + "&limit=" + std::to_string(limit), auth));
                const auto on_page = ids(page);
                BOOST_TEST_REQUIRE(on_page.size() <= std::size_t(limit));
                BOOST_TEST_REQUIRE(std::is_sorted(on_page.rbegin(), on_page.rend()));  // newest first
                backward.insert(backward.end(), on_page.rbegin(), on_page.rend());
                if (!page.at("has_more").as_bool()) break;
                cursor = on_page.front();
            }
            BOOST_TEST(backward == created, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(elements_are_the_users_as_get_gives_them_and_the_default_limit_is_10) {
    const json::object maria = check_user(post_users(maria_body), 201);
    auto first = check_list(get("/v1/users"));
    BOOST_TEST_REQUIRE(first.at("data").as_array().size() == 1u);
    BOOST_TEST(first.at("data").as_array()[0] == maria);
    BOOST_TEST(!first.at("has_more").as_bool());
    for (int i = 0; i < 10; ++i) create("more-" + std::to_string(i));
    first = check_list(get("/v1/users"));
    BOOST_TEST(first.at("data").as_array().size() == 10u);
    BOOST_TEST(first.at("has_more").as_bool());
    const auto rest = check_list(get("/v1/users?starting_after=" + ids(first).back()));
    BOOST_TEST(ids(rest) == std::vector<std::string>{str(maria.at("id"))}, boost::test_tools::per_element());
    BOOST_TEST(check_list(get("/v1/users", other_token)).at("data").as_array().empty());
}

BOOST_AUTO_TEST_CASE(the_filter_lists_the_users_at_one_stage) {
    std::vector<std::string> active;
    for (int i = 0; i < 12; ++i) {
        const auto id = create("f-" + std::to_string(i));
        if (i % 4 == 0) {
            check_user(patch(user_target(id), R"({"onboarding_stage":"active"})"), 200);
            active.insert(active.begin(), id);
        }
    }
    BOOST_TEST(ids(check_list(get("/v1/users?onboarding_stage=active"))) == active, boost::test_tools::per_element());
    BOOST_TEST(ids(check_list(get("/v1/users?onboarding_stage=intake_pending&limit=100"))).size() == 9u);
    BOOST_TEST(check_list(get("/v1/users?onboarding_stage=plan_pending")).at("data").as_array().empty());
    const auto page = check_list(get("/v1/users?onboarding_stage=active&limit=2&starting_after=" + active[0]));
    BOOST_TEST(ids(page) == std::vector<std::string>(active.begin() + 1, active.end()), boost::test_tools::per_element());
    BOOST_TEST(!page.at("has_more").as_bool());
}

BOOST_AUTO_TEST_CASE(head_answers_like_get_without_a_body) {
    for (int i = 0; i < 3; ++i) create("h-" + std::to_string(i));
    const header_list auth = {{"Authorization", std::string(spec_token)}};
    http_client client{port};
    const http_response got = client.request(http::verb::get, "/v1/users?limit=2", auth);
    check_list(got);
    const http_response head = client.request(http::verb::head, "/v1/users?limit=2", auth);
    BOOST_TEST(head.result_int() == 200u);
    BOOST_TEST(head.body().empty());
    check_json_content_type(head);
    if (head.count(http::field::content_length) != 0)
        BOOST_TEST(header(head, http::field::content_length) == std::to_string(got.body().size()));
    BOOST_TEST(client.request(http::verb::head, "/v1/users?limit=0", auth).result_int() == 400u);
    BOOST_TEST(client.request(http::verb::head, "/v1/users").result_int() == 401u);
    BOOST_TEST(ids(check_list(client.request(http::verb::get, "/v1/users?limit=2", auth))) == ids(check_list(got)),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_queries_are_400_naming_the_parameter) {
    create("u");
    const std::string cursor = "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const std::pair<std::string, std::string> cases[] = {
        {"limit=0", "'limit'"},
        {"limit=101", "'limit'"},
        {"limit=ten", "'limit'"},
        {"limit=", "'limit'"},
        {"limit=5&limit=5", "'limit'"},
        {"starting_after=" + cursor + "&ending_before=" + cursor, "'starting_after' and 'ending_before'"},
        {"starting_after=usr_8821", "'starting_after'"},
        {"ending_before=", "'ending_before'"},
        {"onboarding_stage=done", "'onboarding_stage'"},
        {"expand=data", "'expand'"},
        {"limit=%zz", "query string"},
    };
    for (const auto& [query, named] : cases) {
        BOOST_TEST_CONTEXT("?" << query) {
            const auto message = check_error(get("/v1/users?" + query), 400, "VALIDATION_ERROR");
            BOOST_TEST(message.find(named) != std::string::npos, message);
        }
    }
    check_error(get("/v1/users", no_auth), 401, "UNAUTHORIZED");
    check_list(get("/v1/users?limit=100&starting_after=" + cursor));  // a cursor need not be a user
}

BOOST_AUTO_TEST_SUITE_END()
