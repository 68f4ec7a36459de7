// The PostgreSQL suite's fixtures: one cluster for the whole executable (initdb and a start cost
// a couple of seconds), and a fresh database per test (CREATE DATABASE costs milliseconds), so
// tests stay independent without paying for a cluster each.
#pragma once

#include "support/postgres_cluster.hpp"
#include "support/scratch_database.hpp"

#include "storage/postgres/libpq.hpp"

#include <memory>
#include <stdexcept>
#include <string>

namespace ozzie::testing {

// The global fixture (main.cpp): owns the suite's cluster.
struct suite_cluster {
    suite_cluster() { instance() = std::make_unique<postgres_cluster>(); }
    ~suite_cluster() { instance().reset(); }

    static postgres_cluster& get() {
        if (!instance()) throw std::logic_error("the suite's PostgreSQL cluster is not running");
        return *instance();
    }

private:
    static std::unique_ptr<postgres_cluster>& instance() {
        static std::unique_ptr<postgres_cluster> cluster;
        return cluster;
    }
};

// A database of its own for one test, created in the suite's cluster and dropped after it, with
// a connection to it. Tests must not stop the suite's cluster: one that does makes its own.
struct fresh_database : scratch_database {
    fresh_database() : scratch_database(suite_cluster::get(), "test"), conn(postgres::connect(url())) {}

    postgres::connection conn;  // to this test's database
};

// The SQLSTATE with which `sql` fails on `conn`; empty if it succeeds.
inline std::string sqlstate_of(PGconn* conn, const std::string& sql) {
    try {
        postgres::exec(conn, sql);
        return "";
    } catch (const postgres::error& e) {
        return e.sqlstate().empty() ? "(no sqlstate) " + std::string(e.what()) : e.sqlstate();
    }
}

}  // namespace ozzie::testing
