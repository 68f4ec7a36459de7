// Route matching (source/http/router.hpp).
#include <boost/test/unit_test.hpp>

#include "http/router.hpp"

#include <string>
#include <string_view>

namespace {

std::string route_name(ozzie::route r) {
    switch (r) {
        case ozzie::route::none: return "none";
        case ozzie::route::users: return "users";
        case ozzie::route::user: return "user";
        case ozzie::route::batch: return "batch";
    }
    return "route(" + std::to_string(static_cast<int>(r)) + ")";
}

std::string which(std::string_view target) {
    return route_name(ozzie::match_route(target).which);
}

std::string user_id_of(std::string_view target) {
    return std::string(ozzie::match_route(target).user_id);
}

namespace http = ozzie::http;

}  // namespace

BOOST_AUTO_TEST_SUITE(match_route_suite)

BOOST_AUTO_TEST_CASE(users_collection) {
    BOOST_TEST(which("/v1/users") == "users");
}

BOOST_AUTO_TEST_CASE(query_is_ignored) {
    BOOST_TEST(which("/v1/users?x=1") == "users");
    BOOST_TEST(which("/v1/users?") == "users");
    BOOST_TEST(which("/v1/users/abc?x=1") == "user");
    BOOST_TEST(user_id_of("/v1/users/abc?x=1") == "abc");
}

BOOST_AUTO_TEST_CASE(single_user_by_ozzie_id) {
    BOOST_TEST(which("/v1/users/abc") == "user");
    BOOST_TEST(user_id_of("/v1/users/abc") == "abc");
    BOOST_TEST(which("/v1/users/ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV") == "user");
    BOOST_TEST(user_id_of("/v1/users/ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV") ==
               "ozz_usr_01ARZ3NDEKTSV4RRFFQ69G5FAV");
}

BOOST_AUTO_TEST_CASE(batch_is_its_own_route) {
    BOOST_TEST(which("/v1/users/batch") == "batch");
    BOOST_TEST(which("/v1/users/batch?x=1") == "batch");
    BOOST_TEST(which("http://host/v1/users/batch") == "batch");
    // Anything longer is a user id.
    BOOST_TEST(which("/v1/users/batch/") == "user");
    BOOST_TEST(which("/v1/users/batches") == "user");
    BOOST_TEST(which("/v1/users/external:batch") == "user");
    BOOST_TEST(ozzie::allowed_methods(ozzie::route::batch) == "POST");
    BOOST_TEST(ozzie::method_allowed(ozzie::route::batch, http::verb::post));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::batch, http::verb::get));
    BOOST_TEST(ozzie::route_template(ozzie::route::batch) == "/v1/users/batch");
}

BOOST_AUTO_TEST_CASE(single_user_by_external_id) {
    BOOST_TEST(which("/v1/users/external:usr_8821") == "user");
    BOOST_TEST(user_id_of("/v1/users/external:usr_8821") == "external:usr_8821");
}

BOOST_AUTO_TEST_CASE(percent_encoded_segment_is_kept_raw) {
    BOOST_TEST(which("/v1/users/external:a%2Fb") == "user");
    BOOST_TEST(user_id_of("/v1/users/external:a%2Fb") == "external:a%2Fb");
    BOOST_TEST(user_id_of("/v1/users/external:a%20b%3Fc") == "external:a%20b%3Fc");
}

BOOST_AUTO_TEST_CASE(everything_after_the_prefix_is_the_id_slashes_included) {
    BOOST_TEST(which("/v1/users/external:a/b") == "user");
    BOOST_TEST(user_id_of("/v1/users/external:a/b") == "external:a/b");
    BOOST_TEST(user_id_of("/v1/users/external:a/b/c/") == "external:a/b/c/");
}

BOOST_AUTO_TEST_CASE(empty_user_id_is_no_route) {
    BOOST_TEST(which("/v1/users/") == "none");
    BOOST_TEST(which("/v1/users/?x=1") == "none");
}

BOOST_AUTO_TEST_CASE(other_paths_are_no_route) {
    BOOST_TEST(which("/v1/user") == "none");
    BOOST_TEST(which("/") == "none");
    BOOST_TEST(which("") == "none");
    BOOST_TEST(which("/v1/usersX") == "none");
    BOOST_TEST(which("/v1/usersX/abc") == "none");
    BOOST_TEST(which("/v1") == "none");
    BOOST_TEST(which("/v2/users") == "none");
    BOOST_TEST(which("/V1/USERS") == "none");
    BOOST_TEST(which("v1/users") == "none");
    BOOST_TEST(which("/api/v1/users") == "none");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allowed_methods_suite)

BOOST_AUTO_TEST_CASE(users_collection_takes_get_head_and_post) {
    BOOST_TEST(ozzie::allowed_methods(ozzie::route::users) == "GET, HEAD, POST");
    BOOST_TEST(ozzie::method_allowed(ozzie::route::users, http::verb::post));
    BOOST_TEST(ozzie::method_allowed(ozzie::route::users, http::verb::get));
    BOOST_TEST(ozzie::method_allowed(ozzie::route::users, http::verb::head));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::users, http::verb::put));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::users, http::verb::patch));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::users, http::verb::delete_));
}

BOOST_AUTO_TEST_CASE(single_user_takes_get_head_patch_and_delete) {
    BOOST_TEST(ozzie::allowed_methods(ozzie::route::user) == "GET, HEAD, PATCH, DELETE");
    BOOST_TEST(ozzie::method_allowed(ozzie::route::user, http::verb::get));
    BOOST_TEST(ozzie::method_allowed(ozzie::route::user, http::verb::head));
    BOOST_TEST(ozzie::method_allowed(ozzie::route::user, http::verb::patch));
    BOOST_TEST(ozzie::method_allowed(ozzie::route::user, http::verb::delete_));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::user, http::verb::post));
    BOOST_TEST(!ozzie::method_allowed(ozzie::route::user, http::verb::put));
}

BOOST_AUTO_TEST_SUITE_END()
