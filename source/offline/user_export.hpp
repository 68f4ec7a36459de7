// ozzie-admin export: a client's users written as NDJSON.
#pragma once

#include "storage/rocksdb/rocksdb_store.hpp"

#include <cstdint>
#include <cstdio>
#include <string_view>

namespace ozzie {

// Writes every user of `client_id` to `output`, newest first, read from one snapshot of `store`:
// one user object a line, byte for byte the `data` of GET /v1/users/{user_id}, which
// import_users reads back as the same user. Returns how many. Throws std::runtime_error if the
// store or the output fails.
std::uint64_t export_users(const rocksdb_store& store, std::string_view client_id, std::FILE* output);

}  // namespace ozzie
