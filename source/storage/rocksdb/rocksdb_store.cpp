#include "storage/rocksdb/rocksdb_store.hpp"

#include "ops/logging.hpp"
#include "storage/rocksdb/encoding.hpp"
#include "storage/rocksdb/recoverable_env.hpp"
#include "storage/rocksdb/row_cache.hpp"
#include "storage/rocksdb/schema_migration.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_set>

namespace ozzie {
namespace {

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

// RocksDB's own text goes to the log only; the client sees INTERNAL_ERROR.
error storage_failure(std::string_view what, const rocksdb::Status& status) {
    log(log_level::error, "storage_error", {{"operation", what}, {"status", status.ToString()}});
    return {errc::internal, {}};
}

rocksdb::ColumnFamilyOptions column_family_options(const std::shared_ptr<rocksdb::Cache>& cache) {
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    rocksdb::ColumnFamilyOptions options;
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return options;
}

// Drops the kept answers of idempotency keys older than the TTL when compactions rewrite their
// files (the column family's `ttl` makes sure that every file is, within the TTL). Lookups
// ignore an expired answer still on disk, so the exact moment of removal does not matter.
class expired_answers final : public rocksdb::CompactionFilter {
public:
    explicit expired_answers(std::chrono::seconds ttl) : ttl_(ttl) {}

    bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*, bool*) const override {
        const auto created = encoding::kept_created_at(value.ToStringView());
        return created && kept_expired(*created, ttl_, std::chrono::system_clock::now());
    }
    const char* Name() const override { return "ozzie.expired_answers"; }

private:
    std::chrono::seconds ttl_;
};

// Puts each kept answer in `batch`.
rocksdb::Status add_kept(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf,
                         std::span<const kept_record> kept) {
    for (const auto& r : kept)
        if (auto s = batch.Put(cf, encoding::kept_key(r.client_id, r.key), encoding::kept_value(r)); !s.ok()) return s;
    return rocksdb::Status::OK();
}

}  // namespace

struct rocksdb_store::impl {
    recoverable_env env;  // first: outlives the database
    expired_answers answers_filter;  // outlives the database too
    rocksdb::DB* db = nullptr;
    // In the order of the descriptors in the constructor.
    rocksdb::ColumnFamilyHandle* default_cf = nullptr;
    rocksdb::ColumnFamilyHandle* users = nullptr;
    rocksdb::ColumnFamilyHandle* external_ids = nullptr;
    rocksdb::ColumnFamilyHandle* client_users = nullptr;
    rocksdb::ColumnFamilyHandle* idempotency = nullptr;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    rocksdb::WriteOptions write_options;
    std::shared_ptr<rocksdb::Statistics> statistics;
    std::optional<row_cache> rows;  // once statistics exist
    std::atomic<std::uint64_t> warmed{0};  // users warm_up() kept in `rows`
    std::atomic<bool> warming{false};
    std::jthread warm_up_thread;  // stopped and joined first thing in ~impl: it reads the database
    // Whether the last write succeeded. A failure is logged when this turns false and a recovery
    // when it turns true again, so an outage is one pair of lines however many writes it refuses.
    std::atomic<bool> writable{true};

    explicit impl(std::chrono::seconds idempotency_ttl) : answers_filter(idempotency_ttl) {}

    // The user with this ULID as `options` read it (their snapshot, if any). Errors: not_found,
    // internal.
    result<user> read_user(const rocksdb::ReadOptions& options, std::string_view ulid) const {
        rocksdb::PinnableSlice value;
        const auto status = db->Get(options, users, slice(ulid), &value);
        if (status.IsNotFound()) return error{errc::not_found, {}};
        if (!status.ok()) return storage_failure("get user", status);
        auto decoded = encoding::decode_user(ulid, value.ToStringView());
        if (!decoded) return storage_failure("decode user", rocksdb::Status::Corruption(ulid));
        return std::move(*decoded);
    }

    // The value of `key` in `cf` ("users" or "external_ids"), from the row cache or else the
    // store (and then kept in the cache), decoded by `decode` into a user (nullopt: the value is
    // in no known format). Errors: not_found, internal.
    template <class Decode>
    result<user> read_cached(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view what,
                             Decode decode) const {
        if (const auto cached = rows->find(key)) return decoded(decode(cached.value()), what, key);
        const auto ticket = rows->before_read(key);
        rocksdb::PinnableSlice value;
        const auto status = db->Get({}, cf, slice(key), &value);
        if (status.IsNotFound()) return error{errc::not_found, {}};
        if (!status.ok()) return storage_failure(what, status);
        auto found = decoded(decode(value.ToStringView()), what, key);
        if (found) rows->keep(ticket, key, value.ToStringView());
        return found;
    }

    static result<user> decoded(std::optional<user> u, std::string_view what, std::string_view key) {
        if (!u) return storage_failure(what, rocksdb::Status::Corruption(slice(key)));
        return std::move(*u);
    }

    // The user of a list index entry. The snapshot of `options` holds its record: the entry and
    // the record are one write, so a missing record is damage (logged), never a user not found.
    result<user> read_listed_user(const rocksdb::ReadOptions& options, std::string_view ulid) const {
        auto listed = read_user(options, ulid);
        if (!listed && listed.error().code == errc::not_found)
            return storage_failure("get listed user", rocksdb::Status::NotFound(ulid));
        return listed;
    }

    // Writes `batch`; a failure is SERVICE_UNAVAILABLE: the store refuses writes until RocksDB
    // has recovered from the fault by itself (see recoverable_env.hpp), and nothing it
    // acknowledged is lost meanwhile.
    result<void> write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch) {
        if (const auto status = db->Write(options, &batch); !status.ok()) {
            if (writable.exchange(false))
                log(log_level::error, "storage_unavailable",
                    {{"status", status.ToString()},
                     {"effect", "writes answer 503 until the store recovers; reads go on"}});
            return error{errc::unavailable, {}};
        }
        if (!writable.load(std::memory_order_relaxed) && !writable.exchange(true))
            log(log_level::info, "storage_recovered");
        return {};
    }

    // Fills the row cache with the users in the store, newest first (a ULID sorts by time: the
    // users most likely looked up, should they not all fit), until the cache is nine tenths full
    // (row_cache::keep_if_room) or every user is in it: after a restart, lookups hit the cache at
    // once rather than as each user comes back. A background chore at the lowest CPU priority,
    // while requests are served. It reads in chunks, each through an iterator made after the
    // tickets of its keys (row_cache::before_reads), so that a user the writer changes meanwhile
    // is never kept as it was before (such a user is counted in `warmed`, but not kept).
    void warm_up(const std::stop_token& stop) {
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);  // best effort
        const auto began = std::chrono::steady_clock::now();
        rocksdb::ReadOptions read;
        read.fill_cache = false;  // a scan of the whole store: no reason to keep its blocks
        constexpr int chunk = 1024;
        std::string next;  // where the next chunk starts (or just before, if that user went); empty: the newest
        bool full = false;
        // The cache's room is read under a lock of each of its 64 shards (about half the warm-up's
        // CPU when read for every user): it is read for each user of a chunk only if the chunk
        // could fill the cache, judged by twice the most a chunk has added (lookups keep users too).
        std::optional<std::size_t> most_added;
        rocksdb::Status status;
        while (!stop.stop_requested() && !full) {
            const auto room = rows->room();
            const bool check_each = !most_added || room / 2 < *most_added;
            const auto tickets = rows->before_reads();
            const std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, users));
            if (next.empty()) it->SeekToLast();
            else it->SeekForPrev(next);
            for (int n = 0; it->Valid() && n < chunk; ++n, it->Prev()) {
                const auto key = it->key().ToStringView();
                const auto value = it->value().ToStringView();
                if (!check_each) {
                    rows->keep(tickets.of(key), key, value);
                } else if (!rows->keep_if_room(tickets.of(key), key, value)) {
                    full = true;
                    break;
                }
                warmed.fetch_add(1, std::memory_order_relaxed);
            }
            most_added = std::max(most_added.value_or(0), room - std::min(room, rows->room()));
            if (!full && !it->Valid()) {
                status = it->status();
                break;
            }
            if (!full) next = it->key().ToString();
        }
        warming.store(false);
        if (!status.ok()) storage_failure("warm up the row cache", status);
        if (stop.stop_requested()) return;  // the store is closing: nothing worth a line
        log(log_level::info, "row_cache_warmed",
            {{"users", warmed.load()},
             {"cache_full", full},
             {"milliseconds",
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count()}});
    }

    ~impl() {
        if (warm_up_thread.joinable()) {
            warm_up_thread.request_stop();
            warm_up_thread.join();
        }
        for (auto* handle : {default_cf, users, external_ids, client_users, idempotency, meta})
            if (handle) db->DestroyColumnFamilyHandle(handle);
        if (db) {
            if (auto status = db->Close(); !status.ok()) storage_failure("close", status);
            delete db;
        }
    }
};

rocksdb_store::rocksdb_store(const store_options& options) : rocksdb_store(options, rocksdb::FileSystem::Default()) {}

rocksdb_store::rocksdb_store(const store_options& options, std::shared_ptr<rocksdb::FileSystem> file_system)
    : impl_(std::make_unique<impl>(options.idempotency_ttl)) {
    // RocksDB would create it too, but first logs that it is missing, as an error.
    std::error_code ignored;  // if this fails, so does the open below, with RocksDB's reason
    std::filesystem::create_directories(options.data_dir, ignored);
    rocksdb::DBOptions db_options;
    impl_->env = make_recoverable_env(std::move(file_system));
    db_options.env = impl_->env.env.get();
    db_options.info_log = impl_->env.info_log;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    // Tickers only (no timers): the block cache hit ratio for monitoring at little cost.
    db_options.statistics = rocksdb::CreateDBStatistics();
    db_options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
    impl_->statistics = db_options.statistics;
    impl_->rows.emplace(options.row_cache_bytes, impl_->statistics);
    const auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
    const auto cf_options = column_family_options(cache);
    auto kept_options = cf_options;
    kept_options.compaction_filter = &impl_->answers_filter;
    kept_options.ttl = static_cast<std::uint64_t>(options.idempotency_ttl.count());
    const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, cf_options},
        {std::string(encoding::users_cf), cf_options},
        {std::string(encoding::external_ids_cf), cf_options},
        {std::string(encoding::client_users_cf), cf_options},
        {std::string(encoding::idempotency_cf), kept_options},
        {std::string(encoding::meta_cf), cf_options},
    };
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    const auto status =
        rocksdb::DB::Open(db_options, options.data_dir.string(), descriptors, &handles, &impl_->db);
    if (!status.ok())
        throw std::runtime_error("cannot open the database in " + options.data_dir.string() +
                                 ": " + status.ToString());
    impl_->default_cf = handles[0];
    impl_->users = handles[1];
    impl_->external_ids = handles[2];
    impl_->client_users = handles[3];
    impl_->idempotency = handles[4];
    impl_->meta = handles[5];
    impl_->write_options.sync = options.sync;
    ensure_schema(*impl_->db, {impl_->users, impl_->external_ids, impl_->client_users, impl_->meta},
                  options.data_dir.string());
    if (options.row_cache_bytes > 0) {
        impl_->warming.store(true);
        impl_->warm_up_thread = std::jthread([impl = impl_.get()](const std::stop_token& stop) { impl->warm_up(stop); });
    }
}

rocksdb_store::~rocksdb_store() = default;

result<user> rocksdb_store::get(std::string_view, std::string_view ulid) const {
    return impl_->read_cached(impl_->users, ulid, "get user",
                              [ulid](std::string_view value) { return encoding::decode_user(ulid, value); });
}

result<user> rocksdb_store::find_external(std::string_view client_id, std::string_view external_user_id) const {
    return impl_->read_cached(impl_->external_ids, encoding::external_key(client_id, external_user_id),
                              "get external id", encoding::decode_external_value);
}

result<kept_record> rocksdb_store::find_kept(std::string_view client_id, std::string_view key) const {
    rocksdb::PinnableSlice value;
    const auto status = impl_->db->Get({}, impl_->idempotency, encoding::kept_key(client_id, key), &value);
    if (status.IsNotFound()) return error{errc::not_found, {}};
    if (!status.ok()) return storage_failure("get kept answer", status);
    auto decoded = encoding::decode_kept(client_id, key, value.ToStringView());
    if (!decoded) return storage_failure("decode kept answer", rocksdb::Status::Corruption(key));
    return std::move(*decoded);
}

result<std::vector<bool>> rocksdb_store::insert(std::span<const user> users, const keep_answers& keep) {
    std::vector<bool> stored(users.size(), false);
    std::unordered_set<std::string> taken_in_batch;
    rocksdb::WriteBatch batch;
    rocksdb::PinnableSlice existing;  // only whether there is one: pinned, not copied
    for (std::size_t i = 0; i < users.size(); ++i) {
        const user& u = users[i];
        auto index_key = encoding::external_key(u.client_id, u.external_user_id);
        if (taken_in_batch.contains(index_key)) continue;
        existing.Reset();
        const auto status = impl_->db->Get({}, impl_->external_ids, index_key, &existing);
        if (status.ok()) continue;
        if (!status.IsNotFound()) return storage_failure("check external id", status);
        const auto key = encoding::user_key(u);
        if (auto s = batch.Put(impl_->users, slice(key), encoding::user_value(u)); !s.ok())
            return storage_failure("batch user", s);
        if (auto s = batch.Put(impl_->external_ids, index_key, encoding::external_value(u)); !s.ok())
            return storage_failure("batch external id", s);
        if (auto s = batch.Put(impl_->client_users, encoding::list_key(u), ""); !s.ok())
            return storage_failure("batch list", s);
        taken_in_batch.insert(std::move(index_key));
        stored[i] = true;
    }
    if (keep)
        if (auto s = add_kept(batch, impl_->idempotency, keep(stored)); !s.ok()) return storage_failure("batch kept", s);
    if (batch.Count() > 0)
        if (auto written = impl_->write(impl_->write_options, batch); !written) return written.error();
    return stored;
}

result<void> rocksdb_store::remove(std::span<const user> users, std::span<const kept_record> kept) {
    rocksdb::WriteBatch batch;
    if (auto s = add_kept(batch, impl_->idempotency, kept); !s.ok()) return storage_failure("batch kept", s);
    for (const user& u : users) {
        if (auto s = batch.Delete(impl_->users, slice(encoding::user_key(u))); !s.ok())
            return storage_failure("batch delete user", s);
        const auto index_key = encoding::external_key(u.client_id, u.external_user_id);
        if (auto s = batch.Delete(impl_->external_ids, index_key); !s.ok())
            return storage_failure("batch delete external id", s);
        if (auto s = batch.Delete(impl_->client_users, encoding::list_key(u)); !s.ok())
            return storage_failure("batch delete list", s);
    }
    auto written = impl_->write(impl_->write_options, batch);
    for (const user& u : users) {
        impl_->rows->forget(encoding::user_key(u));
        impl_->rows->forget(encoding::external_key(u.client_id, u.external_user_id));
    }
    return written;
}

result<void> rocksdb_store::update(std::span<const change> changes, std::span<const kept_record> kept) {
    // Every index entry a change gives up is deleted before any is written: when the changes
    // swap external ids between users, a delete must not undo another change's write.
    rocksdb::WriteBatch batch;
    if (auto s = add_kept(batch, impl_->idempotency, kept); !s.ok()) return storage_failure("batch kept", s);
    for (const auto& [before, after] : changes) {
        auto s = rocksdb::Status::OK();
        if (before.external_user_id != after.external_user_id)
            s = batch.Delete(impl_->external_ids, encoding::external_key(before.client_id, before.external_user_id));
        if (s.ok() && before.stage != after.stage) s = batch.Delete(impl_->client_users, encoding::list_key(before));
        if (!s.ok()) return storage_failure("batch update", s);
    }
    for (const auto& [before, after] : changes) {
        const auto key = encoding::user_key(after);
        auto s = batch.Put(impl_->users, slice(key), encoding::user_value(after));
        if (s.ok())  // the entry carries the record, so it changes with it
            s = batch.Put(impl_->external_ids, encoding::external_key(after.client_id, after.external_user_id),
                          encoding::external_value(after));
        if (s.ok() && before.stage != after.stage) s = batch.Put(impl_->client_users, encoding::list_key(after), "");
        if (!s.ok()) return storage_failure("batch update", s);
    }
    auto written = impl_->write(impl_->write_options, batch);
    for (const auto& [before, after] : changes) {
        impl_->rows->forget(encoding::user_key(after));
        impl_->rows->forget(encoding::external_key(before.client_id, before.external_user_id));
        if (after.external_user_id != before.external_user_id)
            impl_->rows->forget(encoding::external_key(after.client_id, after.external_user_id));
    }
    return written;
}

namespace {

// One stage's range of a client's list index, read from a cursor in the direction of a page.
class stage_range {
public:
    stage_range(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snapshot,
                std::string_view client_id, onboarding_stage stage, std::string_view cursor, bool newer)
        : prefix_(encoding::list_prefix(client_id, stage)), end_(prefix_), newer_(newer) {
        ++end_.back();  // the stage digit: every key of the range sorts below this
        lower_ = prefix_;
        upper_ = end_;
        rocksdb::ReadOptions read;
        read.snapshot = snapshot;
        read.iterate_lower_bound = &lower_;
        read.iterate_upper_bound = &upper_;
        it_.reset(db.NewIterator(read, cf));
        // Newest first is descending key order; the users newer than a cursor are read
        // ascending from it (the page is reversed at the end).
        const auto from = prefix_ + std::string(cursor);
        if (newer) {
            it_->Seek(from);
            if (it_->Valid() && it_->key() == rocksdb::Slice(from)) it_->Next();
        } else if (cursor.empty()) {
            it_->SeekToLast();
        } else {
            it_->SeekForPrev(from);
            if (it_->Valid() && it_->key() == rocksdb::Slice(from)) it_->Prev();
        }
    }
    stage_range(const stage_range&) = delete;  // the bounds' slices point into this object
    stage_range& operator=(const stage_range&) = delete;

    bool valid() const { return it_->Valid(); }
    // The ULID at the current entry; valid() only.
    std::string_view ulid() const { return it_->key().ToStringView().substr(prefix_.size()); }
    void next() { newer_ ? it_->Next() : it_->Prev(); }
    rocksdb::Status status() const { return it_->status(); }

private:
    std::string prefix_, end_;
    rocksdb::Slice lower_, upper_;
    bool newer_;
    std::unique_ptr<rocksdb::Iterator> it_;
};

// The ULIDs of a client's list index from a cursor in one direction, read from one snapshot:
// one stage's range, or the three stages' ranges merged as they are read (a user is in exactly
// one of them, so no ULID comes twice). list() reads a page of it, for_each_user() all of it.
class list_reader {
public:
    list_reader(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snapshot,
                std::string_view client_id, std::optional<onboarding_stage> stage, std::string_view cursor,
                bool newer)
        : newer_(newer) {
        for (const auto s : {onboarding_stage::intake_pending, onboarding_stage::plan_pending, onboarding_stage::active})
            if (!stage || *stage == s)
                ranges_.push_back(std::make_unique<stage_range>(db, cf, snapshot, client_id, s, cursor, newer));
        pick();
    }

    bool valid() const { return current_ != nullptr; }
    // The ULID at the current entry; valid() only.
    std::string_view ulid() const { return current_->ulid(); }
    void next() {
        current_->next();
        pick();
    }
    // Whether every range was read without an error (an iterator that failed is no longer valid).
    rocksdb::Status status() const {
        for (const auto& r : ranges_)
            if (!r->status().ok()) return r->status();
        return rocksdb::Status::OK();
    }

private:
    // The range whose entry comes first in the reading order, or none when all are read.
    void pick() {
        current_ = nullptr;
        for (const auto& r : ranges_)
            if (r->valid() && (!current_ || (newer_ ? r->ulid() < current_->ulid() : r->ulid() > current_->ulid())))
                current_ = r.get();
    }

    bool newer_;
    std::vector<std::unique_ptr<stage_range>> ranges_;
    stage_range* current_ = nullptr;
};

}  // namespace

result<user_page> rocksdb_store::list(const list_range& range) const {
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    list_reader entries(*impl_->db, impl_->client_users, read.snapshot, range.client_id, range.stage, range.cursor,
                        range.newer);
    user_page page;
    for (; entries.valid(); entries.next()) {
        if (page.users.size() == range.limit) {
            page.has_more = true;
            break;
        }
        auto listed = impl_->read_listed_user(read, entries.ulid());
        if (!listed) return listed.error();
        page.users.push_back(std::move(*listed));
    }
    if (const auto status = entries.status(); !status.ok()) return storage_failure("list users", status);
    if (range.newer) std::reverse(page.users.begin(), page.users.end());
    return page;
}

rocksdb_store::figures rocksdb_store::stats() const {
    figures f;
    f.block_cache_hits = impl_->statistics->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
    f.block_cache_misses = impl_->statistics->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
    f.row_cache_hits = impl_->statistics->getTickerCount(rocksdb::ROW_CACHE_HIT);
    f.row_cache_misses = impl_->statistics->getTickerCount(rocksdb::ROW_CACHE_MISS);
    f.row_cache_warmed = impl_->warmed.load(std::memory_order_relaxed);
    f.row_cache_warming = impl_->warming.load();
    f.writable = impl_->writable.load(std::memory_order_relaxed);
    for (auto* cf : {impl_->users, impl_->external_ids, impl_->client_users, impl_->idempotency, impl_->meta}) {
        std::uint64_t value = 0;
        if (impl_->db->GetIntProperty(cf, rocksdb::DB::Properties::kEstimateLiveDataSize, &value))
            f.live_data_bytes += value;
        if (impl_->db->GetIntProperty(cf, rocksdb::DB::Properties::kCurSizeAllMemTables, &value))
            f.memtable_bytes += value;
    }
    return f;
}

result<void> rocksdb_store::probe_write() {
    rocksdb::WriteOptions durable;
    durable.sync = true;
    rocksdb::WriteBatch batch;
    if (auto s = batch.Put(impl_->meta, "ready_probe", "1"); !s.ok()) return storage_failure("batch probe", s);
    return impl_->write(durable, batch);
}

result<void> rocksdb_store::compact() {
    rocksdb::FlushOptions wait;
    wait.wait = true;
    rocksdb::CompactRangeOptions everything;
    // Rewrite files already in the last level too: that is where the old values lie.
    everything.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (auto* cf : {impl_->users, impl_->external_ids, impl_->client_users, impl_->idempotency, impl_->meta}) {
        if (auto status = impl_->db->Flush(wait, cf); !status.ok()) return storage_failure("flush", status);
        if (auto status = impl_->db->CompactRange(everything, cf, nullptr, nullptr); !status.ok())
            return storage_failure("compact", status);
    }
    return {};
}

result<void> rocksdb_store::checkpoint(const std::filesystem::path& directory) const {
    rocksdb::Checkpoint* raw = nullptr;
    auto status = rocksdb::Checkpoint::Create(impl_->db, &raw);
    if (!status.ok()) return storage_failure("checkpoint", status);
    const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // Flushing first puts everything in table files, so the copy needs no WAL replay.
    status = checkpoint->CreateCheckpoint(directory.string(), /*log_size_for_flush=*/0);
    if (!status.ok()) return storage_failure("checkpoint", status);
    return {};
}

result<void> rocksdb_store::load(std::span<const user> users) {
    rocksdb::WriteBatch batch;
    for (const user& u : users) {
        const auto key = encoding::user_key(u);
        auto s = batch.Put(impl_->users, slice(key), encoding::user_value(u));
        if (s.ok())
            s = batch.Put(impl_->external_ids, encoding::external_key(u.client_id, u.external_user_id),
                          encoding::external_value(u));
        if (s.ok()) s = batch.Put(impl_->client_users, encoding::list_key(u), "");
        if (!s.ok()) return storage_failure("batch load", s);
    }
    return impl_->write(rocksdb::WriteOptions(), batch);
}

result<void> rocksdb_store::finish_load() {
    rocksdb::FlushOptions wait;
    wait.wait = true;
    const std::vector<rocksdb::ColumnFamilyHandle*> loaded = {impl_->users, impl_->external_ids, impl_->client_users};
    if (auto status = impl_->db->Flush(wait, loaded); !status.ok()) return storage_failure("flush load", status);
    return {};
}

result<void> rocksdb_store::for_each_user(std::string_view client_id, const std::function<void(const user&)>& each) const {
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    list_reader entries(*impl_->db, impl_->client_users, read.snapshot, client_id, std::nullopt, {}, false);
    for (; entries.valid(); entries.next()) {
        auto listed = impl_->read_listed_user(read, entries.ulid());
        if (!listed) return listed.error();
        each(*listed);
    }
    if (const auto status = entries.status(); !status.ok()) return storage_failure("read every user", status);
    return {};
}

}  // namespace ozzie
