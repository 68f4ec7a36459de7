// The PostgreSQL schema against a real PostgreSQL 15: what migration 1 creates (keys,
// constraints, the indexes the queries need, every unique key led by client_id for Citus), and
// how migrate and the version checks behave: on an empty database, twice, on an older and a
// newer one, with a failing step, and with two migrations racing.
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"

#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <array>
#include <set>
#include <string>
#include <vector>

namespace {

namespace pg = ozzie::postgres;
using ozzie::testing::fresh_database;
using ozzie::testing::sqlstate_of;

// A 26-character id, distinct for each n (the schema checks the length only).
std::string ulid(int n) {
    const std::string digits = std::to_string(n);
    return std::string(26 - digits.size(), '0') + digits;
}

std::string insert_user(PGconn* conn, const std::string& client, const std::string& id, const std::string& external,
                        int stage = 0) {
    return sqlstate_of(conn, "insert into users (client_id, id, external_user_id, language, onboarding_stage, "
                             "created_at) values ('" + client + "', '" + id + "', '" + external + "', 'en', " +
                                 std::to_string(stage) + ", 1700000000)");
}

std::string insert_kept(PGconn* conn, const std::string& client, const std::string& key) {
    return sqlstate_of(conn, "insert into idempotency_keys (client_id, idempotency_key, fingerprint, created_at, "
                             "status, headers, body) values ('" + client + "', '" + key +
                                 "', '\\x00ff', 1700000000, 201, '[[\"ETag\",\"\\\"1\\\"\"]]', '\\x7b7d')");
}

// The plan PostgreSQL chooses for `sql`.
std::string plan_of(PGconn* conn, const std::string& sql) {
    const auto r = pg::exec(conn, "explain (costs off) " + sql);
    std::string plan;
    for (int i = 0; i < PQntuples(r.get()); ++i) plan += std::string(PQgetvalue(r.get(), i, 0)) + '\n';
    return plan;
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

std::string name_of(pg::schema_standing s) {
    switch (s) {
    case pg::schema_standing::empty: return "empty";
    case pg::schema_standing::older: return "older";
    case pg::schema_standing::current: return "current";
    case pg::schema_standing::newer: return "newer";
    }
    return "?";
}

// Migration 1 and a step 2 of the tests' own: an upgrade from version 1.
constexpr std::string_view extra_table_sql = "create table extra (client_id text not null, primary key (client_id))";
const std::array<pg::migration, 2> with_step_2{{pg::migrations()[0], {2, "an extra table", extra_table_sql}}};

}  // namespace

BOOST_AUTO_TEST_SUITE(schema)

BOOST_FIXTURE_TEST_CASE(an_empty_database_needs_the_migration, fresh_database) {
    const auto state = pg::schema_status(conn.get());
    BOOST_TEST(name_of(state.standing) == "empty");
    BOOST_TEST(state.version == 0);
    const auto refusal = pg::check_schema(conn.get());
    BOOST_TEST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("ozzie-admin migrate --postgres URL") != std::string::npos, *refusal);
    // Reading the status created nothing.
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from pg_tables where schemaname = 'public'") == 0);
}

BOOST_FIXTURE_TEST_CASE(migrating_an_empty_database_applies_every_migration, fresh_database) {
    const auto report = pg::migrate(conn.get());
    BOOST_TEST(report.from_version == 0);
    BOOST_TEST(report.applied == std::vector<int>{1});
    BOOST_TEST(report.to_version == pg::schema_version);
    const auto state = pg::schema_status(conn.get());
    BOOST_TEST(name_of(state.standing) == "current");
    BOOST_TEST(state.version == pg::schema_version);
    BOOST_TEST(!pg::check_schema(conn.get()).has_value());
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 1);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations where applied_at > "
                                             "now() - interval '1 hour'") == 1);
}

BOOST_FIXTURE_TEST_CASE(users_are_unique_by_id_and_by_external_id_per_client, fresh_database) {
    pg::migrate(conn.get());
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_1") == "");
    // The same external id under the same client: unique_violation; under another client: fine.
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(2), "usr_1") == "23505");
    BOOST_TEST(insert_user(conn.get(), "globex", ulid(3), "usr_1") == "");
    // The same id twice for one client: the primary key.
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_2") == "23505");
    // An insert ... on conflict of the external id decides a create's 201 or 409.
    const auto r = pg::exec(conn.get(), "insert into users (client_id, id, external_user_id, language, "
                                        "onboarding_stage, created_at) values ('acme', '" + ulid(4) +
                                            "', 'usr_1', 'en', 0, 1) on conflict (client_id, external_user_id) do "
                                            "nothing returning id");
    BOOST_TEST(PQntuples(r.get()) == 0);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from users") == 2);
}

BOOST_FIXTURE_TEST_CASE(user_columns_refuse_what_no_user_can_hold, fresh_database) {
    pg::migrate(conn.get());
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1).substr(1), "usr_1") == "23514");  // 25 characters
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1) + "0", "usr_1") == "23514");      // 27
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_1", 3) == "23514");         // no such stage
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_1", -1) == "23514");
    BOOST_TEST(sqlstate_of(conn.get(), "insert into users (client_id, id, external_user_id, onboarding_stage, "
                                       "created_at) values ('acme', '" + ulid(1) + "', 'usr_1', 0, 1)") ==
               "23502");  // language is required: not_null_violation
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_1", 2) == "");
}

BOOST_FIXTURE_TEST_CASE(kept_answers_are_unique_per_client_and_key, fresh_database) {
    pg::migrate(conn.get());
    BOOST_TEST(insert_kept(conn.get(), "acme", "key-1") == "");
    BOOST_TEST(insert_kept(conn.get(), "acme", "key-1") == "23505");
    BOOST_TEST(insert_kept(conn.get(), "globex", "key-1") == "");
    BOOST_TEST(sqlstate_of(conn.get(), "insert into idempotency_keys values ('acme', 'key-2', '', 1, 201, "
                                       "'{\"ETag\":\"1\"}', '')") == "23514");  // headers not an array
    BOOST_TEST(sqlstate_of(conn.get(), "insert into idempotency_keys values ('acme', 'key-2', '', 1, 99, '[]', "
                                       "'')") == "23514");  // not an HTTP status
    // A body comes back byte for byte, whatever its bytes.
    pg::exec(conn.get(), "insert into idempotency_keys values ('acme', 'key-3', '', 1, 200, '[]', '\\x00c3ff0a')");
    const auto r = pg::exec(conn.get(), "select encode(body, 'hex') from idempotency_keys where idempotency_key = "
                                        "'key-3'");
    BOOST_TEST(std::string(PQgetvalue(r.get(), 0, 0)) == "00c3ff0a");
}

BOOST_FIXTURE_TEST_CASE(every_unique_key_starts_with_the_client_id, fresh_database) {
    // What Citus needs to distribute each table by client_id unchanged: each of its primary keys
    // and unique constraints includes the distribution column (here: leads with it).
    pg::migrate(conn.get());
    const auto tables = pg::exec(conn.get(), "select tablename from pg_tables where schemaname = 'public' and "
                                             "tablename <> 'ozzie_schema_migrations' order by tablename");
    std::vector<std::string> names;
    for (int i = 0; i < PQntuples(tables.get()); ++i) names.emplace_back(PQgetvalue(tables.get(), i, 0));
    BOOST_TEST(names == (std::vector<std::string>{"idempotency_keys", "users"}), boost::test_tools::per_element());
    const auto keys = pg::exec(conn.get(), R"sql(
        select c.relname, a.attname from pg_index i
        join pg_class c on c.oid = i.indexrelid
        join pg_class t on t.oid = i.indrelid
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indisunique and t.relnamespace = 'public'::regnamespace
          and t.relname <> 'ozzie_schema_migrations'
        order by c.relname)sql");
    std::set<std::string> unique_keys;
    for (int i = 0; i < PQntuples(keys.get()); ++i) {
        const std::string index = PQgetvalue(keys.get(), i, 0);
        unique_keys.insert(index);
        BOOST_TEST(std::string(PQgetvalue(keys.get(), i, 1)) == "client_id", index);
    }
    BOOST_TEST(unique_keys == (std::set<std::string>{"idempotency_keys_pkey", "users_client_id_external_user_id_key",
                                                     "users_pkey"}),
               boost::test_tools::per_element());
    // Their text columns compare byte by byte, whatever the database's locale.
    BOOST_TEST(pg::query_integer(conn.get(), R"sql(
        select count(*) from pg_attribute a join pg_collation c on c.oid = a.attcollation
        where a.attrelid in ('users'::regclass, 'idempotency_keys'::regclass) and c.collname = 'C'
          and a.attname in ('client_id', 'id', 'external_user_id', 'idempotency_key'))sql") == 5);
}

BOOST_FIXTURE_TEST_CASE(indexes_serve_every_query_without_a_sort, fresh_database) {
    pg::migrate(conn.get());
    // Enough rows, analyzed, for the planner to weigh the tables as it would in production:
    // 100 clients of 200 users each, at every stage, and as many kept answers of all ages.
    pg::exec(conn.get(), R"sql(
        insert into users (client_id, id, external_user_id, language, onboarding_stage, created_at)
            select 'client_' || (n % 100), lpad(n::text, 26, '0'), 'usr_' || n, 'en', n % 3,
            1700000000 + n from generate_series(1, 20000) n;
        insert into idempotency_keys select 'client_' || (n % 100), 'key_' || n, '', 1700000000 + n, 201, '[]', ''
            from generate_series(1, 20000) n;
        analyze users;
        analyze idempotency_keys)sql");
    // A client's users newest first, from the start and from a cursor: a backward scan of the
    // primary key; of one stage: of users_by_stage.
    for (const std::string& cursor : std::vector<std::string>{"", " and id < '" + ulid(10000) + "'"}) {
        const auto plan = plan_of(conn.get(), "select * from users where client_id = 'client_7'" + cursor +
                                                  " order by id desc limit 10");
        BOOST_TEST(plan.find("Index Scan Backward using users_pkey") != std::string::npos, plan);
        BOOST_TEST(count_of(plan, "Sort") == 0u, plan);
    }
    const auto by_stage = plan_of(conn.get(), "select * from users where client_id = 'client_7' and onboarding_stage = 1 "
                                              "and id < '" + ulid(10000) + "' order by id desc limit 10");
    BOOST_TEST(by_stage.find("Index Scan Backward using users_by_stage") != std::string::npos, by_stage);
    BOOST_TEST(count_of(by_stage, "Sort") == 0u, by_stage);
    // The external id's lookup, the cross-client id lookup (403 or 404), and the expiry.
    const auto external = plan_of(conn.get(), "select * from users where client_id = 'client_7' and external_user_id = 'x'");
    BOOST_TEST(external.find("users_client_id_external_user_id_key") != std::string::npos, external);
    const auto any_client = plan_of(conn.get(), "select client_id from users where id = '" + ulid(5) + "'");
    BOOST_TEST(any_client.find("users_by_id") != std::string::npos, any_client);
    const auto expiry = plan_of(conn.get(), "delete from idempotency_keys where created_at < 1700000100");
    BOOST_TEST(expiry.find("idempotency_keys_by_age") != std::string::npos, expiry);
}

BOOST_FIXTURE_TEST_CASE(migrating_twice_does_nothing_the_second_time, fresh_database) {
    pg::migrate(conn.get());
    BOOST_TEST(insert_user(conn.get(), "acme", ulid(1), "usr_1") == "");
    const auto again = pg::migrate(conn.get());
    BOOST_TEST(again.from_version == pg::schema_version);
    BOOST_TEST(again.applied.empty());
    BOOST_TEST(again.to_version == pg::schema_version);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 1);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from users") == 1);
}

BOOST_FIXTURE_TEST_CASE(an_older_schema_is_upgraded_step_by_step, fresh_database) {
    pg::migrate(conn.get());  // this build's: version 1
    const auto state = pg::schema_status(conn.get(), 2);
    BOOST_TEST(name_of(state.standing) == "older");
    BOOST_TEST(state.version == 1);
    const auto refusal = pg::check_schema(conn.get(), 2);
    BOOST_TEST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("older") != std::string::npos, *refusal);
    BOOST_TEST(refusal->find("ozzie-admin migrate --postgres URL") != std::string::npos, *refusal);

    std::vector<int> seen;
    const auto report = pg::migrate(conn.get(), with_step_2, [&](const pg::migration& m) { seen.push_back(m.version); });
    BOOST_TEST(report.from_version == 1);
    BOOST_TEST(report.applied == std::vector<int>{2});
    BOOST_TEST(seen == std::vector<int>{2});
    BOOST_TEST(report.to_version == 2);
    BOOST_TEST(name_of(pg::schema_status(conn.get(), 2).standing) == "current");
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from extra") == 0);
}

BOOST_FIXTURE_TEST_CASE(a_newer_schema_is_refused_and_left_alone, fresh_database) {
    pg::migrate(conn.get(), with_step_2);  // as a later build would have
    const auto state = pg::schema_status(conn.get());
    BOOST_TEST(name_of(state.standing) == "newer");
    BOOST_TEST(state.version == 2);
    const auto refusal = pg::check_schema(conn.get());
    BOOST_TEST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("newer") != std::string::npos, *refusal);
    BOOST_CHECK_THROW(pg::migrate(conn.get()), pg::schema_error);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 2);
    BOOST_TEST(pg::query_integer(conn.get(), "select (to_regclass('extra') is not null)::int") == 1);
}

BOOST_FIXTURE_TEST_CASE(a_failing_step_is_rolled_back_whole, fresh_database) {
    // Step 2 creates a table, then fails: neither the table nor version 2 may remain.
    const std::array<pg::migration, 2> failing{
        {pg::migrations()[0], {2, "fails halfway", "create table half (a int); select 1 / 0"}}};
    try {
        pg::migrate(conn.get(), failing);
        BOOST_FAIL("a failing step did not throw");
    } catch (const pg::error& e) {
        BOOST_TEST(e.sqlstate() == "22012");  // division_by_zero
        BOOST_TEST(std::string(e.what()).find("migration 2 (fails halfway) failed and was rolled back; the schema "
                                              "stays at version 1: ERROR:  division by zero") == 0,
                   e.what());
    }
    BOOST_TEST(pg::schema_status(conn.get(), 2).version == 1);  // step 1 stays applied
    BOOST_TEST(pg::query_integer(conn.get(), "select (to_regclass('half') is not null)::int") == 0);
    BOOST_TEST(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
    // The connection is usable, and the corrected step applies.
    BOOST_TEST(pg::migrate(conn.get(), with_step_2).applied == std::vector<int>{2});
}

BOOST_FIXTURE_TEST_CASE(a_database_not_in_utf8_is_refused, fresh_database) {
    const std::string name = this->name() + "_ascii";
    pg::exec(admin(), "create database " + name + " encoding 'SQL_ASCII' locale 'C' template template0");
    {
        const auto ascii = pg::connect(ozzie::testing::suite_cluster::get().url(name));
        try {
            pg::migrate(ascii.get());
            BOOST_FAIL("migrate accepted a SQL_ASCII database");
        } catch (const pg::schema_error& e) {
            BOOST_TEST(std::string(e.what()).find("UTF8") != std::string::npos, e.what());
        }
        BOOST_TEST(name_of(pg::schema_status(ascii.get()).standing) == "empty");  // nothing created
    }
    pg::exec(admin(), "drop database " + name);
}

BOOST_FIXTURE_TEST_CASE(an_empty_list_of_steps_only_creates_the_version_table, fresh_database) {
    const auto report = pg::migrate(conn.get(), {});
    BOOST_TEST(report.applied.empty());
    BOOST_TEST(report.to_version == 0);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from ozzie_schema_migrations") == 0);
    BOOST_TEST(name_of(pg::schema_status(conn.get()).standing) == "empty");
}

BOOST_AUTO_TEST_SUITE_END()
