// Crash safety of the real ozzie-server executable (issue 4, "Crash safety").
//
// Each round: worker threads, each on its own keep-alive connection, send concurrent creates in
// which every external id is attempted by 2 or 3 threads at once (and some ids of earlier rounds
// are attempted again); every 201 and 409 is recorded; at a random moment the server is killed
// with SIGKILL, reaped, and restarted on the same data dir on a new port. Then:
//   - every create that got a 201 is readable by GET /v1/users/{id} and by
//     GET /v1/users/external:{ext}, both giving the acknowledged id and external id;
//   - every external id that got a 409 exists (a 409 says the user exists; it must survive too);
//   - no external id was acknowledged twice, and none maps to anything but its acknowledged id.
// The RocksDB directory is also opened read-only and scanned directly, as the crash left it
// after every kill, and once more after the last round, when the server has been stopped
// gracefully (SIGTERM, exit status 0): every external_ids entry points at an existing user
// record of the same client and external id, every user record has its index entry, every
// acknowledged user is there with its id, and at the end the users on disk are exactly the
// ones the HTTP answers and read-backs established.
//
// Rounds: 20 by default, from a fixed seed per variant, so that CI runs the same rounds every
// time (same ids, secrets and kill delays; the timing still differs). OZZIE_CRASH_ROUNDS=N, or
// `crash_tests -- --crash-rounds=N`, runs N rounds from a random seed, to explore;
// OZZIE_CRASH_SEED=S (or -- --crash-seed=S) replays a seed. Every run prints the seed it used.
// Both variants run: --sync true (the default: fsync before answering) and --sync false (the WAL
// write alone, which must survive a process crash since the OS holds it).
#include "support/credentials.hpp"
#include "support/http_client.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace json = boost::json;
namespace http = ozzie::testing::http;
using namespace std::chrono_literals;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::server_process;

// ---------------------------------------------------------------------------------------------
// Settings.

constexpr unsigned worker_threads = 4;      // concurrent creators, one connection each
constexpr unsigned verify_threads = 4;      // concurrent readers after each restart
constexpr int max_kill_delay_ms = 300;      // the kill comes 0..300 ms into the round
constexpr std::size_t old_keys_checked_per_round = 64;  // older users re-read after each restart
constexpr std::size_t max_reported_violations = 12;  // per phase

// A value given as `--NAME=VALUE` after `--` on the command line, else in the environment.
std::optional<std::string> setting(std::string_view flag, const char* env) {
    const auto& suite = boost::unit_test::framework::master_test_suite();
    const std::string prefix = "--" + std::string(flag) + "=";
    for (int i = 1; i < suite.argc; ++i) {
        const std::string_view arg = suite.argv[i];
        if (arg.starts_with(prefix)) return std::string(arg.substr(prefix.size()));
    }
    if (const char* value = std::getenv(env); value && *value) return std::string(value);
    return std::nullopt;
}

unsigned configured_rounds() {
    const auto value = setting("crash-rounds", "OZZIE_CRASH_ROUNDS");
    if (!value) return 20;
    const unsigned long n = std::stoul(*value);
    if (n == 0 || n > 1'000'000) throw std::runtime_error("crash rounds must be 1 to 1000000");
    return static_cast<unsigned>(n);
}

// The seed given; else a random one if more rounds were asked for; else `fixed`.
std::uint64_t configured_seed(std::uint64_t fixed) {
    if (const auto value = setting("crash-seed", "OZZIE_CRASH_SEED")) return std::stoull(*value);
    if (!setting("crash-rounds", "OZZIE_CRASH_ROUNDS")) return fixed;
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
}

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// ---------------------------------------------------------------------------------------------
// Clients and keys.

// A client id, its secret and its Authorization value.
using account = ozzie::testing::test_client;

// A user's identity as the API sees it: its client and its external id.
struct user_key {
    std::string client;
    std::string ext;
    auto operator<=>(const user_key&) const = default;
};

std::string describe(const user_key& k) { return k.client + "/'" + k.ext + "'"; }

std::string percent_encode(std::string_view s) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0xF];
        }
    }
    return out;
}

std::string external_target(std::string_view ext) { return "/v1/users/external:" + percent_encode(ext); }

// The JSON body of a response, or null if it is not JSON.
json::value parse_body(const http_response& res) {
    boost::system::error_code ec;
    auto v = json::parse(res.body(), ec);
    return ec ? json::value{} : v;
}

// data.<field> of a user response as a string; empty if absent.
std::string data_field(const json::value& body, std::string_view field) {
    if (!body.is_object()) return {};
    const auto* data = body.as_object().if_contains("data");
    if (!data || !data->is_object()) return {};
    const auto* value = data->as_object().if_contains(field);
    if (!value || !value->is_string()) return {};
    return std::string(value->as_string());
}

std::string error_code_of(const json::value& body) {
    if (!body.is_object()) return {};
    const auto* error = body.as_object().if_contains("error");
    if (!error || !error->is_object()) return {};
    const auto* code = error->as_object().if_contains("code");
    return code && code->is_string() ? std::string(code->as_string()) : std::string{};
}

std::string excerpt(const http_response& res) {
    std::string body = res.body().substr(0, 300);
    return std::to_string(res.result_int()) + " " + body;
}

bool looks_like_user_id(std::string_view id) {
    constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    return id.size() == 34 && id.starts_with("ozz_usr_") &&
           id.substr(8).find_first_not_of(crockford) == std::string_view::npos;
}

// ---------------------------------------------------------------------------------------------
// The on-disk format, decoded independently of the server's code from its documentation in
// source/storage/encoding.hpp.

struct stored_user {
    std::string client;
    std::string ext;
};

class value_reader {
public:
    explicit value_reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return in_.empty(); }
    unsigned char byte() {
        if (in_.empty()) {
            ok_ = false;
            return 0;
        }
        const auto b = static_cast<unsigned char>(in_.front());
        in_.remove_prefix(1);
        return b;
    }
    std::string string() {
        std::uint32_t n = 0;
        for (int shift = 0; ok_; shift += 7) {
            const unsigned char b = byte();
            if (shift > 28) ok_ = false;
            n |= static_cast<std::uint32_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        if (!ok_ || n > in_.size()) {
            ok_ = false;
            return {};
        }
        std::string s(in_.substr(0, n));
        in_.remove_prefix(n);
        return s;
    }
    void optional() {
        const unsigned char present = byte();
        if (present == 1) string();
        else if (present != 0) ok_ = false;
    }

private:
    std::string_view in_;
    bool ok_ = true;
};

std::optional<stored_user> decode_user_value(std::string_view value) {
    value_reader in(value);
    if (in.byte() != 0x01) return std::nullopt;
    stored_user u;
    u.client = in.string();
    u.ext = in.string();
    in.optional();  // name
    in.optional();  // email
    in.optional();  // phone
    const std::string language = in.string();
    const unsigned char stage = in.byte();
    for (int i = 0; i < 8; ++i) in.byte();  // created_at
    if (!in.ok() || !in.at_end() || stage > 2 ||
        (language != "en" && language != "pt" && language != "es"))
        return std::nullopt;
    return u;
}

// ---------------------------------------------------------------------------------------------
// The state of one crash test across its rounds.

class crash_test {
public:
    crash_test(bool sync, unsigned rounds, std::uint64_t seed)
        : sync_(sync), rounds_(rounds), seed_(seed), rng_(seed) {
        accounts_.push_back(make_account("crash-a"));
        accounts_.push_back(make_account("crash-b"));
        ozzie::testing::write_clients_file(files_.clients_file(), accounts_);
    }

    void run() {
        BOOST_TEST_MESSAGE("crash test --sync " << (sync_ ? "true" : "false") << ": " << rounds_
                                                << " rounds, seed " << seed_);
        start_server();
        for (unsigned round = 0; round < rounds_; ++round) {
            run_round(round);
            if (violation_count_ > 0) break;  // enough evidence; the report follows
        }
        // Everything ever attempted, read back through HTTP after the last restart.
        std::vector<user_key> all(attempted_.begin(), attempted_.end());
        verify(all);
        stop_gracefully();
        check_disk(read_disk("after the final graceful stop"), "after the final graceful stop", true);
        report();
    }

private:
    // --- setup -----------------------------------------------------------------------------

    account make_account(std::string id) {
        std::uniform_int_distribution<int> digit(0, 15);
        std::string secret;
        for (int i = 0; i < 40; ++i) secret += "0123456789abcdef"[digit(rng_)];
        return account{std::move(id), std::move(secret)};
    }

    const account& account_named(std::string_view id) const {
        for (const auto& a : accounts_)
            if (a.id == id) return a;
        throw std::logic_error("no such account");
    }

    void start_server() {
        server_.reset();
        server_.emplace(ozzie::testing::process_options(files_, {"--sync", sync_ ? "true" : "false", "--threads", "2"}));
        ++starts_;
    }

    std::string log_tail() const {
        const std::string log = ozzie::testing::read_whole_file(files_.log_file());
        return log.size() > 3000 ? "..." + log.substr(log.size() - 3000) : log;
    }

    // Records a failed check; report() prints them grouped by the phase they were found in.
    void violation(std::string what) {
        const auto phase = what.starts_with("after the kill")   ? "on disk right after a kill"
                           : what.starts_with("after restart")  ? "read back through HTTP after a restart"
                           : what.starts_with("after the final") ? "on disk after the final graceful stop"
                                                                 : "answers during the rounds";
        violations_[phase].push_back(std::move(what));
        ++violation_count_;
    }

    // --- one round -------------------------------------------------------------------------

    // What slot `i` of a round asks: a create of `key`, by the threads first..first+count-1.
    struct slot {
        user_key key;
        unsigned first_thread;
        unsigned thread_count;
        bool includes(unsigned t) const {
            return (t + worker_threads - first_thread) % worker_threads < thread_count;
        }
    };

    // Slots are a pure function of (round seed, index), so the threads agree on them without
    // sharing anything. Pairs of slots 2j, 2j+1 use the same external id under the two clients
    // (which must not collide); one slot in 8 re-attempts an external id of an earlier round.
    slot make_slot(std::uint64_t round_seed, unsigned round, std::uint64_t i,
                   const std::vector<user_key>& old_keys) const {
        const std::uint64_t h = splitmix64(round_seed ^ (i * 0xD1B54A32D192ED03ULL));
        slot s;
        s.thread_count = 2 + static_cast<unsigned>(h % 2);
        s.first_thread = static_cast<unsigned>((h >> 8) % worker_threads);
        if (!old_keys.empty() && (h >> 16) % 8 == 0) {
            s.key = old_keys[(h >> 24) % old_keys.size()];
            return s;
        }
        const std::uint64_t pair = i / 2;
        const std::uint64_t ph = splitmix64(round_seed + pair);
        s.key.client = accounts_[i % 2].id;
        s.key.ext = "crash-r" + std::to_string(round) + "-" + std::to_string(pair);
        if (ph % 6 == 0) s.key.ext += " x/ü";  // needs percent-encoding in the path
        return s;
    }

    static std::string create_body(const user_key& key, std::uint64_t i) {
        json::object body;
        body["external_user_id"] = key.ext;
        if (i % 3 != 0) body["name"] = "Crash Test " + std::to_string(i);
        if (i % 2 == 0) body["email"] = "u" + std::to_string(i) + "@example.com";
        if (i % 5 == 0) body["phone"] = "+1555" + std::to_string(1000000 + i % 1000000);
        static constexpr const char* languages[] = {"en", "pt", "es"};
        body["language"] = languages[i % 3];
        return json::serialize(body);
    }

    struct round_log {
        std::mutex mutex;
        std::vector<std::pair<user_key, std::string>> acknowledged;  // 201: key, id
        std::vector<user_key> conflicts;                             // 409
        std::vector<user_key> unanswered;                            // no answer: killed
        std::vector<std::string> violations;
        std::size_t attempts = 0;
    };

    void worker(unsigned t, http_client& client, std::uint64_t round_seed, unsigned round,
                const std::vector<user_key>& old_keys, std::latch& go,
                const std::atomic<bool>& kill_sent, round_log& log) {
        go.arrive_and_wait();
        std::size_t attempts = 0;
        for (std::uint64_t i = 0; i < 10'000'000; ++i) {
            const slot s = make_slot(round_seed, round, i, old_keys);
            if (!s.includes(t)) continue;
            ++attempts;
            const auto& who = account_named(s.key.client);
            http_response res;
            try {
                res = client.request(http::verb::post, "/v1/users",
                                     {{"Authorization", who.authorization()},
                                      {"Content-Type", "application/json"}},
                                     create_body(s.key, i));
            } catch (const std::exception& e) {
                std::lock_guard lock(log.mutex);
                log.unanswered.push_back(s.key);
                if (!kill_sent)
                    log.violations.push_back("create of " + describe(s.key) +
                                             " failed before the kill: " + e.what());
                break;  // the server is gone
            }
            const auto body = parse_body(res);
            std::lock_guard lock(log.mutex);
            if (res.result_int() == 201) {
                const std::string id = data_field(body, "id");
                if (!looks_like_user_id(id) || data_field(body, "external_user_id") != s.key.ext)
                    log.violations.push_back("201 for " + describe(s.key) +
                                             " with a wrong body: " + excerpt(res));
                else
                    log.acknowledged.emplace_back(s.key, id);
            } else if (res.result_int() == 409 && error_code_of(body) == "CONFLICT") {
                log.conflicts.push_back(s.key);
            } else {
                log.violations.push_back("create of " + describe(s.key) +
                                         " got neither 201 nor 409: " + excerpt(res));
            }
        }
        std::lock_guard lock(log.mutex);
        log.attempts += attempts;
    }

    void run_round(unsigned round) {
        const std::uint64_t round_seed = splitmix64(seed_ ^ (0xA5A5A5A5ULL + round));
        const std::vector<user_key> old_keys(attempted_.begin(), attempted_.end());
        round_log log;
        std::atomic<bool> kill_sent{false};
        {
            std::vector<std::unique_ptr<http_client>> clients;
            for (unsigned t = 0; t < worker_threads; ++t)
                clients.push_back(std::make_unique<http_client>(server_->port()));
            std::latch go(worker_threads + 1);
            std::vector<std::jthread> threads;
            for (unsigned t = 0; t < worker_threads; ++t)
                threads.emplace_back([&, t] {
                    worker(t, *clients[t], round_seed, round, old_keys, go, kill_sent, log);
                });
            // One round in eight is killed almost at once, the others anywhere in the window.
            std::uniform_int_distribution<int> delay(0, max_kill_delay_ms);
            // Round 0 always runs a while, so that even one round has answers of both kinds.
            const int ms = round == 0 ? std::uniform_int_distribution<int>(max_kill_delay_ms / 2, max_kill_delay_ms)(rng_)
                           : std::uniform_int_distribution<int>(0, 7)(rng_) == 0
                               ? std::uniform_int_distribution<int>(0, 3)(rng_)
                               : delay(rng_);
            go.arrive_and_wait();
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            kill_sent = true;
            server_->signal(SIGKILL);
            const auto status = server_->wait(60s);
            if (!status) throw std::runtime_error("the server did not die of SIGKILL within 60 s");
            ++kills_;
            if (!(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL))
                violation("round " + std::to_string(round) + ": the server " +
                          ozzie::testing::describe_status(*status) +
                          " before it was killed; its log:\n" + log_tail());
        }  // threads joined, connections closed

        // What the clients were told.
        std::set<user_key> round_keys;
        for (auto& v : log.violations) violation("round " + std::to_string(round) + ": " + v);
        for (const auto& [key, id] : log.acknowledged) {
            round_keys.insert(key);
            ++acknowledged_count_;
            if (const auto it = acknowledged_.find(key); it != acknowledged_.end())
                violation("round " + std::to_string(round) + ": " + describe(key) +
                          " got a second 201 (" + id + ") after " + it->second);
            else if (const auto known = known_.find(key); known != known_.end() && known->second != id)
                violation("round " + std::to_string(round) + ": " + describe(key) +
                          " got a 201 with " + id + " but was already stored as " + known->second);
            acknowledged_.emplace(key, id);
            known_.emplace(key, id);
        }
        for (const auto& key : log.conflicts) {
            round_keys.insert(key);
            conflicted_.insert(key);
            ++conflict_count_;
        }
        for (const auto& key : log.unanswered) {
            round_keys.insert(key);
            ++unanswered_count_;
        }
        attempts_ += log.attempts;
        attempted_.insert(round_keys.begin(), round_keys.end());
        if (log.attempts > 0 && log.acknowledged.empty() && log.conflicts.empty()) ++rounds_without_answers_;

        // The state the crash left, before the server recovers it.
        const std::string when = "after the kill of round " + std::to_string(round);
        check_disk(read_disk(when), when, false);

        start_server();

        // This round's keys, and a sample of the users acknowledged before it.
        std::vector<user_key> keys(round_keys.begin(), round_keys.end());
        std::vector<user_key> older;
        for (const auto& [key, id] : acknowledged_)
            if (!round_keys.contains(key)) older.push_back(key);
        std::shuffle(older.begin(), older.end(), rng_);
        older.resize(std::min(older.size(), old_keys_checked_per_round));
        keys.insert(keys.end(), older.begin(), older.end());
        verify(keys);
        ++rounds_done_;
    }

    // --- checks through HTTP ---------------------------------------------------------------

    struct verify_log {
        std::mutex mutex;
        std::vector<std::string> violations;
        std::vector<std::pair<user_key, std::string>> discovered;  // stored, answer lost
        std::size_t requests = 0;
    };

    // Reads every key back, by external id and (when the id is known) by id.
    void check_key(http_client& client, const user_key& key, verify_log& log) const {
        const auto& who = account_named(key.client);
        const ozzie::testing::header_list auth = {{"Authorization", who.authorization()}};
        const auto acked = acknowledged_.find(key);
        const auto known = known_.find(key);
        std::vector<std::string> problems;
        std::optional<std::string> found;

        const auto by_ext = client.request(http::verb::get, external_target(key.ext), auth);
        const auto ext_body = parse_body(by_ext);
        if (by_ext.result_int() == 200) {
            const std::string id = data_field(ext_body, "id");
            if (data_field(ext_body, "external_user_id") != key.ext || !looks_like_user_id(id))
                problems.push_back("GET by external id gave a wrong body: " + excerpt(by_ext));
            else if (known != known_.end() && known->second != id)
                problems.push_back("GET by external id gives " + id + " but " +
                                   (acked != acknowledged_.end() ? "the 201 acknowledged "
                                                                 : "it was read before as ") +
                                   known->second + " (two users for one external id?)");
            else
                found = id;
        } else if (by_ext.result_int() == 404) {
            if (acked != acknowledged_.end())
                problems.push_back("acknowledged (201, " + acked->second +
                                   ") but GET by external id is 404: lost after the crash");
            else if (known != known_.end())
                problems.push_back("was stored as " + known->second +
                                   " but GET by external id is now 404");
            else if (conflicted_.contains(key))
                problems.push_back("a create got 409 (so it existed) but GET by external id is 404 "
                                   "after the crash");
        } else {
            problems.push_back("GET by external id: " + excerpt(by_ext));
        }

        // By id: the acknowledged (or earlier seen) id, else the one just found.
        const std::string id = known != known_.end() ? known->second : found.value_or("");
        if (!id.empty()) {
            const auto by_id = client.request(http::verb::get, "/v1/users/" + id, auth);
            const auto id_body = parse_body(by_id);
            if (by_id.result_int() != 200)
                problems.push_back("GET /v1/users/" + id + ": " + excerpt(by_id) +
                                   (acked != acknowledged_.end() ? " (acknowledged with a 201)" : ""));
            else if (data_field(id_body, "id") != id ||
                     data_field(id_body, "external_user_id") != key.ext)
                problems.push_back("GET /v1/users/" + id + " gave another user: " + excerpt(by_id));
        }

        std::lock_guard lock(log.mutex);
        log.requests += id.empty() ? 1 : 2;
        for (auto& p : problems) log.violations.push_back(describe(key) + ": " + p);
        if (found && known == known_.end()) log.discovered.emplace_back(key, *found);
    }

    void verify(const std::vector<user_key>& keys) {
        verify_log log;
        std::atomic<std::size_t> next{0};
        {
            std::vector<std::jthread> threads;
            for (unsigned t = 0; t < verify_threads; ++t)
                threads.emplace_back([&] {
                    try {
                        http_client client(server_->port());
                        for (std::size_t i; (i = next++) < keys.size();) check_key(client, keys[i], log);
                    } catch (const std::exception& e) {
                        std::lock_guard lock(log.mutex);
                        log.violations.push_back(std::string("reading back failed: ") + e.what());
                        next = keys.size();
                    }
                });
        }
        verify_requests_ += log.requests;
        for (auto& v : log.violations) violation("after restart " + std::to_string(starts_ - 1) + ": " + v);
        for (auto& [key, id] : log.discovered) {
            known_.emplace(key, id);
            ++discovered_count_;
        }
    }

    // --- graceful stop and the scan of the data dir ----------------------------------------

    void stop_gracefully() {
        server_->signal(SIGTERM);
        const auto status = server_->wait(60s);
        BOOST_TEST_REQUIRE(status.has_value(), "the server did not exit within 60 s of SIGTERM");
        BOOST_TEST((WIFEXITED(*status) && WEXITSTATUS(*status) == 0),
                   "after SIGTERM the server " << ozzie::testing::describe_status(*status)
                                               << "; log:\n" << log_tail());
        BOOST_TEST(ozzie::testing::log_says_stopped(server_->new_log()), "no 'stopped' line:\n" << log_tail());
        server_.reset();
    }

    // What the RocksDB directory holds, read directly (not through the server).
    struct disk_state {
        bool opened = false;
        std::string schema_version;
        std::map<std::string, stored_user> users;  // "users": ULID -> record
        std::map<user_key, std::string> index;     // "external_ids": (client, ext) -> ULID
    };

    // Opens the data dir read-only with its four column families and reads all of it. Problems
    // are violations, named by `when`.
    disk_state read_disk(const std::string& when) {
        disk_state disk;
        const std::string path = files_.data_dir().string();
        std::vector<std::string> families;
        auto status = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, path, &families);
        if (!status.ok()) {
            violation(when + ": ListColumnFamilies: " + status.ToString());
            return disk;
        }
        std::sort(families.begin(), families.end());
        if (families != std::vector<std::string>{"default", "external_ids", "meta", "users"}) {
            std::string list;
            for (const auto& f : families) list += " " + f;
            violation(when + ": unexpected column families:" + list);
        }
        const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
            {rocksdb::kDefaultColumnFamilyName, {}}, {"users", {}}, {"external_ids", {}}, {"meta", {}}};
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* raw = nullptr;
        status = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, path, descriptors, &handles, &raw);
        if (!status.ok()) {
            violation(when + ": OpenForReadOnly: " + status.ToString());
            return disk;
        }
        struct closer {
            rocksdb::DB* db;
            std::vector<rocksdb::ColumnFamilyHandle*>& handles;
            ~closer() {
                for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
                db->Close();
                delete db;
            }
        } close{raw, handles};
        rocksdb::DB& db = *raw;
        disk.opened = true;

        status = db.Get({}, handles[3], "schema_version", &disk.schema_version);
        if (!status.ok()) violation(when + ": meta/schema_version: " + status.ToString());

        std::unique_ptr<rocksdb::Iterator> users(db.NewIterator({}, handles[1]));
        for (users->SeekToFirst(); users->Valid(); users->Next()) {
            const std::string key = users->key().ToString();
            const auto decoded = decode_user_value(users->value().ToStringView());
            if (!looks_like_user_id("ozz_usr_" + key))
                violation(when + ": users holds a key that is not a ULID: '" + key + "'");
            if (!decoded)
                violation(when + ": the record of user " + key + " does not decode");
            else
                disk.users.emplace(key, *decoded);
        }
        if (!users->status().ok()) violation(when + ": users scan: " + users->status().ToString());

        std::unique_ptr<rocksdb::Iterator> index(db.NewIterator({}, handles[2]));
        for (index->SeekToFirst(); index->Valid(); index->Next()) {
            const std::string key = index->key().ToString();
            const auto nul = key.find('\0');
            if (nul == std::string::npos)
                violation(when + ": external_ids holds a key without NUL: '" + key + "'");
            else
                disk.index.emplace(user_key{key.substr(0, nul), key.substr(nul + 1)}, index->value().ToString());
        }
        if (!index->status().ok()) violation(when + ": external_ids scan: " + index->status().ToString());
        return disk;
    }

    // The index and the records agree both ways, and every user established so far is there
    // with its id. `complete`: the answers and read-backs established every user, so the disk
    // must hold exactly those.
    void check_disk(const disk_state& disk, const std::string& when, bool complete) {
        if (!disk.opened) return;
        ++disk_checks_;
        if (disk.schema_version != "1")
            violation(when + ": meta/schema_version is '" + disk.schema_version + "', not '1'");
        // No index entry without its record, and the record is of the same client and id.
        for (const auto& [key, ulid] : disk.index) {
            const auto u = disk.users.find(ulid);
            if (u == disk.users.end())
                violation(when + ": orphan index entry " + describe(key) + " -> " + ulid + ": no such user");
            else if (u->second.client != key.client || u->second.ext != key.ext)
                violation(when + ": index entry " + describe(key) + " -> " + ulid + " whose record is " +
                          describe({u->second.client, u->second.ext}));
        }
        // No record without its index entry, or whose entry points at another user.
        for (const auto& [ulid, u] : disk.users) {
            const auto entry = disk.index.find({u.client, u.ext});
            if (entry == disk.index.end())
                violation(when + ": user " + ulid + " (" + describe({u.client, u.ext}) + ") has no index entry");
            else if (entry->second != ulid)
                violation(when + ": user " + ulid + " (" + describe({u.client, u.ext}) +
                          ") is shadowed: the index points at " + entry->second +
                          " (two users for one external id)");
        }
        // Every user acknowledged (or found) so far, with its id.
        for (const auto& [key, id] : known_) {
            const auto entry = disk.index.find(key);
            if (entry == disk.index.end())
                violation(when + ": " + describe(key) + " (" + id + ") is not on disk" +
                          (acknowledged_.contains(key) ? " though a 201 acknowledged it" : ""));
            else if ("ozz_usr_" + entry->second != id)
                violation(when + ": on disk " + describe(key) + " maps to " + entry->second + ", not " + id);
        }
        if (complete) {
            for (const auto& [key, ulid] : disk.index)
                if (!known_.contains(key))
                    violation(when + ": on disk " + describe(key) + " -> " + ulid +
                              " exists though no answer or read-back showed it");
            users_on_disk_ = disk.users.size();
            index_on_disk_ = disk.index.size();
        }
    }

    void report() {
        BOOST_TEST_MESSAGE("crash test --sync " << (sync_ ? "true" : "false") << ", seed " << seed_
                           << ": rounds " << rounds_done_ << ", kills " << kills_ << ", server starts "
                           << starts_ << ", creates sent " << attempts_ << ", acknowledged (201) "
                           << acknowledged_count_ << ", conflicts (409) " << conflict_count_
                           << ", unanswered at the kill " << unanswered_count_
                           << " (of which found stored " << discovered_count_ << ")"
                           << ", rounds killed before any answer " << rounds_without_answers_
                           << ", read-back requests " << verify_requests_ << ", direct scans of the data dir "
                           << disk_checks_ << ", users on disk at the end " << users_on_disk_
                           << ", index entries " << index_on_disk_
                           << ", violations " << violation_count_);
        for (const auto& [phase, list] : violations_) {
            BOOST_ERROR(list.size() << " violations " << phase << "; the first ones:");
            for (std::size_t i = 0; i < list.size() && i < max_reported_violations; ++i) BOOST_ERROR(list[i]);
        }
        BOOST_TEST(violation_count_ == 0u, violation_count_ << " crash-safety violations (seed " << seed_ << ")");
        if (violation_count_ == 0) {  // else the rounds stopped at the first evidence
            BOOST_TEST(rounds_done_ == rounds_);
            BOOST_TEST(kills_ == rounds_);
        }
        // The test proves nothing if no create was ever acknowledged or refused as a duplicate.
        BOOST_TEST(acknowledged_count_ > 0);
        BOOST_TEST(conflict_count_ > 0);
        BOOST_TEST(users_on_disk_ == known_.size());
    }

    // --- members ---------------------------------------------------------------------------

    bool sync_;
    unsigned rounds_;
    std::uint64_t seed_;
    std::mt19937_64 rng_;
    ozzie::testing::server_files files_;  // before server_: removed after the server is gone
    std::vector<account> accounts_;
    std::optional<server_process> server_;

    std::map<user_key, std::string> acknowledged_;  // got a 201: the id it gave
    std::map<user_key, std::string> known_;         // acknowledged, or found stored after a kill
    std::set<user_key> conflicted_;                 // got a 409 at least once
    std::set<user_key> attempted_;
    std::map<std::string, std::vector<std::string>> violations_;  // by phase
    std::size_t violation_count_ = 0;

    unsigned rounds_done_ = 0, kills_ = 0, starts_ = 0, rounds_without_answers_ = 0;
    std::size_t attempts_ = 0, acknowledged_count_ = 0, conflict_count_ = 0, unanswered_count_ = 0;
    std::size_t discovered_count_ = 0, verify_requests_ = 0, users_on_disk_ = 0, index_on_disk_ = 0;
    std::size_t disk_checks_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_safety)

// The default: a create is answered only after its WAL write is fsynced.
BOOST_AUTO_TEST_CASE(acknowledged_creates_survive_sigkill_with_sync, *boost::unit_test::timeout(900)) {
    crash_test test(true, configured_rounds(), configured_seed(0x5EED'0001));
    test.run();
}

// --sync false: the WAL is written to the OS before the answer, which a process crash keeps.
BOOST_AUTO_TEST_CASE(acknowledged_creates_survive_sigkill_without_sync, *boost::unit_test::timeout(900)) {
    crash_test test(false, configured_rounds(), configured_seed(0x5EED'0002));
    test.run();
}

BOOST_AUTO_TEST_SUITE_END()
