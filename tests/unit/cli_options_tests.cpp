// The command line and config file of ozzie-server (source/cli_options.hpp).
#include <boost/test/unit_test.hpp>

#include "cli_options.hpp"
#include "http/rate_limiter.hpp"

#include "support/temp_dir.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using parse_outcome = std::variant<ozzie::run_options, ozzie::print_and_exit>;

// parse_command_line with "ozzie-server" as argv[0] and a terminating null, like main's argv.
parse_outcome parse(const std::vector<std::string>& args) {
    std::vector<std::string> storage{"ozzie-server"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const auto& s : storage) argv.push_back(s.c_str());
    argv.push_back(nullptr);
    return ozzie::parse_command_line(static_cast<int>(storage.size()), argv.data());
}

ozzie::run_options run(const std::vector<std::string>& args) {
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

// One option as the command line gives it and as config file lines, and whether the parsed options
// hold what it asks for. The TLS certificate and key count only with a TLS listener, so their rows
// give all three.
struct option_row {
    std::string name;  // the long option the row is for
    std::vector<std::string> command_line;
    std::string config_file;
    std::function<bool(const ozzie::run_options&)> check;
};

// Whether a limiter made from `o`, as the server makes one, lets a client send many requests at once.
bool never_limits(const ozzie::run_options& o) {
    const std::vector<std::string_view> clients{"acme"};
    ozzie::rate_limiter limiter(clients, o.server.rate_limit, o.server.rate_burst);
    const auto now = ozzie::rate_limiter::clock::now();
    for (int i = 0; i < 1000; ++i)
        if (limiter.take("acme", now)) return false;
    return true;
}

// Every option that names a setting, each value unlike the default so that an ignored option fails.
std::vector<option_row> option_table() {
    using namespace std::chrono_literals;
    using ozzie::run_options;
    return {
        {"listen", {"--listen", "0.0.0.0:9090"}, "listen = 0.0.0.0:9090\n",
         [](const run_options& o) { return o.server.host == "0.0.0.0" && o.server.port == 9090; }},
        {"listen", {"--listen", "[::1]:0"}, "listen = [::1]:0\n",
         [](const run_options& o) { return o.server.host == "::1" && o.server.port == 0; }},
        {"data-dir", {"--data-dir", "/srv/ozzie/data"}, "data-dir = /srv/ozzie/data\n",
         [](const run_options& o) { return o.store.data_dir == "/srv/ozzie/data"; }},
        {"postgres", {"--postgres", "postgresql://ozzie@db.internal/ozzie"}, "postgres = postgresql://ozzie@db.internal/ozzie\n",
         [](const run_options& o) { return o.store.postgres == "postgresql://ozzie@db.internal/ozzie" && o.store.data_dir.empty(); }},
        {"postgres-replica", {"--postgres", "host=primary", "--postgres-replica", "host=replica1"},
         "postgres = host=primary\npostgres-replica = host=replica1\n",
         [](const run_options& o) { return o.store.postgres_replicas == std::vector<std::string>{"host=replica1"}; }},
        {"clients", {"--clients", "/etc/ozzie/clients"}, "clients = /etc/ozzie/clients\n",
         [](const run_options& o) { return o.server.clients_file == "/etc/ozzie/clients"; }},
        {"threads", {"--threads", "3"}, "threads = 3\n",
         [](const run_options& o) { return o.server.threads == 3; }},
        {"sync", {"--sync", "false"}, "sync = false\n", [](const run_options& o) { return !o.store.sync; }},
        {"body-limit", {"--body-limit", "1048576"}, "body-limit = 1048576\n",
         [](const run_options& o) { return o.server.body_limit == 1048576; }},
        {"batch-body-limit", {"--batch-body-limit", "2097152"}, "batch-body-limit = 2097152\n",
         [](const run_options& o) { return o.server.batch_body_limit == 2097152; }},
        {"idempotency-ttl", {"--idempotency-ttl", "3600"}, "idempotency-ttl = 3600\n",
         [](const run_options& o) { return o.store.idempotency_ttl == 3600s; }},
        {"block-cache", {"--block-cache", "1073741824"}, "block-cache = 1073741824\n",
         [](const run_options& o) { return o.store.block_cache_bytes == 1073741824; }},
        {"row-cache", {"--row-cache", "0"}, "row-cache = 0\n",
         [](const run_options& o) { return o.store.row_cache_bytes == 0; }},
        {"header-limit", {"--header-limit", "16384"}, "header-limit = 16384\n",
         [](const run_options& o) { return o.server.header_limit == 16384; }},
        {"request-timeout", {"--request-timeout", "2.5"}, "request-timeout = 2.5\n",
         [](const run_options& o) { return o.server.request_timeout == 2500ms; }},
        {"idle-timeout", {"--idle-timeout", "30"}, "idle-timeout = 30\n",
         [](const run_options& o) { return o.server.idle_timeout == 30s; }},
        {"write-timeout", {"--write-timeout", "0.25"}, "write-timeout = 0.25\n",
         [](const run_options& o) { return o.server.write_timeout == 250ms; }},
        {"max-connections", {"--max-connections", "17"}, "max-connections = 17\n",
         [](const run_options& o) { return o.server.max_connections == 17; }},
        // 0 turns the limit off: with a burst of 1, any rate would refuse the second request.
        {"rate-limit", {"--rate-limit", "0", "--rate-burst", "1"}, "rate-limit = 0\nrate-burst = 1\n",
         [](const run_options& o) { return o.server.rate_limit == 0 && never_limits(o); }},
        {"rate-limit", {"--rate-limit", "50"}, "rate-limit = 50\n",
         [](const run_options& o) { return o.server.rate_limit == 50; }},
        {"rate-burst", {"--rate-burst", "7"}, "rate-burst = 7\n",
         [](const run_options& o) { return o.server.rate_burst == 7; }},
        {"admin-listen", {"--admin-listen", "127.0.0.1:9091"}, "admin-listen = 127.0.0.1:9091\n",
         [](const run_options& o) {
             return o.server.admin_host == "127.0.0.1" && o.server.admin_port == 9091;
         }},
        {"admin-listen", {"--admin-listen", "[::1]:0"}, "admin-listen = [::1]:0\n",
         [](const run_options& o) { return o.server.admin_host == "::1" && o.server.admin_port == 0; }},
        {"tls-listen", {"--tls-listen", "0.0.0.0:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
         "tls-listen = 0.0.0.0:8443\ntls-cert = c.pem\ntls-key = k.pem\n",
         [](const run_options& o) { return o.server.tls_host == "0.0.0.0" && o.server.tls_port == 8443; }},
        {"tls-listen", {"--tls-listen", "[::1]:0", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
         "tls-listen = [::1]:0\ntls-cert = c.pem\ntls-key = k.pem\n",
         [](const run_options& o) { return o.server.tls_host == "::1" && o.server.tls_port == 0; }},
        {"tls-cert",
         {"--tls-listen", "127.0.0.1:0", "--tls-cert", "/etc/tls/chain.pem", "--tls-key", "k.pem"},
         "tls-listen = 127.0.0.1:0\ntls-cert = /etc/tls/chain.pem\ntls-key = k.pem\n",
         [](const run_options& o) { return o.server.tls_certificate == "/etc/tls/chain.pem"; }},
        {"tls-key",
         {"--tls-listen", "127.0.0.1:0", "--tls-cert", "c.pem", "--tls-key", "/etc/tls/key.pem"},
         "tls-listen = 127.0.0.1:0\ntls-cert = c.pem\ntls-key = /etc/tls/key.pem\n",
         [](const run_options& o) { return o.server.tls_private_key == "/etc/tls/key.pem"; }},
        {"log-level", {"--log-level", "debug"}, "log-level = debug\n",
         [](const run_options& o) { return o.server.log_level == "debug"; }},
        {"log-level", {"--log-level", "warning"}, "log-level = warning\n",
         [](const run_options& o) { return o.server.log_level == "warning"; }},
        {"log-level", {"--log-level", "error"}, "log-level = error\n",
         [](const run_options& o) { return o.server.log_level == "error"; }},
        {"log-level", {"--log-level", "off"}, "log-level = off\n",
         [](const run_options& o) { return o.server.log_level == "off"; }},
    };
}

// The options that name no setting, each tested on its own: help_prints_and_exits,
// version_prints_and_exits and the config_file suite.
const std::vector<std::string> options_without_a_setting = {"help", "version", "config"};

// The required options that `args` does not give, with placeholder values.
std::vector<std::string> required_besides(const std::vector<std::string>& args) {
    std::vector<std::string> required;
    const auto given = [&](const std::string& option) { return std::find(args.begin(), args.end(), option) != args.end(); };
    if (!given("--data-dir") && !given("--postgres")) required.insert(required.end(), {"--data-dir", "x"});
    if (!given("--clients")) required.insert(required.end(), {"--clients", "x"});
    return required;
}

// The arguments as they would be typed.
std::string joined(const std::vector<std::string>& args) {
    std::string text;
    for (const auto& a : args) text += (text.empty() ? "" : " ") + a;
    return text;
}

const std::filesystem::path source_dir = OZZIE_SOURCE_DIR;

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

BOOST_AUTO_TEST_CASE(one_store_is_required_not_two) {
    const auto refusal = [](const std::vector<std::string>& args) {
        try {
            parse(args);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    BOOST_TEST(refusal({"--clients", "c", "--data-dir", "d", "--postgres", "host=db"}).find("not both") != std::string::npos);
    BOOST_TEST(refusal({"--clients", "c"}).find("--data-dir (RocksDB on this machine) or --postgres") != std::string::npos);
    BOOST_TEST(refusal({"--clients", "c", "--data-dir", "d", "--postgres-replica", "host=r"}) ==
               "--postgres-replica needs --postgres");
    BOOST_TEST(refusal({"--clients", "c", "--postgres", ""}) == "--postgres must not be empty");
    BOOST_TEST(refusal({"--clients", "c", "--postgres", "host=db", "--sync", "false"}).find("--sync is RocksDB's") == 0);
    BOOST_TEST(refusal({"--clients", "c", "--postgres", "host=db", "--block-cache", "2097152"}).find("--block-cache is RocksDB's") == 0);
    BOOST_TEST(refusal({"--clients", "c", "--postgres", "host=db", "--row-cache", "0"}).find("--row-cache is RocksDB's") == 0);
}

BOOST_AUTO_TEST_CASE(postgres_replicas_repeat_on_the_command_line_and_in_the_config_file) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    write_file(config, "postgres-replica = host=r2\npostgres-replica = host=r3\n");
    const auto options = run({"--config", config.string(), "--clients", "c", "--postgres", "host=p",
                              "--postgres-replica", "host=r1"});
    BOOST_TEST(options.store.postgres == "host=p");
    BOOST_TEST(options.store.postgres_replicas == (std::vector<std::string>{"host=r1", "host=r2", "host=r3"}),
               boost::test_tools::per_element());
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

BOOST_AUTO_TEST_CASE(idempotency_ttl_and_batch_body_limit_out_of_range_throw) {
    for (const char* ttl : {"0", "0.5", "-1", "31536001", "nan"})
        BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--idempotency-ttl", ttl}), std::runtime_error);
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--batch-body-limit", "0"}), std::runtime_error);
    BOOST_CHECK_THROW(parse({"--data-dir", "d", "--clients", "c", "--block-cache", "1048575"}), std::runtime_error);
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

BOOST_AUTO_TEST_SUITE(every_option)

BOOST_AUTO_TEST_CASE(each_option_sets_what_it_names_from_the_command_line_and_a_config_file) {
    ozzie::testing::temp_dir dir;
    const auto config = dir.path() / "ozzie.conf";
    const auto defaults = run({"--data-dir", "x", "--clients", "x"});
    for (const auto& row : option_table()) {
        BOOST_TEST_CONTEXT(joined(row.command_line)) {
            BOOST_TEST(std::count(row.command_line.begin(), row.command_line.end(), "--" + row.name) == 1);
            BOOST_TEST(row.config_file.find(row.name + " = ") != std::string::npos, row.config_file);
            BOOST_TEST(!row.check(defaults),
                       "the row expects the default value, so it would pass were the option ignored");

            auto args = row.command_line;
            const auto required = required_besides(row.command_line);
            args.insert(args.end(), required.begin(), required.end());
            try {
                BOOST_TEST(row.check(run(args)), "from the command line: " << joined(args));
            } catch (const std::exception& e) {
                BOOST_TEST(false, "the command line " << joined(args) << " was refused: " << e.what());
            }

            write_file(config, row.config_file);
            args = {"--config", config.string()};
            args.insert(args.end(), required.begin(), required.end());
            try {
                BOOST_TEST(row.check(run(args)), "from the config file:\n" << row.config_file);
            } catch (const std::exception& e) {
                BOOST_TEST(false, "the config file was refused: " << e.what() << "\n" << row.config_file);
            }
        }
    }
}

// So that a new option cannot come without a row in option_table().
BOOST_AUTO_TEST_CASE(the_table_has_a_row_for_every_option_of_the_parser) {
    const auto description = ozzie::command_line_options();
    BOOST_TEST_REQUIRE(!description.options().empty());
    const auto table = option_table();
    for (const auto& option : description.options()) {
        const auto& name = option->long_name();
        const bool in_table =
            std::any_of(table.begin(), table.end(), [&](const auto& row) { return row.name == name; });
        const bool without_setting = std::count(options_without_a_setting.begin(),
                                                options_without_a_setting.end(), name) == 1;
        BOOST_TEST((in_table || without_setting), "--" << name << " has no row in option_table()");
    }
}

BOOST_AUTO_TEST_CASE(options_not_given_take_the_defaults_of_the_options_structs) {
    const auto o = run({"--data-dir", "d", "--clients", "c"});
    const ozzie::server_options server;
    const ozzie::store_options store;
    BOOST_TEST(o.server.host == server.host);
    BOOST_TEST(o.server.port == server.port);
    BOOST_TEST(o.server.threads == server.threads);
    BOOST_TEST(o.store.sync == store.sync);
    BOOST_TEST(o.server.body_limit == server.body_limit);
    BOOST_TEST(o.server.batch_body_limit == server.batch_body_limit);
    BOOST_TEST((o.store.idempotency_ttl == store.idempotency_ttl));
    BOOST_TEST(o.store.block_cache_bytes == store.block_cache_bytes);
    BOOST_TEST(o.store.row_cache_bytes == store.row_cache_bytes);
    BOOST_TEST(o.server.header_limit == server.header_limit);
    BOOST_TEST((o.server.request_timeout == server.request_timeout));
    BOOST_TEST((o.server.idle_timeout == server.idle_timeout));
    BOOST_TEST((o.server.write_timeout == server.write_timeout));
    BOOST_TEST(o.server.max_connections == server.max_connections);
    BOOST_TEST(o.server.rate_limit == server.rate_limit);
    BOOST_TEST(o.server.rate_burst == server.rate_burst);
    BOOST_TEST(!o.server.admin_port.has_value());
    BOOST_TEST(!o.server.tls_port.has_value());
    BOOST_TEST(o.server.log_level == server.log_level);
}

BOOST_AUTO_TEST_CASE(conf_demo_conf_as_shipped) {
    const auto o = run({"--config", (source_dir / "conf" / "demo.conf").string()});
    BOOST_TEST(o.server.host == "127.0.0.1");
    BOOST_TEST(o.server.port == 8080);
    BOOST_TEST(o.store.data_dir == std::filesystem::path("data"));
    BOOST_TEST(o.server.clients_file == std::filesystem::path("conf/demo.clients"));
    BOOST_TEST(o.server.threads == 0u);
    BOOST_TEST(o.store.sync == true);
    BOOST_TEST(o.server.admin_host == "127.0.0.1");
    BOOST_TEST((o.server.admin_port == std::uint16_t{9090}));
    BOOST_TEST(o.server.log_level == "info");
    // Not set by the file:
    BOOST_TEST(!o.server.tls_port.has_value());
    BOOST_TEST(o.server.rate_limit == ozzie::server_options{}.rate_limit);
}

BOOST_AUTO_TEST_CASE(conf_production_conf_as_shipped) {
    using namespace std::chrono_literals;
    const auto o = run({"--config", (source_dir / "conf" / "production.conf").string()});
    BOOST_TEST(o.server.host == "127.0.0.1");
    BOOST_TEST(o.server.port == 8080);
    BOOST_TEST(o.server.tls_host == "0.0.0.0");
    BOOST_TEST((o.server.tls_port == std::uint16_t{443}));
    BOOST_TEST(o.server.tls_certificate == std::filesystem::path("/etc/ozzie/tls/fullchain.pem"));
    BOOST_TEST(o.server.tls_private_key == std::filesystem::path("/etc/ozzie/tls/privkey.pem"));
    BOOST_TEST(o.store.data_dir == std::filesystem::path("/var/lib/ozzie/data"));
    BOOST_TEST(o.server.clients_file == std::filesystem::path("/etc/ozzie/clients"));
    BOOST_TEST(o.server.admin_host == "127.0.0.1");
    BOOST_TEST((o.server.admin_port == std::uint16_t{9090}));
    BOOST_TEST(o.server.threads == 0u);
    BOOST_TEST(o.store.sync == true);
    BOOST_TEST(o.server.body_limit == 65536u);
    BOOST_TEST(o.server.batch_body_limit == 4194304u);
    BOOST_TEST((o.store.idempotency_ttl == 24h));
    BOOST_TEST(o.server.header_limit == 8192u);
    BOOST_TEST((o.server.request_timeout == 10s));
    BOOST_TEST((o.server.idle_timeout == 60s));
    BOOST_TEST((o.server.write_timeout == 10s));
    BOOST_TEST(o.server.max_connections == 10000u);
    BOOST_TEST(o.server.rate_limit == 1000);
    BOOST_TEST(o.server.rate_burst == 2000);
    BOOST_TEST(o.server.log_level == "info");
}

BOOST_AUTO_TEST_SUITE_END()
