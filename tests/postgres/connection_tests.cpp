// The asynchronous connection (source/storage/postgres/connection.hpp) against a real
// PostgreSQL 15: pipelined statements from many coroutines, transactions in one round trip and
// exclusive runs, binary parameters, and its failures: a server stopped under it (statements in
// flight and new ones fail with unavailable at once; it reconnects by itself), a statement
// that times out, a server that is down from the start. Each test runs its coroutines on an
// io_context in the test's own thread, so Boost.Test is only ever called from that thread.
#include <boost/test/unit_test.hpp>

#include "postgres/coroutine_runner.hpp"
#include "postgres/database_fixture.hpp"
#include "support/postgres_cluster.hpp"

#include "storage/postgres/connection.hpp"
#include "storage/postgres/libpq.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <dlfcn.h>
#include <netdb.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

// A slow resolver, without the network: this executable's getaddrinfo comes before the C
// library's for libpq too (a symbol defined in the executable and used by a shared library is
// exported, and the executable is searched first). Host names ending in ".slow.invalid" take
// slow_resolver_delay to resolve: "localhost.slow.invalid" then resolves as 127.0.0.1, any other
// is unknown. Everything else goes to the C library's getaddrinfo.
namespace {
constexpr std::chrono::milliseconds slow_resolver_delay{1500};
}

extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** res) {
    using real_t = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
    static const auto real = reinterpret_cast<real_t>(::dlsym(RTLD_NEXT, "getaddrinfo"));
    const std::string_view name = node ? node : "";
    if (name.ends_with(".slow.invalid")) {
        std::this_thread::sleep_for(slow_resolver_delay);
        if (name != "localhost.slow.invalid") return EAI_NONAME;
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}

namespace {

namespace net = boost::asio;
namespace pg = ozzie::postgres;
using ozzie::awaitable;
using ozzie::executor;
using ozzie::testing::fresh_database;
using ozzie::testing::postgres_cluster;
using ozzie::testing::run_coroutine;
using clock_type = std::chrono::steady_clock;

constexpr net::use_awaitable_t<executor> use_awaitable;

awaitable<void> sleep_for(executor ex, std::chrono::milliseconds d) {
    pg::async_connection::steady_timer t(ex, d);
    co_await t.async_wait(net::as_tuple(use_awaitable));
}

// Statements with their parameters. (No braced lists in the coroutines: g++ 12 miscompiles an
// initializer_list there, "array used as initializer".)
template <class... Params>
pg::command sql(std::string text, Params... params) {
    pg::command c;
    c.statement = std::move(text);
    c.sql = true;
    (c.params.push_back(std::move(params)), ...);
    return c;
}

template <class... Params>
pg::command named(std::string name, Params... params) {
    auto c = sql(std::move(name), std::move(params)...);
    c.sql = false;
    return c;
}

pg::connection_options options_for(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    pg::connection_options o;
    o.url = url;
    o.timeout = timeout;
    o.statements = {{"echo", "select $1::int as n, pg_backend_pid()"}};
    o.name = "test";
    return o;
}

std::string code_of(const pg::failure& f) { return std::string(ozzie::code_name(f.code)); }

// "ok", or the failure's SQLSTATE and code, e.g. "57014 SERVICE_UNAVAILABLE".
template <class Result>
std::string sqlstate_outcome(const Result& r) {
    return r ? "ok" : r.error().sqlstate + " " + code_of(r.error());
}

// One of many coroutines with a statement in flight: records its answer.
awaitable<void> echo(std::shared_ptr<pg::async_connection> c, int i, std::shared_ptr<int> remaining,
                     pg::async_connection::steady_timer* all_done, std::vector<int>* answered_in,
                     std::vector<long long>* values, std::vector<long long>* pids, int* failures) {
    auto r = co_await c->query(named("echo", pg::param::text(std::to_string(i))));
    answered_in->push_back(i);
    if (!r) ++*failures;
    else {
        (*values)[i] = r->integer(0, 0).value_or(-2);
        (*pids)[i] = r->integer(0, 1).value_or(-2);
    }
    if (--*remaining == 0) all_done->cancel();
}

// A statement's answer as text (its first value), or its failure's code, and how long it took.
awaitable<void> query_into(std::shared_ptr<pg::async_connection> c, std::string sql_text, std::string* answer,
                           clock_type::duration* took) {
    const auto began = clock_type::now();
    auto r = co_await c->query(sql(std::move(sql_text)));
    *answer = r ? std::string(r->text(0, 0)) : std::string(ozzie::code_name(r.error().code));
    if (took) *took = clock_type::now() - began;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connection)

BOOST_FIXTURE_TEST_CASE(pipelined_statements_from_many_coroutines_are_answered_in_order, fresh_database) {
    constexpr int n = 200;
    std::vector<int> answered_in;  // which coroutine's answer came, in the order they came
    std::vector<long long> values(n, -1);
    std::vector<long long> pids(n, -1);
    int failures = 0;
    std::uint64_t connections = 0;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        auto remaining = std::make_shared<int>(n);
        pg::async_connection::steady_timer all_done(ex, clock_type::time_point::max());
        for (int i = 0; i < n; ++i)
            net::co_spawn(ex, echo(c, i, remaining, &all_done, &answered_in, &values, &pids, &failures), net::detached);
        co_await all_done.async_wait(net::as_tuple(use_awaitable));
        connections = c->connections_made();
        c->close();
    });
    BOOST_TEST(failures == 0);
    BOOST_TEST_REQUIRE(answered_in.size() == std::size_t(n));
    for (int i = 0; i < n; ++i) {
        BOOST_TEST(answered_in[i] == i);
        BOOST_TEST(values[i] == i);
        BOOST_TEST(pids[i] == pids[0]);  // all on the one connection
    }
    BOOST_TEST(connections == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_transaction_is_all_or_nothing, fresh_database) {
    pg::exec(conn.get(), "create table t (n int primary key)");
    std::string first_error, skipped_error;
    std::size_t committed_rows = 0;
    long long count_after = -1;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        std::vector<pg::command> ok;
        ok.push_back(sql("insert into t values ($1)", pg::param::text("1")));
        ok.push_back(sql("insert into t values (2) returning n"));
        auto done = co_await c->transaction(std::move(ok));
        if (done) committed_rows = done->size();
        std::vector<pg::command> failing;
        failing.push_back(sql("insert into t values (3)"));
        failing.push_back(sql("insert into t values (1)"));  // unique_violation
        failing.push_back(sql("insert into t values (4)"));  // skipped
        auto failed = co_await c->transaction(std::move(failing));
        first_error = sqlstate_outcome(failed);
        auto count = co_await c->query(sql("select count(*) from t"));
        if (count) count_after = count->integer(0, 0).value_or(-2);
        c->close();
    });
    BOOST_TEST(committed_rows == 2u);
    BOOST_TEST(first_error == "23505 INTERNAL_ERROR");
    BOOST_TEST(count_after == 2);  // 3 rolled back with the failure, 4 never ran
}

// What exclusive_runs saw.
struct exclusive_outcome {
    std::vector<std::string> events;
    std::string other_saw;
    std::string abandoned_insert, failed_insert;
    long long committed = -1, total = -1;
};

// Holds the connection for a transaction of two round trips, while another coroutine's
// statement waits for its turn.
awaitable<void> committed_run(executor ex, std::shared_ptr<pg::async_connection> c, exclusive_outcome* out) {
    auto held = co_await c->acquire();
    // Another coroutine's statement, issued meanwhile, runs after the commit: it sees 1.
    net::co_spawn(ex, query_into(c, "select count(*) from t", &out->other_saw, nullptr), net::detached);
    std::vector<pg::command> first;
    first.push_back(sql("begin"));
    first.push_back(sql("insert into t values (1) returning n"));
    auto a = co_await held->run(std::move(first), false);
    out->events.push_back("first " + std::string(a ? (*a)[1].text(0, 0) : "error"));
    co_await sleep_for(ex, std::chrono::milliseconds(50));  // the other would run now if it could
    std::vector<pg::command> second;
    second.push_back(sql("commit"));
    auto b = co_await held->run(std::move(second), true);
    out->events.push_back(b ? "committed" : "commit failed");
    out->events.push_back("other: " + (out->other_saw.empty() ? std::string("not yet") : out->other_saw));
}

// Holds the connection for a transaction it leaves open: what it inserted goes away on release.
awaitable<void> unfinished_run(std::shared_ptr<pg::async_connection> c, std::string first_row, std::string second_row,
                               std::string* answer) {
    auto held = co_await c->acquire();
    std::vector<pg::command> first;
    first.push_back(sql("begin"));
    first.push_back(sql("insert into t values (" + first_row + ")"));
    if (!second_row.empty()) first.push_back(sql("insert into t values (" + second_row + ")"));
    auto a = co_await held->run(std::move(first), false);
    *answer = a ? "ok" : a.error().sqlstate;
}

awaitable<void> exclusive_runs(executor ex, std::string url, exclusive_outcome* out) {
    auto c = pg::async_connection::start(ex, options_for(url));
    co_await committed_run(ex, c, out);
    // Abandoned mid-transaction: rolled back when released.
    co_await unfinished_run(c, "2", "", &out->abandoned_insert);
    // A failure mid-transaction (1 is taken): rolled back too, and the connection serves on.
    co_await unfinished_run(c, "3", "1", &out->failed_insert);
    auto count = co_await c->query(sql("select count(*) from t"));
    if (count) out->total = count->integer(0, 0).value_or(-2);
    auto one = co_await c->query(sql("select count(*) from t where n = 1"));
    if (one) out->committed = one->integer(0, 0).value_or(-2);
    c->close();
}

BOOST_FIXTURE_TEST_CASE(an_exclusive_run_spans_round_trips_and_others_wait_their_turn, fresh_database) {
    pg::exec(conn.get(), "create table t (n int primary key)");
    exclusive_outcome out;
    run_coroutine([&](executor ex) { return exclusive_runs(ex, url(), &out); });
    BOOST_TEST(out.events == (std::vector<std::string>{"first 1", "committed", "other: not yet"}),
               boost::test_tools::per_element());
    BOOST_TEST(out.other_saw == "1");  // after the commit
    BOOST_TEST(out.abandoned_insert == "ok");
    BOOST_TEST(out.failed_insert == "23505");
    BOOST_TEST(out.committed == 1);
    BOOST_TEST(out.total == 1);  // 2 abandoned, 3 failed: both rolled back
}

BOOST_FIXTURE_TEST_CASE(bytes_and_nulls_round_trip, fresh_database) {
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    std::optional<std::string> back, null_back = "x", text_back;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        auto r = co_await c->query(sql("select $1::bytea, $2::bytea, $3::text", pg::param::bytes(all_bytes),
                                       pg::param::null(), pg::param::text("é\"'\\")));
        if (r) {
            back = r->bytes(0, 0);
            null_back = r->bytes(0, 1);
            text_back = r->optional_text(0, 2);
        }
        c->close();
    });
    BOOST_TEST((back == all_bytes));
    BOOST_TEST(!null_back.has_value());
    BOOST_TEST((text_back == std::optional<std::string>("é\"'\\")));
}

BOOST_AUTO_TEST_CASE(a_stopped_server_fails_statements_at_once_and_the_connection_recovers_by_itself) {
    postgres_cluster cluster;
    std::string in_flight, while_down, after;
    clock_type::duration in_flight_took{}, while_down_took{};
    std::uint64_t connections = 0;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(cluster.url(), std::chrono::seconds(30)));
        auto warm = co_await c->query(sql("select 1"));
        BOOST_TEST_REQUIRE(warm.has_value());
        // A statement in flight when the server stops.
        net::co_spawn(ex, query_into(c, "select pg_sleep(20)", &in_flight, &in_flight_took), net::detached);
        co_await sleep_for(ex, std::chrono::milliseconds(200));
        cluster.stop();  // blocks this thread; the connection notices when it runs again
        co_await sleep_for(ex, std::chrono::milliseconds(100));
        const auto down_began = clock_type::now();
        auto r = co_await c->query(sql("select 1"));
        while_down = r ? "ok" : code_of(r.error());
        while_down_took = clock_type::now() - down_began;
        cluster.start();
        // It reconnects by itself (backoff of at most 2 s); the same object serves again.
        const auto until = clock_type::now() + std::chrono::seconds(20);
        for (;;) {
            auto again = co_await c->query(sql("select 42"));
            if (again) {
                after = std::string(again->text(0, 0));
                break;
            }
            if (clock_type::now() > until) break;
            co_await sleep_for(ex, std::chrono::milliseconds(50));
        }
        connections = c->connections_made();
        c->close();
    });
    BOOST_TEST(in_flight == "SERVICE_UNAVAILABLE");
    BOOST_TEST(std::chrono::duration<double>(in_flight_took).count() < 10.0);
    BOOST_TEST(while_down == "SERVICE_UNAVAILABLE");
    BOOST_TEST(std::chrono::duration<double>(while_down_took).count() < 0.5);
    BOOST_TEST(after == "42");
    BOOST_TEST(connections == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_statement_without_an_answer_in_time_is_unavailable_and_the_connection_is_made_again,
                        fresh_database) {
    std::string slow, next;
    clock_type::duration took{};
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url(), std::chrono::milliseconds(300)));
        const auto began = clock_type::now();
        auto r = co_await c->query(sql("select pg_sleep(3)"));
        took = clock_type::now() - began;
        slow = r ? "ok" : code_of(r.error());
        const auto until = clock_type::now() + std::chrono::seconds(10);
        for (;;) {
            auto again = co_await c->query(sql("select 'back'"));
            if (again) {
                next = std::string(again->text(0, 0));
                break;
            }
            if (clock_type::now() > until) break;
            co_await sleep_for(ex, std::chrono::milliseconds(50));
        }
        c->close();
    });
    BOOST_TEST(slow == "SERVICE_UNAVAILABLE");
    BOOST_TEST(std::chrono::duration<double>(took).count() < 2.0);
    BOOST_TEST(next == "back");
}

BOOST_AUTO_TEST_CASE(a_server_down_from_the_start_fails_the_first_statements_promptly) {
    ozzie::testing::unused_port port;  // nothing listens there
    std::string first;
    clock_type::duration took{};
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(
            ex, options_for("postgresql://ozzie@127.0.0.1:" + std::to_string(port.port()) + "/postgres"));
        const auto began = clock_type::now();
        auto r = co_await c->query(sql("select 1"));
        took = clock_type::now() - began;
        first = r ? "ok" : code_of(r.error());
        c->close();
    });
    BOOST_TEST(first == "SERVICE_UNAVAILABLE");
    BOOST_TEST(std::chrono::duration<double>(took).count() < 2.0);
}

// What ticks of a timer on the connection's io_context saw while it connected: the longest gap
// between two ticks (a blocked io_context shows as a long one).
struct ticks {
    clock_type::duration longest_gap{};
    int count = 0;
};

awaitable<void> tick(executor ex, clock_type::time_point until, ticks* out) {
    auto last = clock_type::now();
    while (clock_type::now() < until) {
        co_await sleep_for(ex, std::chrono::milliseconds(10));
        const auto now = clock_type::now();
        out->longest_gap = std::max(out->longest_gap, now - last);
        ++out->count;
        last = now;
    }
}

BOOST_AUTO_TEST_CASE(resolving_a_host_name_never_blocks_the_connections_io_context) {
    // A name the (interposed, slow) resolver does not know: the attempt fails after it answers,
    // and the io_context runs on meanwhile.
    ticks during;
    std::string first;
    clock_type::duration took{};
    run_coroutine([&](executor ex) -> awaitable<void> {
        net::co_spawn(ex, tick(ex, clock_type::now() + slow_resolver_delay + std::chrono::milliseconds(300), &during),
                      net::detached);
        auto c = pg::async_connection::start(ex, options_for("postgresql://ozzie@nonexistent.slow.invalid/x"));
        const auto began = clock_type::now();
        auto r = co_await c->query(sql("select 1"));
        took = clock_type::now() - began;
        first = r ? "ok" : code_of(r.error());
        co_await sleep_for(ex, std::chrono::milliseconds(400));  // the ticks end
        c->close();
    });
    BOOST_TEST(first == "SERVICE_UNAVAILABLE");
    // The first statement waited for the first attempt, which waited for the resolver.
    BOOST_TEST(std::chrono::duration<double>(took).count() >= 1.0);
    BOOST_TEST(during.count >= 50);
    // A thread blocked in the resolver would show a gap of its whole delay; half of it leaves a
    // noisy machine room to be slow.
    BOOST_TEST(during.longest_gap < slow_resolver_delay / 2);
}

BOOST_FIXTURE_TEST_CASE(a_host_name_resolved_slowly_connects_without_blocking_the_io_context, fresh_database) {
    // The same server by a name that takes the resolver its time.
    auto by_name = url();
    by_name.replace(by_name.find("127.0.0.1"), 9, "localhost.slow.invalid");
    ticks during;
    std::string answer;
    run_coroutine([&](executor ex) -> awaitable<void> {
        net::co_spawn(ex, tick(ex, clock_type::now() + slow_resolver_delay + std::chrono::milliseconds(300), &during),
                      net::detached);
        auto c = pg::async_connection::start(ex, options_for(by_name));
        auto r = co_await c->query(sql("select 'connected'"));
        answer = r ? std::string(r->text(0, 0)) : code_of(r.error()) + " " + r.error().message;
        co_await sleep_for(ex, slow_resolver_delay);  // the ticks end
        c->close();
    });
    BOOST_TEST(answer == "connected");
    BOOST_TEST(during.count >= 50);
    // A thread blocked in the resolver would show a gap of its whole delay; half of it leaves a
    // noisy machine room to be slow.
    BOOST_TEST(during.longest_gap < slow_resolver_delay / 2);
}

BOOST_AUTO_TEST_CASE(closing_a_connection_while_its_host_name_resolves_is_immediate) {
    clock_type::duration took{};
    std::string first;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for("postgresql://ozzie@nonexistent.slow.invalid/x"));
        co_await sleep_for(ex, std::chrono::milliseconds(100));
        const auto began = clock_type::now();
        net::co_spawn(ex, query_into(c, "select 1", &first, nullptr), net::detached);
        co_await sleep_for(ex, std::chrono::milliseconds(10));
        c->close();
        co_await sleep_for(ex, std::chrono::milliseconds(10));
        took = clock_type::now() - began;
    });
    BOOST_TEST(first == "SERVICE_UNAVAILABLE");
    BOOST_TEST(std::chrono::duration<double>(took).count() < 0.5);
}

BOOST_FIXTURE_TEST_CASE(a_statement_or_lock_timeout_is_unavailable_on_the_same_connection, fresh_database) {
    pg::exec(conn.get(), "create table t (n int)");
    pg::exec(conn.get(), "begin");
    pg::exec(conn.get(), "lock table t in access exclusive mode");  // held until the rollback
    std::string timed_out, locked, after;
    std::uint64_t connections = 0;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        std::vector<pg::command> settings;
        settings.push_back(sql("set statement_timeout = 50"));
        auto set = co_await c->transaction(std::move(settings));
        auto r = co_await c->query(sql("select pg_sleep(2)"));
        timed_out = sqlstate_outcome(r);
        std::vector<pg::command> more;
        more.push_back(sql("set statement_timeout = 0"));
        more.push_back(sql("set lock_timeout = 50"));
        set = co_await c->transaction(std::move(more));
        auto l = co_await c->query(sql("select count(*) from t"));
        locked = sqlstate_outcome(l);
        auto a = co_await c->query(sql("select 'still here'"));
        after = a ? std::string(a->text(0, 0)) : code_of(a.error());
        connections = c->connections_made();
        c->close();
    });
    pg::exec(conn.get(), "rollback");
    BOOST_TEST(timed_out == "57014 SERVICE_UNAVAILABLE");  // query_canceled
    BOOST_TEST(locked == "55P03 SERVICE_UNAVAILABLE");     // lock_not_available
    BOOST_TEST(after == "still here");
    BOOST_TEST(connections == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_read_only_server_is_unavailable_and_the_connection_is_made_again, fresh_database) {
    std::string refused, after;
    std::uint64_t connections = 0;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        // This session turns read-only, as a primary demoted to a standby would.
        std::vector<pg::command> settings;
        settings.push_back(sql("set default_transaction_read_only = on"));
        auto set = co_await c->transaction(std::move(settings));
        auto r = co_await c->query(sql("create table t (n int)"));
        refused = sqlstate_outcome(r);
        // A new session is read-write again.
        const auto until = clock_type::now() + std::chrono::seconds(10);
        for (;;) {
            auto again = co_await c->query(sql("create table t (n int)"));
            if (again || clock_type::now() > until) {
                after = again ? "created" : code_of(again.error()) + " " + again.error().message;
                break;
            }
            co_await sleep_for(ex, std::chrono::milliseconds(20));
        }
        connections = c->connections_made();
        c->close();
    });
    BOOST_TEST(refused == "25006 SERVICE_UNAVAILABLE");  // read_only_sql_transaction
    BOOST_TEST(after == "created");
    BOOST_TEST(connections == 2u);
}

namespace {

// Turns TLS on in `cluster`: a throwaway key and self-signed certificate (openssl req) in its
// data directory, where ssl_key_file and ssl_cert_file look by default; ssl = on takes a reload.
void enable_tls(const postgres_cluster& cluster) {
    const auto key = cluster.data_dir() / "server.key";
    const auto certificate = cluster.data_dir() / "server.crt";
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout '" +
                                key.string() + "' -out '" + certificate.string() + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot make a certificate: " + command);
    std::filesystem::permissions(key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    if (::geteuid() == 0) {  // the server runs as postgres (see postgres_cluster.hpp)
        const passwd* pw = ::getpwnam("postgres");
        if (!pw || ::chown(key.c_str(), pw->pw_uid, pw->pw_gid) != 0 ||
            ::chown(certificate.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("cannot give the certificate to postgres");
    }
    const auto admin = pg::connect(cluster.url());
    pg::exec(admin.get(), "alter system set ssl = on");
    pg::exec(admin.get(), "select pg_reload_conf()");
}

}  // namespace

// The connection over TLS: answers of many sizes, one round trip each (each the last bytes the
// server sends), so that one whose tail OpenSSL held (SSL_pending, see connection.hpp) while
// the socket showed nothing would wait for the timeout. (On loopback this did not happen
// without the SSL_pending check either: it guards the TLS path, it does not reproduce the stall.)
BOOST_AUTO_TEST_CASE(answers_over_tls_are_all_read_also_those_openssl_holds) {
    postgres_cluster cluster;
    enable_tls(cluster);
    constexpr int n = 120;
    std::string tls;
    std::vector<long long> lengths(n, -1);
    std::vector<std::string> failures;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(cluster.url() + "?sslmode=require", std::chrono::seconds(2)));
        auto r = co_await c->query(sql("select ssl::text from pg_stat_ssl where pid = pg_backend_pid()"));
        tls = r ? std::string(r->text(0, 0)) : code_of(r.error()) + " " + r.error().message;
        for (int i = 0; i < n; ++i) {
            auto a = co_await c->query(
                sql("select repeat('x', $1::int), repeat('y', $2::int)", pg::param::text(std::to_string(i * 1237)),
                    pg::param::text(std::to_string((i * 7919) % 20000))));
            if (a) lengths[i] = static_cast<long long>(a->text(0, 0).size());
            else failures.push_back(std::to_string(i) + ": " + a.error().message);
        }
        c->close();
    });
    BOOST_TEST(tls == "true");
    BOOST_TEST(failures.empty(), failures.size() << " failed, first " << (failures.empty() ? "" : failures.front()));
    for (int i = 0; i < n; ++i) BOOST_TEST(lengths[i] == i * 1237);
}

BOOST_FIXTURE_TEST_CASE(a_failed_prepared_statement_fails_alone, fresh_database) {
    std::string bad, good;
    run_coroutine([&](executor ex) -> awaitable<void> {
        auto c = pg::async_connection::start(ex, options_for(url()));
        auto r = co_await c->query(named("echo", pg::param::text("not a number")));
        bad = sqlstate_outcome(r);
        auto g = co_await c->query(named("echo", pg::param::text("7")));
        good = g ? std::string(g->text(0, 0)) : "error";
        c->close();
    });
    BOOST_TEST(bad == "22P02 INTERNAL_ERROR");  // invalid_text_representation
    BOOST_TEST(good == "7");
}

BOOST_AUTO_TEST_SUITE_END()
