// The RocksDB store of users and the external-id index. The only code that sees RocksDB.
#pragma once

#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include "storage/encoding.hpp"

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

class user_store {
public:
    // Opens or creates the database in options.data_dir with its column families, and checks
    // the schema version. Throws std::runtime_error if it cannot.
    explicit user_store(const store_options& options);
    // The same on `file_system` instead of the POSIX one: tests simulate disk faults with it.
    user_store(const store_options& options, std::shared_ptr<rocksdb::FileSystem> file_system);
    // Flushes and closes the database.
    ~user_store();
    user_store(const user_store&) = delete;
    user_store& operator=(const user_store&) = delete;

    // The user with this ULID. Errors: not_found, internal. Thread-safe.
    result<user> get(std::string_view ulid) const;

    // The user indexed for (client_id, external_user_id), in one read. Errors: not_found,
    // internal. Thread-safe.
    result<user> find_external(std::string_view client_id, std::string_view external_user_id) const;

    // The answer kept under a client's idempotency key, expired or not. Errors: not_found,
    // internal. Thread-safe.
    result<encoding::kept_record> find_kept(std::string_view client_id, std::string_view key) const;

    // Given which users of an insert are stored, the answers to keep with them.
    using keep_answers = std::function<std::vector<encoding::kept_record>(const std::vector<bool>& stored)>;

    // Stores each user whose external id is still free under its client, checking against the
    // index and against the users before it in `users`. All records and index entries go in one
    // atomic write, durable by the sync option before this returns, with the records `keep`
    // gives once the users to store are known. Returns, for each user, whether it was stored
    // (false: its external id was taken). Errors, in which case none of them is stored: internal
    // (the index could not be read) or unavailable (the write or its sync failed; writes are
    // refused until the store has recovered by itself, and a batch refused so is not applied,
    // though a crash before that recovery may replay it from the WAL). Call from one thread at a
    // time (the commit queue's writer).
    result<std::vector<bool>> insert(std::span<const user> users, const keep_answers& keep = {});

    // A stored user as it is (`before`) and as it is to be (`after`: the same id and client).
    struct change {
        user before;
        user after;
    };
    // Writes each change's record and its external-id index entry (which carries a copy of the
    // record), moving the entry to a new external id and the list entry to a new stage, in one
    // atomic write with the kept answers `kept`, durable by the sync option before this returns.
    // Checks nothing: the caller has made sure that every new external id is free. Errors as for
    // insert. Call from the thread that calls insert.
    result<void> update(std::span<const change> changes, std::span<const encoding::kept_record> kept = {});

    // Deletes these users' records and index entries in one atomic write with the kept answers
    // `kept`, durable by the sync option before this returns. Errors as for insert. Call from
    // the thread that calls insert.
    result<void> remove(std::span<const user> users, std::span<const encoding::kept_record> kept = {});

    // Which of a client's users to list.
    struct list_range {
        std::string_view client_id;
        std::optional<onboarding_stage> stage;  // only the users at this stage
        std::string_view cursor;  // a ULID (need not be a user's), or empty: from the newest
        bool newer = false;       // the `limit` users just newer than the cursor, not older
        std::size_t limit = 10;
    };
    // That page, newest first, read from one snapshot of the store, in time proportional to
    // the limit. Error: internal. Thread-safe.
    result<user_page> list(const list_range& range) const;

    struct figures {
        std::uint64_t block_cache_hits = 0;
        std::uint64_t block_cache_misses = 0;
        std::uint64_t live_data_bytes = 0;
        std::uint64_t memtable_bytes = 0;
        bool writable = true;  // the last write succeeded
    };
    // RocksDB's statistics and size estimates. Thread-safe.
    figures stats() const;

    // Writes a probe key to the meta column family with a WAL sync. Errors as for insert. Call
    // from the thread that calls insert.
    result<void> probe_write();

    // Flushes the memtables and compacts every column family down to its last level, rewriting
    // every table file: what was deleted or overwritten is then in no file of the data
    // directory. Error: internal. Thread-safe; writes go on meanwhile.
    result<void> compact();

    // A RocksDB checkpoint (a consistent copy, hard-linking table files where it can) of the
    // whole database in `directory`, which must not exist. Error: internal. Thread-safe.
    result<void> checkpoint(const std::filesystem::path& directory) const;

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
