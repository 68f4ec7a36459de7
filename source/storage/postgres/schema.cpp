#include "storage/postgres/schema.hpp"

#include "storage/postgres/libpq.hpp"

#include <array>

namespace ozzie::postgres {

namespace {

// The table of versions applied. Not keyed by client, unlike the others: it is the migration's
// own, read once at start; under Citus it stays a plain table of the coordinator, where
// `ozzie-admin migrate` runs. applied_at is for people reading it: timestamptz shows the time.
constexpr std::string_view version_table_sql = R"sql(
create table if not exists ozzie_schema_migrations (
    version integer primary key,
    applied_at timestamptz not null default now()
))sql";

// Migration 1. Its comments go to the database with it, which ignores them.
constexpr std::string_view migration_1 = R"sql(
-- Every table is keyed by client_id first: each API request is one client's, so it reads and
-- writes one key range, and Citus can shard the tables by client unchanged
-- (create_distributed_table('users', 'client_id')), each request then touching one shard; its
-- unique constraints must include the distribution column, as these do. Only what PostgreSQL,
-- Citus and YugabyteDB all accept: plain tables, B-tree keys, CHECK, text, bytea, jsonb.
--
-- Keys are text collate "C": compared byte by byte, as RocksDB compares its keys, whatever the
-- database's locale, so ULIDs sort by creation time and comparisons skip the locale's rules.

create table users (
    client_id text collate "C" not null,
    -- The 26-character ULID, without the API's "ozz_usr_" prefix (as RocksDB's key).
    id text collate "C" not null check (octet_length(id) = 26),
    external_user_id text collate "C" not null,
    name text,
    email text,
    phone text,
    -- No CHECK of the languages: the service validates them, and a new one needs no migration.
    language text not null,
    -- 0 intake_pending, 1 plan_pending, 2 active: ozzie::onboarding_stage's values, as in
    -- RocksDB's list index; two bytes in each index entry that holds it.
    onboarding_stage smallint not null check (onboarding_stage between 0 and 2),
    -- Unix seconds, UTC. The API's created_at is whole seconds: bigint holds exactly that, with
    -- no microseconds to round and no session TimeZone in its text form, and compares cheaply.
    created_at bigint not null,
    -- Point reads by id, and the list newest first: a backward scan of the client's range from a
    -- cursor (where client_id = $1 and id < $2 order by id desc limit $3). B-trees scan
    -- backwards as fast as forwards, so no DESC (which a primary key cannot have anyway).
    primary key (client_id, id),
    -- The API's rule, one external id per client, kept by the database for all nodes at once:
    -- a create is an insert ... on conflict (client_id, external_user_id) do nothing.
    unique (client_id, external_user_id)
);

-- The list of one onboarding stage, newest first: a backward scan of one (client, stage) range.
create index users_by_stage on users (client_id, onboarding_stage, id);

-- The one query that is not of one client: telling 403 from 404 for an id the client does not
-- own. Without this index it would read the whole table; under Citus it is a local index of
-- each shard, and the query asks every shard (only for a miss).
create index users_by_id on users (id);

-- The answers kept for writes made with an Idempotency-Key, for their retries.
create table idempotency_keys (
    client_id text collate "C" not null,
    idempotency_key text collate "C" not null,
    -- SHA-256 of the request's method, target and body: 32 raw bytes.
    fingerprint bytea not null,
    -- Unix seconds, UTC, rounded down (an answer lives at least its TTL), as users.created_at.
    created_at bigint not null,
    -- The answer: its HTTP status; its headers as a JSON array of [name, value] pairs (an array
    -- keeps their order; jsonb is in all three databases, and psql shows it); its body byte for
    -- byte (bytea: no encoding check or conversion on the way in or out).
    status smallint not null check (status between 100 and 599),
    headers jsonb not null check (jsonb_typeof(headers) = 'array'),
    body bytea not null,
    primary key (client_id, idempotency_key)
);

-- Expiry, delete from idempotency_keys where created_at < $1: a range of this index (on each
-- shard under Citus) instead of a scan of every kept answer.
create index idempotency_keys_by_age on idempotency_keys (created_at);
)sql";

constexpr std::array<migration, 1> all_migrations{{
    {1, "users and idempotency keys", migration_1},
}};
static_assert(all_migrations.back().version == schema_version);

// An explicit transaction, rolled back when destroyed uncommitted (a statement in it threw).
// READ COMMITTED whatever the session's default: each statement then sees what other
// transactions committed before it began, so the version read after the lock is the latest.
// Notices (e.g. "already exists, skipping") would go to stderr through libpq's default notice
// processor; within the transaction only warnings and errors are sent.
class transaction {
public:
    explicit transaction(PGconn* conn) : conn_(conn) {
        exec(conn_, "begin isolation level read committed; set local client_min_messages = warning");
    }
    ~transaction() {
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) result ignored(PQexec(conn_, "rollback"));
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    void commit() { exec(conn_, "commit"); }

private:
    PGconn* conn_;
};

bool version_table_exists(PGconn* conn) {
    return query_integer(conn, "select (to_regclass('ozzie_schema_migrations') is not null)::int") == 1;
}

int recorded_version(PGconn* conn) {
    return static_cast<int>(query_integer(conn, "select max(version) from ozzie_schema_migrations"));
}

// Creates ozzie_schema_migrations if missing. Two processes creating it at once both pass
// "if not exists" (neither sees the other's uncommitted table), and the second then fails on a
// catalog unique index once the first commits: the table exists by then, so look again.
void create_version_table(PGconn* conn) {
    for (int attempt = 1;; ++attempt) {
        if (version_table_exists(conn)) return;
        try {
            transaction tx(conn);
            exec(conn, std::string(version_table_sql));
            tx.commit();
            return;
        } catch (const error& e) {
            const bool raced = e.sqlstate() == "23505" || e.sqlstate() == "42P07";  // unique_violation, duplicate_table
            if (!raced || attempt == 3) throw;
        }
    }
}

std::string newer_message(int version, int known) {
    return "the database's schema is at version " + std::to_string(version) + ", newer than version " +
           std::to_string(known) + " that this build of Ozzie knows: a later build migrated it; run that build";
}

}  // namespace

std::span<const migration> migrations() noexcept { return all_migrations; }

schema_state schema_status(PGconn* conn, int known_version) {
    schema_state state;
    if (version_table_exists(conn)) state.version = recorded_version(conn);
    state.standing = state.version == 0              ? schema_standing::empty
                     : state.version < known_version ? schema_standing::older
                     : state.version == known_version ? schema_standing::current
                                                      : schema_standing::newer;
    return state;
}

std::optional<std::string> check_schema(PGconn* conn, int known_version) {
    const auto state = schema_status(conn, known_version);
    const std::string known = std::to_string(known_version);
    switch (state.standing) {
    case schema_standing::current:
        return std::nullopt;
    case schema_standing::empty:
        return "the database has no Ozzie schema: create it with `ozzie-admin migrate --postgres URL`, then start "
               "the server again";
    case schema_standing::older:
        return "the database's schema is at version " + std::to_string(state.version) + ", older than version " +
               known + " that this build needs: back it up, run `ozzie-admin migrate --postgres URL`, then start the "
               "server again";
    case schema_standing::newer:
        return newer_message(state.version, known_version);
    }
    return "unknown schema state";
}

migration_report migrate(PGconn* conn, std::span<const migration> steps,
                         const std::function<void(const migration&)>& applied) {
    for (std::size_t i = 0; i < steps.size(); ++i)
        if (steps[i].version != static_cast<int>(i) + 1)
            throw std::logic_error("migrations must be numbered 1, 2, ... in order");
    const int target = static_cast<int>(steps.size());

    // text columns hold what clients send, in any language: only UTF8 stores all of it.
    const auto encoding = exec(conn, "show server_encoding");
    if (std::string_view(PQgetvalue(encoding.get(), 0, 0)) != "UTF8")
        throw schema_error(std::string("the database's encoding is ") + PQgetvalue(encoding.get(), 0, 0) +
                           "; Ozzie needs a UTF8 database (e.g. createdb --encoding UTF8 --template template0)");

    create_version_table(conn);
    migration_report report;
    for (bool first = true;; first = false) {
        transaction tx(conn);
        // EXCLUSIVE blocks every other migration's lock until this transaction ends, but not
        // readers (schema_status takes ACCESS SHARE): servers starting meanwhile see the old
        // version until the commit. A second migrator waits here, then reads the new version.
        exec(conn, "lock table ozzie_schema_migrations in exclusive mode");
        const int version = recorded_version(conn);
        if (first) report.from_version = version;
        if (version > target) throw schema_error(newer_message(version, target));
        if (version == target) {
            tx.commit();
            report.to_version = version;
            return report;
        }
        const auto& step = steps[static_cast<std::size_t>(version)];
        try {
            exec(conn, std::string(step.sql));
            exec(conn, "insert into ozzie_schema_migrations (version) values (" + std::to_string(step.version) + ")");
            tx.commit();
        } catch (const error& e) {
            // Say which step failed: the database's message alone (say, that "users" exists
            // already, made by another program) does not.
            throw error("migration " + std::to_string(step.version) + " (" + std::string(step.summary) +
                            ") failed and was rolled back; the schema stays at version " + std::to_string(version) +
                            ": " + e.what(),
                        e.sqlstate());
        }
        report.applied.push_back(step.version);
        if (applied) applied(step);
    }
}

}  // namespace ozzie::postgres
