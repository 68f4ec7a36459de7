// The create requests (ozzie::new_user) the unit and storage suites start from.
#pragma once

#include <ozzie/user.hpp>

#include <string>
#include <utility>

namespace ozzie::testing {

// The spec's example: every field set, all of them valid.
inline ozzie::new_user spec_request() {
    ozzie::new_user r;
    r.external_user_id = "usr_8821";
    r.name = "Maria Santos";
    r.email = "maria@example.com";
    r.phone = "+15551234567";
    r.language = "en";
    return r;
}

// Only `external_user_id`; every other field absent.
inline ozzie::new_user minimal_request(std::string external_user_id = "usr_8821") {
    ozzie::new_user r;
    r.external_user_id = std::move(external_user_id);
    return r;
}

}  // namespace ozzie::testing
