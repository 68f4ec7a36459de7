// Values of the column families "users" and "external_ids" as lately read, so that looking up a
// user read before is a hash lookup instead of a search of the memtable and the table files.
// RocksDB's own row cache does not cover the memtable, where a store that fits in memory keeps
// its recent users: at 100k users that skip list search was a fifth of a lookup's CPU.
//
// Kept coherent with the store's one writer, which calls forget() for every key a write changed,
// after the write and before the write is acknowledged:
// - a value read from the store is kept only if no forget() of its shard came between the
//   ticket taken before the read and keep(), so a value read before a write is never kept after
//   it: once forget() returns, no lookup finds here a value older than that write;
// - only values that exist are kept: a user created later is found in the store.
// The store fills it at open, newest users first (rocksdb_store's warm-up), by the same rule.
// The keys of the two column families never collide (a ULID has no NUL, an external id's key
// always has one), so they share one cache and one capacity.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/statistics.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>

namespace ozzie {

class row_cache {
    static constexpr std::size_t shard_count = 64;

public:
    // capacity_bytes 0: nothing is kept. Hits and misses are counted in `statistics` (RocksDB's
    // ROW_CACHE_HIT and ROW_CACHE_MISS tickers).
    row_cache(std::size_t capacity_bytes, std::shared_ptr<rocksdb::Statistics> statistics);

    // A value found here, held in the cache until this is destroyed.
    class pinned {
    public:
        pinned() = default;
        pinned(rocksdb::Cache* cache, rocksdb::Cache::Handle* handle) : cache_(cache), handle_(handle) {}
        pinned(pinned&& other) noexcept : cache_(other.cache_), handle_(std::exchange(other.handle_, nullptr)) {}
        pinned& operator=(pinned&&) = delete;
        ~pinned();
        explicit operator bool() const noexcept { return handle_ != nullptr; }
        std::string_view value() const;

    private:
        rocksdb::Cache* cache_ = nullptr;
        rocksdb::Cache::Handle* handle_ = nullptr;
    };
    pinned find(std::string_view key) const;

    // A read of the store: take a ticket, read, then keep() what was found.
    struct ticket {
        std::size_t shard = 0;
        std::uint64_t generation = 0;
    };
    ticket before_read(std::string_view key) const;
    void keep(const ticket& t, std::string_view key, std::string_view value) const;

    // The tickets of a read of many keys at once (one iterator, made after this call).
    class tickets {
    public:
        ticket of(std::string_view key) const noexcept;

    private:
        friend class row_cache;
        std::array<std::uint64_t, shard_count> generations_{};
    };
    tickets before_reads() const;
    // keep(), unless that would fill the cache beyond nine tenths of its capacity: false then
    // (and nothing kept), or if the cache has no capacity. Beyond that its shards, which fill
    // unevenly, would start evicting what was kept, the first kept first.
    bool keep_if_room(const ticket& t, std::string_view key, std::string_view value) const;
    // The bytes keep_if_room may still add (0 without capacity). It reads the cache's usage,
    // which locks each of its shards in turn.
    std::size_t room() const;

    // From the writer thread, after a write that changed or deleted `key`.
    void forget(std::string_view key);

private:
    struct alignas(64) shard {
        std::mutex mutex;  // keep() and forget() of the shard, one at a time
        std::atomic<std::uint64_t> generation{0};  // forget() calls so far
    };
    static std::size_t shard_of(std::string_view key) noexcept;

    std::shared_ptr<rocksdb::Cache> cache_;  // null: capacity 0
    std::shared_ptr<rocksdb::Statistics> statistics_;
    mutable std::array<shard, shard_count> shards_;
};

}  // namespace ozzie
