// A real ozzie::user_service and ozzie::server in this process, on the files of server_files:
// the base of the HTTP, hardening and operations fixtures. Each of those writes its own clients
// file and picks its options; this opens the store, starts the server (on the port the OS
// picks, when the options say port 0) and stops it, as often as a test restarts it on the same
// data: the data directory, or on PostgreSQL (support/test_backend.hpp) the fixture's database.
#pragma once

#include "support/server_files.hpp"
#include "support/test_backend.hpp"

#include <ozzie/config.hpp>
#include <ozzie/server.hpp>
#include <ozzie/user_service.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

namespace ozzie::testing {

struct in_process_server : server_files {
    std::unique_ptr<test_database> database;  // on PostgreSQL, made at the first start
    std::optional<ozzie::user_service> service;
    std::optional<ozzie::server> server;
    std::uint16_t port = 0;

    in_process_server() = default;
    in_process_server(const in_process_server&) = delete;
    in_process_server& operator=(const in_process_server&) = delete;
    ~in_process_server() { stop(); }  // before server_files removes the data dir

    // 127.0.0.1, a port the OS picks, 2 threads and clients_file(); the rest as configured by
    // default.
    ozzie::server_options loopback_options() const {
        ozzie::server_options options;
        options.host = "127.0.0.1";
        options.port = 0;
        options.threads = 2;
        options.clients_file = clients_file();
        return options;
    }

    // Opens the store on data_dir() or the fixture's database (with `store`'s other settings) and
    // starts a server on it.
    void start_server(const ozzie::server_options& options, ozzie::store_options store = {}) {
        if (on_postgres()) {
            if (!database) database = std::make_unique<test_database>();
            store.postgres = database->url();
        } else {
            store.data_dir = data_dir();
        }
        service.emplace(store);
        server.emplace(*service, options);
        port = server->start();
        if (port == 0) throw std::runtime_error("server::start returned port 0");
    }

    // Stops the server and closes the store (both may be started again).
    void stop() {
        if (server) server->stop();
        server.reset();
        service.reset();
    }
};

}  // namespace ozzie::testing
