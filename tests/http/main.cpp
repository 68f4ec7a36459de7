#define BOOST_TEST_MODULE ozzie_http_tests
#include <boost/test/unit_test.hpp>
