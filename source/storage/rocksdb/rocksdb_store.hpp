// The RocksDB back end of the store seam. The only code that sees RocksDB, with encoding.hpp.
#pragma once

#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include "storage/store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class FileSystem;
}

namespace ozzie {

// The RocksDB back end: the store in a directory of this machine, every write through the one
// writer thread, so nothing else can change a user between the writer's read and its write.
class rocksdb_store final : public store {
public:
    // Opens or creates the database in options.data_dir with its column families, and checks
    // the schema version. Throws std::runtime_error if it cannot.
    explicit rocksdb_store(const store_options& options);
    // The same on `file_system` instead of the POSIX one: tests simulate disk faults with it.
    rocksdb_store(const store_options& options, std::shared_ptr<rocksdb::FileSystem> file_system);
    // Flushes and closes the database.
    ~rocksdb_store() override;
    rocksdb_store(const rocksdb_store&) = delete;
    rocksdb_store& operator=(const rocksdb_store&) = delete;

    // The user's, from its record or its index entry (which carries a copy of the record), in
    // one read; the list from the list index. Reads answer at once: from the block cache or the
    // local disk, in microseconds.
    result<user> get(std::string_view client_id, std::string_view ulid) const override;  // one read by ULID
    result<user> find_external(std::string_view client_id, std::string_view external_user_id) const override;
    result<kept_record> find_kept(std::string_view client_id, std::string_view key) const override;
    result<user_page> list(const list_range& range) const override;

    // Records, index entries and kept answers of a write go in one WriteBatch, durable by the
    // sync option (a WAL fsync) before these return. After a failed write or sync (unavailable)
    // writes are refused until the store has recovered by itself, and a batch refused so is not
    // applied, though a crash before that recovery may replay it from the WAL. They never answer
    // conflict: the writer is the only one to write.
    result<std::vector<bool>> insert(std::span<const user> users, const keep_answers& keep) override;
    result<void> update(std::span<const change> changes, std::span<const kept_record> kept) override;
    result<void> remove(std::span<const user> users, std::span<const kept_record> kept) override;
    // A probe key in the meta column family, with a WAL sync.
    result<void> probe_write() override;

    // RocksDB's statistics and size estimates.
    figures stats() const override;
    // Flushes the memtables and compacts every column family down to its last level, rewriting
    // every table file.
    result<void> compact() override;
    // A RocksDB checkpoint, hard-linking table files where it can.
    result<void> checkpoint(const std::filesystem::path& directory) const override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;

public:
    // Bulk loading and reading, for ozzie-admin's offline import and export of a store that no
    // server has open (its LOCK keeps a server out meanwhile).

    // Writes these users' records and index entries as an insert would, in one atomic write,
    // without syncing it: made durable by finish_load() after the last call. Checks nothing:
    // the caller has made sure that every id and external id is free (get(), find_external(),
    // and the users of its earlier calls). The write goes through the WAL all the same,
    // unsynced: RocksDB flushes each column family on its own, so without the WAL a crash could
    // keep a user's record and lose its index entries; with it, a process crash keeps every
    // call, and a power loss some first calls, each user with all of its keys. Errors as for
    // insert. Call from one thread at a time.
    result<void> load(std::span<const user> users);
    // Makes what load() wrote durable: flushed to table files, which RocksDB syncs. Error:
    // internal.
    result<void> finish_load();

    // Every user of the client, newest first, read from one snapshot of the store in one pass,
    // each passed to `each` (an exception from it stops the pass). Error: internal. Thread-safe.
    result<void> for_each_user(std::string_view client_id, const std::function<void(const user&)>& each) const;
};

}  // namespace ozzie
