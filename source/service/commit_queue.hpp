// The write path: every create, update and removal goes through one writer thread that commits
// in groups.
#pragma once

#include "ops/atomic_histogram.hpp"
#include "service/ulid.hpp"
#include "storage/store.hpp"

#include <ozzie/user_service.hpp>

#include <boost/container/small_vector.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

namespace ozzie {

// A create, or a batch of them, answered together.
struct pending_create {
    std::string client_id;
    // Validated: an error is its request's answer. One is inline: a single create allocates none.
    boost::container::small_vector<result<new_user>, 1> requests;
    // A single create's handler and key, or a batch's.
    std::variant<user_service::create_handler, user_service::batch_handler> done;
    std::variant<std::monostate, keyed_write<result<user>>, keyed_write<std::vector<result<user>>>> keyed;
};

struct pending_update {
    std::string client_id;
    user_ref ref;
    user_patch patch;  // already validated
    std::optional<std::string> if_match;
    user_service::update_handler done;
    std::optional<keyed_write<result<user>>> keyed;
};

struct pending_remove {
    std::string client_id;
    user_ref ref;
    std::optional<std::string> if_match;
    user_service::remove_handler done;
    std::optional<keyed_write<result<void>>> keyed;
};

// Group commit: the writer takes everything pending, gives each create an id, lets the store
// keep the first of each (client, external id) and write the batch once (one WAL sync), then
// answers every create: the user, CONFLICT, SERVICE_UNAVAILABLE if the write failed (a disk
// fault), or INTERNAL_ERROR if the index could not be read. The updates waiting with them
// follow in a write of their own, then the removals (requests pending together were
// concurrent: any order is one they could have had). The answer a keyed request keeps goes in
// the write of its change; its claim is released once that write is done.
// The batch is whatever is waiting; the writer never sleeps to fill it.
class commit_queue {
public:
    explicit commit_queue(store& s);
    // Answers everything already pushed, then joins the writer.
    ~commit_queue();
    commit_queue(const commit_queue&) = delete;
    commit_queue& operator=(const commit_queue&) = delete;

    void push(pending_create create);
    void push(pending_update update);
    void push(pending_remove remove);

    // Runs the store's probe write (store::probe_write) on the writer thread after the
    // creates pushed before it, and gives `done` its outcome there: every write to the store
    // comes from that one thread.
    void probe(std::function<void(result<void>)> done);

    histogram_snapshot batch_sizes() const { return batch_sizes_.snapshot(); }
    histogram_snapshot commit_seconds() const { return commit_seconds_.snapshot(); }

private:
    // Adds `item` to `queue` (one of the pending_ vectors) and wakes the writer.
    template <class T>
    void enqueue(std::vector<T>& queue, T item);
    void run();
    void commit(std::vector<pending_create>& batch);
    void update(std::vector<pending_update>& batch);
    void remove(std::vector<pending_remove>& batch);
    // Writes the batch with `apply`; if the store refuses it as stale, each of its changes alone,
    // each tried again while the store refuses it so, up to a few times.
    template <class Pending>
    void write_retrying(std::vector<Pending>& batch, bool (commit_queue::*apply)(std::vector<Pending>&, bool));
    // Read, decide, write and answer, unless the store refuses the write as stale (conflict: a
    // user changed since it was read) and it is not `last_try`: then it answers nothing and
    // returns false, to be tried again.
    bool apply_updates(std::vector<pending_update>& batch, bool last_try);
    bool apply_removes(std::vector<pending_remove>& batch, bool last_try);

    store& store_;
    ulid_generator ids_;  // used by the writer thread only
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<pending_create> pending_;
    std::vector<pending_update> pending_updates_;
    std::vector<pending_remove> pending_removes_;
    std::vector<std::function<void(result<void>)>> pending_probes_;
    bool stopping_ = false;
    atomic_histogram batch_sizes_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
    atomic_histogram commit_seconds_{duration_bounds()};
    std::thread writer_;  // last: starts once everything it uses exists
};

}  // namespace ozzie
