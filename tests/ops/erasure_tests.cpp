// Erasure (issue 9): a deleted user's personal data is in no file of the data directory once the
// store is compacted through the admin listener (POST /compact, or `ozzie-admin compact`).
#include "support/child_process.hpp"
#include "support/distinctive.hpp"
#include "support/ops_server.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ozzie::testing::admin_conforms;
using ozzie::testing::alice;
using ozzie::testing::auth_headers;
using ozzie::testing::http_client;
using ozzie::testing::ops_server;
namespace http = ozzie::testing::http;

// Whether the table file at `path` holds `needle` in a key or a value. Its blocks may be
// compressed, so a byte search of the file could miss a value that is there: RocksDB's own
// reader decompresses them.
bool table_contains(const std::filesystem::path& path, const std::string& needle) {
    rocksdb::SstFileReader reader{rocksdb::Options()};
    const auto opened = reader.Open(path.string());
    BOOST_TEST_REQUIRE(opened.ok(), path << ": " << opened.ToString());
    const std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next())
        if (it->key().ToString().find(needle) != std::string::npos ||
            it->value().ToString().find(needle) != std::string::npos)
            return true;
    return false;
}

// The files under `dir` that hold `needle`: table files as RocksDB reads them, every other file
// (the WAL, the manifest) byte for byte.
std::vector<std::string> files_containing(const std::filesystem::path& dir, const std::string& needle) {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        const bool holds = entry.path().extension() == ".sst"
                               ? table_contains(entry.path(), needle)
                               : ozzie::testing::read_whole_file(entry.path()).find(needle) != std::string::npos;
        if (holds) found.push_back(entry.path().filename().string());
    }
    return found;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_deleted_user_is_in_no_file_after_compaction, ops_server, *boost::unit_test::timeout(120)) {
    const std::string name = ozzie::testing::distinctive("Erasable ", 16, "abcdefghijklmnopqrstuvwxyz");
    const std::string email = ozzie::testing::distinctive("erasable.", 16, "abcdefghijklmnopqrstuvwxyz") + "@example.com";
    const std::string phone = ozzie::testing::distinctive("+1", 12, "0123456789");
    const std::vector<std::string> personal = {name, email, phone};
    json::object user;
    user["external_user_id"] = "erase-me";
    user["name"] = name;
    user["email"] = email;
    user["phone"] = phone;
    const std::string kept_name = ozzie::testing::distinctive("Kept ", 16, "abcdefghijklmnopqrstuvwxyz");
    json::object other;
    other["external_user_id"] = "keep-me";
    other["name"] = kept_name;
    const auto body = json::serialize(user);
    const auto kept = json::serialize(other);

    http_client api(port);
    BOOST_TEST_REQUIRE(api.request(http::verb::post, "/v1/users", auth_headers(alice), body).result_int() == 201u);
    BOOST_TEST_REQUIRE(api.request(http::verb::post, "/v1/users", auth_headers(alice), kept).result_int() == 201u);

    // While the user exists, its data is in the table files after a compaction, and the search
    // finds it there: so a search that finds nothing later means something.
    http_client admin(admin_port, 30s, admin_conforms);
    const auto first = admin.request(http::verb::post, "/compact");
    BOOST_TEST_REQUIRE(first.result_int() == 200u, first.body());
    BOOST_TEST(json::parse(first.body()) == json::parse(R"({"status":"compacted"})"));
    for (const auto& value : personal)
        BOOST_TEST(!files_containing(data_dir(), value).empty(), value << " not found while the user exists");

    const auto removed = api.request(http::verb::delete_, "/v1/users/external:erase-me", auth_headers(alice));
    BOOST_TEST_REQUIRE(removed.result_int() == 204u, removed.body());

    // The operator's command this time.
    const auto compacted = ozzie::testing::run_command(
        {ozzie::testing::executable_from_env("OZZIE_ADMIN").string(), "compact", "--admin",
         "127.0.0.1:" + std::to_string(admin_port)},
        dir.path());
    BOOST_TEST_REQUIRE(compacted.exit_code == 0, compacted.describe());
    for (const auto& value : personal) {
        const auto files = files_containing(data_dir(), value);
        BOOST_TEST(files.empty(), value << " is still in " << files.size() << " file(s), e.g. "
                                        << (files.empty() ? "" : files.front()));
    }
    // The other user is still there, in the files and through the API.
    BOOST_TEST(!files_containing(data_dir(), kept_name).empty());
    BOOST_TEST(api.request(http::verb::get, "/v1/users/external:keep-me", auth_headers(alice)).result_int() == 200u);
}
