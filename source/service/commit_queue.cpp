#include "service/commit_queue.hpp"

#include "service/messages.hpp"

namespace ozzie {

commit_queue::commit_queue(user_store& store) : store_(store), writer_([this] { run(); }) {}

commit_queue::~commit_queue() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
}

void commit_queue::push(pending_create create) {
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(create));
    }
    wake_.notify_one();
}

void commit_queue::probe(std::function<void(result<void>)> done) {
    {
        std::lock_guard lock(mutex_);
        pending_probes_.push_back(std::move(done));
    }
    wake_.notify_one();
}

void commit_queue::run() {
    std::vector<pending_create> batch;
    std::vector<std::function<void(result<void>)>> probes;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !pending_.empty() || !pending_probes_.empty(); });
            // Stopping, and everything pushed has been answered.
            if (pending_.empty() && pending_probes_.empty()) return;
            batch.swap(pending_);
            probes.swap(pending_probes_);
        }
        if (!batch.empty()) commit(batch);
        for (auto& done : probes) done(store_.probe_write());
        batch.clear();
        probes.clear();
    }
}

void commit_queue::commit(std::vector<pending_create>& batch) {
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    std::vector<user> users;
    users.reserve(batch.size());
    for (auto& create : batch) {
        auto id = ids_.next(now);
        users.push_back(user{
            .id = std::string(user_id_prefix) + id.text,
            .client_id = std::move(create.client_id),
            .external_user_id = std::move(create.request.external_user_id),
            .name = std::move(create.request.name),
            .email = std::move(create.request.email),
            .phone = std::move(create.request.phone),
            .language = create.request.language.value_or("en"),
            .stage = onboarding_stage::intake_pending,
            .created_at = std::chrono::floor<std::chrono::seconds>(id.time),
        });
    }
    const auto began = std::chrono::steady_clock::now();
    const auto stored = store_.insert(users);
    commit_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    batch_sizes_.observe(static_cast<double>(batch.size()));
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& done = batch[i].done;
        if (!stored)
            done(stored.error().code == errc::unavailable ? messages::store_unavailable() : messages::internal());
        else if ((*stored)[i])
            done(std::move(users[i]));
        else
            done(messages::conflict(users[i].external_user_id));
    }
}

}  // namespace ozzie
