#include <ozzie/user_service.hpp>

#include "service/commit_queue.hpp"
#include "service/idempotency.hpp"
#include "service/lookup.hpp"
#include "service/messages.hpp"
#include "service/ulid.hpp"
#include "service/validation.hpp"
#include "storage/postgres/postgres_store.hpp"
#include "storage/rocksdb/rocksdb_store.hpp"
#include "storage/store.hpp"

#include <future>
#include <tuple>

namespace ozzie {
namespace {

// The answer of an asynchronous call, waited for: `start(done)` starts it with `done`.
template <class Result, class Start>
Result wait_for(Start start) {
    std::promise<Result> answer;
    auto future = answer.get_future();
    start([&answer](Result r) { answer.set_value(std::move(r)); });
    return future.get();
}

// The back end the options choose.
std::unique_ptr<store> open_store(const store_options& options) {
    if (options.postgres.empty()) return std::make_unique<rocksdb_store>(options);
    if (!options.data_dir.empty())
        throw std::runtime_error("store_options: set data_dir (RocksDB) or postgres, not both");
    return std::make_unique<postgres_store>(options.postgres, options.postgres_replicas, options.idempotency_ttl);
}

}  // namespace

struct user_service::impl {
    std::unique_ptr<ozzie::store> store;
    std::shared_ptr<idempotency_claims> claims = std::make_shared<idempotency_claims>();
    std::chrono::seconds idempotency_ttl;
    commit_queue queue;  // after store: destroyed first, answering every pending create

    explicit impl(const store_options& options)
        : store(open_store(options)), idempotency_ttl(options.idempotency_ttl), queue(*store) {}

    // A claim of the key, or why it cannot be had.
    result<idempotency_claim> claim(std::string_view client_id, std::string_view key, std::string_view fingerprint) {
        if (auto valid = validate_idempotency_key(key); !valid) return valid.error();
        auto claim = claims->try_claim(client_id, key, fingerprint);
        if (!claim) return messages::idempotency_key_in_use(key);
        return std::move(*claim);
    }

    // The answer to a claim of the key, given what the store keeps under it.
    result<std::variant<idempotency_claim, kept_answer>> claimed(idempotency_claim claim, result<kept_record> kept) {
        if (!kept && kept.error().code != errc::not_found) return messages::store_failure(kept.error());
        const bool expired =
            kept && kept_expired(kept->created_at, idempotency_ttl, std::chrono::system_clock::now());
        if (!kept || expired) return claim;
        if (kept->fingerprint != claim.fingerprint()) return messages::idempotency_key_reused(claim.key());
        return std::move(kept->answer);
    }
};

namespace {

// The range of the store to read for `request`; VALIDATION_ERROR naming a bad parameter.
result<store::list_range> list_range_of(std::string_view client_id, const list_request& request) {
    if (request.limit < min_list_limit || request.limit > max_list_limit)
        return messages::invalid_parameter("limit", messages::limit_requirement, std::to_string(request.limit));
    if (request.starting_after && request.ending_before) return messages::both_cursors();
    store::list_range range{.client_id = client_id, .stage = request.stage, .cursor = {}, .newer = false,
                            .limit = request.limit};
    for (const auto& [name, cursor, newer] : {std::tuple{"starting_after", &request.starting_after, false},
                                              std::tuple{"ending_before", &request.ending_before, true}}) {
        if (!*cursor) continue;
        const auto ulid = ulid_of_user_id(**cursor);
        if (!ulid) return messages::invalid_parameter(name, "must be an Ozzie user id from an earlier page", **cursor);
        range.cursor = *ulid;
        range.newer = newer;
    }
    return range;
}

// The answer to a list from the page the store read.
result<user_page> list_answer(result<user_page> page) {
    if (!page) return messages::store_failure(page.error());
    return page;
}

}  // namespace

user_service::user_service(const store_options& options)
    : impl_(std::make_unique<impl>(options)) {}

user_service::~user_service() = default;

void user_service::async_create(std::string_view client_id, new_user request, create_handler done,
                                std::optional<keyed_write<result<user>>> keyed) {
    if (auto valid = validate(request); !valid) return done(valid.error());
    pending_create create{std::string(client_id), {}, std::move(done), std::monostate{}};
    create.requests.emplace_back(std::move(request));
    if (keyed) create.keyed = std::move(*keyed);
    impl_->queue.push(std::move(create));
}

void user_service::async_create_batch(std::string_view client_id, std::vector<result<new_user>> requests,
                                      batch_handler done,
                                      std::optional<keyed_write<std::vector<result<user>>>> keyed) {
    if (requests.empty() || requests.size() > max_batch_users) return done(messages::batch_shape(max_batch_users));
    pending_create create{std::string(client_id), {}, std::move(done), std::monostate{}};
    create.requests.reserve(requests.size());
    for (auto& request : requests) {
        if (request)
            if (auto valid = validate(*request); !valid) request = valid.error();
        create.requests.push_back(std::move(request));
    }
    if (keyed) create.keyed = std::move(*keyed);
    impl_->queue.push(std::move(create));
}

result<std::variant<idempotency_claim, kept_answer>> user_service::claim_idempotency_key(
    std::string_view client_id, std::string_view key, std::string_view fingerprint) {
    // Claimed first, then looked up: a write holding the key keeps its answer before it lets
    // go, so a request that gets the claim finds any answer kept under the key.
    auto claim = impl_->claim(client_id, key, fingerprint);
    if (!claim) return claim.error();
    auto kept = impl_->store->find_kept(client_id, key);
    return impl_->claimed(std::move(*claim), std::move(kept));
}

awaitable<result<std::variant<idempotency_claim, kept_answer>>> user_service::async_claim_idempotency_key(
    std::string_view client_id, std::string_view key, std::string_view fingerprint) {
    auto claim = impl_->claim(client_id, key, fingerprint);
    if (!claim) co_return claim.error();
    auto kept = co_await impl_->store->async_find_kept(client_id, key);
    co_return impl_->claimed(std::move(*claim), std::move(kept));
}

result<user> user_service::create(std::string_view client_id, new_user request) {
    return wait_for<result<user>>(
        [&](auto done) { async_create(client_id, std::move(request), std::move(done)); });
}

result<user> user_service::find_by_id(std::string_view client_id, std::string_view id) const {
    return ozzie::find_by_id(*impl_->store, client_id, id);
}

awaitable<result<user>> user_service::async_find_by_id(std::string_view client_id, std::string_view id) const {
    return ozzie::async_find_by_id(*impl_->store, client_id, id);
}

result<user> user_service::find_by_external(std::string_view client_id,
                                            std::string_view external_user_id) const {
    return ozzie::find_by_external(*impl_->store, client_id, external_user_id);
}

awaitable<result<user>> user_service::async_find_by_external(std::string_view client_id,
                                                             std::string_view external_user_id) const {
    return ozzie::async_find_by_external(*impl_->store, client_id, external_user_id);
}

void user_service::async_update(std::string_view client_id, user_ref ref, user_patch patch, update_handler done,
                                std::optional<std::string> if_match, std::optional<keyed_write<result<user>>> keyed) {
    if (auto valid = validate(patch); !valid) return done(valid.error());
    impl_->queue.push(pending_update{std::string(client_id), std::move(ref), std::move(patch), std::move(if_match),
                                     std::move(done), std::move(keyed)});
}

result<user> user_service::update(std::string_view client_id, user_ref ref, user_patch patch) {
    return wait_for<result<user>>([&](auto done) {
        async_update(client_id, std::move(ref), std::move(patch), std::move(done));
    });
}

result<user_page> user_service::list(std::string_view client_id, const list_request& request) const {
    const auto range = list_range_of(client_id, request);
    if (!range) return range.error();
    return list_answer(impl_->store->list(*range));
}

awaitable<result<user_page>> user_service::async_list(std::string_view client_id, const list_request& request) const {
    const auto range = list_range_of(client_id, request);
    if (!range) co_return range.error();
    co_return list_answer(co_await impl_->store->async_list(*range));
}

void user_service::async_remove(std::string_view client_id, user_ref ref, remove_handler done,
                                std::optional<std::string> if_match, std::optional<keyed_write<result<void>>> keyed) {
    impl_->queue.push(
        pending_remove{std::string(client_id), std::move(ref), std::move(if_match), std::move(done), std::move(keyed)});
}

result<void> user_service::remove(std::string_view client_id, user_ref ref) {
    return wait_for<result<void>>([&](auto done) { async_remove(client_id, std::move(ref), std::move(done)); });
}

service_stats user_service::stats() const {
    const auto store = impl_->store->stats();
    return {impl_->queue.batch_sizes(), impl_->queue.commit_seconds(), store.block_cache_hits,
            store.block_cache_misses, store.row_cache_hits, store.row_cache_misses, store.row_cache_warmed,
            store.row_cache_warming, store.live_data_bytes, store.memtable_bytes, store.writable};
}

result<void> user_service::check_writable() {
    if (!wait_for<result<void>>([&](auto done) { impl_->queue.probe(std::move(done)); }))
        return messages::not_ready();
    return {};
}

namespace {

// The answer to an operator's compaction or backup the store refused with `e`.
result<void> operation_answer(result<void> done) {
    if (!done && done.error().code != errc::not_found) return messages::internal();
    return done;
}

}  // namespace

result<void> user_service::compact() { return operation_answer(impl_->store->compact()); }

result<void> user_service::backup(const std::filesystem::path& directory) {
    return operation_answer(impl_->store->checkpoint(directory));
}

}  // namespace ozzie
