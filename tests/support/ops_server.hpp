// An in-process server for the operations tests: a temp dir with a clients file and a store, a
// user_service and an ozzie::server on 127.0.0.1 port 0, with the admin listener (port 0) on
// by default; the clients alice and bob (tokens from support/credentials.hpp); and the small
// checks the operations tests share.
#pragma once

#include "support/credentials.hpp"
#include "support/eventually.hpp"
#include "support/http_client.hpp"
#include "support/in_process_server.hpp"
#include "support/openapi_check.hpp"

#include <ozzie/config.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ozzie::testing {

inline const test_client alice{"alice", "4lice-s3cret-for-ops-tests"};
inline const test_client bob{"bob", "b0b-s3cret-for-ops-tests"};

inline std::string header_value(const http_response& res, std::string_view name) {
    const auto v = res[name];
    return std::string(v.data(), v.size());
}

// The body parsed as JSON; null (and no throw) if it is not JSON.
inline boost::json::value json_body(const http_response& res) {
    boost::system::error_code ec;
    auto v = boost::json::parse(res.body(), ec);
    return ec ? boost::json::value() : v;
}

// Whether `res` carries the error envelope {"error":{"code":<code>,"message":"..."}} exactly
// (with `code` empty: any code).
inline bool is_error_envelope(const http_response& res, std::string_view code = {}) {
    const auto v = json_body(res);
    if (!v.is_object() || v.as_object().size() != 1 || !v.as_object().contains("error")) return false;
    const auto& e = v.as_object().at("error");
    if (!e.is_object() || e.as_object().size() != 2) return false;
    const auto* c = e.as_object().if_contains("code");
    const auto* m = e.as_object().if_contains("message");
    if (!c || !m || !c->is_string() || !m->is_string() || m->as_string().empty()) return false;
    return code.empty() || c->as_string() == code;
}

struct ops_server : in_process_server {
    std::uint16_t admin_port = 0;
    ozzie::store_options store_settings;  // the store's, but for where it is (start_server)

    // Writes a clients file with alice and bob and starts with `adjust` applied to the options,
    // on a store opened with `store`'s settings.
    explicit ops_server(const std::function<void(ozzie::server_options&)>& adjust = {},
                        ozzie::store_options store = {})
        : store_settings(std::move(store)) {
        write_clients_file(clients_file(), {alice, bob});
        start(adjust);
    }

    ozzie::server_options default_options() const {
        auto options = loopback_options();
        options.admin_port = 0;
        options.log_level = "warning";  // no request lines in the test output
        return options;
    }

    void start(const std::function<void(ozzie::server_options&)>& adjust = {}) {
        auto options = default_options();
        if (adjust) adjust(options);
        start_server(options, store_settings);
        admin_port = server->admin_port();
    }
};

// What s.start() threw, for the tests of options it must refuse: the exception's message, or
// "(empty message)" if it had none; "" if the server started.
inline std::string start_failure(ozzie::server& s) {
    try {
        s.start();
    } catch (const std::exception& e) {
        return e.what()[0] ? e.what() : "(empty message)";
    }
    return {};
}

// A create body for `external_user_id`.
inline std::string create_body(std::string_view external_user_id) {
    return boost::json::serialize(boost::json::object{{"external_user_id", external_user_id}});
}

// For http_client's `check`: an answer of the admin listener is as docs/admin-openapi.yaml says
// (throws openapi_violation if not).
inline void admin_conforms(const http_request& req, const http_response& res) {
    const auto method = req.method_string();
    const auto target = req.target();
    ozzie_admin_openapi().require({method.data(), method.size()}, {target.data(), target.size()}, res);
}

inline header_list auth_headers(const test_client& c) {
    return {{"Authorization", c.authorization()}, {"Content-Type", "application/json"}};
}

}  // namespace ozzie::testing
