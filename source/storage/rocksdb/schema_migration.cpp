#include "storage/rocksdb/schema_migration.hpp"

#include "ops/logging.hpp"
#include "storage/rocksdb/encoding.hpp"

#include <rocksdb/write_batch.h>

#include <charconv>
#include <memory>
#include <stdexcept>
#include <string>

namespace ozzie {
namespace {

rocksdb::WriteOptions durable() {
    rocksdb::WriteOptions options;
    options.sync = true;
    return options;
}

void check(const rocksdb::Status& status, std::string_view what) {
    if (!status.ok()) throw std::runtime_error(std::string(what) + ": " + status.ToString());
}

void write_version(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, int version) {
    check(db.Put(durable(), meta, encoding::schema_version_key, std::to_string(version)),
          "cannot write the schema version");
}

// Version 1 to 2: every user gets its key in the list index, and its external_ids entry
// the record after the ULID. Returns how many users.
std::uint64_t to_version_2(rocksdb::DB& db, const schema_column_families& cfs) {
    constexpr std::size_t batch_users = 10000;  // a few hundred KiB a write
    std::uint64_t users = 0;
    rocksdb::WriteBatch batch;
    const std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, cfs.users));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const auto key = it->key().ToStringView();
        const auto u = encoding::decode_user(key, it->value().ToStringView());
        if (!u) throw std::runtime_error("cannot migrate: the record of user " + std::string(key) + " is damaged");
        check(batch.Put(cfs.client_users, encoding::list_key(*u), ""), "cannot migrate");
        check(batch.Put(cfs.external_ids, encoding::external_key(u->client_id, u->external_user_id),
                        encoding::external_value(*u)),
              "cannot migrate");
        if (++users % batch_users == 0) {
            check(db.Write(durable(), &batch), "cannot migrate");
            batch.Clear();
        }
    }
    check(it->status(), "cannot migrate: reading the users failed");
    check(db.Write(durable(), &batch), "cannot migrate");
    return users;
}

}  // namespace

void ensure_schema(rocksdb::DB& db, const schema_column_families& cfs, std::string_view data_dir) {
    std::string text;
    const auto read = db.Get({}, cfs.meta, encoding::schema_version_key, &text);
    // A new store: every build wrote the version when it created the store, before any user.
    if (read.IsNotFound()) return write_version(db, cfs.meta, encoding::schema_version);
    check(read, "cannot read the schema version");
    int version = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
    if (ec != std::errc() || end != text.data() + text.size() || version < 1)
        throw std::runtime_error("the database in " + std::string(data_dir) + " has an unreadable schema version '" +
                                 text + "'");
    if (version > encoding::schema_version)
        throw std::runtime_error("the database in " + std::string(data_dir) + " has schema version " + text +
                                 ", written by a newer build; this build reads versions 1 to " +
                                 std::to_string(encoding::schema_version));
    if (version == encoding::schema_version) return;
    log(log_level::info, "schema_migration_started",
        {{"from_version", version}, {"to_version", encoding::schema_version}});
    const auto users = to_version_2(db, cfs);
    write_version(db, cfs.meta, encoding::schema_version);
    log(log_level::info, "schema_migrated",
        {{"from_version", version}, {"to_version", encoding::schema_version}, {"users", users}});
}

}  // namespace ozzie
