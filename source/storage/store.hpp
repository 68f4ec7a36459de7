// The storage seam: what user_service and its writer need of a back end. Two implementations,
// chosen at start: rocksdb_store (embedded, the default) and postgres_store (many server nodes on
// one database). Neither's types appear here.
#pragma once

#include <ozzie/awaitable.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>
#include <ozzie/user_service.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ozzie {

// An answer kept under an idempotency key.
struct kept_record {
    std::string client_id;
    std::string key;
    std::string fingerprint;
    std::chrono::sys_seconds created_at{};
    kept_answer answer;
};

// Whether an answer kept at `created_at` has lived its `ttl` by `now`. created_at is in whole
// seconds, rounded down: the answer counts as kept a second later, so it lives at least `ttl`.
inline bool kept_expired(std::chrono::sys_seconds created_at, std::chrono::seconds ttl,
                         std::chrono::system_clock::time_point now) noexcept {
    return now >= created_at + ttl + std::chrono::seconds(1);
}

class store {
public:
    virtual ~store() = default;

    // Reads, blocking the calling thread until answered: for the writer thread and the library's
    // blocking calls. Thread-safe. Errors: not_found; unavailable (the database cannot be
    // reached); internal.

    // The user with this ULID, whoever's it is (the service answers 403 for another client's).
    // `client_id` is where to look first: a store sharded by client (PostgreSQL under Citus)
    // then asks the caller's shard for its own users, and every shard only for a miss.
    virtual result<user> get(std::string_view client_id, std::string_view ulid) const = 0;
    // The user indexed for (client_id, external_user_id).
    virtual result<user> find_external(std::string_view client_id, std::string_view external_user_id) const = 0;
    // The answer kept under a client's idempotency key, expired or not.
    virtual result<kept_record> find_kept(std::string_view client_id, std::string_view key) const = 0;

    // Which of a client's users to list.
    struct list_range {
        std::string_view client_id;
        std::optional<onboarding_stage> stage;  // only the users at this stage
        std::string_view cursor;  // a ULID (need not be a user's), or empty: from the newest
        bool newer = false;       // the `limit` users just newer than the cursor, not older
        std::size_t limit = 10;
    };
    // That page, newest first, read from one snapshot, in time proportional to the limit.
    virtual result<user_page> list(const list_range& range) const = 0;

    // The same reads for a coroutine on a network thread's io_context, which they never block.
    // By default they answer with the blocking ones at once: right for a store whose reads cost
    // microseconds (RocksDB's block cache); a store across the network overrides them.
    virtual awaitable<result<user>> async_get(std::string_view client_id, std::string_view ulid) const {
        co_return get(client_id, ulid);
    }
    virtual awaitable<result<user>> async_find_external(std::string_view client_id,
                                                        std::string_view external_user_id) const {
        co_return find_external(client_id, external_user_id);
    }
    virtual awaitable<result<kept_record>> async_find_kept(std::string_view client_id, std::string_view key) const {
        co_return find_kept(client_id, key);
    }
    virtual awaitable<result<user_page>> async_list(const list_range& range) const { co_return list(range); }

    // Writes, from one thread at a time (the commit queue's writer), each one atomic write made
    // durable before it returns. Errors, in which case nothing of the write is applied:
    // unavailable (a disk fault, or the database cannot be reached; retry later); internal.

    // Given which users of an insert are stored, the answers to keep with them.
    using keep_answers = std::function<std::vector<kept_record>(const std::vector<bool>& stored)>;
    // Stores each user whose external id is still free under its client, checking against the
    // store and against the users before it in `users`, with the records `keep` gives once the
    // users to store are known. Returns, for each user, whether it was stored (false: its
    // external id was taken).
    virtual result<std::vector<bool>> insert(std::span<const user> users, const keep_answers& keep) = 0;

    // A stored user as it was read (`before`) and as it is to be (`after`: the same id and client).
    struct change {
        user before;
        user after;
    };
    // Writes each change (moving its external id and stage) with the kept answers `kept`. The
    // caller has made sure that every new external id was free when it read the users. Error
    // also: conflict, if a user is no longer as `before` says or a new external id has been taken
    // since (only a store that other processes write to, PostgreSQL's, can say so): read again.
    virtual result<void> update(std::span<const change> changes, std::span<const kept_record> kept) = 0;

    // Deletes these users, each as it was read, with the kept answers `kept`. Error also:
    // conflict, as for update.
    virtual result<void> remove(std::span<const user> users, std::span<const kept_record> kept) = 0;

    // A durable write that changes no user, for readiness checks.
    virtual result<void> probe_write() = 0;

    // Figures for monitoring. Thread-safe; cheap.
    struct figures {
        std::uint64_t block_cache_hits = 0;
        std::uint64_t block_cache_misses = 0;
        std::uint64_t row_cache_hits = 0;
        std::uint64_t row_cache_misses = 0;
        std::uint64_t row_cache_warmed = 0;  // users put in the row cache at start
        bool row_cache_warming = false;      // while that goes on
        std::uint64_t live_data_bytes = 0;
        std::uint64_t memtable_bytes = 0;
        bool writable = true;  // the last write succeeded
    };
    virtual figures stats() const = 0;

    // Rewrites the store so that what was deleted is in none of its files (erasure). Thread-safe;
    // writes go on meanwhile. Error: internal; or not_found where the back end leaves it to the
    // database's own tools, with a message for the operator that says which.
    virtual result<void> compact() = 0;

    // A consistent copy of the whole store in `directory`, which must not exist. Thread-safe.
    // Errors as for compact.
    virtual result<void> checkpoint(const std::filesystem::path& directory) const = 0;
};

}  // namespace ozzie
