// The PostgreSQL back end of the storage seam (storage/store.hpp): any number of server nodes on
// one database, in the schema of storage/postgres/schema.hpp.
//
// Reads from a coroutine (async_get, async_find_external, async_find_kept, async_list) run on
// the calling coroutine's io_context, on a small pool of connections belonging to that
// io_context (made on its first read, closed when the io_context is destroyed), so a network
// thread never blocks on the database. The blocking calls (the reads, and the writes the commit
// queue's writer makes) run on the store's own thread and io_context, with their own
// connections: a reader pool, and one writer connection that the writes take in turn.
//
// Replicas (replica_urls, streaming replicas of the primary): the coroutine lookups of one user
// (async_get, async_find_external) go to a replica, each io_context having connections to every
// replica (made on its first lookup) and taking them in turn; a lookup that the replica does not
// find, or that fails there (the replica stopped, unreachable, or cancelled the query), or that
// finds no replica connection up, is answered by the primary: a client reads its own fresh
// create, and a replica down costs no failed lookup. A replica that has replayed less than the
// primary may answer with a user as it was before a change or removal not yet replayed (as any
// read of a replica may). Everything else reads the primary: lists, idempotency keys, and the
// blocking reads (the writer's, whose decisions must see every commit).
//
// Errors: unavailable while the database cannot be reached (statements fail at once; each
// connection reconnects by itself with backoff) or does not answer within the timeout; a write
// whose commit may have happened but whose answer was lost is unavailable too, never a success.
// internal for anything else the database refuses (its SQLSTATE and message go to the log).
#pragma once

#include "storage/store.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ozzie {

struct postgres_store_options {
    std::string url;                        // the primary: a libpq URI or conninfo string
    std::vector<std::string> replica_urls;  // streaming replicas for lookups (see above); none: the primary
    std::chrono::seconds idempotency_ttl{24 * 60 * 60};
    std::size_t connections_per_thread = 1;      // each network thread's pool of readers
    std::chrono::milliseconds read_timeout{5000};    // a read with no answer by then: unavailable
    std::chrono::milliseconds write_timeout{10000};  // a write with no answer by then: unavailable
    // How often the store's thread deletes the kept answers that have expired (kept_expired).
    std::chrono::milliseconds idempotency_purge_period{60000};
};

class postgres_store final : public store {
public:
    // Checks the database's schema first (blocking, at start): throws std::runtime_error if it
    // cannot connect, or if the schema is not the one this build knows (its message says to run
    // `ozzie-admin migrate --postgres URL`, or that a later build migrated it).
    postgres_store(const std::string& url, std::vector<std::string> replica_urls, std::chrono::seconds idempotency_ttl);
    explicit postgres_store(postgres_store_options options);
    // Closes the store's own connections and stops its thread. Pools of network threads'
    // io_contexts stay with them (they hold a copy of the configuration, nothing of the store).
    ~postgres_store() override;
    postgres_store(const postgres_store&) = delete;
    postgres_store& operator=(const postgres_store&) = delete;

    result<user> get(std::string_view client_id, std::string_view ulid) const override;
    result<user> find_external(std::string_view client_id, std::string_view external_user_id) const override;
    result<kept_record> find_kept(std::string_view client_id, std::string_view key) const override;
    result<user_page> list(const list_range& range) const override;

    awaitable<result<user>> async_get(std::string_view client_id, std::string_view ulid) const override;
    awaitable<result<user>> async_find_external(std::string_view client_id,
                                                std::string_view external_user_id) const override;
    awaitable<result<kept_record>> async_find_kept(std::string_view client_id, std::string_view key) const override;
    awaitable<result<user_page>> async_list(const list_range& range) const override;

    // One transaction: the users whose (client, external id) is free, decided by the database
    // (INSERT ... ON CONFLICT DO NOTHING), then the answers `keep` gives for that outcome.
    result<std::vector<bool>> insert(std::span<const user> users, const keep_answers& keep) override;
    // One transaction; conflict (all rolled back) if a user is no longer exactly `before`, or a
    // new external id has been taken meanwhile.
    result<void> update(std::span<const change> changes, std::span<const kept_record> kept) override;
    result<void> remove(std::span<const user> users, std::span<const kept_record> kept) override;
    // A transaction that takes a transaction id on the primary, so that its commit writes and
    // flushes a WAL record: fails if the database is unreachable, read-only (a standby), or cannot
    // write its WAL. Changes nothing.
    result<void> probe_write() override;

    // writable: the last write succeeded. RocksDB's figures are 0.
    figures stats() const override;
    // Not this back end's: VACUUM and pg_basebackup (or the provider's backups) are the
    // operator's tools. Both answer not_found, with a message that names them.
    result<void> compact() override;
    result<void> checkpoint(const std::filesystem::path& directory) const override;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ozzie
