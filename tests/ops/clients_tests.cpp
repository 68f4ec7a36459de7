// Managing API clients (issue 5): add_client / list_clients / remove_client on temp files, the
// real `ozzie-admin client add|list|remove` executable, and reloading the clients file without a
// restart: SIGHUP to the real ozzie-server process (on a keep-alive connection that stays open
// across every reload) and server::reload_clients() in-process. A broken file is rejected and the
// previous clients are kept.
#include "auth/clients_file.hpp"

#include "support/child_process.hpp"
#include "support/credentials.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ozzie::testing::alice;
using ozzie::testing::base64;
using ozzie::testing::bob;
using ozzie::testing::eventually;
using ozzie::testing::header_list;
using ozzie::testing::http_client;
using ozzie::testing::is_error_envelope;
using ozzie::testing::read_whole_file;
using ozzie::testing::sha256_hex;

std::string admin_exe() { return ozzie::testing::executable_from_env("OZZIE_ADMIN").string(); }

unsigned mode_of(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

bool is_secret(const std::string& s) { return std::regex_match(s, std::regex("[0-9a-f]{64}")); }

header_list bearer(const std::string& authorization) { return {{"Authorization", authorization}}; }

// The status of GET /v1/users/external:nobody with `authorization`: 404 when authenticated,
// 401 when not.
unsigned probe(http_client& c, const std::string& authorization) {
    return c.request(http::verb::get, "/v1/users/external:nobody", bearer(authorization)).result_int();
}

// What `ozzie-admin client add` printed: the three lines it promises.
struct printed_client {
    std::string client_id, secret, authorization;
};
printed_client parse_add_output(const std::string& out) {
    printed_client p;
    std::smatch m;
    if (std::regex_search(out, m, std::regex(R"((?:^|\n)client_id: ([^\n]*)\n)"))) p.client_id = m[1];
    if (std::regex_search(out, m, std::regex(R"((?:^|\n)secret: ([^\n]*)\n)"))) p.secret = m[1];
    if (std::regex_search(out, m, std::regex(R"((?:^|\n)Authorization: ([^\n]*)\n)"))) p.authorization = m[1];
    return p;
}

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

// Log lines (JSON objects) of the server with this event.
std::vector<json::object> events(const std::string& log, std::string_view event) {
    std::vector<json::object> found;
    std::size_t start = 0;
    while (start < log.size()) {
        auto end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        const auto line = log.substr(start, end - start);
        start = end + 1;
        boost::system::error_code ec;
        const auto v = json::parse(line, ec);
        if (ec || !v.is_object()) continue;
        const auto* e = v.as_object().if_contains("event");
        if (e && e->is_string() && e->as_string() == event) found.push_back(v.as_object());
    }
    return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(clients)

BOOST_AUTO_TEST_CASE(add_client_creates_a_missing_file_0600_holding_only_the_digest) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "clients";
    const auto first = ozzie::add_client(file, "svc-1");
    BOOST_TEST(first.client_id == "svc-1");
    BOOST_TEST(is_secret(first.secret), first.secret);
    BOOST_TEST(first.bearer_token == "Bearer " + base64("svc-1:" + first.secret));
    BOOST_TEST(mode_of(file) == 0600u, std::oct << mode_of(file));
    BOOST_TEST(read_whole_file(file) == "svc-1:" + sha256_hex(first.secret) + "\n");

    const auto second = ozzie::add_client(file, "svc-2");
    BOOST_TEST(is_secret(second.secret));
    BOOST_TEST(second.secret != first.secret);
    const auto text = read_whole_file(file);
    BOOST_TEST(text == "svc-1:" + sha256_hex(first.secret) + "\nsvc-2:" + sha256_hex(second.secret) + "\n");
    BOOST_TEST(text.find(first.secret) == std::string::npos);
    BOOST_TEST(text.find(second.secret) == std::string::npos);
    BOOST_TEST(mode_of(file) == 0600u, std::oct << mode_of(file));
    BOOST_TEST((ozzie::list_clients(file) == std::vector<std::string>{"svc-1", "svc-2"}));
    // No temporary file left behind.
    BOOST_TEST(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);

    // The token authenticates against a server reading that file; a wrong secret does not.
    ozzie::testing::ops_server server([&](ozzie::server_options& o) { o.clients_file = file; });
    http_client c(server.port);
    BOOST_TEST(probe(c, first.bearer_token) == 404u);
    BOOST_TEST(probe(c, second.bearer_token) == 404u);
    BOOST_TEST(probe(c, "Bearer " + base64("svc-1:" + second.secret)) == 401u);
    const auto created = c.request(http::verb::post, "/v1/users",
                                   {{"Authorization", first.bearer_token}, {"Content-Type", "application/json"}},
                                   ozzie::testing::create_body("from-svc-1"));
    BOOST_TEST(created.result_int() == 201u, created.body());
}

BOOST_AUTO_TEST_CASE(add_client_appends_to_an_existing_file_keeping_it) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "clients";
    const std::string original = "# operators: see the runbook\nalice:" + sha256_hex(alice.secret) + "\n\n# no newline at end";
    write_text(file, original);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    const auto added = ozzie::add_client(file, "carol");
    BOOST_TEST(read_whole_file(file) == original + "\ncarol:" + sha256_hex(added.secret) + "\n");
    BOOST_TEST(mode_of(file) == 0640u, std::oct << mode_of(file));
    BOOST_TEST((ozzie::list_clients(file) == std::vector<std::string>{"alice", "carol"}));
}

BOOST_AUTO_TEST_CASE(duplicate_and_invalid_ids_throw_and_leave_the_file_unchanged) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "clients";
    ozzie::testing::write_clients_file(file, {alice, bob});
    const auto before = read_whole_file(file);
    const std::vector<std::string> refused = {"alice", "bob", "", "has space", "a:b", std::string(65, 'x'),
                                              "caf\xc3\xa9", "a/b", "#c", "tab\there", "new\nline"};
    for (const auto& id : refused) {
        BOOST_CHECK_THROW(ozzie::add_client(file, id), std::runtime_error);
        BOOST_TEST(read_whole_file(file) == before, "the file changed after refusing '" << id << "'");
    }
    // The longest and the widest valid ids are accepted.
    BOOST_CHECK_NO_THROW(ozzie::add_client(file, std::string(64, 'x')));
    BOOST_CHECK_NO_THROW(ozzie::add_client(file, "Az09_.-"));
    BOOST_TEST(ozzie::list_clients(file).size() == 4u);

    // A file that does not parse is not added to.
    const auto broken = dir.path() / "broken";
    write_text(broken, "alice:not-a-digest\n");
    BOOST_CHECK_THROW(ozzie::add_client(broken, "carol"), std::runtime_error);
    BOOST_TEST(read_whole_file(broken) == "alice:not-a-digest\n");
    BOOST_CHECK_THROW(ozzie::list_clients(broken), std::runtime_error);
    BOOST_CHECK_THROW(ozzie::list_clients(dir.path() / "missing"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(remove_client_keeps_comments_and_every_other_line) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "clients";
    const auto d = [](const char* secret) { return sha256_hex(secret); };
    const std::string text = "# header comment\n\ncarol:" + d("c") + "\n# a comment about dave\ndave:" + d("d") +
                             "\n  erin:" + d("e") + "\n# carol:" + d("c") + " was rotated\ncarola:" + d("ca") + "\n";
    write_text(file, text);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    BOOST_TEST((ozzie::list_clients(file) == std::vector<std::string>{"carol", "carola", "dave", "erin"}));

    ozzie::remove_client(file, "dave");
    const std::string without_dave = "# header comment\n\ncarol:" + d("c") + "\n# a comment about dave\n  erin:" + d("e") +
                                     "\n# carol:" + d("c") + " was rotated\ncarola:" + d("ca") + "\n";
    BOOST_TEST(read_whole_file(file) == without_dave);
    BOOST_TEST(mode_of(file) == 0600u, std::oct << mode_of(file));

    ozzie::remove_client(file, "carol");  // not carola, not the comment
    const std::string without_carol = "# header comment\n\n# a comment about dave\n  erin:" + d("e") + "\n# carol:" +
                                      d("c") + " was rotated\ncarola:" + d("ca") + "\n";
    BOOST_TEST(read_whole_file(file) == without_carol);

    ozzie::remove_client(file, "erin");  // an indented line
    BOOST_TEST((ozzie::list_clients(file) == std::vector<std::string>{"carola"}));

    const auto kept = read_whole_file(file);
    BOOST_CHECK_THROW(ozzie::remove_client(file, "nobody"), std::runtime_error);
    BOOST_CHECK_THROW(ozzie::remove_client(file, "car"), std::runtime_error);
    BOOST_CHECK_THROW(ozzie::remove_client(file, "dave"), std::runtime_error);
    BOOST_TEST(read_whole_file(file) == kept);
    BOOST_CHECK_THROW(ozzie::remove_client(dir.path() / "missing", "carola"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(ozzie_admin_adds_lists_and_removes_clients, *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir dir;
    const auto file = dir.path() / "clients";
    const auto exe = admin_exe();

    const auto add = ozzie::testing::run_command({exe, "client", "add", "web-frontend", "--clients", file.string()},
                                                 dir.path());
    BOOST_TEST_REQUIRE(add.exit_code == 0, add.describe());
    const auto printed = parse_add_output(add.out);
    BOOST_TEST(printed.client_id == "web-frontend", add.out);
    BOOST_TEST_REQUIRE(is_secret(printed.secret), add.out);
    BOOST_TEST(printed.authorization == "Bearer " + base64("web-frontend:" + printed.secret), add.out);
    BOOST_TEST(occurrences(add.out + add.err, printed.secret) == 1u, "the secret is printed once:\n" << add.out);
    BOOST_TEST(mode_of(file) == 0600u, std::oct << mode_of(file));
    BOOST_TEST(read_whole_file(file) == "web-frontend:" + sha256_hex(printed.secret) + "\n");

    const auto add2 = ozzie::testing::run_command({exe, "client", "add", "batch-job", "--clients", file.string()}, dir.path());
    BOOST_TEST_REQUIRE(add2.exit_code == 0, add2.describe());
    const auto printed2 = parse_add_output(add2.out);

    const auto list = ozzie::testing::run_command({exe, "client", "list", "--clients", file.string()}, dir.path());
    BOOST_TEST(list.exit_code == 0, list.describe());
    BOOST_TEST(list.out == "batch-job\nweb-frontend\n", list.describe());
    BOOST_TEST(list.out.find(printed.secret) == std::string::npos);
    BOOST_TEST(list.out.find(sha256_hex(printed.secret)) == std::string::npos);

    // The printed token authenticates against a server reading the file.
    {
        ozzie::testing::ops_server server([&](ozzie::server_options& o) { o.clients_file = file; });
        http_client c(server.port);
        BOOST_TEST(probe(c, printed.authorization) == 404u);
        BOOST_TEST(probe(c, printed2.authorization) == 404u);
    }

    const auto remove = ozzie::testing::run_command({exe, "client", "remove", "web-frontend", "--clients", file.string()},
                                                    dir.path());
    BOOST_TEST(remove.exit_code == 0, remove.describe());
    const auto list2 = ozzie::testing::run_command({exe, "client", "list", "--clients", file.string()}, dir.path());
    BOOST_TEST(list2.out == "batch-job\n", list2.describe());

    // Failures: non-zero exit, a message on stderr, the file untouched.
    const auto before = read_whole_file(file);
    const std::vector<std::vector<std::string>> failing = {
        {exe, "client", "add", "batch-job", "--clients", file.string()},
        {exe, "client", "add", "bad id", "--clients", file.string()},
        {exe, "client", "remove", "nobody", "--clients", file.string()},
        {exe, "client", "add", "no-file-given"},
        {exe, "client", "list", "--clients", (dir.path() / "missing").string()},
        {exe, "client", "frobnicate", "--clients", file.string()},
    };
    for (const auto& args : failing) {
        const auto r = ozzie::testing::run_command(args, dir.path());
        BOOST_TEST(r.exit_code > 0, args[2] << " " << (args.size() > 3 ? args[3] : "") << ": " << r.describe());
        BOOST_TEST(!r.err.empty(), r.describe());
        BOOST_TEST(r.out.find("secret:") == std::string::npos, r.describe());
    }
    BOOST_TEST(read_whole_file(file) == before);
    BOOST_TEST(!fs::exists(dir.path() / "missing"));
}

// SIGHUP through the real ozzie-server process, over one keep-alive connection that stays open
// across every reload.
BOOST_AUTO_TEST_CASE(sighup_reloads_the_clients_file_without_dropping_connections, *boost::unit_test::timeout(180)) {
    ozzie::testing::server_files files;
    const auto file = files.clients_file();
    ozzie::testing::write_clients_file(file, {alice});
    ozzie::testing::server_process server(
        ozzie::testing::process_options(files, {"--threads", "2", "--log-level", "info"}));
    const auto log_has = [&](std::string_view event, std::size_t n) {
        return eventually([&] { return events(server.new_log(), event).size() >= n; }, 20s);
    };
    http_client keep(server.port());  // never reconnects: a dropped connection fails the test
    BOOST_TEST_REQUIRE(probe(keep, alice.authorization()) == 404u);

    // Add a client with ozzie-admin: unknown to the server until it reloads.
    const auto add = ozzie::testing::run_command({admin_exe(), "client", "add", "newbie", "--clients", file.string()},
                                                 files.dir.path());
    BOOST_TEST_REQUIRE(add.exit_code == 0, add.describe());
    const auto newbie = parse_add_output(add.out).authorization;
    BOOST_TEST_REQUIRE(!newbie.empty(), add.out);
    BOOST_TEST(probe(keep, newbie) == 401u);

    server.signal(SIGHUP);
    BOOST_TEST_REQUIRE(log_has("clients_reloaded", 1), server.new_log());
    unsigned status = 0;
    BOOST_TEST(eventually([&] { return (status = probe(keep, newbie)) != 401u; }), "status " << status);
    BOOST_TEST(status == 404u);
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);
    const auto created =
        keep.request(http::verb::post, "/v1/users", {{"Authorization", newbie}, {"Content-Type", "application/json"}},
                     ozzie::testing::create_body("made-by-newbie"));
    BOOST_TEST(created.result_int() == 201u, created.body());
    {
        http_client fresh(server.port());
        BOOST_TEST(probe(fresh, newbie) == 404u);
    }

    // Remove it: refused after the next reload; alice unaffected.
    const auto remove = ozzie::testing::run_command({admin_exe(), "client", "remove", "newbie", "--clients", file.string()},
                                                    files.dir.path());
    BOOST_TEST_REQUIRE(remove.exit_code == 0, remove.describe());
    server.signal(SIGHUP);
    BOOST_TEST_REQUIRE(log_has("clients_reloaded", 2), server.new_log());
    BOOST_TEST(eventually([&] { return (status = probe(keep, newbie)) == 401u; }), "status " << status);
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);

    // A broken file: rejected with an error line, the previous clients kept.
    const auto good = read_whole_file(file);
    write_text(file, good + "this line is not client_id:digest\n");
    server.signal(SIGHUP);
    BOOST_TEST_REQUIRE(log_has("clients_reload_rejected", 1), server.new_log());
    const auto rejected = events(server.new_log(), "clients_reload_rejected");
    BOOST_TEST_REQUIRE(rejected.size() == 1u);
    BOOST_TEST(rejected[0].at("level") == json::value("error"), json::serialize(rejected[0]));
    BOOST_TEST(events(server.new_log(), "clients_reloaded").size() == 2u);
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);
    BOOST_TEST(probe(keep, newbie) == 401u);
    {
        http_client fresh(server.port());
        BOOST_TEST(probe(fresh, alice.authorization()) == 404u);
    }
    // A missing file is rejected the same way.
    fs::remove(file);
    server.signal(SIGHUP);
    BOOST_TEST_REQUIRE(log_has("clients_reload_rejected", 2), server.new_log());
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);

    // A good file again is taken.
    ozzie::testing::write_clients_file(file, {alice, bob});
    server.signal(SIGHUP);
    BOOST_TEST_REQUIRE(log_has("clients_reloaded", 3), server.new_log());
    BOOST_TEST(eventually([&] { return probe(keep, bob.authorization()) == 404u; }));
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);

    // Still the same connection, and the server stops cleanly.
    BOOST_TEST(keep.request(http::verb::get, "/v1/users/external:made-by-newbie", bearer(alice.authorization()))
                   .result_int() == 404u);
    server.signal(SIGTERM);
    const auto exit = server.wait(60s);
    BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop");
    BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));
}

BOOST_FIXTURE_TEST_CASE(reload_clients_in_process_rejects_a_broken_file_and_keeps_the_clients,
                        ozzie::testing::ops_server) {
    http_client keep(port);
    BOOST_TEST_REQUIRE(probe(keep, alice.authorization()) == 404u);
    const auto good = read_whole_file(clients_file());
    const std::string a = sha256_hex(alice.secret);
    const std::vector<std::string> broken = {
        "alice\n",                                           // no colon
        "alice:" + a.substr(1) + "\n",                       // digest too short
        "alice:" + std::string(64, 'G') + "\n",              // not hex
        "alice:" + a + "\nalice:" + a + "\n",                // twice
        "bad id:" + a + "\n",                                // invalid id
        good + "bob:" + sha256_hex("x") + "trailing\n",      // one good line, one bad
    };
    for (const auto& text : broken) {
        write_text(clients_file(), text);
        BOOST_TEST(!server->reload_clients(), "accepted:\n" << text);
        BOOST_TEST(probe(keep, alice.authorization()) == 404u, "after rejecting:\n" << text);
        BOOST_TEST(probe(keep, bob.authorization()) == 404u, "after rejecting:\n" << text);
    }
    fs::remove(clients_file());
    BOOST_TEST(!server->reload_clients(), "accepted a missing file");
    BOOST_TEST(probe(keep, alice.authorization()) == 404u);

    // A valid file is taken: bob only now.
    ozzie::testing::write_clients_file(clients_file(), {bob});
    BOOST_TEST(server->reload_clients());
    BOOST_TEST(eventually([&] { return probe(keep, alice.authorization()) == 401u; }));
    BOOST_TEST(probe(keep, bob.authorization()) == 404u);
    http_client fresh(port);
    BOOST_TEST(probe(fresh, alice.authorization()) == 401u);
    BOOST_TEST(probe(fresh, bob.authorization()) == 404u);
}

BOOST_AUTO_TEST_SUITE_END()
