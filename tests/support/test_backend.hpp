// The back end that a suite's servers keep their users in: RocksDB in the fixture's data
// directory, or, when the environment says OZZIE_TEST_BACKEND=postgres, a database of its own in
// one throwaway PostgreSQL cluster of the test process. ctest runs the HTTP suite once with each
// (tests/CMakeLists.txt), so every HTTP behaviour is checked on both back ends by the same code.
#pragma once

#include "support/postgres_cluster.hpp"
#include "support/scratch_database.hpp"

#include "storage/postgres/schema.hpp"

#include <ozzie/config.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string_view>

namespace ozzie::testing {

// Whether this process's servers run on PostgreSQL.
inline bool on_postgres() {
    const char* backend = std::getenv("OZZIE_TEST_BACKEND");
    return backend && std::string_view(backend) == "postgres";
}

// A test case decorator for the tests of what only RocksDB has (its files, disk faults): skipped
// on PostgreSQL, where the database's operator has its own tools for them.
inline boost::unit_test::decorator::precondition rocksdb_only() {
    return boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
        boost::test_tools::assertion_result ok(!on_postgres());
        ok.message() << "a test of the RocksDB back end";
        return ok;
    });
}

// The process's cluster, started on first use and stopped at exit.
inline postgres_cluster& process_cluster() {
    static postgres_cluster cluster;
    return cluster;
}

// A new database in the process's cluster with the latest schema, dropped when destroyed: what
// one fixture's servers share, as they would share a data directory.
struct test_database : scratch_database {
    test_database() : scratch_database(process_cluster(), "http") {
        postgres::migrate(postgres::connect(url()).get());
    }
};

}  // namespace ozzie::testing
