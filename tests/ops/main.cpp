#define BOOST_TEST_MODULE ozzie_ops_tests
#include <boost/test/unit_test.hpp>
