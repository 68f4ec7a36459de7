#include "cli_options.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <sstream>
#include <stdexcept>

namespace ozzie {
namespace po = boost::program_options;
namespace {

// More network threads than this is a typo (or "-1" read as unsigned), not a configuration.
constexpr unsigned max_threads = 1024;

// "HOST:PORT" or "[IPV6]:PORT".
void parse_listen(const std::string& listen, server_options& server) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
        throw std::runtime_error("--listen must be HOST:PORT, got '" + listen + "'");
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const char* first = listen.data() + colon + 1;
    const char* last = listen.data() + listen.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc{} || end != last || port > 65535)
        throw std::runtime_error("--listen port must be 0 to 65535, got '" + listen + "'");
    server.host = std::move(host);
    server.port = static_cast<std::uint16_t>(port);
}

}  // namespace

std::variant<run_options, print_and_exit> parse_command_line(int argc, const char* const argv[]) {
    po::options_description options("Options (each can also be set in the --config file as name = value)");
    options.add_options()
        ("help", "print this help and exit")
        ("version", "print the version and exit")
        ("config", po::value<std::string>(), "read options from this file; the command line wins")
        ("listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HOST:PORT to listen on")
        ("data-dir", po::value<std::string>(), "directory of the database (created if missing); required")
        ("clients", po::value<std::string>(), "the clients file, lines of client_id:<sha256 hex of secret>; required")
        ("threads", po::value<unsigned>()->default_value(0), "network threads; 0 means one per core")
        ("sync", po::value<bool>()->default_value(true),
         "true: fsync the WAL before acknowledging a create; false: write it only (survives a "
         "process crash, not a power loss)");

    po::variables_map values;
    try {
        // No positional options: a stray word is an error, not silently ignored.
        po::store(po::command_line_parser(argc, argv).options(options).positional({}).run(), values);
        if (values.count("help")) {
            std::ostringstream text;
            text << "Usage: ozzie-server --data-dir DIR --clients PATH [options]\n"
                    "The Ozzie Users API server.\n\n"
                 << options;
            return print_and_exit{text.str()};
        }
        if (values.count("version")) return print_and_exit{"ozzie-server " OZZIE_VERSION "\n"};
        if (values.count("config")) {
            const auto path = values["config"].as<std::string>();
            po::store(po::parse_config_file(path.c_str(), options), values);
        }
        po::notify(values);
    } catch (const po::error& e) {
        throw std::runtime_error(e.what());
    }

    for (const char* required : {"data-dir", "clients"})
        if (!values.count(required)) throw std::runtime_error(std::string("--") + required + " is required");

    run_options run;
    parse_listen(values["listen"].as<std::string>(), run.server);
    run.server.threads = values["threads"].as<unsigned>();
    if (run.server.threads > max_threads)
        throw std::runtime_error("--threads must be 0 to " + std::to_string(max_threads));
    run.server.clients_file = values["clients"].as<std::string>();
    run.store.data_dir = values["data-dir"].as<std::string>();
    run.store.sync = values["sync"].as<bool>();
    return run;
}

}  // namespace ozzie
