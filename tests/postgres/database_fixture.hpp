// The PostgreSQL suite's fixtures: one cluster for the whole executable (initdb and a start cost
// a couple of seconds), and a fresh database per test (CREATE DATABASE costs milliseconds), so
// tests stay independent without paying for a cluster each.
#pragma once

#include "support/postgres_cluster.hpp"

#include "storage/postgres/libpq.hpp"

#include <atomic>
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
struct fresh_database {
    fresh_database() : name_("test_" + std::to_string(++counter())) {
        admin_ = postgres::connect(suite_cluster::get().url());
        postgres::exec(admin_.get(), "create database " + name_);
        conn = postgres::connect(url());
    }
    ~fresh_database() {
        conn.reset();
        try {
            postgres::exec(admin_.get(), "drop database if exists " + name_ + " with (force)");
        } catch (...) {
            // The cluster goes with the suite anyway.
        }
    }
    fresh_database(const fresh_database&) = delete;
    fresh_database& operator=(const fresh_database&) = delete;

    const std::string& name() const noexcept { return name_; }
    std::string url() const { return suite_cluster::get().url(name_); }
    // The cluster's maintenance database, for statements about databases (create, drop).
    PGconn* admin() const noexcept { return admin_.get(); }

    postgres::connection conn;  // to this test's database

private:
    static std::atomic<int>& counter() {
        static std::atomic<int> n{0};
        return n;
    }

    std::string name_;
    postgres::connection admin_;
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
