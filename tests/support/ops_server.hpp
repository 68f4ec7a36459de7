// An in-process server for the operations tests: a temp dir with a clients file and a store, a
// user_service and an ozzie::server on 127.0.0.1 port 0, with the admin listener (port 0) on
// by default. Tokens are computed here with OpenSSL directly, not with the code under test.
#pragma once

#include "support/http_client.hpp"
#include "support/server_process.hpp"  // sha256_hex, base64
#include "support/temp_dir.hpp"

#include <ozzie/config.hpp>
#include <ozzie/server.hpp>
#include <ozzie/user_service.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ozzie::testing {

// An API client the tests know the secret of.
struct test_client {
    std::string id;
    std::string secret;
    std::string authorization() const { return "Bearer " + base64(id + ":" + secret); }
};

inline const test_client alice{"alice", "4lice-s3cret-for-ops-tests"};
inline const test_client bob{"bob", "b0b-s3cret-for-ops-tests"};

// `clients` as a clients file, with a comment and a blank line as an operator would write it.
inline void write_clients_file(const std::filesystem::path& file, const std::vector<test_client>& clients) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << "# API clients of the operations tests\n\n";
    for (const auto& c : clients) out << c.id << ':' << sha256_hex(c.secret) << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

// Waits until `done()` or the deadline (a safety net, not a timing assertion); returns done().
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds deadline = std::chrono::seconds(15)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return done();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

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

struct ops_server {
    temp_dir dir;  // first: removed last
    std::optional<ozzie::user_service> service;
    std::optional<ozzie::server> server;
    std::uint16_t port = 0;
    std::uint16_t admin_port = 0;

    // Writes a clients file with alice and bob and starts with `adjust` applied to the options.
    explicit ops_server(const std::function<void(ozzie::server_options&)>& adjust = {}) {
        write_clients_file(clients_file(), {alice, bob});
        start(adjust);
    }
    ~ops_server() { stop(); }

    std::filesystem::path clients_file() const { return dir.path() / "clients"; }
    std::filesystem::path data_dir() const { return dir.path() / "data"; }

    ozzie::server_options default_options() const {
        ozzie::server_options options;
        options.host = "127.0.0.1";
        options.port = 0;
        options.threads = 2;
        options.clients_file = clients_file();
        options.admin_port = 0;
        options.log_level = "warning";  // no request lines in the test output
        return options;
    }

    void start(const std::function<void(ozzie::server_options&)>& adjust = {}) {
        ozzie::store_options store;
        store.data_dir = data_dir();
        service.emplace(store);
        auto options = default_options();
        if (adjust) adjust(options);
        server.emplace(*service, options);
        port = server->start();
        admin_port = server->admin_port();
        if (port == 0) throw std::runtime_error("server::start returned port 0");
    }

    void stop() {
        if (server) server->stop();
        server.reset();
        service.reset();
    }
};

// A create body for `external_user_id`.
inline std::string create_body(std::string_view external_user_id) {
    return boost::json::serialize(boost::json::object{{"external_user_id", external_user_id}});
}

inline header_list auth_headers(const test_client& c) {
    return {{"Authorization", c.authorization()}, {"Content-Type", "application/json"}};
}

}  // namespace ozzie::testing
