// ozzie-admin import: users read from NDJSON into a store that no server has open.
#pragma once

#include "storage/rocksdb/rocksdb_store.hpp"

#include <cstdint>
#include <cstdio>
#include <string_view>

namespace ozzie {

struct import_summary {
    std::uint64_t imported = 0;  // users stored
    std::uint64_t failed = 0;    // lines reported and skipped
};

// Reads `input` to its end and imports its lines as users of `client_id`. A line is a create
// body, whose user gets a new id, created_at now and stage intake_pending, or a user object as
// export writes it, whose user keeps its id, created_at and stage (parse_import_line); a blank
// line (nothing but spaces, tabs or a '\r') is skipped. Every line is checked as POST /v1/users
// checks a create, with the API's messages; a line that fails, or whose external_user_id is
// already taken (in the store, or by an earlier line), or whose id is, is reported on `errors`
// as "line N: CODE: message" and skipped. With `progress`, a line on `errors` (a terminal) says
// how far it has got, rewritten in place every second.
//
// This thread reads and parses the lines; a second one checks them for conflicts and writes
// their users with rocksdb_store::load, in batches, made durable by finish_load at the end. Throws
// std::runtime_error if the input cannot be read or the store fails; the store then holds the
// users of some of the lines before the failure, each user whole.
import_summary import_users(rocksdb_store& store, std::string_view client_id, std::FILE* input, std::FILE* errors,
                            bool progress);

}  // namespace ozzie
