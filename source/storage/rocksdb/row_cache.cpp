#include "storage/rocksdb/row_cache.hpp"

#include <cstring>
#include <functional>
#include <new>

namespace ozzie {
namespace {

// A kept value is one allocation: its length, then its bytes.
using length_type = std::uint32_t;

void* copy_of(std::string_view value) {
    const auto length = static_cast<length_type>(value.size());
    auto* copy = static_cast<char*>(::operator new(sizeof length + value.size()));
    std::memcpy(copy, &length, sizeof length);
    std::memcpy(copy + sizeof length, value.data(), value.size());
    return copy;
}

std::string_view value_of(void* copy) {
    length_type length = 0;
    std::memcpy(&length, copy, sizeof length);
    return {static_cast<const char*>(copy) + sizeof length, length};
}

void delete_copy(const rocksdb::Slice&, void* copy) { ::operator delete(copy); }

// What a kept value counts against the capacity.
std::size_t charge(std::string_view key, std::string_view value) { return key.size() + sizeof(length_type) + value.size(); }

}  // namespace

row_cache::row_cache(std::size_t capacity_bytes, std::shared_ptr<rocksdb::Statistics> statistics)
    : cache_(capacity_bytes ? rocksdb::NewLRUCache(capacity_bytes) : nullptr), statistics_(std::move(statistics)) {}

row_cache::pinned::~pinned() {
    if (handle_) cache_->Release(handle_);
}

std::string_view row_cache::pinned::value() const { return value_of(cache_->Value(handle_)); }

row_cache::pinned row_cache::find(std::string_view key) const {
    if (!cache_) return {};
    auto* handle = cache_->Lookup(key);
    statistics_->recordTick(handle ? rocksdb::ROW_CACHE_HIT : rocksdb::ROW_CACHE_MISS, 1);  // (the count defaults to 0)
    return {cache_.get(), handle};
}

std::size_t row_cache::shard_of(std::string_view key) noexcept {
    return std::hash<std::string_view>{}(key) % shard_count;
}

row_cache::ticket row_cache::before_read(std::string_view key) const {
    if (!cache_) return {};
    const auto index = shard_of(key);
    // Acquire: a ticket that sees a forget() also sees the write before it.
    return {index, shards_[index].generation.load(std::memory_order_acquire)};
}

void row_cache::keep(const ticket& t, std::string_view key, std::string_view value) const {
    if (!cache_) return;
    std::lock_guard lock(shards_[t.shard].mutex);
    // A forget() since the ticket: the value may be from before that write.
    if (shards_[t.shard].generation.load(std::memory_order_relaxed) != t.generation) return;
    // Not strict about capacity: the insert always succeeds, evicting the least recently used.
    cache_->Insert(key, copy_of(value), charge(key, value), delete_copy)
        .PermitUncheckedError();
}

row_cache::ticket row_cache::tickets::of(std::string_view key) const noexcept {
    const auto index = shard_of(key);
    return {index, generations_[index]};
}

row_cache::tickets row_cache::before_reads() const {
    tickets t;
    if (cache_)
        for (std::size_t i = 0; i < shard_count; ++i)
            t.generations_[i] = shards_[i].generation.load(std::memory_order_acquire);  // as before_read
    return t;
}

bool row_cache::keep_if_room(const ticket& t, std::string_view key, std::string_view value) const {
    if (!cache_ || charge(key, value) > room()) return false;
    keep(t, key, value);
    return true;
}

std::size_t row_cache::room() const {
    if (!cache_) return 0;
    const auto limit = cache_->GetCapacity() / 10 * 9;
    const auto usage = cache_->GetUsage();
    return usage < limit ? limit - usage : 0;
}

void row_cache::forget(std::string_view key) {
    if (!cache_) return;
    auto& s = shards_[shard_of(key)];
    std::lock_guard lock(s.mutex);
    cache_->Erase(key);
    s.generation.fetch_add(1, std::memory_order_release);
}

}  // namespace ozzie
