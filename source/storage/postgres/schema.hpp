// The PostgreSQL schema, as versioned migrations, and the checks that tell whether a database
// has the schema this build knows.
//
// The versions applied are rows of their own table, ozzie_schema_migrations(version, applied_at).
// `ozzie-admin migrate` applies each missing migration in a transaction of its own; the server
// checks the version before it serves and refuses a database that is empty, older or newer.
// A migration, once released, never changes: a change of the schema is a new migration.
//
// Tables are created and read unqualified, so in the first schema of the connection's
// search_path (by default one named like the role, else "public"); to keep Ozzie's tables apart
// in a shared database, give its role a schema of its own, or put "options=-csearch_path=NAME"
// in the URL of every node and of the migration.
//
// These calls block (libpq's synchronous API): for ozzie-admin and for start-up, never for the
// request path.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

// libpq's connection handle (libpq-fe.h declares the same), so that includers need not see libpq.
typedef struct pg_conn PGconn;

namespace ozzie::postgres {

// One step of the schema, applied once, in its own transaction, in version order.
struct migration {
    int version = 0;           // 1, 2, ...: one more than the step before
    std::string_view summary;  // what it does, in a few words, for ozzie-admin's output
    std::string_view sql;      // the statements, separated by ';'
};

// This build's migrations, in version order; the last one's version is schema_version.
std::span<const migration> migrations() noexcept;
// The version of the schema this build reads and writes.
inline constexpr int schema_version = 1;

// How a database's schema compares with the version a build knows.
enum class schema_standing {
    empty,    // no version recorded: nothing migrated yet
    older,    // migrated to an earlier version: `ozzie-admin migrate` brings it up to date
    current,  // exactly the known version
    newer,    // migrated by a later build: this one must not touch it
};

struct schema_state {
    int version = 0;  // the highest version recorded; 0 when there is none
    schema_standing standing = schema_standing::empty;
};

// A database whose schema this build must not use or migrate: newer than it knows, or in an
// encoding it cannot store text in. Nothing has been changed when this is thrown.
class schema_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The database's schema version and how it compares with `known_version`. Reads only (an absent
// ozzie_schema_migrations table is an empty schema). Throws postgres::error if a query fails.
schema_state schema_status(PGconn* conn, int known_version = schema_version);

// Why a server of this build must refuse to run on the database, in words for its operator
// (which command to run, or that a later build is needed); nullopt if the schema is current.
// Throws postgres::error if a query fails.
std::optional<std::string> check_schema(PGconn* conn, int known_version = schema_version);

// What migrate did.
struct migration_report {
    int from_version = 0;      // the version the database had (0: empty)
    std::vector<int> applied;  // the versions this call applied, in order; empty if none was due
    int to_version = 0;        // the version it has now
};

// Brings the database up to the last of `steps` (this build's migrations by default; tests pass
// their own), applying each missing one in its own transaction: begin, lock the version table,
// read the version, apply the next step, record it, commit. Safe when several processes migrate
// one database at once: each step is applied and recorded once, the others find it done.
// ozzie_schema_migrations is created first if it is missing; beyond that, a database with no
// step due is left as it is.
//
// `applied` (if set) is called after each step's commit, so a caller can say what was done even
// if a later step fails.
//
// Throws schema_error, having changed nothing, if the database is newer than the last step or
// its encoding is not UTF8; postgres::error if a statement fails: that step is rolled back
// entirely, the steps before it stay applied.
migration_report migrate(PGconn* conn, std::span<const migration> steps = migrations(),
                         const std::function<void(const migration&)>& applied = {});

}  // namespace ozzie::postgres
