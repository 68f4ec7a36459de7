#include <ozzie/user_service.hpp>

#include "service/commit_queue.hpp"
#include "service/idempotency.hpp"
#include "service/lookup.hpp"
#include "service/messages.hpp"
#include "service/ulid.hpp"
#include "service/validation.hpp"
#include "storage/user_store.hpp"

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

}  // namespace

struct user_service::impl {
    user_store store;
    std::shared_ptr<idempotency_claims> claims = std::make_shared<idempotency_claims>();
    std::chrono::seconds idempotency_ttl;
    commit_queue queue;  // after store: destroyed first, answering every pending create

    explicit impl(const store_options& options)
        : store(options), idempotency_ttl(options.idempotency_ttl), queue(store) {}
};

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
    if (auto valid = validate_idempotency_key(key); !valid) return valid.error();
    // Claimed first, then looked up: a write holding the key keeps its answer before it lets
    // go, so a request that gets the claim finds any answer kept under the key.
    auto claim = impl_->claims->try_claim(client_id, key, fingerprint);
    if (!claim) return messages::idempotency_key_in_use(key);
    auto kept = impl_->store.find_kept(client_id, key);
    if (!kept && kept.error().code != errc::not_found) return messages::internal();
    const bool expired =
        kept && encoding::kept_expired(kept->created_at, impl_->idempotency_ttl, std::chrono::system_clock::now());
    if (!kept || expired) return std::move(*claim);
    if (kept->fingerprint != fingerprint) return messages::idempotency_key_reused(key);
    return std::move(kept->answer);
}

result<user> user_service::create(std::string_view client_id, new_user request) {
    return wait_for<result<user>>(
        [&](auto done) { async_create(client_id, std::move(request), std::move(done)); });
}

result<user> user_service::find_by_id(std::string_view client_id, std::string_view id) const {
    return ozzie::find_by_id(impl_->store, client_id, id);
}

result<user> user_service::find_by_external(std::string_view client_id,
                                            std::string_view external_user_id) const {
    return ozzie::find_by_external(impl_->store, client_id, external_user_id);
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
    if (request.limit < min_list_limit || request.limit > max_list_limit)
        return messages::invalid_parameter("limit", messages::limit_requirement, std::to_string(request.limit));
    if (request.starting_after && request.ending_before) return messages::both_cursors();
    user_store::list_range range{.client_id = client_id, .stage = request.stage, .cursor = {}, .newer = false,
                                 .limit = request.limit};
    for (const auto& [name, cursor, newer] : {std::tuple{"starting_after", &request.starting_after, false},
                                              std::tuple{"ending_before", &request.ending_before, true}}) {
        if (!*cursor) continue;
        const auto ulid = ulid_of_user_id(**cursor);
        if (!ulid) return messages::invalid_parameter(name, "must be an Ozzie user id from an earlier page", **cursor);
        range.cursor = *ulid;
        range.newer = newer;
    }
    auto page = impl_->store.list(range);
    if (!page) return messages::internal();
    return page;
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
    const auto store = impl_->store.stats();
    return {impl_->queue.batch_sizes(), impl_->queue.commit_seconds(), store.block_cache_hits,
            store.block_cache_misses, store.live_data_bytes, store.memtable_bytes, store.writable};
}

result<void> user_service::check_writable() {
    if (!wait_for<result<void>>([&](auto done) { impl_->queue.probe(std::move(done)); }))
        return messages::not_ready();
    return {};
}

result<void> user_service::compact() {
    if (!impl_->store.compact()) return messages::internal();
    return {};
}

result<void> user_service::backup(const std::filesystem::path& directory) {
    if (!impl_->store.checkpoint(directory)) return messages::internal();
    return {};
}

}  // namespace ozzie
