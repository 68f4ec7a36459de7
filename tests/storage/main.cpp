#define BOOST_TEST_MODULE ozzie_storage_tests
#include <boost/test/unit_test.hpp>
