#include "service/commit_queue.hpp"

#include "service/lookup.hpp"
#include "service/messages.hpp"

#include <unordered_set>

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

namespace {

// The answer to every write of a batch the store refused: a disk fault, or a failure to read.
error failed_write(const error& e) {
    return e.code == errc::unavailable ? messages::store_unavailable() : messages::internal();
}

}  // namespace

template <class T>
void commit_queue::enqueue(std::vector<T>& queue, T item) {
    {
        std::lock_guard lock(mutex_);
        queue.push_back(std::move(item));
    }
    wake_.notify_one();
}

void commit_queue::push(pending_create create) { enqueue(pending_, std::move(create)); }

void commit_queue::push(pending_remove remove) { enqueue(pending_removes_, std::move(remove)); }

void commit_queue::probe(std::function<void(result<void>)> done) { enqueue(pending_probes_, std::move(done)); }

void commit_queue::run() {
    std::vector<pending_create> batch;
    std::vector<pending_remove> removes;
    std::vector<std::function<void(result<void>)>> probes;
    const auto idle = [this] { return pending_.empty() && pending_removes_.empty() && pending_probes_.empty(); };
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !idle(); });
            if (idle()) return;  // stopping, and everything pushed has been answered
            batch.swap(pending_);
            removes.swap(pending_removes_);
            probes.swap(pending_probes_);
        }
        if (!batch.empty()) commit(batch);
        if (!removes.empty()) remove(removes);
        for (auto& done : probes) done(store_.probe_write());
        batch.clear();
        removes.clear();
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
            done(failed_write(stored.error()));
        else if ((*stored)[i])
            done(std::move(users[i]));
        else
            done(messages::conflict(users[i].external_user_id));
    }
}

void commit_queue::remove(std::vector<pending_remove>& batch) {
    // Each is looked up as the store stands with the ones before it removed, so a second
    // removal of the same user in the batch finds nothing.
    std::vector<user> found;
    std::vector<result<void>> answers;
    std::unordered_set<std::string> removed;  // ids
    for (const auto& r : batch) {
        auto u = find_user(store_, r.client_id, r.ref);
        if (u && !removed.insert(u->id).second)
            u = r.ref.by == user_ref::kind::id ? messages::user_not_found(r.ref.value)
                                               : messages::external_user_not_found(r.ref.value);
        if (!u) {
            answers.emplace_back(u.error());
            continue;
        }
        answers.emplace_back();
        found.push_back(std::move(*u));
    }
    if (!found.empty())
        if (auto written = store_.remove(found); !written)
            for (auto& a : answers)
                if (a) a = failed_write(written.error());
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(answers[i]));
}

}  // namespace ozzie
