#define BOOST_TEST_MODULE ozzie_unit_tests
#include <boost/test/unit_test.hpp>
