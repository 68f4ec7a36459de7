#include "service/commit_queue.hpp"

#include "service/created_user.hpp"
#include "service/lookup.hpp"
#include "service/messages.hpp"
#include "service/preconditions.hpp"
#include "service/validation.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace ozzie {

commit_queue::commit_queue(store& s) : store_(s), writer_([this] { run(); }) {}

commit_queue::~commit_queue() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
}

namespace {

// Gives `pending` its answer, its key's claim released first: the key's answer is kept by now,
// so a retry that comes as soon as the client has the answer finds it.
template <class Pending, class Answer>
void answer_and_release(Pending& pending, Answer answer) {
    pending.keyed.reset();
    pending.done(std::move(answer));
}

// Adds to `kept` the answer `keyed` keeps of `answer`, if any.
template <class Answer>
void keep(const keyed_write<Answer>& keyed, const Answer& answer, std::vector<kept_record>& kept) {
    auto rendered = keyed.keep(answer);
    if (!rendered) return;
    kept.push_back({.client_id = keyed.claim.client_id(),
                    .key = keyed.claim.key(),
                    .fingerprint = keyed.claim.fingerprint(),
                    .created_at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()),
                    .answer = std::move(*rendered)});
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

void commit_queue::push(pending_update update) { enqueue(pending_updates_, std::move(update)); }

void commit_queue::push(pending_remove remove) { enqueue(pending_removes_, std::move(remove)); }

void commit_queue::probe(std::function<void(result<void>)> done) { enqueue(pending_probes_, std::move(done)); }

void commit_queue::run() {
    std::vector<pending_create> batch;
    std::vector<pending_update> updates;
    std::vector<pending_remove> removes;
    std::vector<std::function<void(result<void>)>> probes;
    const auto idle = [this] {
        return pending_.empty() && pending_updates_.empty() && pending_removes_.empty() && pending_probes_.empty();
    };
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !idle(); });
            if (idle()) return;  // stopping, and everything pushed has been answered
            batch.swap(pending_);
            updates.swap(pending_updates_);
            removes.swap(pending_removes_);
            probes.swap(pending_probes_);
        }
        if (!batch.empty()) commit(batch);
        if (!updates.empty()) update(updates);
        if (!removes.empty()) remove(removes);
        for (auto& done : probes) done(store_.probe_write());
        batch.clear();
        updates.clear();
        removes.clear();
        probes.clear();
    }
}

namespace {

// The answers to one pending_create, in the order of its requests.
using create_answers = boost::container::small_vector<result<user>, 1>;

bool is_keyed(const pending_create& c) { return !std::holds_alternative<std::monostate>(c.keyed); }

// Adds to `kept` the answer a keyed create keeps of `answers`.
void keep(const pending_create& c, const create_answers& answers, std::vector<kept_record>& kept) {
    if (const auto* one = std::get_if<keyed_write<result<user>>>(&c.keyed)) keep(*one, answers.front(), kept);
    if (const auto* batch = std::get_if<keyed_write<std::vector<result<user>>>>(&c.keyed))
        keep(*batch, std::vector<result<user>>(answers.begin(), answers.end()), kept);
}

// Gives a create its answers, its key's claim released first (see answer_and_release).
void answer_and_release(pending_create& c, create_answers answers) {
    c.keyed = std::monostate{};
    if (auto* one = std::get_if<user_service::create_handler>(&c.done)) return (*one)(std::move(answers.front()));
    std::get<user_service::batch_handler>(c.done)(
        std::vector<result<user>>(std::make_move_iterator(answers.begin()), std::make_move_iterator(answers.end())));
}

}  // namespace

void commit_queue::commit(std::vector<pending_create>& batch) {
    const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    // Every valid request of every create, in order, as a user to store, with the place of its
    // answer in `answers`, which holds the validation errors already.
    std::vector<user> users;
    std::vector<std::pair<std::size_t, std::size_t>> places;  // (create, request)
    std::vector<create_answers> answers(batch.size());
    for (std::size_t b = 0; b < batch.size(); ++b)
        for (auto& request : batch[b].requests) {
            if (!request) {
                answers[b].emplace_back(request.error());
                continue;
            }
            places.emplace_back(b, answers[b].size());
            answers[b].emplace_back(error{errc::internal, {}});  // its place, filled in below
            users.push_back(created_user(batch[b].client_id, std::move(*request), ids_.next(now)));
        }
    const auto answer = [&](std::size_t k) -> result<user>& { return answers[places[k].first][places[k].second]; };
    const auto began = std::chrono::steady_clock::now();
    // Once the store has decided which users it stores, the keyed creates' answers are known,
    // and their kept answers go in the same write (with a copy of their users: the others get
    // theirs moved once the write is done).
    const auto stored = store_.insert(users, [&](const std::vector<bool>& decided) {
        std::vector<kept_record> kept;
        for (std::size_t k = 0; k < users.size(); ++k)
            if (is_keyed(batch[places[k].first]))
                answer(k) = decided[k] ? result<user>(users[k]) : messages::conflict(users[k].external_user_id);
        for (std::size_t b = 0; b < batch.size(); ++b)
            if (is_keyed(batch[b])) keep(batch[b], answers[b], kept);
        return kept;
    });
    if (!users.empty()) {  // (a batch of invalid requests only writes no user)
        commit_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
        batch_sizes_.observe(static_cast<double>(users.size()));
    }
    for (std::size_t k = 0; k < users.size(); ++k)
        if (!stored)
            answer(k) = messages::store_failure(stored.error());
        else if (!is_keyed(batch[places[k].first]))
            answer(k) = (*stored)[k] ? result<user>(std::move(users[k])) : messages::conflict(users[k].external_user_id);
    for (std::size_t b = 0; b < batch.size(); ++b) answer_and_release(batch[b], std::move(answers[b]));
}

namespace {

// `u` with `patch` applied; VALIDATION_ERROR if it moves the stage backwards.
result<user> patched(user u, const user_patch& patch) {
    if (patch.stage) {
        if (auto forward = check_stage_move(u.stage, *patch.stage); !forward) return forward.error();
        u.stage = *patch.stage;
    }
    if (patch.external_user_id) u.external_user_id = *patch.external_user_id;
    if (patch.name) u.name = *patch.name;
    if (patch.email) u.email = *patch.email;
    if (patch.phone) u.phone = *patch.phone;
    if (patch.language) u.language = *patch.language;
    return u;
}

// The key of a client's external id in the writer's own maps.
std::string holder_key(std::string_view client_id, std::string_view external_user_id) {
    std::string key(client_id);
    key.push_back('\0');
    key.append(external_user_id);
    return key;
}

// How often a write the store refused as stale is tried (each change then alone) before it is
// answered SERVICE_UNAVAILABLE: only a store that other server nodes write to (PostgreSQL) can
// refuse so, when another node changed one of its users between this writer's read and write.
constexpr int stale_write_tries = 5;

// The answer to the changes of an update or removal the store refused with `e`: still stale
// after the last try (conflict) is worth a retry from the client, as unavailable is.
error failed_change(const error& e) {
    return e.code == errc::conflict ? messages::store_unavailable() : messages::store_failure(e);
}

}  // namespace

template <class Pending>
void commit_queue::write_retrying(std::vector<Pending>& batch, bool (commit_queue::*apply)(std::vector<Pending>&, bool)) {
    if ((this->*apply)(batch, false)) return;
    for (auto& pending : batch) {
        std::vector<Pending> one;
        one.push_back(std::move(pending));
        for (int attempt = 1; !(this->*apply)(one, attempt == stale_write_tries); ++attempt) {
        }
    }
}

void commit_queue::update(std::vector<pending_update>& batch) { write_retrying(batch, &commit_queue::apply_updates); }

void commit_queue::remove(std::vector<pending_remove>& batch) { write_retrying(batch, &commit_queue::apply_removes); }

bool commit_queue::apply_updates(std::vector<pending_update>& batch, bool last_try) {
    // Each update applies to its user as the updates before it in the batch left the store:
    // `changes` holds one change per user (as stored, as it is to be), and `holders` every
    // external id the batch took or gave up (holder_key to the id of the user now holding it,
    // empty if none), so that a swap of external ids between users is checked correctly.
    std::vector<store::change> changes;
    std::unordered_map<std::string, std::size_t> change_of;  // user id to its index in changes
    std::unordered_map<std::string, std::string> holders;
    std::vector<result<user>> answers;
    const auto current = [&](const pending_update& u) -> result<user> {
        if (u.ref.by == user_ref::kind::external) {
            const auto held = holders.find(holder_key(u.client_id, u.ref.value));
            if (held != holders.end()) {
                if (held->second.empty()) return messages::external_user_not_found(u.ref.value);
                return changes[change_of.at(held->second)].after;
            }
        }
        auto found = find_user(store_, u.client_id, u.ref);
        if (!found) return found;
        if (const auto changed = change_of.find(found->id); changed != change_of.end())
            return changes[changed->second].after;
        return found;
    };
    // Whether `key` (a holder_key) is free for `u`, as the batch so far leaves it.
    const auto is_free = [&](const std::string& key, const user& u) -> result<bool> {
        if (const auto held = holders.find(key); held != holders.end()) return held->second.empty();
        const auto holder = store_.find_external(u.client_id, u.external_user_id);
        if (!holder && holder.error().code != errc::not_found) return messages::store_failure(holder.error());
        return !holder;
    };
    for (auto& u : batch) {
        auto before = current(u);
        if (before && u.if_match && !if_match_passes(*u.if_match, entity_tag(*before)))
            before = messages::precondition_failed();
        if (!before) {
            answers.emplace_back(before.error());
            continue;
        }
        auto after = patched(*before, u.patch);
        if (after && after->external_user_id != before->external_user_id) {
            const auto key = holder_key(after->client_id, after->external_user_id);
            const auto free = is_free(key, *after);
            if (!free) after = free.error();
            else if (!*free) after = messages::conflict(after->external_user_id);
            else {
                holders[holder_key(before->client_id, before->external_user_id)].clear();
                holders[key] = after->id;
            }
        }
        if (after) {
            if (const auto [at, added] = change_of.try_emplace(after->id, changes.size()); added)
                changes.push_back({std::move(*before), *after});
            else
                changes[at->second].after = *after;
        }
        answers.push_back(std::move(after));
    }
    // An update that leaves its user as it was needs no write, so a failed write is not its
    // answer (unless it keeps its answer: then the answer was not kept, so it fails too).
    std::erase_if(changes, [](const store::change& c) { return c.before == c.after; });
    std::vector<kept_record> kept;
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].keyed) keep(*batch[i].keyed, answers[i], kept);
    if (!changes.empty() || !kept.empty())
        if (auto written = store_.update(changes, kept); !written) {
            if (written.error().code == errc::conflict && !last_try) return false;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                auto& a = answers[i];
                const bool changed = a && std::ranges::any_of(changes, [&a](const auto& c) { return c.after.id == a->id; });
                if (changed || batch[i].keyed) a = failed_change(written.error());
            }
        }
    for (std::size_t i = 0; i < batch.size(); ++i) answer_and_release(batch[i], std::move(answers[i]));
    return true;
}

bool commit_queue::apply_removes(std::vector<pending_remove>& batch, bool last_try) {
    // Each is looked up as the store stands with the ones before it removed, so a second
    // removal of the same user in the batch finds nothing.
    std::vector<user> found;
    std::vector<result<void>> answers;
    std::unordered_set<std::string> removed;  // ids
    for (const auto& r : batch) {
        auto u = find_user(store_, r.client_id, r.ref);
        if (u && removed.contains(u->id))
            u = r.ref.by == user_ref::kind::id ? messages::user_not_found(r.ref.value)
                                               : messages::external_user_not_found(r.ref.value);
        if (u && r.if_match && !if_match_passes(*r.if_match, entity_tag(*u))) u = messages::precondition_failed();
        if (!u) {
            answers.emplace_back(u.error());
            continue;
        }
        answers.emplace_back();
        removed.insert(u->id);
        found.push_back(std::move(*u));
    }
    std::vector<kept_record> kept;
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].keyed) keep(*batch[i].keyed, answers[i], kept);
    if (!found.empty() || !kept.empty())
        if (auto written = store_.remove(found, kept); !written) {
            if (written.error().code == errc::conflict && !last_try) return false;
            for (std::size_t i = 0; i < batch.size(); ++i)
                if (answers[i] || batch[i].keyed) answers[i] = failed_change(written.error());
        }
    for (std::size_t i = 0; i < batch.size(); ++i) answer_and_release(batch[i], std::move(answers[i]));
    return true;
}

}  // namespace ozzie
