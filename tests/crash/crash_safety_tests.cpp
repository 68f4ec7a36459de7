// Crash safety of the real ozzie-server executable (issue 4, "Crash safety"; issue 9: updates
// and deletes).
//
// Each round: worker threads, each on its own keep-alive connection, send concurrent creates in
// which every external id is attempted by 2 or 3 threads at once (and some external ids of
// earlier rounds are attempted again, which may now be free). Between its creates each worker
// also changes users acknowledged earlier, in this round or an earlier one: PATCHes of name,
// email, phone, language and onboarding_stage (forward, and sometimes backward, which must be
// refused), PATCHes that move external ids (to a fresh id, which must succeed; to the id of
// another user, of an earlier user or of a create about to be sent, which may conflict; and
// rotations, one user's id to another just after the first gave it up), and DELETEs (of live
// users, and again of deleted ones, which must answer 404), by id or by external id. Each user
// is changed by one worker only in a round (the users are dealt out among the workers afresh
// every round, and a user created in the round belongs to the worker that got its 201), so the
// last answer a worker received for a user is that user's state; only external ids are shared,
// and where creates and moves of other workers race for one, only what is certain is asserted
// (a fresh id never conflicts; an id that another of the worker's own users holds always does).
// At a random moment the server is killed with SIGKILL, reaped, and restarted on the same data
// dir on a new port. Then, through HTTP:
//   - every user touched in the round (and a sample of older ones) reads by GET /v1/users/{id}
//     exactly as its last acknowledged answer left it (201 or 200 body; 204 or 404: gone). A
//     request the kill cut off (no answer) may have been applied or not: the user must read as
//     before it or as after it, all fields alike, never a mix;
//   - every external id involved (created, conflicted, given up, asked for, sampled) is looked
//     up by GET /v1/users/external:{ext}: it gives the one user whose state holds it, with that
//     state, and 404 if none does (an id given up and not taken again must not still resolve);
//     the one exception is a create the kill cut off, whose user may exist (it is then adopted);
//   - no two users hold one external id; an external id that got a 409 on create and that no
//     user ever gave up still exists; an external id acknowledged by two 201s was given up in
//     between.
// The RocksDB directory is also opened read-only and scanned directly (five column families,
// schema_version "2"), as the crash left it after every kill, and once more after the last
// round, when the server has been stopped gracefully (SIGTERM, exit status 0):
//   - every external_ids entry points at a user record of the same client and external id and
//     carries an exact copy of that record, and every record has its external_ids entry;
//   - the client_users list index has, for every record, exactly the entry of its current stage
//     under its client, and nothing else (no entry for a missing user, none
//     for a stage the user is not at);
//   - every user the answers established is on disk in its acknowledged state (or, after a kill
//     that cut a change off, in one of its two states), and no deleted user is; a record of a
//     user no answer showed may exist after a kill only for a create the kill cut off, and
//     after the final stop the records are exactly the users the answers and read-backs
//     established.
//
// Rounds: 20 by default, from a fixed seed per variant, so that CI runs the same rounds every
// time (same ids, secrets, changes and kill delays; the timing still differs). OZZIE_CRASH_ROUNDS=N,
// or `crash_tests -- --crash-rounds=N`, runs N rounds from a random seed, to explore;
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
#include <cstdio>
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
#include <utility>
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

constexpr unsigned worker_threads = 4;      // concurrent creators and changers, one connection each
constexpr unsigned verify_threads = 4;      // concurrent readers after each restart
constexpr int max_kill_delay_ms = 300;      // the kill comes 0..300 ms into the round
constexpr std::size_t old_users_checked_per_round = 64;  // older users re-read after each restart
constexpr std::size_t old_keys_checked_per_round = 64;   // older external ids looked up too
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

// FNV-1a: a hash of a text that is the same on every platform, so a seed replays anywhere.
std::uint64_t stable_hash(std::string_view s) {
    std::uint64_t h = 0xCBF29CE484222325ULL;
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    return h;
}

// ---------------------------------------------------------------------------------------------
// Clients, keys and users.

// A client id, its secret and its Authorization value.
using account = ozzie::testing::test_client;

// A user's identity as the API sees it: its client and its external id.
struct user_key {
    std::string client;
    std::string ext;
    auto operator<=>(const user_key&) const = default;
};

std::string describe(const user_key& k) { return k.client + "/'" + k.ext + "'"; }

constexpr const char* stage_names[] = {"intake_pending", "plan_pending", "active"};

// Everything the API shows of a user but its id.
struct user_state {
    std::string client;
    std::string ext;
    std::optional<std::string> name, email, phone;
    std::string language;
    int stage = 0;  // an index into stage_names
    std::string created_at;  // as the API writes it
    bool operator==(const user_state&) const = default;
    user_key key() const { return {client, ext}; }
};

// A state, or nullopt for a user that is gone.
using user_fate = std::optional<user_state>;

std::string text_or_null(const std::optional<std::string>& s) { return s ? "'" + *s + "'" : "null"; }

std::string describe(const user_state& u) {
    return describe(u.key()) + " {name " + text_or_null(u.name) + ", email " + text_or_null(u.email) +
           ", phone " + text_or_null(u.phone) + ", language " + u.language + ", " + stage_names[u.stage] +
           ", created " + u.created_at + "}";
}

std::string describe(const user_fate& fate) { return fate ? describe(*fate) : std::string("gone"); }

// A user as the answers established it.
struct tracked_user {
    std::string client;
    user_fate state;  // as the last acknowledged answer left it
    // Set when a change of this user got no answer (the kill came first): the fate it leaves if
    // the server applied it. Until a read-back settles which, either is right, and only they.
    std::optional<user_fate> pending;

    bool allows(const user_fate& fate) const {
        return fate == state || (pending && fate == *pending);
    }
    std::string describe_allowed() const {
        if (!pending || *pending == state) return "acknowledged as " + describe(state);
        return "acknowledged as " + describe(state) + ", or, by the change the kill cut off, " + describe(*pending);
    }
};

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

// The id and state of the user in a response body (a user of `client`); nullopt if the body is
// not a well-formed user.
std::optional<std::pair<std::string, user_state>> user_in(const json::value& body, const std::string& client) {
    if (!body.is_object()) return std::nullopt;
    const auto* data = body.as_object().if_contains("data");
    if (!data || !data->is_object()) return std::nullopt;
    const json::object& d = data->as_object();
    bool ok = true;
    const auto text = [&](std::string_view field) {
        const auto* v = d.if_contains(field);
        if (!v || !v->is_string()) {
            ok = false;
            return std::string{};
        }
        return std::string(v->as_string());
    };
    const auto nullable = [&](std::string_view field) -> std::optional<std::string> {
        const auto* v = d.if_contains(field);
        if (v && v->is_null()) return std::nullopt;
        if (!v || !v->is_string()) {
            ok = false;
            return std::nullopt;
        }
        return std::string(v->as_string());
    };
    std::pair<std::string, user_state> out;
    out.first = text("id");
    user_state& u = out.second;
    u.client = client;
    u.ext = text("external_user_id");
    u.name = nullable("name");
    u.email = nullable("email");
    u.phone = nullable("phone");
    u.language = text("language");
    const std::string stage = text("onboarding_stage");
    u.stage = static_cast<int>(std::find(std::begin(stage_names), std::end(stage_names), stage) - std::begin(stage_names));
    u.created_at = text("created_at");
    if (!ok || u.stage > 2 || !looks_like_user_id(out.first)) return std::nullopt;
    return out;
}

// ---------------------------------------------------------------------------------------------
// The on-disk format, decoded independently of the server's code from its documentation in
// source/storage/encoding.hpp.

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
    std::optional<std::string> optional() {
        const unsigned char present = byte();
        if (present == 1) return string();
        if (present != 0) ok_ = false;
        return std::nullopt;
    }

private:
    std::string_view in_;
    bool ok_ = true;
};

// Unix seconds as the API writes a time: "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_text(std::int64_t seconds) {
    const std::chrono::sys_seconds t{std::chrono::seconds{seconds}};
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss time{t - day};
    char out[64];
    std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return out;
}

std::optional<user_state> decode_user_value(std::string_view value) {
    value_reader in(value);
    if (in.byte() != 0x01) return std::nullopt;
    user_state u;
    u.client = in.string();
    u.ext = in.string();
    u.name = in.optional();
    u.email = in.optional();
    u.phone = in.optional();
    u.language = in.string();
    u.stage = in.byte();
    std::uint64_t created = 0;
    for (int i = 0; i < 8; ++i) created |= std::uint64_t{in.byte()} << (8 * i);
    u.created_at = utc_text(static_cast<std::int64_t>(created));
    if (!in.ok() || !in.at_end() || u.stage > 2 ||
        (u.language != "en" && u.language != "pt" && u.language != "es"))
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
        // Every user and every external id ever involved, read back after the last restart.
        std::vector<std::string> ids;
        for (const auto& [id, u] : users_) ids.push_back(id);
        verify(ids, std::vector<user_key>(all_keys_.begin(), all_keys_.end()), {},
               "after restart " + std::to_string(starts_ - 1));
        stop_gracefully();
        check_disk(read_disk("after the final graceful stop"), "after the final graceful stop", nullptr);
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

    // --- one round: what is sent ------------------------------------------------------------

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
    // (which must not collide); one slot in 8 re-attempts an external id of an earlier round
    // (which may have been given up since, and then the create succeeds).
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

    // The user a create of `key` in slot `i` asks for (created_at aside).
    static user_state create_request(const user_key& key, std::uint64_t i) {
        static constexpr const char* languages[] = {"en", "pt", "es"};
        user_state u;
        u.client = key.client;
        u.ext = key.ext;
        if (i % 3 != 0) u.name = "Crash Test " + std::to_string(i);
        if (i % 2 == 0) u.email = "u" + std::to_string(i) + "@example.com";
        if (i % 5 == 0) u.phone = "+1555" + std::to_string(1000000 + i % 1000000);
        u.language = languages[i % 3];
        return u;
    }

    static std::string create_body(const user_state& u) {
        json::object body;
        body["external_user_id"] = u.ext;
        if (u.name) body["name"] = *u.name;
        if (u.email) body["email"] = *u.email;
        if (u.phone) body["phone"] = *u.phone;
        body["language"] = u.language;
        return json::serialize(body);
    }

    // A PATCH: the fields it sets (a nullopt inside clears the field).
    struct patch_spec {
        std::optional<std::string> ext;
        std::optional<std::optional<std::string>> name, email, phone;
        std::optional<std::string> language;
        std::optional<int> stage;

        std::string body() const {
            json::object body;
            if (ext) body["external_user_id"] = *ext;
            for (const auto& [field, value] : {std::pair{"name", &name}, std::pair{"email", &email},
                                               std::pair{"phone", &phone}})
                if (*value) {
                    if (**value) body[field] = ***value;
                    else body[field] = nullptr;
                }
            if (language) body["language"] = *language;
            if (stage) body["onboarding_stage"] = stage_names[*stage];
            return json::serialize(body);
        }
        user_state applied_to(user_state u) const {
            if (ext) u.ext = *ext;
            if (name) u.name = *name;
            if (email) u.email = *email;
            if (phone) u.phone = *phone;
            if (language) u.language = *language;
            if (stage) u.stage = *stage;
            return u;
        }
    };

    // What a worker may be sure of about a PATCH that moves an external id: applied if the id is
    // fresh (nothing else in the round asks for it), conflict if another of the worker's own
    // users holds it (no one else moves that user); either if a create or another worker may
    // have taken it or given it up meanwhile.
    enum class move_outcome { applied, conflict, either };

    // Shared by the workers of a round, read-only while it runs.
    struct round_plan {
        unsigned round = 0;
        std::uint64_t seed = 0;
        std::vector<user_key> old_keys;                               // every external id so far
        std::map<std::string, std::vector<std::string>> live_exts;    // by client, at round start
    };

    // One worker's round. Only its worker touches it while the round runs.
    struct worker_log {
        std::map<std::string, tracked_user> users;  // its own: dealt out at round start, or created by it
        std::vector<std::string> own;               // the ids in `users`, to pick from
        std::vector<std::pair<user_key, std::string>> created;  // 201: key, id
        std::vector<user_key> conflicts;                         // 409 on create
        std::optional<user_key> unanswered_create;               // cut off by the kill
        std::set<std::string> touched;   // ids created, changed or asked about
        std::set<user_key> released;     // external ids a PATCH or DELETE sent may have given up
        std::set<user_key> involved;     // those, and the ones PATCHes asked for
        std::vector<std::string> violations;
        std::size_t fresh_ids = 0;
        std::size_t creates = 0, patches = 0, patches_applied = 0, patch_conflicts = 0, moves_applied = 0,
                    stage_moves_applied = 0, backward_refused = 0, deletes = 0, deletes_applied = 0,
                    gone_answered = 0;
    };

    // Sends one request; nullopt if no answer came (the server is gone: a violation unless the
    // kill was sent).
    static std::optional<http_response> send(http_client& client, http::verb verb, const std::string& target,
                                             const account& who, std::string body,
                                             const std::atomic<bool>& kill_sent, worker_log& log) {
        ozzie::testing::header_list headers = {{"Authorization", who.authorization()}};
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        try {
            return client.request(verb, target, headers, std::move(body));
        } catch (const std::exception& e) {
            if (!kill_sent)
                log.violations.push_back(std::string(http::to_string(verb)) + " " + target +
                                         " failed before the kill: " + e.what());
            return std::nullopt;
        }
    }

    // A create in slot `i`; false if the server is gone.
    bool create(http_client& client, const slot& s, std::uint64_t i, const std::atomic<bool>& kill_sent,
                worker_log& log) const {
        ++log.creates;
        const user_state asked = create_request(s.key, i);
        const auto res = send(client, http::verb::post, "/v1/users", account_named(s.key.client),
                              create_body(asked), kill_sent, log);
        if (!res) {
            log.unanswered_create = s.key;
            return false;
        }
        const auto body = parse_body(*res);
        if (res->result_int() == 201) {
            const auto got = user_in(body, s.key.client);
            if (!got) {
                log.violations.push_back("201 for " + describe(s.key) + " with a wrong body: " + excerpt(*res));
                return true;
            }
            user_state expected = asked;
            expected.created_at = got->second.created_at;
            if (got->second != expected || expected.created_at.empty())
                log.violations.push_back("201 for " + describe(s.key) + " gives " + describe(got->second) +
                                         ", not what was asked: " + describe(expected));
            log.created.emplace_back(s.key, got->first);
            log.users[got->first] = tracked_user{s.key.client, got->second, std::nullopt};
            log.own.push_back(got->first);
            log.touched.insert(got->first);
        } else if (res->result_int() == 409 && error_code_of(body) == "CONFLICT") {
            log.conflicts.push_back(s.key);
        } else {
            log.violations.push_back("create of " + describe(s.key) + " got neither 201 nor 409: " + excerpt(*res));
        }
        return true;
    }

    // The target of a request about user `id`: by id, or by its current external id.
    static std::string target_of(const std::string& id, const user_state& u, bool by_external) {
        return by_external ? external_target(u.ext) : "/v1/users/" + id;
    }

    // A PATCH of the worker's live user `id`; false if the server is gone.
    bool patch(http_client& client, const std::string& id, const patch_spec& spec, move_outcome certain,
               bool by_external, const std::atomic<bool>& kill_sent, worker_log& log) const {
        log.touched.insert(id);
        tracked_user& u = log.users.at(id);
        const user_state before = *u.state;
        const user_state after = spec.applied_to(before);
        const bool backwards = spec.stage && *spec.stage < before.stage;
        const bool moves = after.ext != before.ext;
        if (moves) {
            log.released.insert(before.key());
            log.involved.insert(before.key());
            log.involved.insert(after.key());
        }
        // An id another of this worker's users holds cannot be taken (no one else moves that user).
        if (moves && certain == move_outcome::either)
            for (const auto& [other, o] : log.users)
                if (other != id && o.state && o.state->key() == after.key()) certain = move_outcome::conflict;
        ++log.patches;
        const std::string what = "PATCH " + target_of(id, before, by_external) + " (user " + id + ", " +
                                 describe(before.key()) + ") with " + spec.body();
        const auto res = send(client, http::verb::patch, target_of(id, before, by_external),
                              account_named(before.client), spec.body(), kill_sent, log);
        if (!res) {
            if (!backwards) u.pending = user_fate(after);  // a backward move is refused either way
            return false;
        }
        const auto body = parse_body(*res);
        const auto status = res->result_int();
        if (status == 200) {
            const auto got = user_in(body, before.client);
            if (!got || got->first != id) {
                log.violations.push_back(what + ": 200 with a wrong body: " + excerpt(*res));
                u.pending = user_fate(after);  // unknown: accept it or not
                return true;
            }
            if (backwards)
                log.violations.push_back(what + ": 200 though it moves the stage backwards from " +
                                         stage_names[before.stage]);
            else if (moves && certain == move_outcome::conflict)
                log.violations.push_back(what + ": 200 though another user acknowledged earlier holds '" +
                                         after.ext + "' (two users for one external id?)");
            else if (got->second != after)
                log.violations.push_back(what + ": 200 with " + describe(got->second) + ", expected " +
                                         describe(after));
            u.state = got->second;  // what was acknowledged is what must survive
            ++log.patches_applied;
            if (moves) ++log.moves_applied;
            if (spec.stage && *spec.stage > before.stage) ++log.stage_moves_applied;
        } else if (status == 409 && error_code_of(body) == "CONFLICT") {
            // (A backward stage move with a taken id may be refused for either reason.)
            if (!moves || certain == move_outcome::applied)
                log.violations.push_back(what + ": 409 though " +
                                         (moves ? "no one else can hold '" + after.ext + "'"
                                                : std::string("the external id does not change")) +
                                         ": " + excerpt(*res));
            ++log.patch_conflicts;
        } else if (status == 400 && error_code_of(body) == "VALIDATION_ERROR" && backwards) {
            ++log.backward_refused;
        } else {
            log.violations.push_back(what + ": unexpected answer " + excerpt(*res) +
                                     (backwards ? " (expected 400: the stage moves backwards)" : ""));
            u.pending = user_fate(after);
        }
        return true;
    }

    // A DELETE of the worker's live user `id`; false if the server is gone.
    bool remove(http_client& client, const std::string& id, bool by_external, const std::atomic<bool>& kill_sent,
                worker_log& log) const {
        log.touched.insert(id);
        tracked_user& u = log.users.at(id);
        const user_state before = *u.state;
        log.released.insert(before.key());
        log.involved.insert(before.key());
        ++log.deletes;
        const std::string target = target_of(id, before, by_external);
        const auto res = send(client, http::verb::delete_, target, account_named(before.client), {}, kill_sent, log);
        if (!res) {
            u.pending = user_fate();
            return false;
        }
        if (res->result_int() == 204 && res->body().empty()) {
            u.state.reset();
            ++log.deletes_applied;
        } else {
            log.violations.push_back("DELETE " + target + " (user " + id + ", " + describe(before) +
                                     ", acknowledged before) answered " + excerpt(*res) + ", not 204");
            u.pending = user_fate();
        }
        return true;
    }

    // A DELETE or PATCH of the worker's deleted user `id`, by id: 404 it must be.
    bool ask_gone(http_client& client, const std::string& id, bool as_patch, const std::atomic<bool>& kill_sent,
                  worker_log& log) const {
        log.touched.insert(id);
        const tracked_user& u = log.users.at(id);
        const std::string target = "/v1/users/" + id;
        const auto res = send(client, as_patch ? http::verb::patch : http::verb::delete_, target,
                              account_named(u.client), as_patch ? R"({"name":"Back Again"})" : "", kill_sent, log);
        if (!res) return false;  // a refused request changes nothing, answered or not
        if (res->result_int() == 404 && error_code_of(parse_body(*res)) == "NOT_FOUND")
            ++log.gone_answered;
        else
            log.violations.push_back(std::string(as_patch ? "PATCH " : "DELETE ") + target +
                                     " of a user whose removal was acknowledged answered " + excerpt(*res) +
                                     ", not 404: it came back");
        return true;
    }

    // A new external id: no create of this round asks for it, and no other worker can pick it.
    static std::string fresh_ext(unsigned round, unsigned t, worker_log& log) {
        std::string ext = "crash-r" + std::to_string(round) + "-t" + std::to_string(t) + "-m" +
                          std::to_string(log.fresh_ids);
        if (log.fresh_ids++ % 5 == 0) ext += " é/%";  // needs percent-encoding in the path
        return ext;
    }

    // One change of one of the worker's users (two for a rotation); false if the server is gone.
    bool change_one(unsigned t, http_client& client, const round_plan& plan, std::uint64_t i,
                    std::mt19937_64& rng, const std::atomic<bool>& kill_sent, worker_log& log) const {
        const auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
        const std::string id = log.own[pick(log.own.size())];
        const tracked_user& u = log.users.at(id);
        if (!u.state) return ask_gone(client, id, pick(2) == 0, kill_sent, log);
        const user_state current = *u.state;
        const bool by_external = pick(5) == 0;
        const auto roll = pick(100);
        if (roll < 12) return remove(client, id, by_external, kill_sent, log);
        if (roll < 22) {
            // A rotation: this user takes a fresh id, and another of the worker's users, of the
            // same client, takes the one given up; a create or another worker may take it first.
            std::vector<std::string> partners;
            for (const auto& other : log.own) {
                const auto& o = log.users.at(other);
                if (other != id && o.state && o.client == current.client) partners.push_back(other);
            }
            if (!partners.empty()) {
                patch_spec away;
                away.ext = fresh_ext(plan.round, t, log);
                if (!patch(client, id, away, move_outcome::applied, by_external, kill_sent, log)) return false;
                if (log.users.at(id).state == current) return true;  // refused: nothing was given up
                patch_spec take;
                take.ext = current.ext;
                const std::string& partner = partners[pick(partners.size())];
                return patch(client, partner, take, move_outcome::either, pick(5) == 0, kill_sent, log);
            }
        }
        patch_spec spec;
        auto certain = move_outcome::either;
        if (pick(100) < 45) {
            const auto choice = pick(10);
            const auto& live = plan.live_exts.find(current.client);
            if (choice == 5) {  // another of this worker's users': a conflict for sure
                std::vector<std::string> held;
                for (const auto& [other, o] : log.users)
                    if (other != id && o.state && o.client == current.client) held.push_back(o.state->ext);
                if (!held.empty()) spec.ext = held[pick(held.size())];
            } else if (choice >= 3 && choice < 5 && live != plan.live_exts.end()) {
                // Another user's, as the round began: still held, unless its worker moved it.
                spec.ext = live->second[pick(live->second.size())];
            } else if (choice >= 6 && choice < 8) {  // an id of an earlier round: held, given up, or never stored
                for (int tries = 0; tries < 8 && !spec.ext && !plan.old_keys.empty(); ++tries) {
                    const auto& k = plan.old_keys[pick(plan.old_keys.size())];
                    if (k.client == current.client) spec.ext = k.ext;
                }
            } else if (choice >= 8) {  // one a create will ask for in a moment: a race with another worker
                for (std::uint64_t j = i + 1 + pick(16); !spec.ext; ++j) {
                    const slot s = make_slot(plan.seed, plan.round, j, plan.old_keys);
                    if (s.key.client == current.client) spec.ext = s.key.ext;
                }
            }
            if (!spec.ext) {  // a fresh one (and the other choices when they had nothing to pick)
                spec.ext = fresh_ext(plan.round, t, log);
                certain = move_outcome::applied;
            }
        }
        static constexpr const char* languages[] = {"en", "pt", "es"};
        if (const auto r = pick(10); r < 3) spec.name = std::optional<std::string>((r == 0 ? "Zoë " : "Renamed ") +
                                                                                   std::to_string(i));
        else if (r == 3) spec.name = std::optional<std::string>();
        if (const auto r = pick(10); r < 2) spec.email = std::optional<std::string>("p" + std::to_string(i) + "@example.org");
        else if (r == 2) spec.email = std::optional<std::string>();
        if (const auto r = pick(10); r == 0) spec.phone = std::optional<std::string>("+4420" + std::to_string(7000000 + i % 1000000));
        else if (r == 1) spec.phone = std::optional<std::string>();
        if (pick(4) == 0) spec.language = languages[pick(3)];
        if (pick(10) < 4) spec.stage = static_cast<int>(pick(3));  // forward, the same, or backward
        return patch(client, id, spec, certain, by_external, kill_sent, log);
    }

    void worker(unsigned t, http_client& client, const round_plan& plan, std::latch& go,
                const std::atomic<bool>& kill_sent, worker_log& log) const {
        go.arrive_and_wait();
        std::mt19937_64 rng(splitmix64(plan.seed ^ (0x9E3779B97F4A7C15ULL * (t + 1))));
        for (std::uint64_t i = 0; i < 10'000'000; ++i) {
            const slot s = make_slot(plan.seed, plan.round, i, plan.old_keys);
            if (!s.includes(t)) continue;
            if (!create(client, s, i, kill_sent, log)) break;
            // Two changes in three creates, on users this worker owns (it may have none yet).
            if (!log.own.empty() && rng() % 3 != 0 && !change_one(t, client, plan, i, rng, kill_sent, log)) break;
        }
    }

    // --- one round: the kill, and what the answers established ------------------------------

    void run_round(unsigned round) {
        round_plan plan;
        plan.round = round;
        plan.seed = splitmix64(seed_ ^ (0xA5A5A5A5ULL + round));
        plan.old_keys.assign(all_keys_.begin(), all_keys_.end());
        // The users are dealt out afresh each round: each is changed by one worker only.
        std::vector<worker_log> logs(worker_threads);
        for (const auto& [id, u] : users_) {
            auto& log = logs[splitmix64(stable_hash(id) ^ plan.seed) % worker_threads];
            log.users.emplace(id, u);
            log.own.push_back(id);
            if (u.state) plan.live_exts[u.client].push_back(u.state->ext);
        }
        std::atomic<bool> kill_sent{false};
        {
            std::vector<std::unique_ptr<http_client>> clients;
            for (unsigned t = 0; t < worker_threads; ++t)
                clients.push_back(std::make_unique<http_client>(server_->port()));
            std::latch go(worker_threads + 1);
            std::vector<std::jthread> threads;
            for (unsigned t = 0; t < worker_threads; ++t)
                threads.emplace_back([&, t] { worker(t, *clients[t], plan, go, kill_sent, logs[t]); });
            // One round in eight is killed almost at once, the others anywhere in the window.
            std::uniform_int_distribution<int> delay(0, max_kill_delay_ms);
            // Round 0 always runs a while, so that even one round has answers of every kind.
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
        const std::string during = "round " + std::to_string(round) + ": ";
        std::set<user_key> round_keys, unanswered;
        std::set<std::string> touched;
        std::size_t answers = 0;
        for (auto& log : logs) {
            for (auto& v : log.violations) violation(during + v);
            ever_released_.insert(log.released.begin(), log.released.end());
            round_keys.insert(log.involved.begin(), log.involved.end());
            touched.insert(log.touched.begin(), log.touched.end());
        }
        for (auto& log : logs) {
            for (const auto& [key, id] : log.created) {
                round_keys.insert(key);
                ++acknowledged_count_;
                if (users_.contains(id))
                    violation(during + "a 201 for " + describe(key) + " gave the id " + id + " of an earlier user");
                // A 201 says the id was free. After an earlier 201 (of this round or an earlier
                // one) or a 409 of an earlier round it was not, so a user gave it up in between.
                if ((created_keys_.contains(key) || conflicted_.contains(key)) && !ever_released_.contains(key))
                    violation(during + describe(key) + " got a 201 (" + id + ") though an earlier " +
                              (created_keys_.contains(key) ? "201" : "409") + " showed it taken and no user ever "
                              "gave it up (two users for one external id?)");
                created_keys_.insert(key);
            }
            for (const auto& [id, u] : log.users) {
                if (u.pending) {
                    ++changes_in_flight_;
                    touched.insert(id);  // so that a read-back settles it
                }
                users_[id] = u;
            }
            for (const auto& key : log.conflicts) round_keys.insert(key);
            if (log.unanswered_create) {
                round_keys.insert(*log.unanswered_create);
                unanswered.insert(*log.unanswered_create);
                ++unanswered_count_;
            }
            attempts_ += log.creates;
            conflict_count_ += log.conflicts.size();
            patches_ += log.patches;
            patches_applied_ += log.patches_applied;
            patch_conflicts_ += log.patch_conflicts;
            moves_applied_ += log.moves_applied;
            stage_moves_applied_ += log.stage_moves_applied;
            backward_refused_ += log.backward_refused;
            deletes_ += log.deletes;
            deletes_applied_ += log.deletes_applied;
            gone_answered_ += log.gone_answered;
            answers += log.created.size() + log.conflicts.size() + log.patches_applied + log.patch_conflicts +
                       log.backward_refused + log.deletes_applied + log.gone_answered;
        }
        for (const auto& log : logs) conflicted_.insert(log.conflicts.begin(), log.conflicts.end());
        all_keys_.insert(round_keys.begin(), round_keys.end());
        if (answers == 0) ++rounds_without_answers_;

        // The state the crash left, before the server recovers it.
        const std::string when = "after the kill of round " + std::to_string(round);
        check_disk(read_disk(when), when, &unanswered);

        start_server();

        // This round's users and external ids, and a sample of older ones.
        std::vector<std::string> ids(touched.begin(), touched.end());
        std::vector<std::string> older_ids;
        for (const auto& [id, u] : users_)
            if (!touched.contains(id)) older_ids.push_back(id);
        std::shuffle(older_ids.begin(), older_ids.end(), rng_);
        older_ids.resize(std::min(older_ids.size(), old_users_checked_per_round));
        ids.insert(ids.end(), older_ids.begin(), older_ids.end());
        for (const auto& id : ids)  // where each of them is now, and was before its change
            if (const auto& u = users_.at(id); u.state) round_keys.insert(u.state->key());
        std::vector<user_key> keys(round_keys.begin(), round_keys.end());
        std::vector<user_key> older_keys;
        for (const auto& key : all_keys_)
            if (!round_keys.contains(key)) older_keys.push_back(key);
        std::shuffle(older_keys.begin(), older_keys.end(), rng_);
        older_keys.resize(std::min(older_keys.size(), old_keys_checked_per_round));
        keys.insert(keys.end(), older_keys.begin(), older_keys.end());
        verify(ids, keys, unanswered, "after restart " + std::to_string(starts_ - 1));
        ++rounds_done_;
    }

    // --- checks through HTTP ---------------------------------------------------------------

    struct read_result {
        unsigned status = 0;
        std::string error_code;
        std::optional<std::pair<std::string, user_state>> user;
        std::string excerpt;
    };

    // GETs every target (client, path), on verify_threads connections at once; nullopt (and a
    // violation) if a connection failed.
    std::optional<std::vector<read_result>> read_all(const std::vector<std::pair<std::string, std::string>>& gets,
                                                      const std::string& when) {
        std::vector<read_result> results(gets.size());
        std::mutex mutex;
        std::vector<std::string> failures;
        std::atomic<std::size_t> next{0};
        {
            std::vector<std::jthread> threads;
            for (unsigned t = 0; t < verify_threads; ++t)
                threads.emplace_back([&] {
                    try {
                        http_client client(server_->port());
                        for (std::size_t i; (i = next++) < gets.size();) {
                            const auto& [who, target] = gets[i];
                            const auto res = client.request(http::verb::get, target,
                                                            {{"Authorization", account_named(who).authorization()}});
                            const auto body = parse_body(res);
                            results[i] = {res.result_int(), error_code_of(body), user_in(body, who), excerpt(res)};
                        }
                    } catch (const std::exception& e) {
                        std::lock_guard lock(mutex);
                        failures.push_back(std::string("reading back failed: ") + e.what());
                        next = gets.size();
                    }
                });
        }
        verify_requests_ += gets.size();
        if (!failures.empty()) {
            violation(when + ": " + failures.front());
            return std::nullopt;
        }
        return results;
    }

    // The fate a GET by id shows; nullopt (with a violation) if the answer is neither a user nor
    // a 404.
    std::optional<user_fate> fate_read(const read_result& r, const std::string& id, const std::string& when) {
        if (r.status == 404 && r.error_code == "NOT_FOUND") return user_fate();
        if (r.status == 200 && r.user && r.user->first == id) return user_fate(r.user->second);
        violation(when + ": GET /v1/users/" + id + ": " + r.excerpt);
        return std::nullopt;
    }

    // Reads every user in `ids` back by id, then every external id in `keys`; `unanswered`: the
    // creates of the round the kill cut off, whose users may exist without any answer.
    void verify(const std::vector<std::string>& ids, const std::vector<user_key>& keys,
                const std::set<user_key>& unanswered, const std::string& when) {
        // 1. By id: each user is as acknowledged, or as the change the kill cut off left it.
        std::vector<std::pair<std::string, std::string>> gets;
        for (const auto& id : ids) gets.emplace_back(users_.at(id).client, "/v1/users/" + id);
        const auto by_id = read_all(gets, when);
        if (!by_id) return;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            tracked_user& u = users_.at(ids[i]);
            const auto fate = fate_read((*by_id)[i], ids[i], when);
            if (!fate) continue;
            if (!u.allows(*fate))
                violation(when + ": user " + ids[i] + " reads as " + describe(*fate) + " but was " +
                          u.describe_allowed());
            else if (u.pending)
                ++(*fate == *u.pending ? cut_off_applied_ : cut_off_not_applied_);
            u.state = *fate;  // settled: what the server shows from now on
            u.pending.reset();
        }

        // 2. Who holds each external id now, as the users' states say.
        std::map<user_key, std::string> holders;
        for (const auto& [id, u] : users_) {
            if (u.pending || !u.state) continue;
            const auto [at, added] = holders.emplace(u.state->key(), id);
            if (!added)
                violation(when + ": two users hold " + describe(u.state->key()) + ": " + at->second + " and " + id);
        }

        // 3. By external id: its holder, else 404, else a user a cut-off create made.
        gets.clear();
        for (const auto& key : keys) gets.emplace_back(key.client, external_target(key.ext));
        const auto by_ext = read_all(gets, when);
        if (!by_ext) return;
        std::vector<std::pair<std::string, user_state>> adopted;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const auto& key = keys[i];
            const auto& r = (*by_ext)[i];
            const auto holder = holders.find(key);
            const std::string what = when + ": GET " + external_target(key.ext) + " (" + describe(key) + ")";
            if (r.status == 200 && r.user && r.user->second.key() == key) {
                const auto& [id, state] = *r.user;
                const auto known = users_.find(id);
                if (holder != holders.end() && holder->second != id)
                    violation(what + " gives " + id + " but user " + holder->second + " holds it (" +
                              describe(users_.at(holder->second).state) + ")");
                else if (holder != holders.end() && known->second.state != state)
                    violation(what + " gives " + describe(state) + " but GET by id gave " +
                              describe(known->second.state));
                else if (holder == holders.end() && known != users_.end())
                    violation(what + " still gives " + id + ", which is " + describe(known->second.state) +
                              " (an external id given up still resolves)");
                else if (holder == holders.end() && !unanswered.contains(key))
                    violation(what + " gives " + id + ", a user no answer showed");
                else if (holder == holders.end())
                    adopted.emplace_back(id, state);  // created by a create the kill cut off
            } else if (r.status == 404 && r.error_code == "NOT_FOUND") {
                if (holder != holders.end())
                    violation(what + " is 404 but user " + holder->second + " holds it: " +
                              describe(users_.at(holder->second).state));
            } else {
                violation(what + ": " + r.excerpt);
            }
        }

        // Users created though the kill cut their 201 off: read them by id too, and adopt them.
        gets.clear();
        for (const auto& [id, state] : adopted) gets.emplace_back(state.client, "/v1/users/" + id);
        const auto adopted_by_id = read_all(gets, when);
        for (std::size_t i = 0; i < adopted.size(); ++i) {
            const auto& [id, state] = adopted[i];
            const auto fate = adopted_by_id ? fate_read((*adopted_by_id)[i], id, when) : std::nullopt;
            if (fate && *fate != user_fate(state))
                violation(when + ": user " + id + " reads by external id as " + describe(state) + " but by id as " +
                          describe(*fate));
            if (!users_.emplace(id, tracked_user{state.client, state, std::nullopt}).second)
                violation(when + ": " + describe(state.key()) + " adopted twice as " + id);
            holders.emplace(state.key(), id);
            ++discovered_count_;
        }

        // A 409 on create said the id was held; if no user ever gave it up, someone still holds it.
        for (const auto& key : keys)
            if (conflicted_.contains(key) && !ever_released_.contains(key) && !holders.contains(key))
                violation(when + ": a create of " + describe(key) + " got 409 (so it existed), no user ever "
                          "gave it up, but no user holds it now: lost after the crash");
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

    // An entry of the list index: client_id + '\0' + scope + ULID.
    struct list_entry {
        std::string client;
        char scope;
        std::string ulid;
        auto operator<=>(const list_entry&) const = default;
    };

    // What the RocksDB directory holds, read directly (not through the server).
    struct disk_state {
        bool opened = false;
        std::string schema_version;
        std::map<std::string, user_state> users;  // "users": ULID -> record
        std::map<user_key, std::string> index;    // "external_ids": (client, ext) -> ULID (its value's start)
        std::set<list_entry> list;                // "client_users"
    };

    // Opens the data dir read-only with its column families and reads all of it. Problems
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
        if (families !=
            std::vector<std::string>{"client_users", "default", "external_ids", "idempotency", "meta", "users"}) {
            std::string list;
            for (const auto& f : families) list += " " + f;
            violation(when + ": unexpected column families:" + list);
        }
        const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
            {rocksdb::kDefaultColumnFamilyName, {}}, {"users", {}}, {"external_ids", {}}, {"client_users", {}},
            {"meta", {}}, {"idempotency", {}}};
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

        status = db.Get({}, handles[4], "schema_version", &disk.schema_version);
        if (!status.ok()) violation(when + ": meta/schema_version: " + status.ToString());

        std::map<std::string, std::string> records;  // ULID -> the value in "users", as stored
        std::unique_ptr<rocksdb::Iterator> users(db.NewIterator({}, handles[1]));
        for (users->SeekToFirst(); users->Valid(); users->Next()) {
            const std::string key = users->key().ToString();
            records.emplace(key, users->value().ToString());
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
            // The value: the ULID, then a copy of the user's record (a lookup by external id reads
            // only this), which must be the record's exact bytes.
            const std::string value = index->value().ToString();
            const std::string ulid = value.substr(0, 26);
            if (nul == std::string::npos)
                violation(when + ": external_ids holds a key without NUL: '" + key + "'");
            else
                disk.index.emplace(user_key{key.substr(0, nul), key.substr(nul + 1)}, ulid);
            if (const auto record = records.find(ulid); record != records.end() && value.substr(26) != record->second)
                violation(when + ": the external_ids entry '" + key + "' holds another record than user " + ulid);
        }
        if (!index->status().ok()) violation(when + ": external_ids scan: " + index->status().ToString());

        std::unique_ptr<rocksdb::Iterator> list(db.NewIterator({}, handles[3]));
        for (list->SeekToFirst(); list->Valid(); list->Next()) {
            const std::string key = list->key().ToString();
            const auto nul = key.find('\0');
            const std::string ulid = nul == std::string::npos ? std::string{} : key.substr(nul + 2);
            if (nul == std::string::npos || nul + 1 == key.size() || !looks_like_user_id("ozz_usr_" + ulid) ||
                !list->value().empty())
                violation(when + ": client_users holds a malformed entry: key '" + key + "', value '" +
                          list->value().ToString() + "'");
            else
                disk.list.insert({key.substr(0, nul), key[nul + 1], ulid});
        }
        if (!list->status().ok()) violation(when + ": client_users scan: " + list->status().ToString());
        return disk;
    }

    // The external_ids index, the list index and the records agree both ways, and every user
    // the answers established is there as they left it. `unanswered`: the keys of the creates
    // the kill cut off, whose records may be there unseen; null: the answers and read-backs
    // established every user, so the disk must hold exactly those.
    void check_disk(const disk_state& disk, const std::string& when, const std::set<user_key>* unanswered) {
        if (!disk.opened) return;
        ++disk_checks_;
        if (disk.schema_version != "2")
            violation(when + ": meta/schema_version is '" + disk.schema_version + "', not '2'");
        // No index entry without its record, and the record is of the same client and id.
        for (const auto& [key, ulid] : disk.index) {
            const auto u = disk.users.find(ulid);
            if (u == disk.users.end())
                violation(when + ": orphan index entry " + describe(key) + " -> " + ulid + ": no such user");
            else if (u->second.key() != key)
                violation(when + ": index entry " + describe(key) + " -> " + ulid + " whose record is " +
                          describe(u->second.key()));
        }
        // No record without its index entry, or whose entry points at another user.
        for (const auto& [ulid, u] : disk.users) {
            const auto entry = disk.index.find(u.key());
            if (entry == disk.index.end())
                violation(when + ": user " + ulid + " (" + describe(u.key()) + ") has no index entry");
            else if (entry->second != ulid)
                violation(when + ": user " + ulid + " (" + describe(u.key()) +
                          ") is shadowed: the index points at " + entry->second +
                          " (two users for one external id)");
        }
        // The list index: each record's entry for its stage, under its client, and nothing else.
        for (const auto& e : disk.list) {
            const std::string entry = "client_users entry " + e.client + "/'" + e.scope + "'/" + e.ulid;
            const auto u = disk.users.find(e.ulid);
            if (u == disk.users.end())
                violation(when + ": " + entry + " names no user (left behind by a delete?)");
            else if (u->second.client != e.client)
                violation(when + ": " + entry + " is under another client than its user " + describe(u->second));
            else if (e.scope != '0' + u->second.stage)
                violation(when + ": " + entry + (e.scope >= '0' && e.scope <= '2'
                                                     ? std::string(" is for stage ") + stage_names[e.scope - '0']
                                                     : std::string(" has an unknown scope")) +
                          " but the user is " + stage_names[u->second.stage] + " (left behind by a stage move?)");
        }
        for (const auto& [ulid, u] : disk.users)
            if (!disk.list.contains({u.client, static_cast<char>('0' + u.stage), ulid}))
                violation(when + ": user " + ulid + " (" + describe(u) + ") has no client_users entry for its stage");
        // Every user as the answers left it (or, with a change cut off, as it would leave it).
        std::size_t live = 0;
        for (const auto& [id, u] : users_) {
            const auto record = disk.users.find(id.substr(8));
            const user_fate on_disk = record == disk.users.end() ? user_fate() : user_fate(record->second);
            if (!u.allows(on_disk))
                violation(when + ": user " + id + " is on disk as " + describe(on_disk) + " but was " +
                          u.describe_allowed());
            if (u.state) ++live;
        }
        // No other user, but one a create the kill cut off may have made.
        for (const auto& [ulid, u] : disk.users)
            if (!users_.contains("ozz_usr_" + ulid) && !(unanswered && unanswered->contains(u.key())))
                violation(when + ": user " + ulid + " (" + describe(u) + ") is on disk though no answer or "
                          "read-back showed it");
        if (!unanswered) {
            users_on_disk_ = disk.users.size();
            index_on_disk_ = disk.index.size();
            list_on_disk_ = disk.list.size();
            live_users_ = live;
        }
    }

    void report() {
        BOOST_TEST_MESSAGE("crash test --sync " << (sync_ ? "true" : "false") << ", seed " << seed_
                           << ": rounds " << rounds_done_ << ", kills " << kills_ << ", server starts " << starts_
                           << "; creates sent " << attempts_ << ", acknowledged (201) " << acknowledged_count_
                           << ", conflicts (409) " << conflict_count_ << ", cut off by the kill " << unanswered_count_
                           << " (of which found stored " << discovered_count_ << ")"
                           << "; PATCHes sent " << patches_ << ", applied (200) " << patches_applied_
                           << " (external id moves " << moves_applied_ << ", stage moves " << stage_moves_applied_
                           << "), conflicts (409) " << patch_conflicts_ << ", backward stage moves refused (400) "
                           << backward_refused_ << "; DELETEs sent " << deletes_ << ", acknowledged (204) "
                           << deletes_applied_ << "; requests about removed users answered 404 " << gone_answered_
                           << "; changes cut off by the kill " << changes_in_flight_ << " (found applied "
                           << cut_off_applied_ << ", not applied " << cut_off_not_applied_ << ")"
                           << "; rounds killed before any answer " << rounds_without_answers_
                           << ", read-back requests " << verify_requests_ << ", direct scans of the data dir "
                           << disk_checks_ << "; at the end: users " << live_users_ << " live and "
                           << users_.size() - live_users_ << " removed, records on disk " << users_on_disk_
                           << ", external_ids entries " << index_on_disk_ << ", client_users entries "
                           << list_on_disk_ << "; violations " << violation_count_);
        for (const auto& [phase, list] : violations_) {
            BOOST_ERROR(list.size() << " violations " << phase << "; the first ones:");
            for (std::size_t i = 0; i < list.size() && i < max_reported_violations; ++i) BOOST_ERROR(list[i]);
        }
        BOOST_TEST(violation_count_ == 0u, violation_count_ << " crash-safety violations (seed " << seed_ << ")");
        if (violation_count_ == 0) {  // else the rounds stopped at the first evidence
            BOOST_TEST(rounds_done_ == rounds_);
            BOOST_TEST(kills_ == rounds_);
        }
        // The test proves little if no answer of some kind ever came.
        BOOST_TEST(acknowledged_count_ > 0);
        BOOST_TEST(conflict_count_ > 0);
        BOOST_TEST(moves_applied_ > 0);
        BOOST_TEST(stage_moves_applied_ > 0);
        BOOST_TEST(patch_conflicts_ > 0);
        BOOST_TEST(deletes_applied_ > 0);
        BOOST_TEST(users_on_disk_ == live_users_);
        BOOST_TEST(index_on_disk_ == live_users_);
        BOOST_TEST(list_on_disk_ == live_users_);
    }

    // --- members ---------------------------------------------------------------------------

    bool sync_;
    unsigned rounds_;
    std::uint64_t seed_;
    std::mt19937_64 rng_;
    ozzie::testing::server_files files_;  // before server_: removed after the server is gone
    std::vector<account> accounts_;
    std::optional<server_process> server_;

    std::map<std::string, tracked_user> users_;  // every user an answer or a read-back showed, by id
    std::set<user_key> all_keys_;       // every external id created, asked for or held
    std::set<user_key> created_keys_;   // got a 201 at least once
    std::set<user_key> conflicted_;     // got a 409 on create at least once
    std::set<user_key> ever_released_;  // a PATCH or DELETE that may have given it up was sent
    std::map<std::string, std::vector<std::string>> violations_;  // by phase
    std::size_t violation_count_ = 0;

    unsigned rounds_done_ = 0, kills_ = 0, starts_ = 0, rounds_without_answers_ = 0;
    std::size_t attempts_ = 0, acknowledged_count_ = 0, conflict_count_ = 0, unanswered_count_ = 0;
    std::size_t patches_ = 0, patches_applied_ = 0, patch_conflicts_ = 0, moves_applied_ = 0;
    std::size_t stage_moves_applied_ = 0, backward_refused_ = 0, deletes_ = 0, deletes_applied_ = 0;
    std::size_t gone_answered_ = 0, changes_in_flight_ = 0, cut_off_applied_ = 0, cut_off_not_applied_ = 0;
    std::size_t discovered_count_ = 0, verify_requests_ = 0, users_on_disk_ = 0, index_on_disk_ = 0;
    std::size_t list_on_disk_ = 0, live_users_ = 0, disk_checks_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_safety)

// The default: a change is answered only after its WAL write is fsynced.
BOOST_AUTO_TEST_CASE(acknowledged_changes_survive_sigkill_with_sync, *boost::unit_test::timeout(900)) {
    crash_test test(true, configured_rounds(), configured_seed(0x5EED'0001));
    test.run();
}

// --sync false: the WAL is written to the OS before the answer, which a process crash keeps.
BOOST_AUTO_TEST_CASE(acknowledged_changes_survive_sigkill_without_sync, *boost::unit_test::timeout(900)) {
    crash_test test(false, configured_rounds(), configured_seed(0x5EED'0002));
    test.run();
}

BOOST_AUTO_TEST_SUITE_END()
