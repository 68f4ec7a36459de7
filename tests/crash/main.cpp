#define BOOST_TEST_MODULE ozzie_crash_tests
#include <boost/test/unit_test.hpp>
