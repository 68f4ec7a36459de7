#define BOOST_TEST_MODULE ozzie_bench_tests
#include <boost/test/unit_test.hpp>
