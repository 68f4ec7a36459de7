// Create, look up, list, change and remove users in-process, without HTTP. Thread-safe.
#pragma once

#include <ozzie/awaitable.hpp>
#include <ozzie/config.hpp>
#include <ozzie/errors.hpp>
#include <ozzie/user.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ozzie {

// A histogram as monitoring systems read it.
struct histogram_snapshot {
    std::vector<double> upper_bounds;      // ascending; a last bucket of +infinity is implied
    std::vector<std::uint64_t> cumulative;  // observations <= each bound, then the total count
    double sum = 0;                         // of all observations
};

// Figures of the write path and the store, for monitoring.
struct service_stats {
    histogram_snapshot commit_batch_size;  // creates per committed WriteBatch
    histogram_snapshot commit_seconds;     // time to write one batch, WAL sync included
    std::uint64_t block_cache_hits = 0;
    std::uint64_t block_cache_misses = 0;
    std::uint64_t row_cache_hits = 0;      // lookups of a user answered by the row cache
    std::uint64_t row_cache_misses = 0;
    std::uint64_t row_cache_warmed = 0;    // users put in the row cache at start, newest first
    bool row_cache_warming = false;        // while that goes on
    std::uint64_t live_data_bytes = 0;     // RocksDB's estimate, all column families
    std::uint64_t memtable_bytes = 0;
    bool store_writable = true;            // false while a disk fault makes it refuse writes
};

// The answer a write made with an idempotency key keeps for its retries: a response as the caller
// rendered it (the HTTP server: status, headers, body), stored with the write's effect.
struct kept_answer {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    bool operator==(const kept_answer&) const = default;
};

// A write under an idempotency key, from user_service::claim_idempotency_key until the write is
// answered: meanwhile another request with the key is refused (IDEMPOTENCY_KEY_IN_USE). Released
// when destroyed; move-only.
class idempotency_claim {
public:
    idempotency_claim(idempotency_claim&&) noexcept;
    idempotency_claim& operator=(idempotency_claim&&) noexcept;
    ~idempotency_claim();

    const std::string& client_id() const noexcept;
    const std::string& key() const noexcept;
    const std::string& fingerprint() const noexcept;

    struct state;  // the claim's registry entry
    explicit idempotency_claim(std::unique_ptr<state> s) noexcept;

private:
    std::unique_ptr<state> state_;
};

// What a write made with an idempotency key needs: its claim, and how to render the answer it
// keeps. `keep` runs on the writer thread before the write, with the answer the write will give;
// it returns nullopt for an answer not to keep (then a retry with the key is processed afresh).
template <class Answer>
struct keyed_write {
    idempotency_claim claim;
    std::function<std::optional<kept_answer>(const Answer&)> keep;
};

// Give it automatic or dynamic storage, not static: RocksDB's own statics are gone by the time
// a static user_service would close the store at exit.
class user_service {
public:
    using create_handler = std::function<void(result<user>)>;
    using update_handler = std::function<void(result<user>)>;
    using remove_handler = std::function<void(result<void>)>;
    using batch_handler = std::function<void(result<std::vector<result<user>>>)>;

    // The most creates one batch may hold.
    static constexpr std::size_t max_batch_users = 1000;

    // Opens (or creates) the store in options.data_dir, or connects to the PostgreSQL database
    // options.postgres, and starts the writer thread. Throws std::runtime_error if the store
    // cannot be opened: on PostgreSQL, if the database cannot be reached or its schema is not
    // the latest (`ozzie-admin migrate` upgrades it).
    explicit user_service(const store_options& options);
    // Answers every create already submitted, then closes the store.
    ~user_service();
    user_service(const user_service&) = delete;
    user_service& operator=(const user_service&) = delete;

    // Validates `request` and creates the user under `client_id`. `done` is called exactly once:
    // at once on the calling thread with VALIDATION_ERROR, or later on the writer thread with
    // the stored user (durable by the store's sync policy), CONFLICT, or SERVICE_UNAVAILABLE if
    // the disk failed (the user is not created; the store takes writes again by itself once
    // the fault clears, so retry after a second). Never blocks on I/O.
    // With `keyed`, its kept answer is written in the same atomic write as the user.
    void async_create(std::string_view client_id, new_user request, create_handler done,
                      std::optional<keyed_write<result<user>>> keyed = std::nullopt);

    // async_create, waiting for the answer. Blocks the calling thread until it is durable.
    result<user> create(std::string_view client_id, new_user request);

    // Creates each of `requests` as async_create would, all in one group commit (one atomic
    // write, one WAL sync), and answers each in order: the user, CONFLICT (its external_user_id
    // is taken, also by an earlier request of the batch), VALIDATION_ERROR, or the write's
    // failure. A request that is an error already (one the caller could not parse) is answered
    // with that error in its place. `done` is called exactly once: at once on the calling thread
    // with VALIDATION_ERROR if `requests` does not hold 1 to max_batch_users, otherwise on the
    // writer thread. With `keyed`, its kept answer is written in the same write.
    void async_create_batch(std::string_view client_id, std::vector<result<new_user>> requests, batch_handler done,
                            std::optional<keyed_write<std::vector<result<user>>>> keyed = std::nullopt);

    // Claims the caller's idempotency key `key` (1 to 255 printable ASCII characters) for a write
    // whose request has `fingerprint` (e.g. a digest of method, target and body). Answers:
    // - a claim, to give to the write: the key is new (or its kept answer has expired);
    // - the answer kept for the key, if it was used before for a request with this fingerprint:
    //   answer it again, and write nothing;
    // - VALIDATION_ERROR for a malformed key; IDEMPOTENCY_KEY_REUSED if the key was used for a
    //   request with another fingerprint; IDEMPOTENCY_KEY_IN_USE while a write holding the key is
    //   under way (only known in memory: after a restart, a key whose write never completed is
    //   simply new); INTERNAL_ERROR if the store fails.
    // Kept answers live store_options::idempotency_ttl, across restarts.
    result<std::variant<idempotency_claim, kept_answer>> claim_idempotency_key(std::string_view client_id,
                                                                               std::string_view key,
                                                                               std::string_view fingerprint);

    // The user with Ozzie id `id`. NOT_FOUND if there is none (a malformed id is simply not
    // found); FORBIDDEN if it belongs to another client; SERVICE_UNAVAILABLE if the store cannot
    // be read now (its database is down).
    result<user> find_by_id(std::string_view client_id, std::string_view id) const;

    // The caller's own user with this external_user_id; NOT_FOUND if there is none;
    // SERVICE_UNAVAILABLE as for find_by_id.
    result<user> find_by_external(std::string_view client_id,
                                  std::string_view external_user_id) const;

    // The reads (find_by_id, find_by_external, list, claim_idempotency_key) block the calling
    // thread until answered. For a coroutine on an io_context, such as the HTTP server's network
    // threads, each has a twin that never blocks it: on RocksDB it answers at once (a read from
    // the block cache or the local disk), on PostgreSQL its query goes on a connection of the
    // io_context's own. Their arguments must live until they are answered. On PostgreSQL the
    // io_context must be run by one thread only (its connections are not thread-safe), and it
    // holds those connections, so its run() returns only once stopped.
    awaitable<result<user>> async_find_by_id(std::string_view client_id, std::string_view id) const;
    awaitable<result<user>> async_find_by_external(std::string_view client_id,
                                                   std::string_view external_user_id) const;
    awaitable<result<user_page>> async_list(std::string_view client_id, const list_request& request) const;
    awaitable<result<std::variant<idempotency_claim, kept_answer>>> async_claim_idempotency_key(
        std::string_view client_id, std::string_view key, std::string_view fingerprint);

    // Changes the caller's user named by `ref` as `patch` says, in one atomic write durable by
    // the store's sync policy: a new external_user_id is taken and the old one released at
    // once, so no reader sees both or neither. `done` is called exactly once: at once on the
    // calling thread with VALIDATION_ERROR for a field that breaks the create rules, or later on
    // the writer thread with the user as changed, VALIDATION_ERROR (onboarding_stage moved
    // backwards), NOT_FOUND, FORBIDDEN, CONFLICT (the new external_user_id is another of the
    // client's users'), PRECONDITION_FAILED (`if_match`, an If-Match field value, names no
    // entity_tag of the user as it stands), or SERVICE_UNAVAILABLE if the disk failed (nothing
    // changed). An empty patch changes nothing and answers the user. Goes through the writer
    // with the creates. With `keyed`, its kept answer is written in the same write as the change.
    void async_update(std::string_view client_id, user_ref ref, user_patch patch, update_handler done,
                      std::optional<std::string> if_match = std::nullopt,
                      std::optional<keyed_write<result<user>>> keyed = std::nullopt);

    // async_update, waiting for the answer.
    result<user> update(std::string_view client_id, user_ref ref, user_patch patch);

    // A page of the caller's users, newest first, read from one snapshot of the store in time
    // proportional to request.limit. VALIDATION_ERROR naming the parameter for a limit out of
    // 1 to 100, both cursors, or a cursor that is not an Ozzie user id.
    result<user_page> list(std::string_view client_id, const list_request& request) const;

    // Removes the caller's user named by `ref`: its record and its index entry go in one write,
    // durable by the store's sync policy, and its external_user_id is free for a new create at
    // once. `done` is called exactly once, on the writer thread: success, NOT_FOUND, FORBIDDEN
    // (an Ozzie id of another client's user), PRECONDITION_FAILED (`if_match` as for
    // async_update), or SERVICE_UNAVAILABLE if the disk failed (nothing removed). Goes through
    // the writer with the creates, so the two never race. With `keyed`, its kept answer is
    // written in the same write.
    void async_remove(std::string_view client_id, user_ref ref, remove_handler done,
                      std::optional<std::string> if_match = std::nullopt,
                      std::optional<keyed_write<result<void>>> keyed = std::nullopt);

    // async_remove, waiting for the answer.
    result<void> remove(std::string_view client_id, user_ref ref);

    // Monitoring figures; cheap enough to call on every scrape.
    service_stats stats() const;

    // Whether the store is open and takes a durable write (a probe in its meta data, written by
    // the writer thread after the creates already submitted), for readiness checks.
    // SERVICE_UNAVAILABLE if not. Blocks until the probe is written.
    result<void> check_writable();

    // Compacts the whole store, so that what was deleted is in no file of the data directory
    // any more (erasure). Takes a while on a large store; the service keeps serving.
    // INTERNAL_ERROR if it cannot (the details go to the log); NOT_FOUND on PostgreSQL, whose
    // own VACUUM does it (the message says so).
    result<void> compact();

    // Writes a consistent copy of the store into `directory`, which must not exist, while the
    // service keeps serving. Starting on a copy of it restores every user created before the
    // call began. INTERNAL_ERROR if it cannot (the details go to the log); NOT_FOUND on
    // PostgreSQL, whose own tools back it up (the message says which).
    result<void> backup(const std::filesystem::path& directory);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ozzie
