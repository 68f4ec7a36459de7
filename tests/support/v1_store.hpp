// A store of schema version 1, as the builds before the list index wrote it (column families
// users, external_ids and meta; no client_users), written here byte for byte with RocksDB
// directly, so that the migration tests do not depend on today's encoding code.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ozzie::testing {

struct v1_user {
    std::string ulid;  // 26 characters
    std::string client_id;
    std::string external_user_id;
    std::optional<std::string> name, email, phone;
    std::string language = "en";
    std::uint8_t stage = 0;  // 0 intake_pending, 1 plan_pending, 2 active
    std::int64_t created_at = 1760000000;
};

namespace v1 {

inline void put_string(std::string& out, const std::string& s) {
    auto n = static_cast<std::uint32_t>(s.size());
    for (; n >= 0x80; n >>= 7) out += static_cast<char>((n & 0x7F) | 0x80);
    out += static_cast<char>(n);
    out += s;
}

inline std::string value(const v1_user& u) {
    std::string out(1, '\x01');
    put_string(out, u.client_id);
    put_string(out, u.external_user_id);
    for (const auto* field : {&u.name, &u.email, &u.phone}) {
        out += static_cast<char>(*field ? 1 : 0);
        if (*field) put_string(out, **field);
    }
    put_string(out, u.language);
    out += static_cast<char>(u.stage);
    for (int i = 0; i < 8; ++i) out += static_cast<char>(static_cast<std::uint64_t>(u.created_at) >> (8 * i));
    return out;
}

}  // namespace v1

// Writes a version-1 store of `users` in `data_dir` (which must not hold one yet).
inline void write_v1_store(const std::filesystem::path& data_dir, const std::vector<v1_user>& users) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "users", "external_ids", "meta"}) families.push_back({name, {}});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(options, data_dir.string(), families, &handles, &raw);
    if (!status.ok()) throw std::runtime_error("cannot create the v1 store: " + status.ToString());
    const std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteBatch batch;
    batch.Put(handles[3], "schema_version", "1");
    for (const auto& u : users) {
        batch.Put(handles[1], u.ulid, v1::value(u));
        batch.Put(handles[2], u.client_id + '\0' + u.external_user_id, u.ulid);
    }
    status = db->Write({}, &batch);
    for (auto* handle : handles) db->DestroyColumnFamilyHandle(handle);
    if (status.ok()) status = db->Close();
    if (!status.ok()) throw std::runtime_error("cannot write the v1 store: " + status.ToString());
}

// `n` users of `client_id`, with increasing ULIDs from `first` on (the first ten characters
// fixed, so the last sixteen count), stages cycling through the three.
inline std::vector<v1_user> v1_users(const std::string& client_id, int n, int first = 0) {
    static constexpr char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::vector<v1_user> out;
    for (int i = first; i < first + n; ++i) {
        std::string ulid = "01JV000000" + std::string(16, '0');
        for (int k = 25, rest = i; rest > 0; --k, rest /= 32) ulid[k] = crockford[rest % 32];
        v1_user u;
        u.ulid = ulid;
        u.client_id = client_id;
        u.external_user_id = client_id + "-user-" + std::to_string(i);
        u.name = "Person " + std::to_string(i);
        u.stage = static_cast<std::uint8_t>(i % 3);
        out.push_back(std::move(u));
    }
    return out;
}

}  // namespace ozzie::testing
