#include "storage/postgres/postgres_store.hpp"

#include "ops/logging.hpp"
#include "service/ulid.hpp"
#include "storage/postgres/connection.hpp"
#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <unordered_map>

namespace ozzie {

namespace pg = postgres;
namespace net = boost::asio;

namespace {

// ---------------------------------------------------------------------------------------------
// The statements, prepared on every connection when it connects. Every one of a request is
// filtered by client_id first (one shard under Citus), except user_by_id: after a miss of
// user_of_client, the 403-or-404 check for an id needs its user whatever its client.

constexpr const char* user_columns =
    "client_id, id, external_user_id, name, email, phone, language, onboarding_stage, created_at";

// A stale change or removal must fail its whole transaction, in the same round trip as the
// statements after it: it divides by the number of rows it touched, 0 when the user is no
// longer exactly as it was read (division_by_zero, 22012: the store's conflict). Every column is
// compared; name, email and phone may be NULL.
constexpr const char* user_as_read =
    "client_id = $1 and id = $2 and external_user_id = $3 and name is not distinct from $4 and email is not "
    "distinct from $5 and phone is not distinct from $6 and language = $7 and onboarding_stage = $8 and "
    "created_at = $9";

const std::vector<pg::prepared_statement>& statements() {
    static const std::vector<pg::prepared_statement> all = [] {
        const std::string cols = user_columns;
        const std::string as_read = user_as_read;
        std::vector<pg::prepared_statement> s;
        s.push_back({"user_of_client", "select " + cols + " from users where client_id = $1 and id = $2"});
        s.push_back({"user_by_id", "select " + cols + " from users where id = $1"});
        s.push_back({"user_by_external", "select " + cols + " from users where client_id = $1 and external_user_id = $2"});
        // A page newest first from a cursor ($2; "~" sorts after every ULID), or the `limit`
        // users just newer than it (read oldest first, reversed by the store); one more than
        // the page, to tell whether there are more.
        s.push_back({"list_older", "select " + cols + " from users where client_id = $1 and id < $2 order by id desc limit $3"});
        s.push_back({"list_newer", "select " + cols + " from users where client_id = $1 and id > $2 order by id limit $3"});
        s.push_back({"list_older_stage", "select " + cols + " from users where client_id = $1 and onboarding_stage = $4 "
                                         "and id < $2 order by id desc limit $3"});
        s.push_back({"list_newer_stage", "select " + cols + " from users where client_id = $1 and onboarding_stage = $4 "
                                         "and id > $2 order by id limit $3"});
        s.push_back({"kept_by_key", "select fingerprint, created_at, status, headers::text, body from idempotency_keys "
                                    "where client_id = $1 and idempotency_key = $2"});
        // A batch of creates: one statement. The database decides which are stored: a row whose
        // (client, external id) is taken, by the table or by an earlier row of the batch with
        // the same one, is skipped. An id (primary key) taken is an error. The rows go in by
        // (client, external id), so that two nodes' batches inserting some of the same external
        // ids take their index entries in the same order, and never deadlock.
        s.push_back({"insert_users",
                     "insert into users (" + cols + ") select " + cols + " from unnest($1::text[], $2::text[], "
                     "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::bigint[]) "
                     "with ordinality as u(" + cols + ", n) order by client_id, external_user_id, n "
                     "on conflict (client_id, external_user_id) do nothing returning id"});
        // A kept answer: a new key, or one whose answer has expired ($8: created at or before).
        // An answer still alive is never overwritten.
        s.push_back({"keep_answer",
                     "insert into idempotency_keys (client_id, idempotency_key, fingerprint, created_at, status, "
                     "headers, body) values ($1, $2, $3, $4, $5, $6::jsonb, $7) on conflict (client_id, "
                     "idempotency_key) do update set fingerprint = excluded.fingerprint, created_at = "
                     "excluded.created_at, status = excluded.status, headers = excluded.headers, body = excluded.body "
                     "where idempotency_keys.created_at <= $8"});
        s.push_back({"update_user", "with changed as (update users set external_user_id = $10, name = $11, email = $12, "
                                    "phone = $13, language = $14, onboarding_stage = $15 where " + as_read +
                                    " returning 1) select 1 / count(*) from changed"});
        s.push_back({"delete_user", "with gone as (delete from users where " + as_read +
                                    " returning 1) select 1 / count(*) from gone"});
        // Takes a transaction id, so the commit writes and flushes a WAL record (on a primary).
        s.push_back({"probe_write", "select txid_current()"});
        return s;
    }();
    return all;
}

// ---------------------------------------------------------------------------------------------
// Rows to users, users to parameters.

std::string_view ulid_of(const user& u) {
    return std::string_view(u.id).substr(std::min(u.id.size(), user_id_prefix.size()));
}

std::optional<user> user_of(const pg::rows& r, int row) {
    user u;
    u.client_id = r.text(row, 0);
    u.id = std::string(user_id_prefix).append(r.text(row, 1));
    u.external_user_id = r.text(row, 2);
    u.name = r.optional_text(row, 3);
    u.email = r.optional_text(row, 4);
    u.phone = r.optional_text(row, 5);
    u.language = r.text(row, 6);
    const auto stage = r.integer(row, 7);
    const auto created = r.integer(row, 8);
    if (!stage || *stage < 0 || *stage > 2 || !created) return std::nullopt;
    u.stage = static_cast<onboarding_stage>(*stage);
    u.created_at = std::chrono::sys_seconds{std::chrono::seconds{*created}};
    return u;
}

// The first 9 parameters of update_user and delete_user: the user as it was read.
void add_as_read(std::vector<pg::param>& p, const user& u) {
    p.push_back(pg::param::text(u.client_id));
    p.push_back(pg::param::text(std::string(ulid_of(u))));
    p.push_back(pg::param::text(u.external_user_id));
    p.push_back(pg::param::optional(u.name));
    p.push_back(pg::param::optional(u.email));
    p.push_back(pg::param::optional(u.phone));
    p.push_back(pg::param::text(u.language));
    p.push_back(pg::param::text(std::to_string(static_cast<int>(u.stage))));
    p.push_back(pg::param::text(std::to_string(u.created_at.time_since_epoch().count())));
}

pg::command prepared(const char* name, std::vector<pg::param> params) {
    pg::command c;
    c.statement = name;
    c.params = std::move(params);
    return c;
}

pg::command plain(const char* sql) {
    pg::command c;
    c.statement = sql;
    c.sql = true;
    return c;
}

pg::command change_command(const user& before, const user& after) {
    std::vector<pg::param> p;
    add_as_read(p, before);
    p.push_back(pg::param::text(after.external_user_id));
    p.push_back(pg::param::optional(after.name));
    p.push_back(pg::param::optional(after.email));
    p.push_back(pg::param::optional(after.phone));
    p.push_back(pg::param::text(after.language));
    p.push_back(pg::param::text(std::to_string(static_cast<int>(after.stage))));
    return prepared("update_user", std::move(p));
}

// Appends one element to a PostgreSQL array literal being built in `out` ("{" already there).
void add_element(std::string& out, const std::optional<std::string>& v) {
    if (out.size() > 1) out += ',';
    if (!v) {
        out += "NULL";
        return;
    }
    out += '"';
    for (const char c : *v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

// Text parameters travel as C strings, and PostgreSQL's text holds no NUL: a NUL would cut a
// value short, so a user holding one cannot be stored as it is.
bool holds_nul(const user& u) {
    const auto has = [](std::string_view s) { return s.find('\0') != std::string_view::npos; };
    const auto opt_has = [&](const std::optional<std::string>& s) { return s && has(*s); };
    return has(u.client_id) || has(u.id) || has(u.external_user_id) || opt_has(u.name) || opt_has(u.email) ||
           opt_has(u.phone) || has(u.language);
}

pg::command insert_users_command(std::span<const user> users) {
    std::vector<std::string> arrays(9, "{");
    for (const auto& u : users) {
        add_element(arrays[0], u.client_id);
        add_element(arrays[1], std::string(ulid_of(u)));
        add_element(arrays[2], u.external_user_id);
        add_element(arrays[3], u.name);
        add_element(arrays[4], u.email);
        add_element(arrays[5], u.phone);
        add_element(arrays[6], u.language);
        add_element(arrays[7], std::to_string(static_cast<int>(u.stage)));
        add_element(arrays[8], std::to_string(u.created_at.time_since_epoch().count()));
    }
    std::vector<pg::param> p;
    for (auto& a : arrays) p.push_back(pg::param::text(std::move(a.append("}"))));
    return prepared("insert_users", std::move(p));
}

std::string headers_json(const kept_answer& answer) {
    boost::json::array headers;
    for (const auto& [name, value] : answer.headers) headers.push_back(boost::json::array{name, value});
    return boost::json::serialize(headers);
}

pg::command keep_command(const kept_record& r, std::chrono::seconds ttl) {
    // Expired (kept_expired) at `now` if created_at + ttl + 1 s <= now, whole seconds.
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const auto expired_if_at_or_before = (now - ttl - std::chrono::seconds(1)).time_since_epoch().count();
    std::vector<pg::param> p;
    p.push_back(pg::param::text(r.client_id));
    p.push_back(pg::param::text(r.key));
    p.push_back(pg::param::bytes(r.fingerprint));
    p.push_back(pg::param::text(std::to_string(r.created_at.time_since_epoch().count())));
    p.push_back(pg::param::text(std::to_string(r.answer.status)));
    p.push_back(pg::param::text(headers_json(r.answer)));
    p.push_back(pg::param::bytes(r.answer.body));
    p.push_back(pg::param::text(std::to_string(expired_if_at_or_before)));
    return prepared("keep_answer", std::move(p));
}

std::optional<kept_record> kept_of(const pg::rows& r, std::string_view client_id, std::string_view key) {
    kept_record k;
    k.client_id = client_id;
    k.key = key;
    auto fingerprint = r.bytes(0, 0);
    const auto created = r.integer(0, 1);
    const auto status = r.integer(0, 2);
    auto body = r.bytes(0, 4);
    if (!fingerprint || !created || !status || *status < 0 || !body) return std::nullopt;
    k.fingerprint = std::move(*fingerprint);
    k.created_at = std::chrono::sys_seconds{std::chrono::seconds{*created}};
    k.answer.status = static_cast<unsigned>(*status);
    k.answer.body = std::move(*body);
    boost::system::error_code ec;
    const auto headers = boost::json::parse(r.text(0, 3), ec);
    if (ec || !headers.is_array()) return std::nullopt;
    for (const auto& h : headers.get_array()) {
        const auto* pair = h.if_array();
        if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string()) return std::nullopt;
        k.answer.headers.emplace_back(std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string()));
    }
    return k;
}

// ---------------------------------------------------------------------------------------------
// Failures to the store's errors.

// The database's own words go to the log; the caller sees INTERNAL_ERROR or, when the database
// cannot be reached or cannot take the statement now, SERVICE_UNAVAILABLE.
error store_error(const pg::failure& f, std::string_view operation) {
    if (f.code == errc::unavailable) {
        if (!f.sqlstate.empty())  // the server refused for now (shutting down, read-only, deadlock)
            log(log_level::warning, "storage_unavailable",
                {{"operation", operation}, {"sqlstate", f.sqlstate}, {"status", f.message}});
        return {errc::unavailable, {}};
    }
    log(log_level::error, "storage_error", {{"operation", operation}, {"sqlstate", f.sqlstate}, {"status", f.message}});
    return {errc::internal, {}};
}

error damaged(std::string_view operation, std::string_view what) {
    log(log_level::error, "storage_error", {{"operation", operation}, {"status", what}});
    return {errc::internal, {}};
}

// A change's or removal's failure: a user no longer as read (22012), or a new external id taken
// meanwhile (23505), is a conflict: the caller reads again.
error write_error(const pg::failure& f, std::string_view operation) {
    if (f.sqlstate == "22012" || f.sqlstate == "23505") return {errc::conflict, {}};
    return store_error(f, operation);
}

// A write's transaction that the database rolled back whole for a deadlock (40P01) or a
// serialization failure (40001): the same transaction, tried again at once, may well succeed.
// The writes take their rows in a fixed order (users by client and id or external id, kept
// answers by client and key) so that other nodes' writes rarely deadlock with them; what still
// can (a rare mix of moves of external ids) is tried again, up to write_tries times, before its
// failure is the caller's (unavailable: retry later).
bool worth_trying_again(const pg::failure& f) { return f.sqlstate == "40P01" || f.sqlstate == "40001"; }
constexpr int write_tries = 3;

void log_trying_again(const pg::failure& f, std::string_view operation, int attempt) {
    log(log_level::warning, "storage_retried",
        {{"operation", operation}, {"sqlstate", f.sqlstate}, {"attempt", attempt}, {"status", f.message}});
}

// A short pause, random in length, before trying a write again: the transaction that won the
// deadlock takes the rows first (tried again at once, the loser may take them again before it
// and deadlock anew), and two nodes' writers that deadlocked with each other do not meet again.
awaitable<void> pause_before_trying_again(const executor& ex, int attempt) {
    thread_local std::minstd_rand random(std::random_device{}());
    const auto ms = std::uniform_int_distribution<int>(10, 40)(random) * attempt;
    pg::async_connection::steady_timer t(ex, std::chrono::milliseconds(ms));
    co_await t.async_wait(net::as_tuple(net::use_awaitable_t<executor>{}));
}

// Kept answers in the order they are written: by client and key.
std::vector<kept_record> in_key_order(std::vector<kept_record> kept) {
    std::stable_sort(kept.begin(), kept.end(), [](const kept_record& a, const kept_record& b) {
        return std::tie(a.client_id, a.key) < std::tie(b.client_id, b.key);
    });
    return kept;
}

// ---------------------------------------------------------------------------------------------
// The operations, on a given connection.

awaitable<result<user>> read_user(pg::async_connection& c, pg::command cmd, const char* operation) {
    auto r = co_await c.query(std::move(cmd));
    if (!r) co_return store_error(r.error(), operation);
    if (r->size() == 0) co_return error{errc::not_found, {}};
    auto u = user_of(*r, 0);
    if (!u) co_return damaged(operation, "a user row out of range");
    co_return std::move(*u);
}

// The caller's user first, then, for a miss, anyone's (see store::get). `operation` names the
// read in the log ("... on a replica" for a replica's).
awaitable<result<user>> get_user(pg::async_connection& c, std::string client_id, std::string ulid,
                                 const char* operation = "get user") {
    std::vector<pg::param> own;
    own.push_back(pg::param::text(std::move(client_id)));
    own.push_back(pg::param::text(ulid));
    auto found = co_await read_user(c, prepared("user_of_client", std::move(own)), operation);
    if (found || found.error().code != errc::not_found) co_return found;
    std::vector<pg::param> any;
    any.push_back(pg::param::text(std::move(ulid)));
    co_return co_await read_user(c, prepared("user_by_id", std::move(any)), operation);
}

awaitable<result<user>> find_external_user(pg::async_connection& c, std::string client_id, std::string external,
                                           const char* operation = "get external id") {
    std::vector<pg::param> p;
    p.push_back(pg::param::text(std::move(client_id)));
    p.push_back(pg::param::text(std::move(external)));
    co_return co_await read_user(c, prepared("user_by_external", std::move(p)), operation);
}

awaitable<result<kept_record>> find_kept_record(pg::async_connection& c, std::string client_id, std::string key) {
    std::vector<pg::param> p;
    p.push_back(pg::param::text(client_id));
    p.push_back(pg::param::text(key));
    auto r = co_await c.query(prepared("kept_by_key", std::move(p)));
    if (!r) co_return store_error(r.error(), "get kept answer");
    if (r->size() == 0) co_return error{errc::not_found, {}};
    auto k = kept_of(*r, client_id, key);
    if (!k) co_return damaged("get kept answer", "a kept answer out of range");
    co_return std::move(*k);
}

// The range's strings, copied: the coroutine outlives none of its caller's, but is simpler so.
struct owned_range {
    std::string client_id;
    std::optional<onboarding_stage> stage;
    std::string cursor;
    bool newer = false;
    std::size_t limit = 10;
};

awaitable<result<user_page>> list_users(pg::async_connection& c, owned_range range) {
    std::vector<pg::param> p;
    p.push_back(pg::param::text(range.client_id));
    // Newest first from no cursor: below "~", which sorts (bytewise) after every ULID character.
    p.push_back(pg::param::text(range.cursor.empty() && !range.newer ? std::string("~") : range.cursor));
    p.push_back(pg::param::text(std::to_string(range.limit + 1)));
    if (range.stage) p.push_back(pg::param::text(std::to_string(static_cast<int>(*range.stage))));
    const char* name = range.newer ? (range.stage ? "list_newer_stage" : "list_newer")
                                   : (range.stage ? "list_older_stage" : "list_older");
    auto r = co_await c.query(prepared(name, std::move(p)));
    if (!r) co_return store_error(r.error(), "list users");
    user_page page;
    for (int i = 0; i < r->size(); ++i) {
        if (page.users.size() == range.limit) {
            page.has_more = true;
            break;
        }
        auto u = user_of(*r, i);
        if (!u) co_return damaged("list users", "a user row out of range");
        page.users.push_back(std::move(*u));
    }
    if (range.newer) std::reverse(page.users.begin(), page.users.end());
    co_return page;
}

owned_range own(const store::list_range& r) {
    return {std::string(r.client_id), r.stage, std::string(r.cursor), r.newer, r.limit};
}

// ---------------------------------------------------------------------------------------------
// Per-io_context pools of readers.

struct pool_config {
    std::string url;
    std::vector<std::string> replica_urls;
    std::size_t size = 1;
    std::chrono::milliseconds timeout{5000};
};

// Connections to `url`, `size` of them, on `ex`; `name` and `outage_effect` for the log.
std::vector<std::shared_ptr<pg::async_connection>> open_connections(executor ex, const std::string& url, std::size_t size,
                                                                    std::chrono::milliseconds timeout, const char* name,
                                                                    const char* outage_effect) {
    std::vector<std::shared_ptr<pg::async_connection>> made;
    for (std::size_t i = 0; i < std::max<std::size_t>(size, 1); ++i) {
        pg::connection_options o;
        o.url = url;
        o.statements = statements();
        o.timeout = timeout;
        o.name = name;
        o.outage_effect = outage_effect;
        made.push_back(pg::async_connection::start(ex, std::move(o)));
    }
    return made;
}

// One store's readers on one io_context: `size` connections to the primary, made with the pool,
// and as many to each replica, made on the first lookup that asks for one (a pool that only
// serves the primary's reads, the store's own for its blocking calls, never connects to a
// replica). Holds a copy of the configuration only: it may outlive the store.
class reader_pool {
public:
    // `first`: where the turn among the replica connections starts, so that the io_contexts of
    // a store spread their first lookups over the replicas.
    reader_pool(executor ex, pool_config config, std::size_t first)
        : ex_(ex), config_(std::move(config)), next_replica_(first) {
        primary_ = open_connections(ex_, config_.url, config_.size, config_.timeout, "reader",
                                    "its statements answer 503 until it has connected again");
    }
    // The next primary connection in turn, preferring one that is up.
    std::shared_ptr<pg::async_connection> primary() {
        for (std::size_t tries = 0; tries < primary_.size(); ++tries) {
            auto& c = primary_[next_++ % primary_.size()];
            if (c->ready()) return c;
        }
        return primary_[next_++ % primary_.size()];
    }
    // The next replica connection in turn that is up (round-robin over every replica's), or null
    // if none is: connecting, down (the replica stopped, unreachable), or no replica configured.
    // A lookup then goes to the primary at once, never waiting for a replica.
    std::shared_ptr<pg::async_connection> replica() {
        if (config_.replica_urls.empty()) return nullptr;
        if (replicas_.empty()) {
            if (closed_) return nullptr;
            for (const auto& url : config_.replica_urls) {
                auto made = open_connections(ex_, url, config_.size, config_.timeout, "replica",
                                             "lookups go to the primary until it has connected again");
                replicas_.insert(replicas_.end(), made.begin(), made.end());
            }
            return nullptr;  // none is up yet: this lookup goes to the primary
        }
        for (std::size_t tries = 0; tries < replicas_.size(); ++tries) {
            auto& c = replicas_[next_replica_++ % replicas_.size()];
            if (c->ready()) return c;
        }
        return nullptr;
    }
    void close() {
        closed_ = true;
        for (auto& c : primary_) c->close();
        for (auto& c : replicas_) c->close();
    }
    const executor& get_executor() const noexcept { return ex_; }

private:
    executor ex_;
    pool_config config_;
    std::vector<std::shared_ptr<pg::async_connection>> primary_;
    std::vector<std::shared_ptr<pg::async_connection>> replicas_;
    std::size_t next_ = 0;
    std::size_t next_replica_ = 0;
    bool closed_ = false;
};

// The pools of an io_context, one per store (by the store's serial number, never reused: a
// store made at a destroyed one's address gets pools of its own). Destroyed, with their
// connections, when the io_context is.
class pool_service final : public net::execution_context::service {
public:
    static inline net::execution_context::id id;
    explicit pool_service(net::execution_context& ctx) : service(ctx) {}

    std::shared_ptr<reader_pool> pool_for(std::uint64_t store, executor ex, const pool_config& config,
                                          std::atomic<std::size_t>& pools_made) {
        std::lock_guard lock(mutex_);
        auto& p = pools_[store];
        if (!p) p = std::make_shared<reader_pool>(ex, config, pools_made++);
        return p;
    }

private:
    void shutdown() override {
        std::unordered_map<std::uint64_t, std::shared_ptr<reader_pool>> pools;
        {
            std::lock_guard lock(mutex_);
            pools.swap(pools_);
        }
        for (auto& [store, p] : pools) p->close();
    }

    std::mutex mutex_;  // pool_for is called on the io_context's thread; shutdown maybe not
    std::unordered_map<std::uint64_t, std::shared_ptr<reader_pool>> pools_;
};

std::atomic<std::uint64_t> store_serials{0};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct postgres_store::impl {
    postgres_store_options options;
    std::uint64_t serial = ++store_serials;
    pool_config readers;
    std::atomic<bool> writable{true};

    // The store's own thread, for the blocking calls. Declared before the connections, which
    // are closed on it and destroyed before it.
    mutable net::io_context io{1};
    std::optional<net::executor_work_guard<executor>> work;
    std::shared_ptr<pg::async_connection> writer;  // the writes, one at a time
    std::thread thread;

    mutable std::atomic<std::size_t> pools_made{0};

    explicit impl(postgres_store_options o) : options(std::move(o)) {
        readers.url = options.url;
        readers.replica_urls = options.replica_urls;
        readers.size = options.connections_per_thread;
        readers.timeout = options.read_timeout;
    }

    // This io_context's pool for this store; a one-entry cache per thread spares the lookup.
    std::shared_ptr<reader_pool> pool(const executor& ex) const {
        struct cached {
            std::uint64_t store = 0;
            const net::execution_context* context = nullptr;
            std::weak_ptr<reader_pool> pool;
        };
        thread_local cached last;
        if (last.store == serial && last.context == &ex.context())
            if (auto p = last.pool.lock()) return p;
        auto p = net::use_service<pool_service>(ex.context()).pool_for(serial, ex, readers, pools_made);
        last = {serial, &ex.context(), p};
        return p;
    }
    std::shared_ptr<pg::async_connection> reader(const executor& ex) const { return pool(ex)->primary(); }

    // Runs `op` (a coroutine function) on the store's thread, blocking this one until it ends.
    template <class T, class Op>
    result<T> block(Op op) const {
        if (io.get_executor().running_in_this_thread())  // would wait for itself
            return damaged("blocking call", "called on the store's own thread");
        std::promise<result<T>> answer;
        auto future = answer.get_future();
        net::co_spawn(io, std::move(op),
                      [&answer](std::exception_ptr e, result<T> r) {
                          if (e) {
                              try {
                                  std::rethrow_exception(e);
                              } catch (const std::exception& x) {
                                  r = damaged("blocking call", x.what());
                              } catch (...) {
                                  r = damaged("blocking call", "unknown exception");
                              }
                          }
                          answer.set_value(std::move(r));
                      });
        return future.get();
    }

    // A write's outcome, remembered for stats() and readiness, and logged when it turns.
    template <class T>
    result<T> wrote(result<T> r) {
        const bool ok = r.has_value() || r.error().code != errc::unavailable;
        if (writable.exchange(ok) != ok) {
            if (ok) log(log_level::info, "storage_recovered");
            else log(log_level::error, "storage_unavailable", {{"effect", "writes answer 503 until PostgreSQL answers again"}});
        }
        return r;
    }

    // Deletes the expired kept answers every purge period, on its own connection (the writes
    // never wait behind it), until that is closed.
    std::shared_ptr<pg::async_connection> purger;
    awaitable<void> purge_loop();
};

namespace {

// The operations of the writer. Each is one transaction, on the writer connection, which only
// the blocking write calls use (one at a time: the commit queue's writer).

// One try of insert_on; *again set if it failed in a way worth trying again (nothing applied).
awaitable<result<std::vector<bool>>> insert_once(pg::async_connection& c, std::span<const user> users,
                                                 const store::keep_answers& keep, std::chrono::seconds ttl,
                                                 int attempt, bool* again) {
    std::vector<bool> stored(users.size(), false);
    const auto failed = [&](const pg::failure& f) -> error {
        if (attempt < write_tries && worth_trying_again(f)) {
            log_trying_again(f, "insert users", attempt);
            *again = true;
            return {errc::unavailable, {}};
        }
        return store_error(f, "insert users");
    };
    auto held = co_await c.acquire();
    if (!held) co_return store_error(held.error(), "insert users");
    std::vector<pg::command> first;
    first.push_back(plain("begin"));
    if (!users.empty()) first.push_back(insert_users_command(users));
    auto inserted = co_await held->run(std::move(first), false);
    if (!inserted) co_return failed(inserted.error());
    if (!users.empty()) {
        std::unordered_map<std::string_view, std::size_t> place;
        for (std::size_t i = 0; i < users.size(); ++i) place.emplace(ulid_of(users[i]), i);
        const auto& ids = (*inserted)[1];
        for (int row = 0; row < ids.size(); ++row)
            if (const auto at = place.find(ids.text(row, 0)); at != place.end()) stored[at->second] = true;
    }
    std::vector<pg::command> second;
    if (keep)
        for (const auto& r : in_key_order(keep(stored))) second.push_back(keep_command(r, ttl));
    second.push_back(plain("commit"));
    auto committed = co_await held->run(std::move(second), true);
    if (!committed) co_return failed(committed.error());
    co_return stored;
}

awaitable<result<std::vector<bool>>> insert_on(pg::async_connection& c, std::span<const user> users,
                                               const store::keep_answers& keep, std::chrono::seconds ttl) {
    if (std::ranges::any_of(users, holds_nul))
        co_return damaged("insert users", "a user holds a NUL character, which PostgreSQL's text cannot store");
    for (int attempt = 1;; ++attempt) {
        bool again = false;
        auto r = co_await insert_once(c, users, keep, ttl, attempt, &again);
        if (!again) co_return r;
        co_await pause_before_trying_again(c.get_executor(), attempt);
    }
}

// Runs `commands` as one transaction, again if it is worth it.
awaitable<pg::outcome<std::vector<pg::rows>>> transaction_trying_again(pg::async_connection& c,
                                                                       std::vector<pg::command> commands,
                                                                       std::string_view operation) {
    for (int attempt = 1;; ++attempt) {
        auto done = co_await c.transaction(commands);
        if (done || attempt == write_tries || !worth_trying_again(done.error())) co_return done;
        log_trying_again(done.error(), operation, attempt);
        co_await pause_before_trying_again(c.get_executor(), attempt);
    }
}

// Users in the order they are written: by client and id.
template <class T, class Key>
std::vector<T> in_user_order(std::span<const T> items, Key key) {
    std::vector<T> sorted(items.begin(), items.end());
    std::stable_sort(sorted.begin(), sorted.end(), [&key](const T& a, const T& b) {
        const user& x = key(a);
        const user& y = key(b);
        return std::tie(x.client_id, x.id) < std::tie(y.client_id, y.id);
    });
    return sorted;
}

awaitable<result<void>> update_on(pg::async_connection& c, std::span<const store::change> unsorted,
                                  std::span<const kept_record> kept, std::chrono::seconds ttl) {
    const auto changes =
        in_user_order(unsorted, [](const store::change& ch) -> const user& { return ch.before; });
    std::vector<pg::command> commands;
    // A user moving its external id parks it first on a value no client can send (external ids
    // hold no control characters) and unique to the user: the unique key is checked row by row,
    // so changes that swap or pass on external ids within the batch would collide otherwise.
    std::vector<user> parked;
    for (const auto& [before, after] : changes) {
        if (holds_nul(after)) co_return damaged("update users", "a user holds a NUL character");
        if (before.external_user_id == after.external_user_id) continue;
        user p = before;
        p.external_user_id = "\x01moving:" + std::string(ulid_of(before));
        commands.push_back(change_command(before, p));
        parked.push_back(std::move(p));
    }
    std::size_t next_parked = 0;
    for (const auto& [before, after] : changes)
        commands.push_back(change_command(before.external_user_id == after.external_user_id ? before
                                                                                             : parked[next_parked++],
                                          after));
    for (const auto& r : in_key_order({kept.begin(), kept.end()})) commands.push_back(keep_command(r, ttl));
    if (commands.empty()) co_return result<void>{};
    auto done = co_await transaction_trying_again(c, std::move(commands), "update users");
    if (!done) co_return write_error(done.error(), "update users");
    co_return result<void>{};
}

awaitable<result<void>> remove_on(pg::async_connection& c, std::span<const user> users,
                                  std::span<const kept_record> kept, std::chrono::seconds ttl) {
    std::vector<pg::command> commands;
    for (const auto& u : in_user_order(users, [](const user& x) -> const user& { return x; })) {
        std::vector<pg::param> p;
        add_as_read(p, u);
        commands.push_back(prepared("delete_user", std::move(p)));
    }
    for (const auto& r : in_key_order({kept.begin(), kept.end()})) commands.push_back(keep_command(r, ttl));
    if (commands.empty()) co_return result<void>{};
    auto done = co_await transaction_trying_again(c, std::move(commands), "remove users");
    if (!done) co_return write_error(done.error(), "remove users");
    co_return result<void>{};
}

awaitable<result<void>> probe_on(pg::async_connection& c) {
    std::vector<pg::param> none;
    auto done = co_await c.query(prepared("probe_write", std::move(none)));
    if (!done) co_return store_error(done.error(), "probe write");
    co_return result<void>{};
}

// Deletes the kept answers that have expired (kept_expired, as keep_command): what RocksDB's
// compactions drop. One plain `delete ... where created_at <= $1` per window of created_at
// (purge_window seconds from the oldest answer left), so a backlog (after downtime, or a
// shorter TTL) goes in bounded transactions; each is a range of idempotency_keys_by_age (on
// every shard under Citus, which runs such a multi-shard delete; a delete by a ctid subquery it
// would refuse). The number of answers deleted.
awaitable<result<std::uint64_t>> purge_on(pg::async_connection& c, std::chrono::seconds ttl) {
    constexpr long long purge_window = 60;
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const long long last_expired = (now - ttl - std::chrono::seconds(1)).time_since_epoch().count();
    std::uint64_t deleted = 0;
    for (;;) {
        auto oldest = co_await c.query(plain("select min(created_at) from idempotency_keys"));
        if (!oldest) co_return store_error(oldest.error(), "purge kept answers");
        const auto first = oldest->integer(0, 0);
        if (!first || *first > last_expired) break;
        pg::command purge = plain("delete from idempotency_keys where created_at <= $1");
        purge.params.push_back(pg::param::text(std::to_string(std::min(last_expired, *first + purge_window - 1))));
        auto gone = co_await c.query(std::move(purge));
        if (!gone) co_return store_error(gone.error(), "purge kept answers");
        deleted += gone->affected();
    }
    co_return deleted;
}

}  // namespace

awaitable<void> postgres_store::impl::purge_loop() {
    pg::async_connection::steady_timer timer(io.get_executor());
    for (;;) {
        timer.expires_after(options.idempotency_purge_period);
        co_await timer.async_wait(net::as_tuple(net::use_awaitable_t<executor>{}));
        if (purger->closed()) co_return;
        const auto deleted = co_await purge_on(*purger, options.idempotency_ttl);
        if (deleted && *deleted > 0) log(log_level::info, "idempotency_keys_purged", {{"deleted", *deleted}});
    }
}

postgres_store::postgres_store(const std::string& url, std::vector<std::string> replica_urls,
                               std::chrono::seconds idempotency_ttl)
    : postgres_store(postgres_store_options{url, std::move(replica_urls), idempotency_ttl}) {}

postgres_store::postgres_store(postgres_store_options options) : impl_(std::make_unique<impl>(std::move(options))) {
    {
        const auto conn = pg::connect(impl_->options.url);  // throws postgres::error, a runtime_error
        if (const auto refusal = pg::check_schema(conn.get())) throw std::runtime_error(*refusal);
    }
    auto& i = *impl_;
    i.work.emplace(i.io.get_executor());
    pg::connection_options w;
    w.url = i.options.url;
    w.statements = statements();
    w.timeout = i.options.write_timeout;
    w.name = "writer";
    i.writer = pg::async_connection::start(i.io.get_executor(), std::move(w));
    pg::connection_options p;
    p.url = i.options.url;
    p.timeout = i.options.write_timeout;
    p.name = "purger";
    i.purger = pg::async_connection::start(i.io.get_executor(), std::move(p));
    net::co_spawn(i.io, i.purge_loop(), net::detached);
    i.thread = std::thread([&io = i.io] { io.run(); });
}

postgres_store::~postgres_store() {
    auto& i = *impl_;
    net::post(i.io, [&i] {
        i.writer->close();
        i.purger->close();
    });
    i.work.reset();
    // Connections reconnecting or reading keep the io_context busy until closed: stop it once
    // the writer has closed. The store's own readers (its blocking reads' pool) are closed by
    // the pool service's shutdown when the io_context is destroyed, with impl_, after the join.
    net::post(i.io, [&i] { i.io.stop(); });
    i.thread.join();
    i.writer.reset();
    i.purger.reset();
}

// The blocking reads (the writer's, the library's) stay on the primary: the writer decides on
// what they answer, and must see every commit.
result<user> postgres_store::get(std::string_view client_id, std::string_view ulid) const {
    auto& i = *impl_;
    return i.block<user>([&i, client_id, ulid]() -> awaitable<result<user>> {
        const auto c = i.reader(co_await net::this_coro::executor);
        co_return co_await get_user(*c, std::string(client_id), std::string(ulid));
    });
}

result<user> postgres_store::find_external(std::string_view client_id, std::string_view external_user_id) const {
    auto& i = *impl_;
    return i.block<user>([&i, client_id, external_user_id]() -> awaitable<result<user>> {
        const auto c = i.reader(co_await net::this_coro::executor);
        co_return co_await find_external_user(*c, std::string(client_id), std::string(external_user_id));
    });
}

result<kept_record> postgres_store::find_kept(std::string_view client_id, std::string_view key) const {
    return impl_->block<kept_record>([this, client_id, key]() -> awaitable<result<kept_record>> {
        co_return co_await async_find_kept(client_id, key);
    });
}

result<user_page> postgres_store::list(const list_range& range) const {
    return impl_->block<user_page>([this, &range]() -> awaitable<result<user_page>> { co_return co_await async_list(range); });
}

// A lookup asks a replica first, if one is up on this io_context, and the primary when the
// replica does not find the user (it may not have replayed a fresh create yet) or fails (it
// stopped, is unreachable, cancelled the query for a recovery conflict...): a client reads its
// own create, and a replica's trouble costs a round trip to the primary, never an error.
awaitable<result<user>> postgres_store::async_get(std::string_view client_id, std::string_view ulid) const {
    std::string client(client_id);
    std::string id(ulid);
    const auto pool = impl_->pool(co_await net::this_coro::executor);
    if (const auto replica = pool->replica()) {
        auto found = co_await get_user(*replica, client, id, "get user on a replica");
        if (found) co_return found;
    }
    co_return co_await get_user(*pool->primary(), std::move(client), std::move(id));
}

awaitable<result<user>> postgres_store::async_find_external(std::string_view client_id,
                                                            std::string_view external_user_id) const {
    std::string client(client_id), external(external_user_id);
    const auto pool = impl_->pool(co_await net::this_coro::executor);
    if (const auto replica = pool->replica()) {
        auto found = co_await find_external_user(*replica, client, external, "get external id on a replica");
        if (found) co_return found;
    }
    co_return co_await find_external_user(*pool->primary(), std::move(client), std::move(external));
}

awaitable<result<kept_record>> postgres_store::async_find_kept(std::string_view client_id, std::string_view key) const {
    const auto c = impl_->reader(co_await net::this_coro::executor);
    co_return co_await find_kept_record(*c, std::string(client_id), std::string(key));
}

awaitable<result<user_page>> postgres_store::async_list(const list_range& range) const {
    auto owned = own(range);
    const auto c = impl_->reader(co_await net::this_coro::executor);
    co_return co_await list_users(*c, std::move(owned));
}

result<std::vector<bool>> postgres_store::insert(std::span<const user> users, const keep_answers& keep) {
    auto& i = *impl_;
    return i.wrote(i.block<std::vector<bool>>([&i, users, &keep]() -> awaitable<result<std::vector<bool>>> {
        co_return co_await insert_on(*i.writer, users, keep, i.options.idempotency_ttl);
    }));
}

result<void> postgres_store::update(std::span<const change> changes, std::span<const kept_record> kept) {
    auto& i = *impl_;
    return i.wrote(i.block<void>([&i, changes, kept]() -> awaitable<result<void>> {
        co_return co_await update_on(*i.writer, changes, kept, i.options.idempotency_ttl);
    }));
}

result<void> postgres_store::remove(std::span<const user> users, std::span<const kept_record> kept) {
    auto& i = *impl_;
    return i.wrote(i.block<void>([&i, users, kept]() -> awaitable<result<void>> {
        co_return co_await remove_on(*i.writer, users, kept, i.options.idempotency_ttl);
    }));
}

result<void> postgres_store::probe_write() {
    auto& i = *impl_;
    return i.wrote(i.block<void>([&i]() -> awaitable<result<void>> { co_return co_await probe_on(*i.writer); }));
}

store::figures postgres_store::stats() const {
    figures f;
    f.writable = impl_->writable.load(std::memory_order_relaxed);
    return f;
}

result<void> postgres_store::compact() {
    return error{errc::not_found,
                 "POST /compact is not served on PostgreSQL: VACUUM removes deleted rows from the table files "
                 "(autovacuum does it by itself; VACUUM FULL users rewrites them at once)."};
}

result<void> postgres_store::checkpoint(const std::filesystem::path&) const {
    return error{errc::not_found,
                 "POST /backup is not served on PostgreSQL: back the database up with its own tools "
                 "(pg_basebackup, pg_dump, or the provider's backups)."};
}

}  // namespace ozzie
