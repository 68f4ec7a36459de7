#define BOOST_TEST_MODULE ozzie_hardening_tests
#include <boost/test/unit_test.hpp>
