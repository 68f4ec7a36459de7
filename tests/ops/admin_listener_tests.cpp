// The admin listener (issue 5): GET /healthz, /readyz and /metrics on a port of its own, never
// on the public one, and the public API never on it. A real server on 127.0.0.1 (port 0, admin
// port 0) and real HTTP clients. /metrics is read with a strict checker of the Prometheus text
// format (support/prometheus_text.hpp), which is itself tested on broken input first, and its
// figures are compared with the traffic the test sent. After traffic it is also read by
// `promtool check metrics` (Debian package prometheus), which must find no problem at all.
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/prometheus_text.hpp"
#include "support/temp_dir.hpp"
#include "support/unused_port.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using ozzie::testing::admin_conforms;
using ozzie::testing::alice;
using ozzie::testing::auth_headers;
using ozzie::testing::bob;
using ozzie::testing::check_prometheus_text;
using ozzie::testing::create_body;
using ozzie::testing::eventually;
using ozzie::testing::header_list;
using ozzie::testing::header_value;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::is_error_envelope;
using ozzie::testing::json_body;
using ozzie::testing::ops_server;
using ozzie::testing::prom_text;

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

// GET `target` on the admin listener, the answer checked against docs/admin-openapi.yaml.
http_response admin_get(std::uint16_t admin_port, std::string_view target) {
    http_client client(admin_port, 30s, admin_conforms);
    return client.request(http::verb::get, target);
}

// One scrape of /metrics, checked against the text format.
prom_text scrape(std::uint16_t admin_port) {
    const auto res = admin_get(admin_port, "/metrics");
    BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
    const auto content_type = header_value(res, "Content-Type");
    BOOST_TEST(content_type.starts_with("text/plain"), content_type);
    BOOST_TEST(content_type.find("version=0.0.4") != std::string::npos, content_type);
    auto parsed = check_prometheus_text(res.body());
    BOOST_TEST(parsed.errors.empty(), "malformed /metrics:\n" << joined(parsed.errors) << "--- text:\n" << res.body());
    return parsed;
}

// `promtool check metrics` on `text`: its exit code, and what it reports (parse errors, and lint
// problems such as a missing HELP or a counter not named _total).
ozzie::testing::command_result promtool_check(const std::string& text) {
    const ozzie::testing::temp_dir scratch;
    const auto file = scratch.path() / "metrics.txt";
    std::ofstream(file, std::ios::binary) << text;
    // promtool reads the text from stdin; run_command gives children /dev/null there.
    return ozzie::testing::run_command({"/bin/sh", "-c", "exec promtool check metrics < \"$1\"", "sh", file.string()},
                                       scratch.path());
}

// A label's value, or "?".
std::string label(const auto& sample, const std::string& name) {
    const auto found = sample.labels.find(name);
    return found == sample.labels.end() ? "?" : found->second;
}

// ozzie_http_requests_total by "route method" and status.
std::map<std::string, std::map<std::string, double>> requests_by_route(const prom_text& m) {
    std::map<std::string, std::map<std::string, double>> out;
    for (const auto& s : m.samples("ozzie_http_requests_total")) {
        BOOST_TEST((s.labels.size() == 3 && s.labels.count("route") && s.labels.count("method") && s.labels.count("status")),
                   "labels of ozzie_http_requests_total at line " << s.line);
        out[label(s, "route") + " " + label(s, "method")][label(s, "status")] += s.value;
    }
    return out;
}

double total_requests(const prom_text& m) {
    double total = 0;
    for (const auto& s : m.samples("ozzie_http_requests_total")) total += s.value;
    return total;
}

std::string describe(const std::map<std::string, std::map<std::string, double>>& counts) {
    std::string out;
    for (const auto& [route, statuses] : counts)
        for (const auto& [status, n] : statuses) out += route + " " + status + " = " + std::to_string(n) + "\n";
    return out;
}

// Checks a histogram family: its type and, for the series with `labels`, the count (if given).
void check_histogram(const prom_text& m, const std::string& name, const std::map<std::string, std::string>& labels,
                     std::optional<double> expected_count) {
    BOOST_TEST_CONTEXT("histogram " << name) {
        const auto* family = m.family(name);
        BOOST_TEST_REQUIRE(family != nullptr, "no family " << name);
        BOOST_TEST(family->type == "histogram");
        const auto buckets = m.samples(name + "_bucket", labels);
        BOOST_TEST(buckets.size() >= 2u, "buckets of " << name);
        auto inf = labels;
        inf["le"] = "+Inf";
        const auto count = m.value(name + "_count", labels);
        const auto sum = m.value(name + "_sum", labels);
        BOOST_TEST_REQUIRE(count.has_value());
        BOOST_TEST_REQUIRE(sum.has_value());
        BOOST_TEST((m.value(name + "_bucket", inf) == count), "+Inf bucket vs _count");
        BOOST_TEST(*sum >= 0);
        if (expected_count) BOOST_TEST(*count == *expected_count);
        if (*count == 0) BOOST_TEST(*sum == 0);
        // Every bucket of the series carries exactly the given labels and le.
        for (const auto& b : buckets) BOOST_TEST(b.labels.size() == labels.size() + 1, "line " << b.line);
    }
}

std::string id_of(const http_response& created) {
    const auto v = ozzie::testing::json_body(created);
    BOOST_TEST_REQUIRE(v.is_object(), created.body());
    return std::string(v.at("data").at("id").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(admin_listener)

// The checker must be able to fail, or a passing /metrics check means nothing.
BOOST_AUTO_TEST_CASE(the_prometheus_checker_rejects_malformed_text) {
    const std::string good =
        "# HELP a_total Things.\n# TYPE a_total counter\na_total{route=\"/x\",status=\"200\"} 3\n"
        "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n"
        "# TYPE g gauge\ng -1.5e-3\n";
    BOOST_TEST(check_prometheus_text(good).errors.empty(), joined(check_prometheus_text(good).errors));
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"no final newline", "g 1"},
        {"bad metric name", "1g 1\n"},
        {"bad label name", "g{1a=\"x\"} 1\n"},
        {"unquoted label", "g{a=x} 1\n"},
        {"bad escape", "g{a=\"\\t\"} 1\n"},
        {"unterminated label", "g{a=\"x} 1\n"},
        {"label twice", "g{a=\"x\",a=\"y\"} 1\n"},
        {"bad value", "g 1,5\n"},
        {"no value", "g\n"},
        {"trailing junk", "g 1 12 x\n"},
        {"unknown type", "# TYPE g gauges\ng 1\n"},
        {"TYPE twice", "# TYPE g gauge\n# TYPE g gauge\ng 1\n"},
        {"TYPE after samples", "g 1\n# TYPE g gauge\n"},
        {"series twice", "g{a=\"1\"} 1\ng{a=\"1\"} 2\n"},
        {"not contiguous", "g 1\nk 1\ng{a=\"1\"} 2\n"},
        {"negative counter", "# TYPE c counter\nc -1\n"},
        {"no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"},
        {"+Inf differs from count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"},
        {"buckets decrease", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
        {"le not ascending", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
        {"no _count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"},
        {"bucket without le", "# TYPE h histogram\nh_bucket 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
    };
    for (const auto& [what, text] : bad)
        BOOST_TEST(!check_prometheus_text(text).errors.empty(), "accepted: " << what);

    // promtool too: it passes the good text, and reports a missing HELP.
    const auto passed = promtool_check("# HELP g A gauge.\n# TYPE g gauge\ng 1\n");
    BOOST_TEST((passed.exit_code == 0 && passed.out.empty() && passed.err.empty()), passed.describe());
    const auto linted = promtool_check("# TYPE g gauge\ng 1\n");
    BOOST_TEST(linted.exit_code != 0, linted.describe());
    BOOST_TEST((linted.out + linted.err).find("no help text") != std::string::npos, linted.describe());
}

BOOST_FIXTURE_TEST_CASE(healthz_and_readyz_answer_on_the_admin_port, ops_server) {
    BOOST_TEST_REQUIRE(admin_port != 0);
    BOOST_TEST(admin_port != port);

    const auto health = admin_get(admin_port, "/healthz");
    BOOST_TEST(health.result_int() == 200u);
    BOOST_TEST(header_value(health, "Content-Type").starts_with("application/json"));
    BOOST_TEST(json::parse(health.body()) == json::parse(R"({"status":"ok"})"), health.body());
    BOOST_TEST(!header_value(health, "X-Request-Id").empty());

    const auto ready = admin_get(admin_port, "/readyz");
    BOOST_TEST(ready.result_int() == 200u);
    BOOST_TEST(header_value(ready, "Content-Type").starts_with("application/json"));
    BOOST_TEST(json::parse(ready.body()) == json::parse(R"({"status":"ready"})"), ready.body());

    // Several on one keep-alive connection, with a query string ignored.
    http_client client(admin_port, 30s, admin_conforms);
    for (int i = 0; i < 3; ++i) {
        BOOST_TEST(client.request(http::verb::get, "/healthz?probe=" + std::to_string(i)).result_int() == 200u);
        BOOST_TEST(client.request(http::verb::get, "/readyz").result_int() == 200u);
    }
}

// The block cache's figures follow lookups only where no row cache answers them first.
struct ops_server_without_row_cache : ops_server {
    ops_server_without_row_cache() : ops_server({}, without_row_cache()) {}
    static ozzie::store_options without_row_cache() {
        ozzie::store_options store;
        store.row_cache_bytes = 0;
        return store;
    }
};

BOOST_FIXTURE_TEST_CASE(metrics_count_the_traffic_by_route_method_and_status, ops_server_without_row_cache,
                        *boost::unit_test::timeout(120)) {
    // Before any traffic: well-formed, every family there, nothing counted yet.
    {
        const auto m = scrape(admin_port);
        BOOST_TEST(total_requests(m) == 0.0);
        for (const char* name : {"ozzie_http_requests_total", "ozzie_http_request_duration_seconds",
                                 "ozzie_http_open_connections", "ozzie_commit_batch_size", "ozzie_commit_duration_seconds",
                                 "ozzie_rocksdb_block_cache_hit_ratio", "ozzie_rocksdb_row_cache_hits_total",
                                 "ozzie_rocksdb_row_cache_misses_total", "ozzie_rocksdb_row_cache_warmed_users",
                                 "ozzie_rocksdb_row_cache_warming", "ozzie_rocksdb_live_data_bytes",
                                 "ozzie_rocksdb_memtable_bytes"})
            BOOST_TEST(m.family(name) != nullptr, "no " << name << " before traffic");
    }

    // Traffic on the public port, one connection per client kind.
    std::map<std::string, std::map<std::string, double>> expected;
    const auto expect = [&](const std::string& route, const http_response& res, unsigned status) {
        BOOST_TEST(res.result_int() == status, route << ": " << res.body());
        expected[route][std::to_string(res.result_int())] += 1;
    };
    const std::string create = "/v1/users POST", list = "/v1/users GET", head_list = "/v1/users HEAD",
                      get = "/v1/users/{user_id} GET", update = "/v1/users/{user_id} PATCH",
                      remove = "/v1/users/{user_id} DELETE", other_on_user = "/v1/users/{user_id} other",
                      other_on_users = "/v1/users DELETE", unmatched = "unmatched GET";
    std::string first_id;
    {
        http_client a(port);
        const auto h = auth_headers(alice);
        const auto c1 = a.request(http::verb::post, "/v1/users", h, create_body("m-1"));
        expect(create, c1, 201);
        first_id = id_of(c1);
        expect(create, a.request(http::verb::post, "/v1/users", h, create_body("m-2")), 201);
        expect(create, a.request(http::verb::post, "/v1/users", h, create_body("m-3")), 201);
        expect(create, a.request(http::verb::post, "/v1/users", h, create_body("m-1")), 409);
        expect(create, a.request(http::verb::post, "/v1/users", h, R"({"external_user_id":"m-4","email":"nope"})"), 400);
        expect(get, a.request(http::verb::get, "/v1/users/" + first_id, h), 200);
        expect(get, a.request(http::verb::get, "/v1/users/external:m-2", h), 200);
        expect(get, a.request(http::verb::get, "/v1/users/external:nobody", h), 404);
        expect(list, a.request(http::verb::get, "/v1/users?limit=2", h), 200);
        expect(list, a.request(http::verb::get, "/v1/users?limit=0", h), 400);
        expect(head_list, a.request(http::verb::head, "/v1/users", h), 200);
        expect(update, a.request(http::verb::patch, "/v1/users/" + first_id, h, R"({"name":"Ana"})"), 200);
        expect(update, a.request(http::verb::patch, "/v1/users/external:m-2", h, R"({"external_user_id":"m-1"})"), 409);
        expect(other_on_users, a.request(http::verb::delete_, "/v1/users", h), 405);
        expect(other_on_user, a.request(http::verb::put, "/v1/users/" + first_id, h), 405);
        expect(remove, a.request(http::verb::delete_, "/v1/users/external:m-3", h), 204);
        expect(unmatched, a.request(http::verb::get, "/nope", h), 404);
        expect(unmatched, a.request(http::verb::get, "/metrics", h), 404);
    }
    {
        http_client b(port);
        expect(get, b.request(http::verb::get, "/v1/users/" + first_id, auth_headers(bob)), 403);
        expect(get, b.request(http::verb::get, "/v1/users/external:m-1"), 401);
        expect(create, b.request(http::verb::post, "/v1/users", {{"Content-Type", "application/json"}}, create_body("m-9")), 401);
    }
    double sent = 0;
    for (const auto& [r, statuses] : expected)
        for (const auto& [s, n] : statuses) sent += n;

    // A request is counted once its answer is written, which the client may see a moment
    // before the server records it: wait (bounded) until every request is counted.
    std::optional<prom_text> m;
    eventually([&] {
        m = scrape(admin_port);
        return total_requests(*m) >= sent;
    });
    BOOST_TEST_REQUIRE(m.has_value());
    const auto counted = requests_by_route(*m);
    BOOST_TEST((counted == expected), "counted:\n" << describe(counted) << "expected:\n" << describe(expected));

    // The latency histogram per route and method: one observation per request.
    for (const auto& [route_method, statuses] : expected) {
        double n = 0;
        for (const auto& [s, k] : statuses) n += k;
        const auto space = route_method.find(' ');
        check_histogram(*m, "ozzie_http_request_duration_seconds",
                        {{"route", route_method.substr(0, space)}, {"method", route_method.substr(space + 1)}}, n);
    }
    BOOST_TEST(m->family("ozzie_http_request_duration_seconds")->help.has_value());

    // The commit queue: 4 creates reached it (3 stored, 1 conflict; the 400 never did), in 1 to
    // 4 batches, each batch timed once.
    check_histogram(*m, "ozzie_commit_batch_size", {}, std::nullopt);
    check_histogram(*m, "ozzie_commit_duration_seconds", {}, std::nullopt);
    const auto batches = m->value("ozzie_commit_batch_size_count");
    BOOST_TEST_REQUIRE(batches.has_value());
    BOOST_TEST(*batches >= 1.0);
    BOOST_TEST(*batches <= 4.0);
    BOOST_TEST((m->value("ozzie_commit_batch_size_sum") == std::optional<double>(4.0)), "creates committed");
    BOOST_TEST((m->value("ozzie_commit_duration_seconds_count") == batches), "one timing per batch");
    BOOST_TEST(*m->value("ozzie_commit_duration_seconds_sum") > 0.0);

    // RocksDB figures: gauges, the creates sit in the memtable.
    for (const char* gauge : {"ozzie_http_open_connections", "ozzie_rocksdb_block_cache_hit_ratio",
                              "ozzie_rocksdb_live_data_bytes", "ozzie_rocksdb_memtable_bytes"}) {
        BOOST_TEST_REQUIRE(m->family(gauge) != nullptr, gauge);
        BOOST_TEST(m->family(gauge)->type == "gauge", gauge);
        BOOST_TEST(m->samples(gauge).size() == 1u, gauge);
    }
    const auto ratio = m->value("ozzie_rocksdb_block_cache_hit_ratio");
    BOOST_TEST_REQUIRE(ratio.has_value());
    BOOST_TEST((*ratio >= 0.0 && *ratio <= 1.0), *ratio);
    BOOST_TEST(*m->value("ozzie_rocksdb_memtable_bytes") > 0.0);
    BOOST_TEST(*m->value("ozzie_rocksdb_live_data_bytes") >= 0.0);

    // A backup flushes the memtable into table files: live data appears; reads of a flushed
    // user go through the block cache, and the hit ratio follows the lookups.
    ozzie::testing::temp_dir backup;
    {
        http_client admin(admin_port, 30s, admin_conforms);
        const auto res = admin.request(http::verb::post, "/backup", {{"Content-Type", "application/json"}},
                                       json::serialize(json::object{{"directory", (backup.path() / "b").string()}}));
        BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
    }
    {
        http_client a(port);
        for (int i = 0; i < 5; ++i)
            BOOST_TEST(a.request(http::verb::get, "/v1/users/" + first_id, auth_headers(alice)).result_int() == 200u);
    }
    eventually([&] {
        m = scrape(admin_port);
        return total_requests(*m) >= sent + 5;
    });
    BOOST_TEST(total_requests(*m) == sent + 5);
    BOOST_TEST(*m->value("ozzie_rocksdb_live_data_bytes") > 0.0);
    const auto hits = m->value("ozzie_rocksdb_block_cache_hits_total");
    const auto misses = m->value("ozzie_rocksdb_block_cache_misses_total");
    const auto after = m->value("ozzie_rocksdb_block_cache_hit_ratio");
    BOOST_TEST_REQUIRE(after.has_value());
    if (hits && misses) {
        BOOST_TEST(*hits + *misses > 0.0);
        BOOST_TEST(std::abs(*after - *hits / (*hits + *misses)) < 1e-9, "ratio " << *after << " hits " << *hits
                                                                                 << " misses " << *misses);
    }
    BOOST_TEST(*after > 0.0, "no block cache hit after reading one flushed user 6 times");
    BOOST_TEST(*after <= 1.0);

    // Prometheus's own checker agrees, every family now having samples.
    const std::string text = admin_get(admin_port, "/metrics").body();
    const auto promtool = promtool_check(text);
    BOOST_TEST((promtool.exit_code == 0 && promtool.out.empty() && promtool.err.empty()),
               "promtool check metrics: " << promtool.describe() << "--- text:\n" << text);
}

// A user looked up is kept in the row cache: the next lookups are hits, until a change of the
// user makes the cache forget it and the lookup after it reads the store again.
BOOST_FIXTURE_TEST_CASE(row_cache_metrics_count_hits_and_misses, ops_server, *boost::unit_test::timeout(120)) {
    http_client a(port);
    const auto h = auth_headers(alice);
    const auto created = a.request(http::verb::post, "/v1/users", h, R"({"external_user_id":"rc-1","name":"Ana"})");
    BOOST_TEST_REQUIRE(created.result_int() == 201u, created.body());
    const std::string id(json_body(created).at("data").at("id").as_string());
    const auto counts = [&] {
        const auto m = scrape(admin_port);
        const auto hits = m.value("ozzie_rocksdb_row_cache_hits_total");
        const auto misses = m.value("ozzie_rocksdb_row_cache_misses_total");
        BOOST_TEST_REQUIRE(hits.has_value());
        BOOST_TEST_REQUIRE(misses.has_value());
        return std::pair{*hits, *misses};
    };
    const auto name_of = [&](const std::string& target) {
        const auto res = a.request(http::verb::get, target, h);
        BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
        return std::string(json_body(res).at("data").at("name").as_string());
    };

    const auto [hits0, misses0] = counts();
    for (int i = 0; i < 3; ++i) BOOST_TEST(name_of("/v1/users/" + id) == "Ana");
    const auto [hits1, misses1] = counts();
    BOOST_TEST(misses1 - misses0 == 1.0);  // the first lookup reads the store
    BOOST_TEST(hits1 - hits0 == 2.0);

    // The writer reads the user (a hit), writes it, and forgets it: the lookup after reads the
    // store again and sees the change.
    const auto patched = a.request(http::verb::patch, "/v1/users/" + id, h, R"({"name":"Bea"})");
    BOOST_TEST_REQUIRE(patched.result_int() == 200u, patched.body());
    BOOST_TEST(name_of("/v1/users/" + id) == "Bea");
    const auto [hits2, misses2] = counts();
    BOOST_TEST(hits2 - hits1 == 1.0);
    BOOST_TEST(misses2 - misses1 == 1.0);

    // By external id: a cache of its own keys, forgotten with the user's.
    BOOST_TEST(name_of("/v1/users/external:rc-1") == "Bea");
    BOOST_TEST(name_of("/v1/users/external:rc-1") == "Bea");
    const auto [hits3, misses3] = counts();
    BOOST_TEST(misses3 - misses2 == 1.0);
    BOOST_TEST(hits3 - hits2 == 1.0);
}

// A restarted server fills its row cache with the stored users: their first lookups are hits.
BOOST_FIXTURE_TEST_CASE(a_restarted_server_looks_users_up_in_a_warm_row_cache, ops_server,
                        *boost::unit_test::timeout(120)) {
    std::vector<std::string> ids;
    {
        http_client a(port);
        for (const char* external_id : {"warm-1", "warm-2", "warm-3"}) {
            const auto created = a.request(http::verb::post, "/v1/users", auth_headers(alice), create_body(external_id));
            BOOST_TEST_REQUIRE(created.result_int() == 201u, created.body());
            ids.emplace_back(json_body(created).at("data").at("id").as_string());
        }
    }
    stop();
    start();
    const auto metric = [&](const char* name) {
        const auto v = scrape(admin_port).value(name);
        BOOST_TEST_REQUIRE(v.has_value(), "no " << name);
        return *v;
    };
    BOOST_TEST_REQUIRE(eventually([&] { return metric("ozzie_rocksdb_row_cache_warming") == 0.0; }));
    BOOST_TEST(metric("ozzie_rocksdb_row_cache_warmed_users") == 3.0);
    const double hits = metric("ozzie_rocksdb_row_cache_hits_total");
    const double misses = metric("ozzie_rocksdb_row_cache_misses_total");
    http_client a(port);
    for (const auto& id : ids)
        BOOST_TEST(a.request(http::verb::get, "/v1/users/" + id, auth_headers(alice)).result_int() == 200u);
    BOOST_TEST(metric("ozzie_rocksdb_row_cache_hits_total") - hits == 3.0);
    BOOST_TEST(metric("ozzie_rocksdb_row_cache_misses_total") == misses);
}

BOOST_FIXTURE_TEST_CASE(open_connections_follow_the_clients, ops_server, *boost::unit_test::timeout(120)) {
    const auto open = [&] {
        const auto v = scrape(admin_port).value("ozzie_http_open_connections");
        BOOST_TEST_REQUIRE(v.has_value());
        return *v;
    };
    const double baseline = open();  // the scrape's own admin connection may or may not count
    BOOST_TEST((baseline == 0.0 || baseline == 1.0), baseline);
    {
        http_client c1(port), c2(port);
        BOOST_TEST(c1.request(http::verb::get, "/v1/users/external:x", auth_headers(alice)).result_int() == 404u);
        BOOST_TEST(c2.request(http::verb::get, "/v1/users/external:x", auth_headers(bob)).result_int() == 404u);
        double seen = -1;
        BOOST_TEST(eventually([&] { return (seen = open()) == baseline + 2; }), "open connections " << seen);
    }
    double seen = -1;
    BOOST_TEST(eventually([&] { return (seen = open()) == baseline; }), "open connections after closing " << seen);
}

BOOST_FIXTURE_TEST_CASE(admin_routes_are_not_served_on_the_public_port, ops_server) {
    http_client client(port);
    for (const char* target : {"/healthz", "/readyz", "/metrics"}) {
        const auto res = client.request(http::verb::get, target, auth_headers(alice));
        BOOST_TEST(res.result_int() == 404u, target << ": " << res.body());
        BOOST_TEST(is_error_envelope(res, "NOT_FOUND"), target << ": " << res.body());
        BOOST_TEST(res.body().find("ozzie_") == std::string::npos, target);
    }
    ozzie::testing::temp_dir scratch;
    const auto target_dir = scratch.path() / "public-backup";
    const auto res = client.request(http::verb::post, "/backup", auth_headers(alice),
                                    json::serialize(json::object{{"directory", target_dir.string()}}));
    BOOST_TEST(res.result_int() == 404u, res.body());
    BOOST_TEST(is_error_envelope(res, "NOT_FOUND"), res.body());
    BOOST_TEST(!std::filesystem::exists(target_dir), "a backup was taken through the public port");
}

BOOST_FIXTURE_TEST_CASE(the_api_is_not_served_on_the_admin_port, ops_server) {
    http_client admin(admin_port, 30s, admin_conforms);
    const auto create = admin.request(http::verb::post, "/v1/users", auth_headers(alice), create_body("via-admin"));
    BOOST_TEST(create.result_int() == 404u, create.body());
    BOOST_TEST(is_error_envelope(create, "NOT_FOUND"), create.body());
    const auto read = admin.request(http::verb::get, "/v1/users/external:via-admin", auth_headers(alice));
    BOOST_TEST(read.result_int() == 404u, read.body());
    BOOST_TEST(is_error_envelope(read, "NOT_FOUND"), read.body());
    for (const char* target : {"/", "/v1/users", "/healthz/x", "/metricsx"}) {
        const auto res = admin.request(http::verb::get, target);
        BOOST_TEST(res.result_int() == 404u, target);
        BOOST_TEST(is_error_envelope(res, "NOT_FOUND"), target << ": " << res.body());
    }
    // Nothing was created through the admin port; the public port works.
    http_client pub(port);
    BOOST_TEST(pub.request(http::verb::get, "/v1/users/external:via-admin", auth_headers(alice)).result_int() == 404u);
    BOOST_TEST(pub.request(http::verb::post, "/v1/users", auth_headers(alice), create_body("via-admin")).result_int() ==
               201u);
}

BOOST_FIXTURE_TEST_CASE(a_wrong_method_on_an_admin_route_is_405_with_allow, ops_server) {
    struct wrong {
        http::verb method;
        const char* target;
        const char* allow;
    };
    const std::vector<wrong> cases = {
        {http::verb::post, "/healthz", "GET"},  {http::verb::delete_, "/healthz", "GET"},
        {http::verb::put, "/readyz", "GET"},    {http::verb::post, "/metrics", "GET"},
        {http::verb::get, "/backup", "POST"},   {http::verb::delete_, "/backup", "POST"},
    };
    http_client client(admin_port, 30s, admin_conforms);
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(http::to_string(c.method) << " " << c.target) {
            const auto res = client.request(c.method, c.target);
            BOOST_TEST(res.result_int() == 405u, res.body());
            BOOST_TEST(header_value(res, "Allow") == c.allow);
            BOOST_TEST(is_error_envelope(res, "METHOD_NOT_ALLOWED"), res.body());
        }
    }
    // The connection is still good.
    BOOST_TEST(client.request(http::verb::get, "/healthz").result_int() == 200u);
}

BOOST_AUTO_TEST_CASE(an_admin_port_equal_to_the_public_port_is_refused_at_start, *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir dir;
    ozzie::testing::write_clients_file(dir.path() / "clients", {alice});
    const ozzie::testing::unused_port unused;
    const auto shared = unused.port();
    {
        ozzie::user_service service({.data_dir = dir.path() / "data"});
        ozzie::server_options options;
        options.host = "127.0.0.1";
        options.port = shared;
        options.threads = 1;
        options.clients_file = dir.path() / "clients";
        options.admin_port = shared;
        options.log_level = "warning";
        ozzie::server server(service, options);
        std::string message;
        try {
            server.start();
        } catch (const std::exception& e) {
            message = e.what();
        }
        BOOST_TEST(!message.empty(), "start() accepted admin port == public port " << shared);
        BOOST_TEST(message.find("admin") != std::string::npos, message);
        // Refused for the shared port itself, not because something else holds it.
        BOOST_TEST(message.find("would share port") != std::string::npos, message);
        BOOST_TEST(server.admin_port() == 0u);
        BOOST_TEST(!ozzie::testing::accepts_connections(shared), "a listener was left on " << shared);
    }
    // The executable refuses it too, with a message, instead of serving.
    const auto result = ozzie::testing::run_command(
        {ozzie::testing::executable_from_env("OZZIE_SERVER").string(), "--listen", "127.0.0.1:" + std::to_string(shared),
         "--admin-listen", "127.0.0.1:" + std::to_string(shared), "--data-dir", (dir.path() / "data2").string(),
         "--clients", (dir.path() / "clients").string(), "--threads", "1"},
        dir.path(), 60s);
    BOOST_TEST(result.exit_code != 0, result.describe());
    BOOST_TEST(result.exit_code != -1, result.describe());
    BOOST_TEST(result.err.find("admin") != std::string::npos, result.describe());
    BOOST_TEST(result.err.find("would share port") != std::string::npos, result.describe());
}

// A port another listener (of this server or another process) already holds must be refused,
// as bind() refuses it without SO_REUSEPORT: otherwise the kernel silently splits the
// connections between the two listeners - between two stores, or between the admin routes and
// the public API.
BOOST_AUTO_TEST_CASE(a_port_already_in_use_is_refused_at_start, *boost::unit_test::timeout(120)) {
    ops_server first;  // public and admin listeners on ports of their own
    ozzie::testing::temp_dir dir;
    ozzie::testing::write_clients_file(dir.path() / "clients", {alice});
    ozzie::user_service service({.data_dir = dir.path() / "data"});
    const auto start_with = [&](std::uint16_t public_port, std::optional<std::uint16_t> admin) -> std::string {
        ozzie::server_options options;
        options.host = "127.0.0.1";
        options.port = public_port;
        options.threads = 1;
        options.clients_file = dir.path() / "clients";
        options.admin_port = admin;
        options.log_level = "warning";
        ozzie::server second(service, options);
        if (auto failure = ozzie::testing::start_failure(second); !failure.empty()) return failure;
        second.stop();
        return {};
    };
    BOOST_TEST(!start_with(first.port, std::nullopt).empty(),
               "a second server started on public port " << first.port << ", already served by another one");
    BOOST_TEST(!start_with(0, first.admin_port).empty(),
               "a second server started its admin listener on port " << first.admin_port << ", already in use");
    BOOST_TEST(!start_with(0, first.port).empty(),
               "a second server started its admin listener on port " << first.port << ", another server's public port");
    // The first server was not disturbed.
    http_client c(first.port);
    BOOST_TEST(c.request(http::verb::get, "/v1/users/external:x", auth_headers(alice)).result_int() == 404u);
    BOOST_TEST(admin_get(first.admin_port, "/healthz").result_int() == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
