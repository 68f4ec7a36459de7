// Crash safety of the real ozzie-server executable (issue 4, "Crash safety"; issue 9: updates
// and deletes; issue 10: Idempotency-Key and batches).
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
// The RocksDB directory is also opened read-only and scanned directly (six column families,
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
// Safe retries (issue 10). A share of the creates carry an Idempotency-Key (every thread of a
// slot its own), and so do a share of the PATCHes and DELETEs (and of the requests about removed
// users), each key used once; now and then a worker also sends POST /v1/users/batch, mostly with
// a key, of fresh external ids whose answers are certain (each created, but an input repeating an
// earlier one's id, or asking for the id of another of the worker's users: 409). Every keyed
// request is remembered with the answer it got, which the store must keep byte for byte (status,
// Location, ETag, body) unless it is one never kept (400). The scan of the data dir after each
// kill also reads the "idempotency" column family:
//   - every record decodes, is under the client that sent its key, and is not of a key no request
//     used; the answer of every acknowledged keyed request is there exactly as it was answered,
//     and none of one answered 400;
//   - a keyed request the kill cut off has its answer kept if and only if its effect is on disk,
//     all or nothing: a kept 201 of a create names a user on disk with that request's external id
//     and fields (a user no answer showed that only keyed cut-off creates asked for must be named
//     by one of their kept answers); a kept 200 of a PATCH is the user's state on disk, and with
//     no kept answer (or a kept 409 or 404) the user is on disk as before it; a kept 204 of a
//     DELETE, and the user is gone, else it is there; a batch's kept answer names every user it
//     created, on disk, and without it none of its external ids is held (a batch without a key
//     too: all of its users or none).
// After the restart and the read-back, every keyed request of the round the kill cut off is sent
// again with the same key, target and body, one at a time: it must replay, with
// `Idempotent-Replayed: true`, exactly the answer the scan found kept (and the users it names
// exist as it names them), and if none was kept it is processed afresh, never replayed: a create
// then answers 201 exactly when no user holds its external id and 409 exactly when one does, a
// PATCH or DELETE finds its user as before it, and the model takes the new answers as
// acknowledged. So is every keyed request of the round answered 400 (a backward stage move, an
// answer never kept) that still names its user: processed afresh, 400 again (or 404, then kept,
// if the user is gone since). Then every keyed request of the round whose answer is kept, and a
// sample of older ones (all of them after the last round), is sent again: it must replay its
// first answer byte for byte (a keyed create acknowledged with 201 gives the same user, never a
// second one), and some are also sent with the same key and another body, which must answer 422
// IDEMPOTENCY_KEY_REUSED and change nothing (the next scan would show a change).
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
constexpr std::size_t old_keyed_retried_per_round = 64;  // older keyed requests sent again too
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

// An answer as a write made with an Idempotency-Key keeps it for its retries, which must answer
// it again byte for byte: its status, the headers the server keeps (Location, ETag) and its body.
struct kept_answer {
    unsigned status = 0;
    std::optional<std::string> location, etag;
    std::string body;
    bool operator==(const kept_answer&) const = default;
};

std::string describe(const kept_answer& a) {
    return std::to_string(a.status) + (a.location ? " Location " + *a.location : std::string()) +
           (a.etag ? " ETag " + *a.etag : std::string()) + " " + a.body.substr(0, 300);
}

// Whether the server keeps an answer with this status: all but 400, 401, 403, 429 and 5xx.
bool is_kept_status(unsigned status) {
    return status != 400 && status != 401 && status != 403 && status != 429 && status < 500;
}

// A write sent with an Idempotency-Key, and what is known of the answer the store keeps for it.
// Its key is used by no other request of the test, so the key alone names it.
struct keyed_request {
    enum class kind { create, batch, patch, remove };
    kind what = kind::create;
    std::string client, key;
    http::verb verb = http::verb::post;
    std::string target, body;
    std::vector<user_state> asked;  // create, batch: the users asked for (created_at aside), in order
    std::vector<unsigned> expected;  // batch: each input's certain status, 201 or 409
    std::string user_id;             // patch, remove: the user
    user_fate before, after;         // patch, remove: its fate before the request, and after it if applied
    bool moves = false;              // patch: it moves the external id
    bool backwards = false;          // patch: it moves the stage backwards (400, so never applied nor kept)

    enum class known {
        kept,      // answered; `kept` is what the store must hold and every retry replay
        not_kept,  // answered with a status never kept: the store holds nothing for it
        cut_off,   // the kill cut it off: kept with its effect, or neither
    };
    known state = known::cut_off;
    std::optional<kept_answer> kept;
    std::optional<kept_answer> found;  // cut_off: the answer the scan after the kill found kept, if any
};

std::string describe(const keyed_request& r) {
    return std::string(http::to_string(r.verb)) + " " + r.target + " (client " + r.client + ", Idempotency-Key '" +
           r.key + "')";
}

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

// A JSON text, or null if it is not JSON.
json::value parse_json(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    return ec ? json::value{} : v;
}

// The JSON body of a response, or null if it is not JSON.
json::value parse_body(const http_response& res) { return parse_json(res.body()); }

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

// The kept answer a response gives (or would, for a write kept with it).
kept_answer answer_of(const http_response& res) {
    kept_answer a;
    a.status = res.result_int();
    if (const auto at = res.find(http::field::location); at != res.end()) a.location = std::string(at->value());
    if (const auto at = res.find(http::field::etag); at != res.end()) a.etag = std::string(at->value());
    a.body = res.body();
    return a;
}

// The Idempotent-Replayed header of a response, if it has one ("true" on a replay).
std::optional<std::string> replay_header(const http_response& res) {
    const auto at = res.find("Idempotent-Replayed");
    if (at == res.end()) return std::nullopt;
    return std::string(at->value());
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
// source/storage/rocksdb/encoding.hpp.

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
    std::uint32_t varint() {
        std::uint32_t n = 0;
        for (int shift = 0; ok_; shift += 7) {
            const unsigned char b = byte();
            if (shift > 28) ok_ = false;
            n |= static_cast<std::uint32_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) break;
        }
        return ok_ ? n : 0;
    }
    std::uint64_t int64() {  // little-endian
        std::uint64_t n = 0;
        for (int i = 0; i < 8; ++i) n |= std::uint64_t{byte()} << (8 * i);
        return n;
    }
    std::string string() {
        const std::uint32_t n = varint();
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
    u.created_at = utc_text(static_cast<std::int64_t>(in.int64()));
    if (!in.ok() || !in.at_end() || u.stage > 2 ||
        (u.language != "en" && u.language != "pt" && u.language != "es"))
        return std::nullopt;
    return u;
}

// A record of "idempotency": the answer kept for an Idempotency-Key.
struct kept_record {
    std::int64_t created_at = 0;  // Unix seconds
    std::string fingerprint;
    kept_answer answer;
    std::vector<std::string> other_headers;  // names of headers other than Location and ETag: none
};

std::optional<kept_record> decode_kept_value(std::string_view value) {
    value_reader in(value);
    if (in.byte() != 0x01) return std::nullopt;
    kept_record r;
    r.created_at = static_cast<std::int64_t>(in.int64());
    r.fingerprint = in.string();
    r.answer.status = in.varint();
    const std::uint32_t headers = in.varint();
    for (std::uint32_t i = 0; i < headers && in.ok(); ++i) {
        std::string name = in.string();
        std::string text = in.string();
        if (name == "Location" && !r.answer.location) r.answer.location = std::move(text);
        else if (name == "ETag" && !r.answer.etag) r.answer.etag = std::move(text);
        else r.other_headers.push_back(std::move(name));
    }
    r.answer.body = in.string();
    if (!in.ok() || !in.at_end() || r.fingerprint.empty()) return std::nullopt;
    return r;
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
        const std::string after_restart = "after restart " + std::to_string(starts_ - 1);
        verify(ids, std::vector<user_key>(all_keys_.begin(), all_keys_.end()), {}, after_restart);
        // And every keyed request whose answer is kept, sent again.
        retry_keyed({}, kept_keys_, after_restart);
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

    // What slot `i` of a round asks: a create of `key`, by the threads first..first+count-1, each
    // with an Idempotency-Key of its own if `keyed`.
    struct slot {
        user_key key;
        unsigned first_thread;
        unsigned thread_count;
        bool keyed;
        bool includes(unsigned t) const {
            return (t + worker_threads - first_thread) % worker_threads < thread_count;
        }
    };

    // Slots are a pure function of (round seed, index), so the threads agree on them without
    // sharing anything. Pairs of slots 2j, 2j+1 use the same external id under the two clients
    // (which must not collide); one slot in 8 re-attempts an external id of an earlier round
    // (which may have been given up since, and then the create succeeds). One slot in three is keyed.
    slot make_slot(std::uint64_t round_seed, unsigned round, std::uint64_t i,
                   const std::vector<user_key>& old_keys) const {
        const std::uint64_t h = splitmix64(round_seed ^ (i * 0xD1B54A32D192ED03ULL));
        slot s;
        s.thread_count = 2 + static_cast<unsigned>(h % 2);
        s.first_thread = static_cast<unsigned>((h >> 8) % worker_threads);
        s.keyed = (h >> 40) % 3 == 0;
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
        // The external ids the create or batch the kill cut off asked for (a batch's fresh ones),
        // whether it had an Idempotency-Key, and whether it was a batch.
        std::vector<user_key> unanswered;
        bool unanswered_keyed = false, unanswered_batch = false;
        std::string key_prefix;              // of its Idempotency-Keys: the round and the worker
        std::vector<keyed_request> keyed;    // its requests with an Idempotency-Key, in order
        std::set<std::string> touched;   // ids created, changed or asked about
        std::set<user_key> released;     // external ids a PATCH or DELETE sent may have given up
        std::set<user_key> involved;     // those, and the ones PATCHes asked for
        std::vector<std::string> violations;
        std::size_t fresh_ids = 0, keys_made = 0;
        std::size_t batches = 0, batches_answered = 0;
        std::size_t creates = 0, patches = 0, patches_applied = 0, patch_conflicts = 0, moves_applied = 0,
                    stage_moves_applied = 0, backward_refused = 0, deletes = 0, deletes_applied = 0,
                    gone_answered = 0;
    };

    // Sends one request; nullopt if no answer came (the server is gone: a violation unless the
    // kill was sent).
    static std::optional<http_response> send(http_client& client, http::verb verb, const std::string& target,
                                             const account& who, std::string body,
                                             const std::atomic<bool>& kill_sent, worker_log& log,
                                             const std::string& idempotency_key = {}) {
        ozzie::testing::header_list headers = {{"Authorization", who.authorization()}};
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        if (!idempotency_key.empty()) headers.emplace_back("Idempotency-Key", idempotency_key);
        try {
            return client.request(verb, target, headers, std::move(body));
        } catch (const std::exception& e) {
            if (!kill_sent)
                log.violations.push_back(std::string(http::to_string(verb)) + " " + target +
                                         " failed before the kill: " + e.what());
            return std::nullopt;
        }
    }

    // A new Idempotency-Key, used by no other request of the test: printable ASCII, some with
    // punctuation a header value may hold, some of the longest length allowed.
    static std::string next_key(worker_log& log) {
        const std::size_t n = log.keys_made++;
        std::string key = log.key_prefix + " #" + std::to_string(n);
        if (n % 4 == 1) key += R"( {"k":"a/b?c=%20&d"};'\)";
        if (n % 16 == 6) key.resize(255, '~');
        return key;
    }

    // A keyed request about to be sent (its outcome unknown yet).
    static keyed_request keyed_write(keyed_request::kind what, const std::string& client, std::string key,
                                     http::verb verb, std::string target, std::string body) {
        keyed_request r;
        r.what = what;
        r.client = client;
        r.key = std::move(key);
        r.verb = verb;
        r.target = std::move(target);
        r.body = std::move(body);
        return r;
    }

    // Notes the outcome of keyed request `r`: the answer it got (the first for its key: no replay),
    // or none if the kill cut it off.
    static void note_keyed(keyed_request r, const std::optional<http_response>& res, worker_log& log) {
        if (res) {
            if (const auto replay = replay_header(*res))
                log.violations.push_back(describe(r) + ", the key's first use, answered with Idempotent-Replayed: " +
                                         *replay + ": " + excerpt(*res));
            const kept_answer answer = answer_of(*res);
            r.state = is_kept_status(answer.status) ? keyed_request::known::kept : keyed_request::known::not_kept;
            if (r.state == keyed_request::known::kept) r.kept = answer;
        }
        log.keyed.push_back(std::move(r));
    }

    // A create in slot `i` (with an Idempotency-Key if the slot is keyed); false if the server is gone.
    bool create(http_client& client, const slot& s, std::uint64_t i, const std::atomic<bool>& kill_sent,
                worker_log& log) const {
        ++log.creates;
        const user_state asked = create_request(s.key, i);
        const std::string key = s.keyed ? next_key(log) : std::string();
        const auto res = send(client, http::verb::post, "/v1/users", account_named(s.key.client),
                              create_body(asked), kill_sent, log, key);
        if (s.keyed) {
            auto r = keyed_write(keyed_request::kind::create, s.key.client, key, http::verb::post, "/v1/users",
                                 create_body(asked));
            r.asked = {asked};
            note_keyed(std::move(r), res, log);
        }
        if (!res) {
            log.unanswered = {s.key};
            log.unanswered_keyed = s.keyed;
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

    static std::string batch_body(const std::vector<user_state>& users) {
        std::string body = R"({"users":[)";
        for (std::size_t j = 0; j < users.size(); ++j) body += (j ? "," : "") + create_body(users[j]);
        return body + "]}";
    }

    // A POST /v1/users/batch (with an Idempotency-Key three times in four) for one client, whose
    // answers are all certain: 2 to 6 external ids no other request of the round asks for, each
    // created; sometimes one of them again (409: the first wins), and sometimes the external id of
    // another of the worker's users (409: no one else moves that user). All of its users are
    // stored in one write, with its kept answer. False if the server is gone.
    bool create_batch(http_client& client, const round_plan& plan, unsigned t, std::uint64_t i, std::mt19937_64& rng,
                      const std::atomic<bool>& kill_sent, worker_log& log) const {
        const auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
        const account& who = accounts_[pick(accounts_.size())];
        std::vector<user_state> asked;
        std::vector<unsigned> expected;
        std::vector<user_key> fresh;
        for (std::size_t j = 0, n = 2 + pick(5); j < n; ++j) {
            user_key key{who.id, "crash-r" + std::to_string(plan.round) + "-t" + std::to_string(t) + "-b" +
                                     std::to_string(log.batches) + "-" + std::to_string(j)};
            if (j == 1) key.ext += " ü/%";  // needs percent-encoding in the path
            fresh.push_back(key);
            asked.push_back(create_request(key, i * 8 + j));
            expected.push_back(201);
        }
        if (pick(2) == 0) {
            asked.push_back(create_request(fresh.front(), i * 8 + 6));
            expected.push_back(409);
        }
        std::vector<std::string> held;
        for (const auto& [id, u] : log.users)
            if (u.state && !u.pending && u.client == who.id) held.push_back(u.state->ext);
        if (!held.empty() && pick(2) == 0) {
            asked.push_back(create_request({who.id, held[pick(held.size())]}, i * 8 + 7));
            expected.push_back(409);
        }
        ++log.batches;
        const bool keyed = pick(4) != 0;
        const std::string key = keyed ? next_key(log) : std::string();
        const std::string body = batch_body(asked);
        const std::string what = "POST /v1/users/batch of " + std::to_string(asked.size()) + " users of " + who.id +
                                 " (" + describe(fresh.front()) + " ...)";
        for (const auto& u : asked) log.involved.insert(u.key());
        const auto res = send(client, http::verb::post, "/v1/users/batch", who, body, kill_sent, log, key);
        if (keyed) {
            auto r = keyed_write(keyed_request::kind::batch, who.id, key, http::verb::post, "/v1/users/batch", body);
            r.asked = asked;
            r.expected = expected;
            note_keyed(std::move(r), res, log);
        }
        if (!res) {
            log.unanswered = fresh;
            log.unanswered_keyed = keyed;
            log.unanswered_batch = true;
            return false;
        }
        const auto answer = parse_body(*res);
        const json::array* data = nullptr;
        if (answer.is_object())
            if (const auto* d = answer.as_object().if_contains("data"); d && d->is_array()) data = &d->as_array();
        if (res->result_int() != 200 || !data || data->size() != asked.size()) {
            log.violations.push_back(what + " answered " + excerpt(*res) + ", not 200 with one answer an input");
            return true;
        }
        ++log.batches_answered;
        for (std::size_t j = 0; j < asked.size(); ++j) {
            const json::value& element = (*data)[j];
            const auto* status = element.is_object() ? element.as_object().if_contains("status") : nullptr;
            const bool created = status && status->is_int64() && status->as_int64() == 201;
            const bool conflict = status && status->is_int64() && status->as_int64() == 409 &&
                                  error_code_of(element) == "CONFLICT";
            const auto got = created ? user_in(element, who.id) : std::nullopt;
            user_state expected_user = asked[j];
            if (got) expected_user.created_at = got->second.created_at;
            if (expected[j] == 201 && (!got || got->second != expected_user || expected_user.created_at.empty())) {
                log.violations.push_back(what + ": input " + std::to_string(j) + " (" + describe(asked[j].key()) +
                                         ", an external id no one else asks for) answered " +
                                         json::serialize(element).substr(0, 300) + ", not 201 with " +
                                         describe(expected_user));
            } else if (expected[j] == 409 && !conflict) {
                log.violations.push_back(what + ": input " + std::to_string(j) + " (" + describe(asked[j].key()) +
                                         ", held by an earlier input or another of the worker's users) answered " +
                                         json::serialize(element).substr(0, 300) + ", not 409 CONFLICT");
            }
            if (got) {
                log.created.emplace_back(asked[j].key(), got->first);
                log.users[got->first] = tracked_user{who.id, got->second, std::nullopt};
                log.own.push_back(got->first);
                log.touched.insert(got->first);
            } else if (conflict) {
                log.conflicts.push_back(asked[j].key());
            }
        }
        return true;
    }

    // The target of a request about user `id`: by id, or by its current external id.
    static std::string target_of(const std::string& id, const user_state& u, bool by_external) {
        return by_external ? external_target(u.ext) : "/v1/users/" + id;
    }

    // A PATCH of the worker's live user `id`; false if the server is gone.
    bool patch(http_client& client, const std::string& id, const patch_spec& spec, move_outcome certain,
               bool by_external, bool keyed, const std::atomic<bool>& kill_sent, worker_log& log) const {
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
        const std::string target = target_of(id, before, by_external);
        const std::string key = keyed ? next_key(log) : std::string();
        const auto res = send(client, http::verb::patch, target, account_named(before.client), spec.body(), kill_sent,
                              log, key);
        if (keyed) {
            auto r =
                keyed_write(keyed_request::kind::patch, before.client, key, http::verb::patch, target, spec.body());
            r.user_id = id;
            r.before = before;
            r.after = backwards ? before : after;
            r.moves = moves;
            r.backwards = backwards;
            note_keyed(std::move(r), res, log);
        }
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
    bool remove(http_client& client, const std::string& id, bool by_external, bool keyed,
                const std::atomic<bool>& kill_sent, worker_log& log) const {
        log.touched.insert(id);
        tracked_user& u = log.users.at(id);
        const user_state before = *u.state;
        log.released.insert(before.key());
        log.involved.insert(before.key());
        ++log.deletes;
        const std::string target = target_of(id, before, by_external);
        const std::string key = keyed ? next_key(log) : std::string();
        const auto res =
            send(client, http::verb::delete_, target, account_named(before.client), {}, kill_sent, log, key);
        if (keyed) {
            auto r = keyed_write(keyed_request::kind::remove, before.client, key, http::verb::delete_, target, {});
            r.user_id = id;
            r.before = before;
            r.after = user_fate();
            note_keyed(std::move(r), res, log);
        }
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
    bool ask_gone(http_client& client, const std::string& id, bool as_patch, bool keyed,
                  const std::atomic<bool>& kill_sent, worker_log& log) const {
        log.touched.insert(id);
        const tracked_user& u = log.users.at(id);
        const std::string target = "/v1/users/" + id;
        const auto verb = as_patch ? http::verb::patch : http::verb::delete_;
        const std::string body = as_patch ? R"({"name":"Back Again"})" : "";
        const std::string key = keyed ? next_key(log) : std::string();
        const auto res = send(client, verb, target, account_named(u.client), body, kill_sent, log, key);
        if (keyed) {
            auto r = keyed_write(as_patch ? keyed_request::kind::patch : keyed_request::kind::remove, u.client, key,
                                 verb, target, body);
            r.user_id = id;
            note_keyed(std::move(r), res, log);  // before and after: gone
        }
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
        // One request in four has an Idempotency-Key.
        const auto keyed = [&pick] { return pick(4) == 0; };
        if (!u.state) return ask_gone(client, id, pick(2) == 0, keyed(), kill_sent, log);
        const user_state current = *u.state;
        const bool by_external = pick(5) == 0;
        const auto roll = pick(100);
        if (roll < 12) return remove(client, id, by_external, keyed(), kill_sent, log);
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
                if (!patch(client, id, away, move_outcome::applied, by_external, keyed(), kill_sent, log)) return false;
                if (log.users.at(id).state == current) return true;  // refused: nothing was given up
                patch_spec take;
                take.ext = current.ext;
                const std::string& partner = partners[pick(partners.size())];
                return patch(client, partner, take, move_outcome::either, pick(5) == 0, keyed(), kill_sent, log);
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
        return patch(client, id, spec, certain, by_external, keyed(), kill_sent, log);
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
            // And a batch now and then.
            if (rng() % 12 == 0 && !create_batch(client, plan, t, i, rng, kill_sent, log)) break;
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
        for (unsigned t = 0; t < worker_threads; ++t)
            logs[t].key_prefix = "crash r" + std::to_string(round) + " t" + std::to_string(t);
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
        std::set<user_key> round_keys;
        cut_off_creates unanswered;
        std::vector<std::string> round_keyed;  // the Idempotency-Keys sent in the round
        std::set<std::string> touched = std::move(retried_ids_);  // and the users the last retries changed
        retried_ids_.clear();
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
            if (!log.unanswered.empty()) {
                round_keys.insert(log.unanswered.begin(), log.unanswered.end());
                unanswered.keys.insert(log.unanswered.begin(), log.unanswered.end());
                if (!log.unanswered_keyed) unanswered.unkeyed.insert(log.unanswered.begin(), log.unanswered.end());
                if (log.unanswered_batch) unanswered.batches.push_back(log.unanswered);
                ++unanswered_count_;
            }
            for (auto& r : log.keyed) {
                ++keyed_sent_;
                if (r.state == keyed_request::known::cut_off) ++keyed_cut_off_;
                if (r.what == keyed_request::kind::batch) ++keyed_batches_;
                round_keyed.push_back(r.key);
                const std::string key = r.key;
                if (!keyed_.emplace(key, std::move(r)).second)
                    throw std::logic_error("Idempotency-Key '" + key + "' made twice");
            }
            batches_ += log.batches;
            batches_answered_ += log.batches_answered;
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
                       log.backward_refused + log.deletes_applied + log.gone_answered + log.batches_answered;
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
        const std::string after_restart = "after restart " + std::to_string(starts_ - 1);
        verify(ids, keys, unanswered.keys, after_restart);

        // The round's keyed requests again: those the kill cut off settle, those answered 400 are
        // refused again, the others replay; and a sample of older ones replay too.
        std::vector<std::string> again, replays;
        for (const auto& key : round_keyed) {
            const auto state = keyed_.at(key).state;
            if (state == keyed_request::known::kept) replays.push_back(key);
            else again.push_back(key);
        }
        std::vector<std::string> older_keyed = kept_keys_;
        std::shuffle(older_keyed.begin(), older_keyed.end(), rng_);
        older_keyed.resize(std::min(older_keyed.size(), old_keyed_retried_per_round));
        replays.insert(replays.end(), older_keyed.begin(), older_keyed.end());
        retry_keyed(again, replays, after_restart);
        for (const auto& key : round_keyed)
            if (keyed_.at(key).state == keyed_request::known::kept) kept_keys_.push_back(key);
        ++rounds_done_;
    }

    // --- checks through HTTP ---------------------------------------------------------------

    struct read_result {
        unsigned status = 0;
        std::string error_code;
        std::optional<std::pair<std::string, user_state>> user;
        std::string excerpt;
    };

    // Runs `send(client, i)` for every i below `count`, spread over verify_threads connections
    // at once; the first failure's text if a connection failed (the rest is then not sent).
    template <class Send>
    std::optional<std::string> on_connections(std::size_t count, Send send) {
        std::mutex mutex;
        std::optional<std::string> failure;
        std::atomic<std::size_t> next{0};
        std::vector<std::jthread> threads;
        for (unsigned t = 0; t < verify_threads; ++t)
            threads.emplace_back([&] {
                try {
                    http_client client(server_->port());
                    for (std::size_t i; (i = next++) < count;) send(client, i);
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    if (!failure) failure = e.what();
                    next = count;
                }
            });
        threads.clear();  // joins them
        return failure;
    }

    // GETs every target (client, path), on verify_threads connections at once; nullopt (and a
    // violation) if a connection failed.
    std::optional<std::vector<read_result>> read_all(const std::vector<std::pair<std::string, std::string>>& gets,
                                                      const std::string& when) {
        std::vector<read_result> results(gets.size());
        const auto failure = on_connections(gets.size(), [&](http_client& client, std::size_t i) {
            const auto& [who, target] = gets[i];
            const auto res = client.request(http::verb::get, target, {{"Authorization", account_named(who).authorization()}});
            const auto body = parse_body(res);
            results[i] = {res.result_int(), error_code_of(body), user_in(body, who), excerpt(res)};
        });
        verify_requests_ += gets.size();
        if (failure) {
            violation(when + ": reading back failed: " + *failure);
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

    // --- keyed requests sent again after a restart ------------------------------------------

    ozzie::testing::header_list headers_of(const keyed_request& r) const {
        ozzie::testing::header_list headers = {{"Authorization", account_named(r.client).authorization()},
                                               {"Idempotency-Key", r.key}};
        if (!r.body.empty()) headers.emplace_back("Content-Type", "application/json");
        return headers;
    }

    // Another body for the target of keyed request `r` (not a DELETE): its key with it must
    // answer 422 and do nothing, and if it did, a user no answer showed (a create or batch) or a
    // change no answer acknowledged (a PATCH) would be found.
    static std::string reused_body(const keyed_request& r) {
        if (r.what == keyed_request::kind::patch) {
            auto body = parse_json(r.body);
            if (!body.is_object()) body = json::object{};
            body.as_object()["name"] = "Reused Key";
            return json::serialize(body);
        }
        auto users = r.asked;
        users.front().ext += " (reused key)";
        return r.what == keyed_request::kind::batch ? batch_body(users) : create_body(users.front());
    }

    // The users kept answer `a` of a create or batch says it created, with their states.
    static std::vector<std::pair<std::string, user_state>> created_by(const keyed_request& r, const kept_answer& a) {
        std::vector<std::pair<std::string, user_state>> users;
        const auto body = parse_json(a.body);
        if (r.what == keyed_request::kind::create && a.status == 201) {
            if (auto got = user_in(body, r.client)) users.push_back(std::move(*got));
        } else if (r.what == keyed_request::kind::batch && a.status == 200 && body.is_object()) {
            if (const auto* data = body.as_object().if_contains("data"); data && data->is_array())
                for (const auto& element : data->as_array())
                    if (auto got = user_in(element, r.client)) users.push_back(std::move(*got));
        }
        return users;
    }

    // After a restart and its read-back: sends every keyed request in `again` (the kill cut them
    // off, or their answers were not kept) again, one at a time, so that the model can follow each
    // answer processed afresh; then every one in `replays` (and those of `again` whose answers are
    // now kept), on verify_threads connections at once: each must replay its kept answer.
    void retry_keyed(const std::vector<std::string>& again, std::vector<std::string> replays,
                     const std::string& when) {
        // Who holds each external id, as the users' states say (the read-back settled them all).
        std::map<user_key, std::string> holders;
        for (const auto& [id, u] : users_)
            if (u.state && !u.pending) holders.emplace(u.state->key(), id);
        try {
            http_client client(server_->port());
            for (const auto& key : again) {
                keyed_request& r = keyed_.at(key);
                if (r.state == keyed_request::known::not_kept && !resends_to_its_user(r)) continue;
                const auto res = client.request(r.verb, r.target, headers_of(r), r.body);
                if (r.state == keyed_request::known::cut_off) settle(r, res, holders, when);
                else refused_again(r, res, when);
                if (r.state == keyed_request::known::kept) replays.push_back(key);
            }
        } catch (const std::exception& e) {
            violation(when + ": sending a keyed request again failed: " + e.what());
            return;
        }
        replay_all(replays, when);
    }

    // Settles keyed request `r`, which the kill cut off, by the answer `res` to it sent again: if
    // the scan after the kill found an answer kept for it, that answer replayed (and the users it
    // names as the read-back found them); if not, an answer processed afresh, which the model
    // takes as acknowledged.
    void settle(keyed_request& r, const http_response& res, std::map<user_key, std::string>& holders,
                const std::string& when) {
        const std::string what = when + ": " + describe(r) + ", cut off by the kill, sent again";
        const auto replay = replay_header(res);
        const kept_answer answer = answer_of(res);
        if (r.found) {
            ++cut_off_kept_;
            if (replay != "true" || answer != *r.found)
                violation(what + ", answered " + (replay ? "as a replay" : "afresh") + " " + describe(answer) +
                          ", but the store kept " + describe(*r.found) + " for it");
            else
                check_replayed_effect(r, answer, what);
            r.state = keyed_request::known::kept;
            r.kept = std::move(r.found);
            r.found.reset();
            return;
        }
        ++cut_off_fresh_;
        if (replay)
            violation(what + ", answered with Idempotent-Replayed: " + *replay +
                      " though the store kept no answer for it after the kill: " + excerpt(res));
        process_fresh(r, res, holders, what);
        r.state = is_kept_status(answer.status) ? keyed_request::known::kept : keyed_request::known::not_kept;
        if (r.state == keyed_request::known::kept) r.kept = answer;
    }

    // Whether keyed request `r` (a PATCH answered 400, kept nowhere) still names its user: by id,
    // or by an external id the user still holds (another user may hold it now).
    bool resends_to_its_user(const keyed_request& r) const {
        const auto& now = users_.at(r.user_id).state;
        return r.target == "/v1/users/" + r.user_id || (now && r.before && now->ext == r.before->ext);
    }

    // Checks the answer `res` to keyed request `r`, a backward stage move answered 400 and so not
    // kept, sent again: processed afresh, and refused again, 400 while its user is there (stages
    // only move forward) and 404, which is kept, once it is gone.
    void refused_again(keyed_request& r, const http_response& res, const std::string& when) {
        const std::string what = when + ": " + describe(r) + ", answered 400, sent again";
        if (const auto replay = replay_header(res))
            violation(what + ", answered with Idempotent-Replayed: " + *replay + " though its 400 was not kept: " +
                      excerpt(res));
        const bool gone = !users_.at(r.user_id).state;
        const unsigned status = res.result_int();
        const std::string code = error_code_of(parse_body(res));
        if (gone ? status != 404 || code != "NOT_FOUND" : status != 400 || code != "VALIDATION_ERROR")
            violation(what + ", answered " + excerpt(res) + ", not " +
                      (gone ? "404 NOT_FOUND (the user is gone)" : "400 VALIDATION_ERROR (the stage moves backwards)"));
        ++unkept_retried_;
        if (is_kept_status(status)) {
            r.state = keyed_request::known::kept;
            r.kept = answer_of(res);
        }
    }

    // What a replayed answer of a request the kill cut off names is as the read-back found it:
    // each user a create or batch made exists (once: the read-back by external id found it), and a
    // PATCH's or DELETE's user is as the answer leaves it.
    void check_replayed_effect(const keyed_request& r, const kept_answer& a, const std::string& what) {
        for (const auto& [id, state] : created_by(r, a)) {
            const auto known = users_.find(id);
            if (known == users_.end())
                violation(what + ", replays the creation of user " + id + " (" + describe(state) +
                          "), whom the read-back did not find");
            else if (known->second.state != state)
                violation(what + ", replays the creation of user " + id + " as " + describe(state) +
                          ", who reads as " + describe(known->second.state));
        }
        if (r.what == keyed_request::kind::patch && a.status == 200) {
            const auto got = user_in(parse_json(a.body), r.client);
            if (got && users_.at(r.user_id).state != got->second)
                violation(what + ", replays user " + r.user_id + " as " + describe(got->second) + ", who reads as " +
                          describe(users_.at(r.user_id).state));
        }
        if (r.what == keyed_request::kind::remove && a.status == 204 && users_.at(r.user_id).state)
            violation(what + ", replays its 204, but user " + r.user_id + " reads as " +
                      describe(users_.at(r.user_id).state));
    }

    // A user a create processed afresh after the restart made: the model takes it.
    void adopt_created(const std::string& id, const user_state& state, std::map<user_key, std::string>& holders,
                       const std::string& what) {
        if (!users_.emplace(id, tracked_user{state.client, state, std::nullopt}).second)
            violation(what + ": 201 gives the id " + id + " of an earlier user");
        holders[state.key()] = id;
        created_keys_.insert(state.key());
        all_keys_.insert(state.key());
        retried_ids_.insert(id);
        ++retry_created_;
    }

    // Checks the answer `res` of keyed request `r`, whose kill-cut first try the store has no
    // answer kept for and so did not apply either, processed afresh now, against the model (every
    // user settled, `holders` current), and applies it to the model.
    void process_fresh(const keyed_request& r, const http_response& res, std::map<user_key, std::string>& holders,
                       const std::string& what) {
        const auto body = parse_body(res);
        const unsigned status = res.result_int();
        const std::string code = error_code_of(body);
        if (r.what == keyed_request::kind::create || r.what == keyed_request::kind::batch) {
            // One answer a user asked for: 201 if its external id is free, else 409.
            const auto one = [&](const json::value& element, unsigned element_status, std::string_view element_code,
                                 const user_state& asked) {
                const auto held = holders.find(asked.key());
                const auto got = element_status == 201 ? user_in(element, r.client) : std::nullopt;
                user_state expected = asked;
                if (got) expected.created_at = got->second.created_at;
                if (held == holders.end() && (!got || got->second != expected))
                    violation(what + ", processed afresh: " + describe(asked.key()) + ", which no user holds, got " +
                              json::serialize(element).substr(0, 300) + ", not 201 with " + describe(expected));
                else if (held != holders.end() && !(element_status == 409 && element_code == "CONFLICT"))
                    violation(what + ", processed afresh: " + describe(asked.key()) + ", which user " + held->second +
                              " holds, got " + json::serialize(element).substr(0, 300) +
                              ", not 409 CONFLICT (two users for one external id?)");
                if (got) adopt_created(got->first, got->second, holders, what);
                else if (element_status == 409) conflicted_.insert(asked.key());
            };
            if (r.what == keyed_request::kind::create) return one(body, status, code, r.asked.front());
            const json::array* data = nullptr;
            if (body.is_object())
                if (const auto* d = body.as_object().if_contains("data"); d && d->is_array()) data = &d->as_array();
            if (status != 200 || !data || data->size() != r.asked.size())
                return violation(what + ", processed afresh: answered " + excerpt(res) +
                                 ", not 200 with one answer an input");
            for (std::size_t j = 0; j < r.asked.size(); ++j) {
                const json::value& element = (*data)[j];
                const auto* s = element.is_object() ? element.as_object().if_contains("status") : nullptr;
                one(element, s && s->is_int64() ? static_cast<unsigned>(s->as_int64()) : 0u, error_code_of(element),
                    r.asked[j]);
            }
            return;
        }
        // A PATCH or DELETE: its user is as before it (its first try left nothing).
        tracked_user& u = users_.at(r.user_id);
        if (u.state != r.before)
            return violation(what + ", processed afresh, but user " + r.user_id + " reads as " + describe(u.state) +
                             ", not as before it, " + describe(r.before) + " (its effect without its kept answer?)");
        const auto expect = [&](unsigned wanted_status, std::string_view wanted_code, const std::string& why) {
            if (status != wanted_status || code != wanted_code)
                violation(what + ", processed afresh: " + excerpt(res) + ", not " + std::to_string(wanted_status) +
                          " " + std::string(wanted_code) + " (" + why + ")");
        };
        if (!r.before) return expect(404, "NOT_FOUND", "the user is gone");
        if (r.what == keyed_request::kind::remove) {
            expect(204, "", "the user is there");
            if (status == 204) {
                holders.erase(r.before->key());
                ever_released_.insert(r.before->key());
                u.state.reset();
                retried_ids_.insert(r.user_id);
            }
            return;
        }
        if (r.backwards) return expect(400, "VALIDATION_ERROR", "the stage moves backwards");
        if (const auto held = r.moves ? holders.find(r.after->key()) : holders.end();
            held != holders.end() && held->second != r.user_id)
            return expect(409, "CONFLICT", "user " + held->second + " holds '" + r.after->ext + "'");
        const auto got = status == 200 ? user_in(body, r.client) : std::nullopt;
        if (!got || got->first != r.user_id || got->second != *r.after)
            return violation(what + ", processed afresh: " + excerpt(res) + ", not 200 with " + describe(r.after));
        if (r.moves) {
            holders.erase(r.before->key());
            ever_released_.insert(r.before->key());
            all_keys_.insert(r.after->key());
        }
        holders[r.after->key()] = r.user_id;
        u.state = got->second;
        retried_ids_.insert(r.user_id);
    }

    // Sends every keyed request in `keys` (each with its answer kept) again, verify_threads at
    // once: each must replay its kept answer byte for byte, with Idempotent-Replayed: true. One in
    // four (but DELETEs) is then also sent with another body: 422 IDEMPOTENCY_KEY_REUSED.
    void replay_all(const std::vector<std::string>& keys, const std::string& when) {
        std::vector<const keyed_request*> requests;
        for (const auto& key : keys) requests.push_back(&keyed_.at(key));
        const auto probed = [&](std::size_t i) {
            return i % 4 == 0 && requests[i]->what != keyed_request::kind::remove;
        };
        std::vector<std::optional<http_response>> again(requests.size()), reused(requests.size());
        const auto failure = on_connections(requests.size(), [&](http_client& client, std::size_t i) {
            const keyed_request& r = *requests[i];
            again[i] = client.request(r.verb, r.target, headers_of(r), r.body);
            if (probed(i)) reused[i] = client.request(r.verb, r.target, headers_of(r), reused_body(r));
        });
        if (failure) return violation(when + ": sending keyed requests again failed: " + *failure);
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const keyed_request& r = *requests[i];
            const auto replay = replay_header(*again[i]);
            const kept_answer answer = answer_of(*again[i]);
            if (replay != "true" || answer != *r.kept)
                violation(when + ": " + describe(r) + " sent again answered " + (replay ? "as a replay" : "afresh") +
                          " " + describe(answer) + ", not its kept answer " + describe(*r.kept));
            else
                ++replays_checked_;
            if (!probed(i)) continue;
            if (reused[i]->result_int() == 422 && error_code_of(parse_body(*reused[i])) == "IDEMPOTENCY_KEY_REUSED" &&
                !replay_header(*reused[i]))
                ++reuses_refused_;
            else
                violation(when + ": " + describe(r) + " sent with another body answered " + excerpt(*reused[i]) +
                          ", not 422 IDEMPOTENCY_KEY_REUSED");
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
        std::map<std::pair<std::string, std::string>, kept_record> kept;  // "idempotency": (client, key) -> record
    };

    // The creates and batches a kill cut off: the external ids they asked for (a batch's fresh
    // ones), those of them some unkeyed one asked for, and each batch's.
    struct cut_off_creates {
        std::set<user_key> keys, unkeyed;
        std::vector<std::vector<user_key>> batches;
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

        std::unique_ptr<rocksdb::Iterator> kept(db.NewIterator({}, handles[5]));
        for (kept->SeekToFirst(); kept->Valid(); kept->Next()) {
            const std::string key = kept->key().ToString();
            const auto nul = key.find('\0');
            const auto decoded = decode_kept_value(kept->value().ToStringView());
            if (nul == std::string::npos)
                violation(when + ": idempotency holds a key without NUL: '" + key + "'");
            else if (!decoded)
                violation(when + ": the answer kept under " + key.substr(0, nul) + "/'" + key.substr(nul + 1) +
                          "' does not decode");
            else
                disk.kept.emplace(std::pair{key.substr(0, nul), key.substr(nul + 1)}, *decoded);
        }
        if (!kept->status().ok()) violation(when + ": idempotency scan: " + kept->status().ToString());
        return disk;
    }

    // The external_ids index, the list index and the records agree both ways, every user the
    // answers established is there as they left it, and the kept answers are as check_kept says.
    // `unanswered`: the creates and batches the kill cut off, whose records may be there unseen
    // (a batch's all or none); null: the answers and read-backs established every user, so the
    // disk must hold exactly those.
    void check_disk(const disk_state& disk, const std::string& when, const cut_off_creates* unanswered) {
        if (!disk.opened) return;
        ++disk_checks_;
        if (disk.schema_version != "2")
            violation(when + ": meta/schema_version is '" + disk.schema_version + "', not '2'");
        const std::set<std::string> named = check_kept(disk, when, unanswered);
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
        // No other user, but one a create the kill cut off may have made; if only keyed ones asked
        // for its external id, one of their kept answers names it.
        for (const auto& [ulid, u] : disk.users) {
            if (users_.contains("ozz_usr_" + ulid)) continue;
            if (!(unanswered && unanswered->keys.contains(u.key())))
                violation(when + ": user " + ulid + " (" + describe(u) + ") is on disk though no answer or "
                          "read-back showed it");
            else if (!unanswered->unkeyed.contains(u.key()) && !named.contains(ulid))
                violation(when + ": user " + ulid + " (" + describe(u) + ") is on disk, made by a request the kill "
                          "cut off, but only keyed ones asked for its external id and no answer kept names it (its "
                          "effect without its kept answer)");
        }
        // A batch is one write: all of its users or none.
        for (const auto& fresh : unanswered ? unanswered->batches : std::vector<std::vector<user_key>>{}) {
            const auto held = std::ranges::count_if(fresh, [&](const user_key& k) { return disk.index.contains(k); });
            if (held != 0 && static_cast<std::size_t>(held) != fresh.size())
                violation(when + ": a batch the kill cut off (" + describe(fresh.front()) +
                          ", ...) is on disk in part: " + std::to_string(held) + " of its " +
                          std::to_string(fresh.size()) + " users");
        }
        if (!unanswered) {
            users_on_disk_ = disk.users.size();
            index_on_disk_ = disk.index.size();
            list_on_disk_ = disk.list.size();
            live_users_ = live;
        }
    }

    static user_fate fate_on_disk(const disk_state& disk, const std::string& id) {
        const auto record = disk.users.find(id.substr(8));
        return record == disk.users.end() ? user_fate() : user_fate(record->second);
    }

    // The column family "idempotency" against the keyed requests: every record decodes (see
    // read_disk), is of a key a request used, under the client that used it; every answer
    // acknowledged and kept is there as it was answered, and none never kept is. After a kill
    // (`unanswered` given), each keyed request it cut off notes the answer kept for it, if any,
    // and its effect must be on disk if and only if that answer is. Returns the ULIDs of the users
    // the answers kept for such creates and batches name as created.
    std::set<std::string> check_kept(const disk_state& disk, const std::string& when,
                                     const cut_off_creates* unanswered) {
        std::set<std::string> named;
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        for (const auto& [where, record] : disk.kept) {
            const auto& [client, key] = where;
            const std::string entry = "the answer kept under " + client + "/'" + key + "', " + describe(record.answer);
            const auto it = keyed_.find(key);
            if (it == keyed_.end()) {
                violation(when + ": " + entry + ", is of a key no request used");
                continue;
            }
            keyed_request& r = it->second;
            if (r.client != client) violation(when + ": " + entry + ", is under another client than " + describe(r));
            for (const auto& name : record.other_headers)
                violation(when + ": " + entry + ", keeps a header " + name + " (only Location and ETag are kept)");
            // Loosely: a wrong offset or unit would be far off (the TTL reads it there).
            if (record.created_at < started_ - 3600 || record.created_at > now + 3600)
                violation(when + ": " + entry + ", was kept at " + utc_text(record.created_at) +
                          ", not while the test ran");
            switch (r.state) {
            case keyed_request::known::kept:
                if (record.answer != *r.kept)
                    violation(when + ": " + entry + ", but " + describe(r) + " was answered " + describe(*r.kept));
                break;
            case keyed_request::known::not_kept:
                violation(when + ": " + entry + ", but " + describe(r) +
                          " was answered with a status never kept (a client may fix it and retry with the key)");
                break;
            case keyed_request::known::cut_off:
                r.found = record.answer;
                check_cut_off_kept(r, disk, when, named);
                break;
            }
        }
        for (auto& [key, r] : keyed_) {
            const bool on_disk = disk.kept.contains({r.client, key});
            if (r.state == keyed_request::known::kept && !on_disk)
                violation(when + ": the answer acknowledged to " + describe(r) + ", " + describe(*r.kept) +
                          ", is not kept: a retry would be processed again");
            if (r.state == keyed_request::known::cut_off && !on_disk) {
                r.found.reset();
                check_cut_off_not_kept(r, disk, when);
            }
        }
        if (!unanswered) kept_on_disk_ = disk.kept.size();
        return named;
    }

    // Keyed request `r`, which the kill cut off, has answer r.found kept: its effect is on disk.
    void check_cut_off_kept(const keyed_request& r, const disk_state& disk, const std::string& when,
                            std::set<std::string>& named) {
        const kept_answer& a = *r.found;
        const std::string what =
            when + ": " + describe(r) + ", cut off by the kill, has its answer kept, " + describe(a);
        const auto body = parse_json(a.body);
        // A user it names as created: as asked, on disk as named, and no answer showed it.
        const auto created = [&](const json::value& element, const user_state& asked) {
            const auto got = user_in(element, r.client);
            user_state expected = asked;
            if (got) expected.created_at = got->second.created_at;
            if (!got || got->second != expected)
                return violation(what + ": it does not name a user as asked, " + describe(expected));
            if (const auto on_disk = fate_on_disk(disk, got->first); on_disk != user_fate(got->second))
                violation(what + ", but user " + got->first + " is on disk as " + describe(on_disk) +
                          " (the kept answer without its effect)");
            if (users_.contains(got->first))
                violation(what + ": it names user " + got->first + ", whom an answer showed already");
            named.insert(got->first.substr(8));
        };
        const std::string code = error_code_of(body);
        switch (r.what) {
        case keyed_request::kind::create:
            if (a.status == 201) created(body, r.asked.front());
            else if (a.status != 409 || code != "CONFLICT") violation(what + ": a create answers 201 or 409");
            break;
        case keyed_request::kind::batch: {
            const json::array* data = nullptr;
            if (body.is_object())
                if (const auto* d = body.as_object().if_contains("data"); d && d->is_array()) data = &d->as_array();
            if (a.status != 200 || !data || data->size() != r.asked.size()) {
                violation(what + ": not 200 with one answer an input");
                break;
            }
            for (std::size_t j = 0; j < r.asked.size(); ++j) {
                const json::value& element = (*data)[j];
                const auto* s = element.is_object() ? element.as_object().if_contains("status") : nullptr;
                const bool is_201 = s && s->is_int64() && s->as_int64() == 201;
                if (r.expected[j] == 201 && is_201) created(element, r.asked[j]);
                else if (r.expected[j] != 409 || !s || !s->is_int64() || s->as_int64() != 409 ||
                         error_code_of(element) != "CONFLICT")
                    violation(what + ": input " + std::to_string(j) + " (" + describe(r.asked[j].key()) +
                              ") is answered " + json::serialize(element).substr(0, 200) + ", not " +
                              std::to_string(r.expected[j]));
            }
            break;
        }
        case keyed_request::kind::patch:
        case keyed_request::kind::remove: {
            const user_fate on_disk = fate_on_disk(disk, r.user_id);
            const bool patch = r.what == keyed_request::kind::patch;
            if (patch && a.status == 200) {
                const auto got = user_in(body, r.client);
                if (!got || got->first != r.user_id || r.backwards || !r.after || got->second != *r.after)
                    violation(what + ": not user " + r.user_id + " as the PATCH leaves it, " + describe(r.after));
                else if (on_disk != r.after)
                    violation(what + ", but the user is on disk as " + describe(on_disk) +
                              " (the kept answer without its effect)");
            } else if (!patch && a.status == 204 && a.body.empty() && r.before) {
                if (on_disk)
                    violation(what + ", but the user is on disk as " + describe(on_disk) +
                              " (the kept answer without its effect)");
            } else if ((patch && a.status == 409 && code == "CONFLICT" && r.moves && !r.backwards && r.before) ||
                       (a.status == 404 && code == "NOT_FOUND" && !r.before)) {
                if (on_disk != r.before)
                    violation(what + ", but the user is on disk as " + describe(on_disk) + ", not as before it, " +
                              describe(r.before) + " (an effect with an answer that says there was none)");
            } else {
                violation(what + ": not an answer this request can have (the user was " + describe(r.before) + ")");
            }
            break;
        }
        }
    }

    // Keyed request `r`, which the kill cut off, has no answer kept: nothing of it is on disk.
    void check_cut_off_not_kept(const keyed_request& r, const disk_state& disk, const std::string& when) {
        const std::string what = when + ": " + describe(r) + ", cut off by the kill, has no answer kept";
        switch (r.what) {
        case keyed_request::kind::create: break;  // see the users no answer showed, in check_disk
        case keyed_request::kind::batch:
            for (std::size_t j = 0; j < r.asked.size(); ++j)
                if (const auto held = disk.index.find(r.asked[j].key());
                    r.expected[j] == 201 && held != disk.index.end())
                    violation(what + ", but user " + held->second + " holds " + describe(r.asked[j].key()) +
                              ", which only it asked for (its effect without its kept answer)");
            break;
        case keyed_request::kind::patch:
        case keyed_request::kind::remove:
            if (const auto on_disk = fate_on_disk(disk, r.user_id); on_disk != r.before)
                violation(what + ", but user " + r.user_id + " is on disk as " + describe(on_disk) +
                          ", not as before it, " + describe(r.before) + " (its effect without its kept answer)");
            break;
        }
    }

    void report() {
        BOOST_TEST_MESSAGE("crash test --sync " << (sync_ ? "true" : "false") << ", seed " << seed_
                           << ": rounds " << rounds_done_ << ", kills " << kills_ << ", server starts " << starts_
                           << "; creates sent " << attempts_ << ", acknowledged (201, batches' too) "
                           << acknowledged_count_ << ", conflicts (409, batches' too) " << conflict_count_
                           << ", cut off by the kill " << unanswered_count_
                           << " (of which found stored " << discovered_count_ << ")"
                           << "; PATCHes sent " << patches_ << ", applied (200) " << patches_applied_
                           << " (external id moves " << moves_applied_ << ", stage moves " << stage_moves_applied_
                           << "), conflicts (409) " << patch_conflicts_ << ", backward stage moves refused (400) "
                           << backward_refused_ << "; DELETEs sent " << deletes_ << ", acknowledged (204) "
                           << deletes_applied_ << "; requests about removed users answered 404 " << gone_answered_
                           << "; changes cut off by the kill " << changes_in_flight_ << " (found applied "
                           << cut_off_applied_ << ", not applied " << cut_off_not_applied_ << ")"
                           << "; batches sent " << batches_ << ", answered (200) " << batches_answered_
                           << "; keyed requests sent " << keyed_sent_ << " (batches " << keyed_batches_
                           << "), cut off by the kill " << keyed_cut_off_ << " (found kept and replayed "
                           << cut_off_kept_ << ", processed afresh " << cut_off_fresh_ << ", users they created "
                           << retry_created_ << "), replays checked " << replays_checked_
                           << ", reuses with another body refused (422) " << reuses_refused_
                           << ", answered 400 and sent again " << unkept_retried_
                           << "; rounds killed before any answer " << rounds_without_answers_
                           << ", read-back requests " << verify_requests_ << ", direct scans of the data dir "
                           << disk_checks_ << "; at the end: users " << live_users_ << " live and "
                           << users_.size() - live_users_ << " removed, records on disk " << users_on_disk_
                           << ", external_ids entries " << index_on_disk_ << ", client_users entries "
                           << list_on_disk_ << ", kept answers " << kept_on_disk_ << "; violations "
                           << violation_count_);
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
        BOOST_TEST(batches_answered_ > 0);
        BOOST_TEST(replays_checked_ > 0);
        BOOST_TEST(reuses_refused_ > 0);
        BOOST_TEST(users_on_disk_ == live_users_);
        BOOST_TEST(index_on_disk_ == live_users_);
        BOOST_TEST(list_on_disk_ == live_users_);
        BOOST_TEST(kept_on_disk_ == kept_keys_.size());  // none lost, and nothing kept but them
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
    std::map<std::string, keyed_request> keyed_;  // every request with an Idempotency-Key, by key
    std::vector<std::string> kept_keys_;          // those whose answers are kept, of the rounds done
    std::set<std::string> retried_ids_;           // users the last retries changed: read back next round
    // When the test began, in Unix seconds.
    std::int64_t started_ = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
    std::map<std::string, std::vector<std::string>> violations_;  // by phase
    std::size_t violation_count_ = 0;

    unsigned rounds_done_ = 0, kills_ = 0, starts_ = 0, rounds_without_answers_ = 0;
    std::size_t attempts_ = 0, acknowledged_count_ = 0, conflict_count_ = 0, unanswered_count_ = 0;
    std::size_t patches_ = 0, patches_applied_ = 0, patch_conflicts_ = 0, moves_applied_ = 0;
    std::size_t stage_moves_applied_ = 0, backward_refused_ = 0, deletes_ = 0, deletes_applied_ = 0;
    std::size_t gone_answered_ = 0, changes_in_flight_ = 0, cut_off_applied_ = 0, cut_off_not_applied_ = 0;
    std::size_t discovered_count_ = 0, verify_requests_ = 0, users_on_disk_ = 0, index_on_disk_ = 0;
    std::size_t list_on_disk_ = 0, live_users_ = 0, disk_checks_ = 0;
    std::size_t batches_ = 0, batches_answered_ = 0, keyed_sent_ = 0, keyed_batches_ = 0, keyed_cut_off_ = 0;
    std::size_t cut_off_kept_ = 0, cut_off_fresh_ = 0, retry_created_ = 0, replays_checked_ = 0;
    std::size_t reuses_refused_ = 0, kept_on_disk_ = 0, unkept_retried_ = 0;
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
