// Real ozzie-server processes ($OZZIE_SERVER) on PostgreSQL (--postgres): several nodes on one
// database, and the faults of issue 11.
//   - Two nodes on one database: every external id is sent to both at once; the database decides,
//     so each gets exactly one 201 and one 409, and a user created on one node reads on the other.
//   - The database stops mid-load (a cluster of the test's own): requests answer 503
//     SERVICE_UNAVAILABLE with Retry-After, promptly; /readyz fails; the server does not crash,
//     and once the database is back it serves again by itself, without a restart.
//   - SIGKILL of a node mid-load: every create it acknowledged is in the database with the fields
//     sent, and every row there is a whole create that some request sent.
//   - A replica whose replay is paused: a create read back at once through a server with
//     --postgres-replica is found (the primary answers what the replica has not replayed), while
//     the replica does serve that server's lookups.
//
// Worker threads only record what they saw; every assertion is made in the test's own thread
// (Boost.Test is not thread-safe). Deadlines are safety nets for a loaded machine, never timing
// assertions.
#include <boost/test/unit_test.hpp>

#include "postgres/database_fixture.hpp"
#include "support/credentials.hpp"
#include "support/eventually.hpp"
#include "support/response_json.hpp"
#include "support/http_client.hpp"
#include "support/openapi_check.hpp"
#include "support/postgres_cluster.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace json = boost::json;
namespace http = ozzie::testing::http;
namespace pg = ozzie::postgres;
using namespace std::chrono_literals;
using ozzie::testing::error_code_of;
using ozzie::testing::fresh_database;
using ozzie::testing::header_list;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::postgres_cluster;
using ozzie::testing::server_process;

const ozzie::testing::test_client client{"nodes", "n0des-s3cret"};
constexpr std::string_view id_prefix = "ozz_usr_";

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds deadline = 60s) {
    return ozzie::testing::eventually(done, deadline);
}

header_list auth() { return {{"Authorization", client.authorization()}, {"Content-Type", "application/json"}}; }

// What a create sends: every field, each derived from the external id and a number.
struct sent_user {
    std::string ext, name, email, phone, language;
};

sent_user user_for(const std::string& ext, unsigned n) {
    static const char* languages[] = {"en", "pt", "es"};
    char phone[16];
    std::snprintf(phone, sizeof phone, "+1555%07u", n % 10'000'000);
    return {ext, "Name of " + ext, ext + "@example.com", phone, languages[n % 3]};
}

std::string body_of(const sent_user& u) {
    return json::serialize(json::object{{"external_user_id", u.ext},
                                        {"name", u.name},
                                        {"email", u.email},
                                        {"phone", u.phone},
                                        {"language", u.language}});
}

// The "data" of a user answer; empty if the body is not one.
json::object data_of(const http_response& res) {
    boost::system::error_code ec;
    const auto v = json::parse(res.body(), ec);
    if (ec || !v.is_object()) return {};
    const auto* d = v.as_object().if_contains("data");
    return d && d->is_object() ? d->as_object() : json::object{};
}

std::string text_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Whether `data` shows every field `u` sent.
bool shows(const json::object& data, const sent_user& u) {
    return text_of(data, "external_user_id") == u.ext && text_of(data, "name") == u.name &&
           text_of(data, "email") == u.email && text_of(data, "phone") == u.phone &&
           text_of(data, "language") == u.language;
}

// A 503 as the issue wants it: the error envelope's SERVICE_UNAVAILABLE, with Retry-After.
bool proper_503(const http_response& res) {
    return res.result_int() == 503 && error_code_of(res.body()) == "SERVICE_UNAVAILABLE" && !res["Retry-After"].empty();
}

// The answer conforms to docs/openapi.yaml: "" if so, else the violations.
std::string conformance(std::string_view method, std::string_view target, const http_response& res) {
    std::string out;
    for (const auto& v : ozzie::testing::ozzie_openapi().check(method, target, res)) out += v + "; ";
    return out;
}

// One ozzie-server process on PostgreSQL, with files (clients file, log) of its own.
struct node {
    ozzie::testing::server_files files;
    std::unique_ptr<server_process> process;

    explicit node(std::vector<std::string> args) {
        ozzie::testing::write_clients_file(files.clients_file(), {client});
        args.insert(args.end(), {"--threads", "2"});
        process = std::make_unique<server_process>(server_process::options{
            .executable = ozzie::testing::server_executable(),
            .data_dir = {},
            .clients_file = files.clients_file(),
            .log_file = files.log_file(),
            .extra_args = std::move(args)});
    }

    std::uint16_t port() const { return process->port(); }
    std::string log() const { return process->new_log(); }

    // The admin listener's port (--admin-listen 127.0.0.1:0), from the log; 0 if none.
    std::uint16_t admin_port() const {
        std::smatch m;
        const auto text = log();
        if (!std::regex_search(text, m, std::regex(R"("admin_port":([0-9]+))"))) return 0;
        return static_cast<std::uint16_t>(std::stoul(m[1].str()));
    }
};

// The status of GET /readyz on `admin_port`; 0 if it could not be asked.
unsigned readyz(std::uint16_t admin_port) {
    try {
        http_client c(admin_port, 30s);
        return c.request(http::verb::get, "/readyz").result_int();
    } catch (const std::exception&) {
        return 0;
    }
}

// The lines of `log` but the access log's (at most 40), for failure messages.
std::string log_lines(const std::string& log) {
    std::string out;
    std::size_t n = 0;
    for (std::size_t at = 0; at < log.size() && n < 40;) {
        auto end = log.find('\n', at);
        if (end == std::string::npos) end = log.size();
        if (std::string_view(log).substr(at, end - at).find(R"("event":"request")") == std::string_view::npos) {
            out.append(log, at, end - at).append("\n");
            ++n;
        }
        at = end + 1;
    }
    return out;
}

// A user row as the database holds it.
struct row {
    std::string client_id, id, ext;
    std::optional<std::string> name, email, phone;
    std::string language;
    long long stage = -1, created_at = 0;
};

std::map<std::string, row> rows_by_ext(PGconn* conn) {
    const auto r = pg::exec(conn, "select client_id, id, external_user_id, name, email, phone, language, "
                                  "onboarding_stage, created_at from users");
    std::map<std::string, row> out;
    const auto opt = [&](int i, int c) -> std::optional<std::string> {
        if (PQgetisnull(r.get(), i, c)) return std::nullopt;
        return std::string(PQgetvalue(r.get(), i, c));
    };
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        row x;
        x.client_id = PQgetvalue(r.get(), i, 0);
        x.id = PQgetvalue(r.get(), i, 1);
        x.ext = PQgetvalue(r.get(), i, 2);
        x.name = opt(i, 3);
        x.email = opt(i, 4);
        x.phone = opt(i, 5);
        x.language = PQgetvalue(r.get(), i, 6);
        x.stage = std::stoll(PQgetvalue(r.get(), i, 7));
        x.created_at = std::stoll(PQgetvalue(r.get(), i, 8));
        out.emplace(x.ext, std::move(x));
    }
    return out;
}

// Whether a row is the whole create `u` sent, as a fresh user of the test's client.
bool whole(const row& r, const sent_user& u) {
    return r.client_id == client.id && r.ext == u.ext && r.name == u.name && r.email == u.email &&
           r.phone == u.phone && r.language == u.language && r.stage == 0 && r.created_at > 0 && r.id.size() == 26;
}

// A migrated database of the suite's cluster.
struct migrated_database : fresh_database {
    migrated_database() { pg::migrate(conn.get()); }
};

// Failures the worker threads saw, for the test's thread to report.
struct violations {
    std::mutex mutex;
    std::vector<std::string> list;
    void add(std::string what) {
        std::lock_guard lock(mutex);
        list.push_back(std::move(what));
    }
    std::string summary() {
        std::lock_guard lock(mutex);
        std::string out = std::to_string(list.size()) + " violations";
        for (std::size_t i = 0; i < list.size() && i < 10; ++i) out += "\n  " + list[i];
        return out;
    }
    bool empty() {
        std::lock_guard lock(mutex);
        return list.empty();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nodes, *boost::unit_test::timeout(600))

BOOST_FIXTURE_TEST_CASE(two_nodes_on_one_database_answer_one_201_per_external_id_and_read_each_others_users,
                        migrated_database) {
    node a({"--postgres", url()});
    node b({"--postgres", url()});
    const std::uint16_t ports[2] = {a.port(), b.port()};

    // Thread pair p sends external ids p, p + pairs, ...: the one thread to node a, the other to
    // node b, meeting at a barrier before each, so that both creates of an id race.
    constexpr unsigned ids = 200, pairs = 4;
    struct answer {
        unsigned status = 0;
        json::object data;
        std::string code, body;
    };
    std::vector<std::array<answer, 2>> answers(ids);
    violations bad;
    std::vector<std::unique_ptr<std::barrier<>>> meet;
    for (unsigned p = 0; p < pairs; ++p) meet.push_back(std::make_unique<std::barrier<>>(2));
    {
        std::vector<std::jthread> threads;
        for (unsigned p = 0; p < pairs; ++p)
            for (unsigned n = 0; n < 2; ++n)
                threads.emplace_back([&, p, n] {
                    auto& barrier = *meet[p];
                    try {
                        http_client c(ports[n]);
                        for (unsigned i = p; i < ids; i += pairs) {
                            barrier.arrive_and_wait();
                            const auto u = user_for("race-" + std::to_string(i), i);
                            const auto res = c.request(http::verb::post, "/v1/users", auth(), body_of(u));
                            if (const auto wrong = conformance("POST", "/v1/users", res); !wrong.empty())
                                bad.add(u.ext + ": " + wrong);
                            answers[i][n] = {res.result_int(), data_of(res), error_code_of(res.body()), res.body()};
                        }
                    } catch (const std::exception& e) {
                        bad.add("pair " + std::to_string(p) + " node " + std::to_string(n) + ": " + e.what());
                        barrier.arrive_and_drop();  // the other thread of the pair goes on alone
                    }
                });
    }
    BOOST_TEST(bad.empty(), bad.summary());

    std::vector<std::string> wrong;
    for (unsigned i = 0; i < ids; ++i) {
        const auto& [on_a, on_b] = answers[i];
        const bool one_each = (on_a.status == 201 && on_b.status == 409 && on_b.code == "CONFLICT") ||
                              (on_b.status == 201 && on_a.status == 409 && on_a.code == "CONFLICT");
        if (!one_each)
            wrong.push_back("race-" + std::to_string(i) + ": " + std::to_string(on_a.status) + " on a, " +
                            std::to_string(on_b.status) + " on b: " + on_a.body + " " + on_b.body);
    }
    if (!wrong.empty())  // the servers' logs are buffered: stopped, they flush them
        for (node* n : {&a, &b}) {
            n->process->signal(SIGTERM);
            n->process->wait(60s);
        }
    BOOST_TEST_REQUIRE(wrong.empty(), wrong.size() << " external ids without exactly one 201 and one 409, the first: "
                                           << (wrong.empty() ? "" : wrong.front()) << "\nnode a:\n"
                                           << log_lines(a.log()) << "node b:\n"
                                           << log_lines(b.log()));

    // Each user reads on the node that did not create it, by id and by external id, as created.
    std::vector<std::string> unread;
    unsigned created_by[2] = {0, 0};
    http_client on[2] = {http_client(a.port()), http_client(b.port())};
    for (unsigned i = 0; i < ids; ++i) {
        const unsigned winner = answers[i][0].status == 201 ? 0 : 1;
        if (answers[i][winner].status != 201) continue;
        ++created_by[winner];
        const auto& created = answers[i][winner].data;
        const auto u = user_for("race-" + std::to_string(i), i);
        auto& other = on[1 - winner];
        const auto by_id = other.request(http::verb::get, "/v1/users/" + text_of(created, "id"), auth());
        const auto by_ext = other.request(http::verb::get, "/v1/users/external:" + u.ext, auth());
        if (by_id.result_int() != 200 || data_of(by_id) != created || !shows(created, u))
            unread.push_back(u.ext + " by id: " + std::to_string(by_id.result_int()) + " " + by_id.body());
        if (by_ext.result_int() != 200 || data_of(by_ext) != created)
            unread.push_back(u.ext + " by external id: " + std::to_string(by_ext.result_int()) + " " + by_ext.body());
    }
    BOOST_TEST(unread.empty(), unread.size() << " users not read on the other node, the first: "
                                             << (unread.empty() ? "" : unread.front()));
    BOOST_TEST_MESSAGE("created by node a: " << created_by[0] << ", by node b: " << created_by[1]);
    BOOST_TEST(pg::query_integer(conn.get(), "select count(*) from users") == ids);
    BOOST_TEST(a.process->running(), a.log());
    BOOST_TEST(b.process->running(), b.log());
}

BOOST_AUTO_TEST_CASE(a_database_stopped_mid_load_answers_503_and_the_server_recovers_without_a_restart) {
    postgres_cluster cluster;  // the test's own: it stops it
    pg::migrate(pg::connect(cluster.url()).get());
    node server({"--postgres", cluster.url(), "--admin-listen", "127.0.0.1:0"});
    const auto admin = server.admin_port();
    BOOST_TEST_REQUIRE(admin != 0, server.log());
    BOOST_TEST(readyz(admin) == 200u);

    // Workers create users and read each one back, without pause, and count what they get.
    struct tally {
        std::atomic<std::size_t> created{0}, read{0}, unavailable{0};
        std::atomic<long long> slowest_ms{0};
        std::mutex mutex;
        std::map<std::string, std::string> acknowledged;  // external id -> Ozzie id
    } t;
    violations bad;
    std::atomic<bool> stop{false};
    const auto worker = [&](unsigned w) {
        try {
            http_client c(server.port(), 30s);  // a request unanswered in 30 s throws: a hang
            const auto timed = [&](http::verb v, const std::string& target, std::string body) {
                const auto began = std::chrono::steady_clock::now();
                auto res = c.request(v, target, auth(), std::move(body));
                const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - began).count();
                for (auto s = t.slowest_ms.load(); ms > s && !t.slowest_ms.compare_exchange_weak(s, ms);) {
                }
                if (const auto wrong = conformance(v == http::verb::post ? "POST" : "GET", target, res); !wrong.empty())
                    bad.add(target + ": " + wrong);
                return res;
            };
            for (unsigned n = 0; !stop; ++n) {
                const auto u = user_for("w" + std::to_string(w) + "-" + std::to_string(n), n);
                const auto created = timed(http::verb::post, "/v1/users", body_of(u));
                if (proper_503(created)) {
                    ++t.unavailable;
                    std::this_thread::sleep_for(5ms);  // a client retries soon, but not in a spin
                    continue;
                }
                if (created.result_int() != 201 || !shows(data_of(created), u)) {
                    bad.add(u.ext + ": create answered " + std::to_string(created.result_int()) + " " + created.body());
                    continue;
                }
                const auto id = text_of(data_of(created), "id");
                {
                    std::lock_guard lock(t.mutex);
                    t.acknowledged[u.ext] = id;
                }
                ++t.created;
                const auto read = timed(http::verb::get, "/v1/users/" + id, {});
                if (proper_503(read)) {
                    ++t.unavailable;
                    std::this_thread::sleep_for(5ms);
                } else if (read.result_int() == 200 && shows(data_of(read), u)) {
                    ++t.read;
                } else {
                    bad.add(id + ": read answered " + std::to_string(read.result_int()) + " " + read.body());
                }
            }
        } catch (const std::exception& e) {
            bad.add("worker " + std::to_string(w) + ": " + e.what());
        }
    };
    std::vector<std::jthread> workers;
    for (unsigned w = 0; w < 3; ++w) workers.emplace_back(worker, w);

    BOOST_TEST_REQUIRE(eventually([&] { return t.created >= 100 || !bad.empty(); }), "creates before the outage");
    BOOST_TEST_REQUIRE(bad.empty(), bad.summary());
    cluster.stop();
    const auto stopped_at = std::chrono::steady_clock::now();
    BOOST_TEST(eventually([&] { return t.unavailable >= 50; }), "503s while the database is down");
    BOOST_TEST(eventually([&] { return readyz(admin) == 503; }), "/readyz fails while the database is down");
    BOOST_TEST(server.process->running(), server.log());
    // Down for a while under load: the connections' reconnect backoff grows to its longest (2 s),
    // so that the recovery below waits for a reconnect attempt, as it will in production.
    const std::size_t created_during = t.created;
    std::this_thread::sleep_until(stopped_at + 6s);
    BOOST_TEST(t.created == created_during, "no create is acknowledged while the database is down");
    BOOST_TEST(server.process->running(), server.log());

    cluster.start();
    const auto started_at = std::chrono::steady_clock::now();
    // The connections reconnect with backoff (up to 2 s between attempts): a few more 503s first.
    BOOST_TEST(eventually([&] { return readyz(admin) == 200; }), "/readyz passes again without a restart");
    const std::size_t created_at_recovery = t.created, read_at_recovery = t.read;
    BOOST_TEST(eventually([&] { return t.created >= created_at_recovery + 100 && t.read >= read_at_recovery + 100; }),
               "creates and lookups answer 201 and 200 again");
    const auto recovered_after =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
    stop = true;
    workers.clear();

    BOOST_TEST(bad.empty(), bad.summary());
    // Every answer came promptly: a 503 at once, never a request left hanging (a safety net far
    // above the store's 5 s read and 10 s write timeouts, not a timing assertion).
    BOOST_TEST(t.slowest_ms < 20'000);
    BOOST_TEST_MESSAGE("down for " << std::chrono::duration<double>(started_at - stopped_at).count() << " s: "
                                   << t.unavailable << " answers 503; recovered " << recovered_after
                                   << " s after the start; slowest answer " << t.slowest_ms << " ms");
    // Every acknowledged create is in the database.
    {
        const auto rows = rows_by_ext(pg::connect(cluster.url()).get());
        std::lock_guard lock(t.mutex);
        std::vector<std::string> missing;
        for (const auto& [ext, id] : t.acknowledged) {
            const auto r = rows.find(ext);
            if (r == rows.end() || id != std::string(id_prefix) + r->second.id) missing.push_back(ext);
        }
        BOOST_TEST(missing.empty(), missing.size() << " acknowledged creates missing, the first: "
                                                   << (missing.empty() ? "" : missing.front()));
    }
    // It never crashed, and stops gracefully.
    BOOST_TEST_REQUIRE(server.process->running(), server.log());
    server.process->signal(SIGTERM);
    const auto status = server.process->wait(60s);
    BOOST_TEST_REQUIRE(status.has_value(), "did not stop on SIGTERM");
    BOOST_TEST(ozzie::testing::describe_status(*status) == "exited with status 0", server.log());
    // The log tells of the outage once per connection, not once per refused request.
    const auto log = server.log();
    std::size_t told = 0;
    for (auto at = log.find(R"("level":"error")"); at != std::string::npos; at = log.find(R"("level":"error")", at + 1))
        ++told;
    BOOST_TEST(told <= 20u, told << " error lines for " << t.unavailable << " answers 503:\n" << log_lines(log));
}

BOOST_FIXTURE_TEST_CASE(a_node_killed_mid_load_loses_no_acknowledged_create_and_leaves_no_partial_one,
                        migrated_database) {
    node victim({"--postgres", url()});

    struct record {
        std::mutex mutex;
        std::map<std::string, sent_user> sent;           // every create sent (or about to be)
        std::map<std::string, std::string> acknowledged;  // external id -> Ozzie id, from 201s
        std::set<std::string> unanswered;                 // cut off by the kill
    } r;
    std::atomic<std::size_t> created{0};
    violations bad;
    const auto worker = [&](unsigned w) {
        std::optional<http_client> connected;
        try {
            connected.emplace(victim.port(), 30s);
        } catch (const std::exception& e) {
            bad.add("worker " + std::to_string(w) + ": " + e.what());
            return;
        }
        auto& c = *connected;
        for (unsigned n = 0;; ++n) {
            const auto u = user_for("k" + std::to_string(w) + "-" + std::to_string(n), n * 7 + w);
            {
                std::lock_guard lock(r.mutex);
                r.sent.emplace(u.ext, u);
            }
            std::optional<http_response> res;
            try {
                res = c.request(http::verb::post, "/v1/users", auth(), body_of(u));
            } catch (const std::exception&) {
                std::lock_guard lock(r.mutex);  // the kill: this create got no answer
                r.unanswered.insert(u.ext);
                return;
            }
            if (res->result_int() != 201 || !shows(data_of(*res), u)) {
                bad.add(u.ext + ": " + std::to_string(res->result_int()) + " " + res->body());
                continue;
            }
            std::lock_guard lock(r.mutex);
            r.acknowledged[u.ext] = text_of(data_of(*res), "id");
            ++created;
        }
    };
    {
        std::vector<std::jthread> workers;
        for (unsigned w = 0; w < 4; ++w) workers.emplace_back(worker, w);
        BOOST_TEST(eventually([&] { return created >= 300 || !bad.empty(); }), "creates before the kill");
        victim.process->signal(SIGKILL);
        const auto status = victim.process->wait(60s);
        BOOST_TEST_REQUIRE(status.has_value());
        BOOST_TEST(ozzie::testing::describe_status(*status).find("killed by signal 9") == 0u);
    }  // every worker ends at its first request without an answer
    BOOST_TEST(bad.empty(), bad.summary());

    const auto rows = rows_by_ext(conn.get());
    std::vector<std::string> lost, partial;
    for (const auto& [ext, id] : r.acknowledged) {
        const auto it = rows.find(ext);
        if (it == rows.end() || id != std::string(id_prefix) + it->second.id || !whole(it->second, r.sent.at(ext)))
            lost.push_back(ext);
    }
    std::size_t unacknowledged_stored = 0;
    for (const auto& [ext, x] : rows) {
        const auto sent = r.sent.find(ext);
        if (sent == r.sent.end() || !whole(x, sent->second)) partial.push_back(ext);
        if (!r.acknowledged.contains(ext)) {
            ++unacknowledged_stored;
            if (!r.unanswered.contains(ext)) partial.push_back(ext + " (stored, neither acknowledged nor cut off)");
        }
    }
    BOOST_TEST(lost.empty(), lost.size() << " acknowledged creates lost or altered, the first: "
                                         << (lost.empty() ? "" : lost.front()));
    BOOST_TEST(partial.empty(), partial.size() << " rows that are no create sent, the first: "
                                               << (partial.empty() ? "" : partial.front()));
    BOOST_TEST(unacknowledged_stored <= r.unanswered.size());
    BOOST_TEST_MESSAGE(r.acknowledged.size() << " creates acknowledged before the kill, " << r.unanswered.size()
                                             << " cut off, " << unacknowledged_stored << " of those committed");

    // Another node serves every acknowledged user as created.
    node survivor({"--postgres", url()});
    http_client c(survivor.port());
    std::vector<std::string> unread;
    for (const auto& [ext, id] : r.acknowledged) {
        const auto res = c.request(http::verb::get, "/v1/users/" + id, auth());
        if (res.result_int() != 200 || !shows(data_of(res), r.sent.at(ext))) unread.push_back(ext);
    }
    BOOST_TEST(unread.empty(), unread.size() << " acknowledged users not read on another node, the first: "
                                             << (unread.empty() ? "" : unread.front()));
}

BOOST_FIXTURE_TEST_CASE(a_server_reads_its_own_creates_through_a_lagging_replica, migrated_database) {
    const auto replica = postgres_cluster::replica_of(ozzie::testing::suite_cluster::get());
    const auto on_replica = pg::connect(replica->url(name()));
    node server({"--postgres", url(), "--postgres-replica", replica->url(name())});
    http_client c(server.port());

    // A user the replica has, renamed on the primary once the replica's replay is paused: a
    // lookup answering the old name was served by the replica.
    const auto old = user_for("old", 1);
    const auto made = c.request(http::verb::post, "/v1/users", auth(), body_of(old));
    BOOST_TEST_REQUIRE(made.result_int() == 201u, made.body());
    const auto old_id = text_of(data_of(made), "id");
    const auto ulid = old_id.substr(id_prefix.size());
    BOOST_TEST_REQUIRE(eventually([&] {
        return pg::query_integer(on_replica.get(), "select count(*) from users where id = '" + ulid + "'") == 1;
    }));
    pg::exec(on_replica.get(), "select pg_wal_replay_pause()");
    BOOST_TEST_REQUIRE(eventually([&] {
        return pg::query_integer(on_replica.get(), "select (pg_get_wal_replay_pause_state() = 'paused')::int") == 1;
    }));
    pg::exec(conn.get(), "update users set name = 'renamed' where id = '" + ulid + "'");

    // Creates read back at once, by id and by external id, through the server's lookups.
    std::vector<std::string> wrong;
    for (unsigned i = 0; i < 50; ++i) {
        const auto u = user_for("fresh-" + std::to_string(i), i);
        const auto created = c.request(http::verb::post, "/v1/users", auth(), body_of(u));
        if (created.result_int() != 201) {
            wrong.push_back(u.ext + ": create " + std::to_string(created.result_int()));
            continue;
        }
        const auto by_id = c.request(http::verb::get, "/v1/users/" + text_of(data_of(created), "id"), auth());
        const auto by_ext = c.request(http::verb::get, "/v1/users/external:" + u.ext, auth());
        if (by_id.result_int() != 200 || data_of(by_id) != data_of(created))
            wrong.push_back(u.ext + " by id: " + std::to_string(by_id.result_int()) + " " + by_id.body());
        if (by_ext.result_int() != 200 || data_of(by_ext) != data_of(created))
            wrong.push_back(u.ext + " by external id: " + std::to_string(by_ext.result_int()) + " " + by_ext.body());
    }
    BOOST_TEST(wrong.empty(), wrong.size() << " creates not read back, the first: " << (wrong.empty() ? "" : wrong.front()));
    // None of them is on the replica: the primary answered them.
    BOOST_TEST(pg::query_integer(on_replica.get(), "select count(*) from users where external_user_id like 'fresh-%'") == 0);
    // And the replica does serve the server's lookups (each network thread's connections to it
    // come up on their first lookups).
    BOOST_TEST(eventually([&] {
        return text_of(data_of(c.request(http::verb::get, "/v1/users/" + old_id, auth())), "name") == old.name;
    }), "no lookup was served by the replica");
    pg::exec(on_replica.get(), "select pg_wal_replay_resume()");
    BOOST_TEST(server.process->running(), server.log());
}

BOOST_AUTO_TEST_SUITE_END()
