#define BOOST_TEST_MODULE ozzie_postgres_tests
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"

// One throwaway cluster for the whole suite, started before the first test and stopped after
// the last (or when a test fails and the run ends); each test gets a database of its own.
using ozzie::testing::suite_cluster;
BOOST_TEST_GLOBAL_FIXTURE(suite_cluster);
