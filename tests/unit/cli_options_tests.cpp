// The command line and config file of ozzie-server (source/cli_options.hpp).
#include <boost/test/unit_test.hpp>

#include "cli_options.hpp"

#include "support/temp_dir.hpp"

#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace {

using parse_outcome = std::variant<ozzie::run_options, ozzie::print_and_exit>;

// parse_command_line with "ozzie-server" as argv[0] and a terminating null, like main's argv.
parse_outcome parse(std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"ozzie-server"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const auto& s : storage) argv.push_back(s.c_str());
    argv.push_back(nullptr);
    return ozzie::parse_command_line(static_cast<int>(storage.size()), argv.data());
}

ozzie::run_options run(std::initializer_list<std::string> args) {
    auto outcome = parse(args);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<ozzie::run_options>(outcome),
                          "expected run_options, got print_and_exit");
    return std::get<ozzie::run_options>(outcome);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    BOOST_REQUIRE(out.good());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(help_prints_and_exits) {
    auto outcome = parse({"--help"});
    BOOST_REQUIRE(std::holds_alternative<ozzie::print_and_exit>(outcome));
    const std::string& text = std::get<ozzie::print_and_exit>(outcome).text;
    BOOST_TEST(!text.empty());
    // The help describes the options.
    BOOST_TEST(text.find("--listen") != std::string::npos, text);
    BOOST_TEST(text.find("--data-dir") != std::string::npos, text);
    BOOST_TEST(text.find("--clients") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(help_wins_over_other_options) {
    auto outcome = parse({"--data-dir", "/tmp/x", "--help"});
    BOOST_TEST(std::holds_alternative<ozzie::print_and_exit>(outcome));
}

BOOST_AUTO_TEST_CASE(version_prints_and_exits) {
    auto outcome = parse({"--version"});
    BOOST_REQUIRE(std::holds_alternative<ozzie::print_and_exit>(outcome));
    BOOST_TEST(!std::get<ozzie::print_and_exit>(outcome).text.empty());
}

BOOST_AUTO_TEST_CASE(all_options_are_parsed) {
    auto options = run({"--listen", "0.0.0.0:9090", "--data-dir", "/var/lib/ozzie", "--clients",
                        "/etc/ozzie/clients", "--threads", "3", "--sync", "false"});
    BOOST_TEST(options.server.host == "0.0.0.0");
    BOOST_TEST(options.server.port == 9090);
    BOOST_TEST(options.store.data_dir == std::filesystem::path("/var/lib/ozzie"));
    BOOST_TEST(options.server.clients_file == std::filesystem::path("/etc/ozzie/clients"));
    BOOST_TEST(options.server.threads == 3u);
    BOOST_TEST(options.store.sync == false);
}

BOOST_AUTO_TEST_CASE(equals_sign_form_is_accepted) {
    auto options = run({"--listen=127.0.0.1:8081", "--data-dir=data", "--clients=clients.txt"});
    BOOST_TEST(options.server.host == "127.0.0.1");
    BOOST_TEST(options.server.port == 8081);
    BOOST_TEST(options.store.data_dir == std::filesystem::path("data"));
    BOOST_TEST(options.server.clients_file == std::filesystem::path("clients.txt"));
}

BOOST_AUTO_TEST_CASE(sync_true_and_default) {
    BOOST_TEST(run({"--data-dir", "d", "--clients", "c", "--sync", "true"}).store.sync == true);
    BOOST_TEST(run({"--data-dir", "d", "--clients", "c"}).store.sync == true);
}

BOOST_AUTO_TEST_CASE(listen_accepts_any_port_in_range) {
    auto options = run({"--listen", "127.0.0.1:65535", "--data-dir", "d", "--clients", "c"});
    BOOST_TEST(options.server.port == 65535);
    options = run({"--listen", "localhost:1", "--data-dir", "d", "--clients", "c"});
    BOOST_TEST(options.server.host == "localhost");
    BOOST_TEST(options.server.port == 1);
}

BOOST_AUTO_TEST_CASE(missing_data_dir_throws) {
    BOOST_CHECK_THROW(parse({"--clients", "c"}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(missing_clients_throws) {
    BOOST_CHECK_THROW(parse({"--data-dir", "d"}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(no_arguments_throws) {
    BOOST_CHECK_THROW(parse({}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(listen_without_port_throws) {
    BOOST_CHECK_THROW(parse({"--listen", "127.0.0.1", "--data-dir", "d", "--clients", "c"}),
                      std::runtime_error);
    BOOST_CHECK_THROW(parse({"--listen", "127.0.0.1:", "--data-dir", "d", "--clients", "c"}),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(listen_with_bad_port_throws) {
    for (std::string listen : {"127.0.0.1:70000", "127.0.0.1:65536", "127.0.0.1:http",
                               "127.0.0.1:-1", "127.0.0.1:80x"}) {
        BOOST_CHECK_THROW(parse({"--listen", listen, "--data-dir", "d", "--clients", "c"}),
                          std::runtime_error);
    }
}

BOOST_AUTO_TEST_CASE(sync_other_than_true_or_false_throws) {
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--sync", "maybe"}),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(bad_threads_throws) {
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--threads", "many"}),
                      std::runtime_error);
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--threads", "-1"}),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(unknown_option_throws) {
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--frobnicate"}),
                      std::runtime_error);
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--frobnicate", "yes"}),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(stray_positional_argument_throws) {
    BOOST_CHECK_THROW(parse({"serve", "--data-dir", "d", "--clients", "c"}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(option_without_its_value_throws) {
    BOOST_CHECK_THROW(parse({"--clients", "c", "--data-dir"}), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_file)

BOOST_AUTO_TEST_CASE(config_file_supplies_every_option) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config,
               "# Ozzie server\n"
               "listen = 127.0.0.1:7070\n"
               "data-dir = /srv/ozzie/data\n"
               "clients = /srv/ozzie/clients\n"
               "threads = 5\n"
               "sync = false\n");
    auto options = run({"--config", config.string()});
    BOOST_TEST(options.server.host == "127.0.0.1");
    BOOST_TEST(options.server.port == 7070);
    BOOST_TEST(options.store.data_dir == std::filesystem::path("/srv/ozzie/data"));
    BOOST_TEST(options.server.clients_file == std::filesystem::path("/srv/ozzie/clients"));
    BOOST_TEST(options.server.threads == 5u);
    BOOST_TEST(options.store.sync == false);
}

BOOST_AUTO_TEST_CASE(command_line_wins_over_config_file) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config,
               "listen = 127.0.0.1:7070\n"
               "data-dir = /from/config/data\n"
               "clients = /from/config/clients\n"
               "threads = 5\n"
               "sync = false\n");
    auto options = run({"--config", config.string(), "--listen", "0.0.0.0:8000", "--data-dir",
                        "/from/cli/data", "--sync", "true"});
    // From the command line:
    BOOST_TEST(options.server.host == "0.0.0.0");
    BOOST_TEST(options.server.port == 8000);
    BOOST_TEST(options.store.data_dir == std::filesystem::path("/from/cli/data"));
    BOOST_TEST(options.store.sync == true);
    // From the file:
    BOOST_TEST(options.server.clients_file == std::filesystem::path("/from/config/clients"));
    BOOST_TEST(options.server.threads == 5u);
}

BOOST_AUTO_TEST_CASE(command_line_wins_even_when_given_before_config) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "data-dir = /from/config/data\nclients = /from/config/clients\n");
    auto options = run({"--data-dir", "/from/cli/data", "--config", config.string()});
    BOOST_TEST(options.store.data_dir == std::filesystem::path("/from/cli/data"));
    BOOST_TEST(options.server.clients_file == std::filesystem::path("/from/config/clients"));
}

BOOST_AUTO_TEST_CASE(required_options_may_come_from_the_config_file_alone) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "data-dir = d\n");
    auto options = run({"--config", config.string(), "--clients", "c"});
    BOOST_TEST(options.store.data_dir == std::filesystem::path("d"));
    BOOST_TEST(options.server.clients_file == std::filesystem::path("c"));
}

BOOST_AUTO_TEST_CASE(missing_required_option_in_both_throws) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "data-dir = d\n");
    BOOST_CHECK_THROW(parse({"--config", config.string()}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(bad_value_in_config_file_throws) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "data-dir = d\nclients = c\nsync = maybe\n");
    BOOST_CHECK_THROW(parse({"--config", config.string()}), std::runtime_error);
    write_file(config, "data-dir = d\nclients = c\nlisten = 127.0.0.1:70000\n");
    BOOST_CHECK_THROW(parse({"--config", config.string()}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(unknown_option_in_config_file_throws) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "data-dir = d\nclients = c\nfrobnicate = 1\n");
    BOOST_CHECK_THROW(parse({"--config", config.string()}), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(missing_config_file_throws) {
    ozzie::testing::temp_dir dir;
    BOOST_CHECK_THROW(parse({"--config", (dir.path() / "absent.conf").string(), "--data-dir", "d",
                             "--clients", "c"}),
                      std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
