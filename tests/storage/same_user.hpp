// What the storage suites (RocksDB's and PostgreSQL's) share: a user's key, and the check that a
// stored or returned user equals the expected one.
#pragma once

#include "service/ulid.hpp"
#include "support/result_text.hpp"

#include <ozzie/user.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace ozzie::testing {

// The ULID of a user (its id without "ozz_usr_"): its key in either store.
inline std::string ulid_of(const ozzie::user& u) { return u.id.substr(ozzie::user_id_prefix.size()); }

// Every field compared on its own (so a failure says which), then operator== as a whole.
inline void check_same_user(const ozzie::user& actual, const ozzie::user& expected) {
    BOOST_TEST(actual.id == expected.id);
    BOOST_TEST(actual.client_id == expected.client_id);
    BOOST_TEST(actual.external_user_id == expected.external_user_id);
    BOOST_TEST(opt(actual.name) == opt(expected.name));
    BOOST_TEST(opt(actual.email) == opt(expected.email));
    BOOST_TEST(opt(actual.phone) == opt(expected.phone));
    BOOST_TEST(actual.language == expected.language);
    BOOST_TEST(static_cast<int>(actual.stage) == static_cast<int>(expected.stage));
    BOOST_TEST(actual.created_at.time_since_epoch().count() ==
               expected.created_at.time_since_epoch().count());
    BOOST_TEST((actual == expected));
}

}  // namespace ozzie::testing
