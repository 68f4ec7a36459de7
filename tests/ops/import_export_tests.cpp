// Offline import and export (issue 10) through the real `ozzie-admin import` and `export`
// executables, on real stores in fresh temp dirs: a malformed file's bad lines reported by
// number with the API's messages and the rest imported; a store a server has open refused and
// left as it was; an export imported into a fresh store giving back the same users (ids,
// created_at, stages, every field) in the same order, byte for byte as GET answers them; an
// export from a running server through a checkpoint that is removed afterwards; and `-` for
// standard input.
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/unused_port.hpp"

#include <ozzie/user_service.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace http = ozzie::testing::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using ozzie::testing::alice;
using ozzie::testing::auth_headers;
using ozzie::testing::bob;
using ozzie::testing::command_result;
using ozzie::testing::http_client;

std::string admin_executable() { return ozzie::testing::executable_from_env("OZZIE_ADMIN").string(); }

// ozzie-admin with `args`, run to its end.
command_result admin(std::vector<std::string> args, const std::filesystem::path& scratch) {
    args.insert(args.begin(), admin_executable());
    return ozzie::testing::run_command(std::move(args), scratch, 120s);
}

command_result import_file(const std::filesystem::path& data_dir, const std::string& client_id,
                           const std::filesystem::path& file, const std::filesystem::path& scratch) {
    return admin({"import", "--data-dir", data_dir.string(), "--client", client_id, file.string()}, scratch);
}

command_result export_store(const std::filesystem::path& data_dir, const std::string& client_id,
                            const std::filesystem::path& scratch, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"export", "--data-dir", data_dir.string(), "--client", client_id};
    args.insert(args.end(), extra.begin(), extra.end());
    return admin(std::move(args), scratch);
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    BOOST_TEST_REQUIRE(static_cast<bool>(out.flush()), path);
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The lines of a command's stderr that report a line of the input.
std::vector<std::string> reported_lines(const command_result& r) {
    std::vector<std::string> reported;
    for (auto& line : lines_of(r.err))
        if (line.starts_with("line ")) reported.push_back(std::move(line));
    return reported;
}

// Every user of `client_id` in `service`, newest first, through the API's list (pages of 100).
std::vector<ozzie::user> all_users(const ozzie::user_service& service, const std::string& client_id) {
    std::vector<ozzie::user> all;
    ozzie::list_request request;
    request.limit = 100;
    for (;;) {
        const auto page = service.list(client_id, request);
        BOOST_TEST_REQUIRE(page.has_value());
        all.insert(all.end(), page->users.begin(), page->users.end());
        if (!page->has_more) return all;
        request.starting_after = all.back().id;
    }
}

ozzie::user must(const ozzie::result<ozzie::user>& r, const std::string& what) {
    BOOST_TEST_REQUIRE(r.has_value(), what << ": " << r.error().message);
    return *r;
}

// The entries of `dir` whose names start with ".ozzie-export-".
std::vector<std::string> export_checkpoints_in(const std::filesystem::path& dir) {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().filename().string().starts_with(".ozzie-export-")) found.push_back(entry.path().string());
    return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(import_export)

BOOST_FIXTURE_TEST_CASE(a_malformed_file_reports_each_bad_line_by_number_and_imports_the_rest,
                        ozzie::testing::server_files, *boost::unit_test::timeout(120)) {
    // A store that already has a user, and the API's own messages for two of the bad lines.
    std::string taken_id, bad_email_message, conflict_message;
    {
        ozzie::user_service service({.data_dir = data_dir()});
        taken_id = must(service.create(alice.id, {"taken", "First", {}, {}, {}}), "taken").id;
        const auto bad_email = service.create(alice.id, {"x", {}, "not-an-email", {}, {}});
        BOOST_TEST_REQUIRE(!bad_email.has_value());
        bad_email_message = bad_email.error().message;
        const auto conflict = service.create(alice.id, {"taken", {}, {}, {}, {}});
        BOOST_TEST_REQUIRE(!conflict.has_value());
        conflict_message = conflict.error().message;
    }
    const std::string exported_user =
        R"({"id":"ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX","external_user_id":"kept","name":null,"email":null,)"
        R"("phone":"+15551234567","language":"es","onboarding_stage":"active","created_at":"2025-05-05T14:30:00Z"})";
    const std::vector<std::string> lines = {
        R"({"external_user_id":"good-1","name":"Ana","email":"ana@example.com","phone":"+15551234567"})",  // 1
        R"({"external_user_id":"broken")",                                                          // 2: not JSON
        R"({"external_user_id":"bad-email","email":"not-an-email"})",                               // 3
        R"({"external_user_id":"u4","nickname":"x"})",                                              // 4: unknown field
        "",                                                                                         // 5: blank
        " \t\r",                                                                                    // 6: blank
        R"({"external_user_id":"good-2","language":"pt"})",                                         // 7
        R"({"external_user_id":"good-1","name":"Again"})",                                          // 8: earlier line's
        R"({"external_user_id":"taken"})",                                                          // 9: the store's
        exported_user,                                                                              // 10
        R"({"external_user_id":"long","name":")" + std::string(1100000, 'a') + R"("})",             // 11: too long
        R"({"external_user_id":"good-3"})",                                                         // 12, no '\n'
    };
    std::string file;
    for (const auto& line : lines) file += line + "\n";
    file.pop_back();
    write_file(dir.path() / "users.ndjson", file);

    const auto result = import_file(data_dir(), alice.id, dir.path() / "users.ndjson", dir.path());
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(result.out.empty(), result.describe());
    const auto reported = reported_lines(result);
    BOOST_TEST_REQUIRE(reported.size() == 6u, result.describe());
    BOOST_TEST(reported[0].starts_with("line 2: VALIDATION_ERROR: "), reported[0]);
    BOOST_TEST(reported[1] == "line 3: VALIDATION_ERROR: " + bad_email_message);
    BOOST_TEST(reported[1] == "line 3: VALIDATION_ERROR: Field 'email' must be a valid email address. Received: 'not-an-email'.");
    BOOST_TEST(reported[2].starts_with("line 4: VALIDATION_ERROR: Field 'nickname' is not a recognized field."),
               reported[2]);
    BOOST_TEST(reported[3] == "line 8: CONFLICT: A user with external_user_id 'good-1' already exists under your API "
                              "client. Use GET /v1/users/{user_id} to retrieve them.");
    BOOST_TEST(reported[4] == "line 9: CONFLICT: " + conflict_message);
    BOOST_TEST(reported[5] == "line 11: VALIDATION_ERROR: The line is longer than 1048576 bytes; it was not read.");
    BOOST_TEST(result.err.find("imported 4, failed 6,") != std::string::npos, result.describe());

    ozzie::user_service service({.data_dir = data_dir()});
    const auto good_1 = must(service.find_by_external(alice.id, "good-1"), "good-1");
    BOOST_TEST(*good_1.name == "Ana");  // the first line's, not line 8's
    BOOST_TEST(*good_1.email == "ana@example.com");
    BOOST_TEST(*good_1.phone == "+15551234567");
    BOOST_TEST(good_1.language == "en");
    BOOST_TEST((good_1.stage == ozzie::onboarding_stage::intake_pending));
    BOOST_TEST(must(service.find_by_external(alice.id, "good-2"), "good-2").language == "pt");
    must(service.find_by_external(alice.id, "good-3"), "good-3");
    const auto kept = must(service.find_by_id(alice.id, "ozz_usr_01HX9KZMR4P5JQNBVT7YCW3DEX"), "kept");
    BOOST_TEST(kept.external_user_id == "kept");
    BOOST_TEST((kept.stage == ozzie::onboarding_stage::active));
    BOOST_TEST(kept.created_at.time_since_epoch().count() == 1746455400);
    BOOST_TEST(must(service.find_by_external(alice.id, "taken"), "taken").id == taken_id);  // untouched
    for (const std::string external : {"broken", "bad-email", "u4", "long"})
        BOOST_TEST(!service.find_by_external(alice.id, external).has_value(), external);
    BOOST_TEST(all_users(service, alice.id).size() == 5u);
    BOOST_TEST(all_users(service, bob.id).empty());
    // The new users are created as the API creates them: a fresh id and created_at now.
    const auto created_at = good_1.created_at;
    BOOST_TEST(std::chrono::abs(std::chrono::system_clock::now() - created_at) < 5min);
    BOOST_TEST(good_1.id != taken_id);
}

BOOST_FIXTURE_TEST_CASE(an_import_or_export_is_refused_while_a_server_runs_on_the_store,
                        ozzie::testing::server_files, *boost::unit_test::timeout(120)) {
    ozzie::testing::write_clients_file(clients_file(), {alice, bob});
    write_file(dir.path() / "users.ndjson", R"({"external_user_id":"sneaked-in"})" "\n");
    std::string before_id;
    {
        ozzie::testing::server_process server(ozzie::testing::process_options(*this));
        http_client c(server.port());
        const auto created = c.request(http::verb::post, "/v1/users", auth_headers(alice),
                                       ozzie::testing::create_body("before"));
        BOOST_TEST_REQUIRE(created.result_int() == 201u, created.body());
        before_id = json::parse(created.body()).at("data").at("id").as_string().c_str();

        const auto imported = import_file(data_dir(), alice.id, dir.path() / "users.ndjson", dir.path());
        BOOST_TEST(imported.exit_code == 1, imported.describe());
        BOOST_TEST(imported.err.find("the store in " + data_dir().string() +
                                     " is in use (is ozzie-server running on it?); stop it first") != std::string::npos,
                   imported.describe());
        BOOST_TEST(imported.err.find("imported") == std::string::npos, imported.describe());
        const auto exported = export_store(data_dir(), alice.id, dir.path());
        BOOST_TEST(exported.exit_code == 1, exported.describe());
        BOOST_TEST(exported.out.empty(), exported.describe());
        BOOST_TEST(exported.err.find("is in use") != std::string::npos, exported.describe());
        BOOST_TEST(exported.err.find("pass --admin HOST:PORT") != std::string::npos, exported.describe());

        // The server still serves, reads and writes.
        BOOST_TEST(c.request(http::verb::get, "/v1/users/" + before_id, auth_headers(alice)).result_int() == 200u);
        BOOST_TEST(c.request(http::verb::get, "/v1/users/external:sneaked-in", auth_headers(alice)).result_int() ==
                   404u);
        BOOST_TEST(c.request(http::verb::post, "/v1/users", auth_headers(alice), ozzie::testing::create_body("after"))
                       .result_int() == 201u);
        server.signal(SIGTERM);
        BOOST_TEST_REQUIRE(server.wait(30s).has_value());
        BOOST_TEST(server.new_log().find("\"level\":\"error\"") == std::string::npos, server.new_log());
    }
    // The store holds what the server wrote and nothing of the refused import.
    ozzie::user_service service({.data_dir = data_dir()});
    const auto users = all_users(service, alice.id);
    BOOST_TEST_REQUIRE(users.size() == 2u);
    BOOST_TEST(users[0].external_user_id == "after");
    BOOST_TEST(users[1].id == before_id);
}

BOOST_FIXTURE_TEST_CASE(an_export_imported_into_a_fresh_store_gives_back_the_same_users_in_the_same_order,
                        ozzie::testing::server_files, *boost::unit_test::timeout(180)) {
    // Users of every shape, some moved on through their stages, and another client's.
    std::vector<ozzie::user> expected;
    {
        ozzie::user_service service({.data_dir = data_dir()});
        for (int i = 0; i < 40; ++i) {
            ozzie::new_user request;
            request.external_user_id = "usr-" + std::to_string(i);
            if (i % 2) request.name = "Jo\xC3\xA3o \"Quoted\" \\ " + std::to_string(i);
            if (i % 3) request.email = "user" + std::to_string(i) + "@example.com";
            if (i % 4) request.phone = "+1555000" + std::to_string(1000 + i);
            if (i % 5 == 1) request.language = "es";
            if (i == 7) request.external_user_id = "a/b c\xE2\x9C\x93 \"q\" \\";  // escapes in an external id
            const auto created = must(service.create(alice.id, request), request.external_user_id);
            if (i % 3 == 1) {
                ozzie::user_patch move_on;
                move_on.stage = i % 2 ? ozzie::onboarding_stage::active : ozzie::onboarding_stage::plan_pending;
                must(service.update(alice.id, {ozzie::user_ref::kind::id, created.id}, move_on), "update");
            }
            if (i % 10 == 0) must(service.create(bob.id, request), "bob's");
        }
        expected = all_users(service, alice.id);
    }
    BOOST_TEST_REQUIRE(expected.size() == 40u);
    BOOST_TEST(std::count_if(expected.begin(), expected.end(), [](const ozzie::user& u) {
                   return u.stage != ozzie::onboarding_stage::intake_pending;
               }) == 13);

    const auto exported = export_store(data_dir(), alice.id, dir.path());
    BOOST_TEST_REQUIRE(exported.exit_code == 0, exported.describe());
    BOOST_TEST(exported.err.find("exported 40,") != std::string::npos, exported.describe());
    const auto lines = lines_of(exported.out);
    BOOST_TEST_REQUIRE(lines.size() == expected.size());

    // Each line is byte for byte the `data` of GET /v1/users/{id} from the real server, newest first.
    {
        ozzie::testing::write_clients_file(clients_file(), {alice, bob});
        ozzie::testing::server_process server(ozzie::testing::process_options(*this));
        http_client c(server.port());
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto res = c.request(http::verb::get, "/v1/users/" + expected[i].id, auth_headers(alice));
            BOOST_TEST_REQUIRE(res.result_int() == 200u, res.body());
            const std::string_view body = res.body();
            constexpr std::string_view envelope = R"({"object":"user","data":)";
            BOOST_TEST_REQUIRE(body.starts_with(envelope));
            BOOST_TEST(lines[i] == body.substr(envelope.size(), body.size() - envelope.size() - 1), "line " << i + 1);
        }
    }

    // Into a fresh store: the same users, ids, created_at and stages, in the same order.
    write_file(dir.path() / "export.ndjson", exported.out);
    const auto fresh = dir.path() / "fresh";
    const auto imported = import_file(fresh, alice.id, dir.path() / "export.ndjson", dir.path());
    BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.describe());
    BOOST_TEST(imported.err.find("imported 40, failed 0,") != std::string::npos, imported.describe());
    const auto again = export_store(fresh, alice.id, dir.path());
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.describe());
    BOOST_TEST(again.out == exported.out);
    {
        ozzie::user_service service({.data_dir = fresh});
        const auto round_tripped = all_users(service, alice.id);
        BOOST_TEST_REQUIRE(round_tripped.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) BOOST_TEST((round_tripped[i] == expected[i]), "user " << i);
        // Every index took them: by external id, and by stage.
        for (const auto& u : expected)
            BOOST_TEST(must(service.find_by_external(alice.id, u.external_user_id), u.external_user_id).id == u.id);
        ozzie::list_request active_request;
        active_request.limit = 100;
        active_request.stage = ozzie::onboarding_stage::active;
        const auto active = service.list(alice.id, active_request);
        BOOST_TEST_REQUIRE(active.has_value());
        BOOST_TEST(active->users.size() == static_cast<std::size_t>(std::count_if(
                                               expected.begin(), expected.end(), [](const ozzie::user& u) {
                                                   return u.stage == ozzie::onboarding_stage::active;
                                               })));
        BOOST_TEST(all_users(service, bob.id).empty());
    }

    // The same file again: every line's id is taken now, and nothing changes.
    const auto twice = import_file(fresh, alice.id, dir.path() / "export.ndjson", dir.path());
    BOOST_TEST(twice.exit_code == 1, twice.describe());
    const auto reported = reported_lines(twice);
    BOOST_TEST_REQUIRE(reported.size() == expected.size(), twice.describe());
    BOOST_TEST(reported[0] == "line 1: CONFLICT: A user with id '" + expected[0].id + "' is already in the store.");
    BOOST_TEST(export_store(fresh, alice.id, dir.path()).out == exported.out);

    // Under another client, with the ids taken but the external ids free: still refused by id.
    const auto as_bob = import_file(fresh, bob.id, dir.path() / "export.ndjson", dir.path());
    BOOST_TEST(as_bob.exit_code == 1, as_bob.describe());
    BOOST_TEST(reported_lines(as_bob).size() == expected.size(), as_bob.describe());
}

BOOST_FIXTURE_TEST_CASE(an_export_from_a_running_server_reads_a_checkpoint_and_removes_it, ozzie::testing::ops_server,
                        *boost::unit_test::timeout(120)) {
    http_client c(port);
    std::vector<std::string> ids;
    for (int i = 0; i < 25; ++i) {
        const auto res = c.request(http::verb::post, "/v1/users", auth_headers(alice),
                                   ozzie::testing::create_body("running-" + std::to_string(i)));
        BOOST_TEST_REQUIRE(res.result_int() == 201u, res.body());
        ids.insert(ids.begin(), json::parse(res.body()).at("data").at("id").as_string().c_str());  // newest first
    }
    const auto exported =
        export_store(data_dir(), alice.id, dir.path(), {"--admin", "127.0.0.1:" + std::to_string(admin_port)});
    BOOST_TEST_REQUIRE(exported.exit_code == 0, exported.describe());
    const auto lines = lines_of(exported.out);
    BOOST_TEST_REQUIRE(lines.size() == ids.size(), exported.describe());
    for (std::size_t i = 0; i < lines.size(); ++i)
        BOOST_TEST(json::parse(lines[i]).at("id").as_string() == ids[i], "line " << i + 1);
    // The checkpoint went next to the data dir, and is gone.
    BOOST_TEST(export_checkpoints_in(data_dir().parent_path()).empty());

    // The server kept serving, and serves on.
    BOOST_TEST(c.request(http::verb::get, "/v1/users/" + ids.front(), auth_headers(alice)).result_int() == 200u);
    BOOST_TEST(c.request(http::verb::post, "/v1/users", auth_headers(alice), ozzie::testing::create_body("later"))
                   .result_int() == 201u);

    // A reader that stops early (`| head`): the export fails, and still removes its checkpoint.
    // Over a MiB of users, more than a pipe holds, so that the export does write into a closed pipe.
    {
        std::vector<std::future<ozzie::result<ozzie::user>>> creates;
        for (int i = 0; i < 6000; ++i) {
            auto done = std::make_shared<std::promise<ozzie::result<ozzie::user>>>();
            creates.push_back(done->get_future());
            service->async_create(alice.id, {"bulk-" + std::to_string(i), "Some One", "some.one@example.com", {}, {}},
                                  [done](ozzie::result<ozzie::user> r) { done->set_value(std::move(r)); });
        }
        for (auto& created : creates) BOOST_TEST_REQUIRE(created.get().has_value());
    }
    const auto cut_short = ozzie::testing::run_command(
        {"/bin/sh", "-c", "\"$0\" export --data-dir \"$1\" --client alice --admin \"$2\" | head -c 10 > /dev/null",
         admin_executable(), data_dir().string(), "127.0.0.1:" + std::to_string(admin_port)},
        dir.path(), 120s);
    BOOST_TEST(cut_short.err.find("cannot write the output") != std::string::npos, cut_short.describe());
    BOOST_TEST(export_checkpoints_in(data_dir().parent_path()).empty());

    // An admin listener that is not there: reported, and nothing is left behind.
    const ozzie::testing::unused_port nobody;
    const auto refused =
        export_store(data_dir(), alice.id, dir.path(), {"--admin", "127.0.0.1:" + std::to_string(nobody.port())});
    BOOST_TEST(refused.exit_code == 1, refused.describe());
    BOOST_TEST(refused.out.empty(), refused.describe());
    BOOST_TEST(export_checkpoints_in(data_dir().parent_path()).empty());
}

BOOST_FIXTURE_TEST_CASE(a_dash_reads_standard_input, ozzie::testing::server_files, *boost::unit_test::timeout(60)) {
    write_file(dir.path() / "stdin.ndjson", R"({"external_user_id":"in-1"})" "\n"
                                            R"({"external_user_id":"in-2","name":"Two"})" "\n"
                                            R"({"external_user_id":"in-1"})" "\n");
    // The shell gives the file as standard input: `ozzie-admin import ... - < FILE`.
    const auto result = ozzie::testing::run_command(
        {"/bin/sh", "-c", "exec \"$0\" import --data-dir \"$1\" --client alice - < \"$2\"", admin_executable(),
         data_dir().string(), (dir.path() / "stdin.ndjson").string()},
        dir.path(), 60s);
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(reported_lines(result) ==
                   std::vector<std::string>{"line 3: CONFLICT: A user with external_user_id 'in-1' already exists under "
                                            "your API client. Use GET /v1/users/{user_id} to retrieve them."},
               boost::test_tools::per_element());
    ozzie::user_service service({.data_dir = data_dir()});
    const auto users = all_users(service, alice.id);
    BOOST_TEST_REQUIRE(users.size() == 2u);
    BOOST_TEST(users[0].external_user_id == "in-2");
    BOOST_TEST(*users[0].name == "Two");
    BOOST_TEST(users[1].external_user_id == "in-1");
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused_with_a_message, *boost::unit_test::timeout(60)) {
    ozzie::testing::temp_dir scratch;
    const auto nowhere = scratch.path() / "nowhere";
    const auto no_store = export_store(nowhere, alice.id, scratch.path());
    BOOST_TEST(no_store.exit_code == 1, no_store.describe());
    BOOST_TEST(no_store.err.find("there is no store in " + nowhere.string()) != std::string::npos, no_store.describe());
    BOOST_TEST(!std::filesystem::exists(nowhere));  // not created by looking

    const auto no_file = import_file(scratch.path() / "data", alice.id, scratch.path() / "missing.ndjson", scratch.path());
    BOOST_TEST(no_file.exit_code == 1, no_file.describe());
    BOOST_TEST(no_file.err.find("cannot read " + (scratch.path() / "missing.ndjson").string()) != std::string::npos,
               no_file.describe());

    const auto bad_client = import_file(scratch.path() / "data", "no spaces", "-", scratch.path());
    BOOST_TEST(bad_client.exit_code == 1, bad_client.describe());
    BOOST_TEST(bad_client.err.find("--client must be a client id") != std::string::npos, bad_client.describe());

    const auto no_client = admin({"import", "--data-dir", (scratch.path() / "data").string(), "-"}, scratch.path());
    BOOST_TEST(no_client.exit_code == 2, no_client.describe());
    BOOST_TEST(no_client.err.find("ozzie-admin import --data-dir DIR --client ID FILE") != std::string::npos,
               no_client.describe());
}

BOOST_AUTO_TEST_SUITE_END()
