// A database of its own in a test cluster: created when made, dropped (closing its sessions)
// when destroyed, so tests share a cluster (initdb and a start cost seconds) but not data
// (CREATE DATABASE costs milliseconds).
#pragma once

#include "support/postgres_cluster.hpp"

#include "storage/postgres/libpq.hpp"

#include <atomic>
#include <string>
#include <string_view>

namespace ozzie::testing {

class scratch_database {
public:
    // A new database "<prefix>_<n>" in `cluster`, which must outlive it.
    scratch_database(const postgres_cluster& cluster, std::string_view prefix)
        : cluster_(cluster), name_(std::string(prefix) + "_" + std::to_string(++counter())) {
        admin_ = postgres::connect(cluster_.url());
        postgres::exec(admin_.get(), "create database " + name_);
    }
    ~scratch_database() {
        try {
            postgres::exec(admin_.get(), "drop database if exists " + name_ + " with (force)");
        } catch (...) {
            // The cluster goes with the test process anyway.
        }
    }
    scratch_database(const scratch_database&) = delete;
    scratch_database& operator=(const scratch_database&) = delete;

    const std::string& name() const noexcept { return name_; }
    std::string url() const { return cluster_.url(name_); }
    // The cluster's maintenance database, for statements about databases (create, drop).
    PGconn* admin() const noexcept { return admin_.get(); }

private:
    static std::atomic<int>& counter() {
        static std::atomic<int> n{0};
        return n;
    }

    const postgres_cluster& cluster_;
    std::string name_;
    postgres::connection admin_;
};

}  // namespace ozzie::testing
