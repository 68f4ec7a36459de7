#include "bench_options.hpp"

#include "auth/bearer_token.hpp"

#include <boost/program_options.hpp>

#include <sstream>
#include <stdexcept>

namespace ozzie::bench {
namespace po = boost::program_options;

std::string_view name_of(scenario s) noexcept {
    switch (s) {
    case scenario::create: return "create";
    case scenario::get: return "get";
    case scenario::get_external: return "get-external";
    case scenario::mixed: return "mixed";
    }
    return "get";
}

namespace {

scenario parse_scenario(const std::string& name) {
    for (auto s : {scenario::create, scenario::get, scenario::get_external, scenario::mixed})
        if (name == name_of(s)) return s;
    throw std::runtime_error("--scenario must be create, get, get-external or mixed, got '" + name + "'");
}

void parse_target(const std::string& target, bench_options& options) {
    constexpr std::string_view scheme = "http://";
    std::string_view rest = target;
    if (!rest.starts_with(scheme)) throw std::runtime_error("--target must be http://HOST:PORT");
    rest.remove_prefix(scheme.size());
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size())
        throw std::runtime_error("--target must be http://HOST:PORT");
    options.host = rest.substr(0, colon);
    options.port = rest.substr(colon + 1);
}

}  // namespace

std::variant<bench_options, print_and_exit> parse_bench_options(int argc, const char* const argv[]) {
    po::options_description described("Options");
    described.add_options()
        ("help", "print this help and exit")
        ("target", po::value<std::string>()->default_value("http://127.0.0.1:8080"), "the server, http://HOST:PORT")
        ("token", po::value<std::string>(), "the bearer token (base64 of client_id:secret)")
        ("client-id", po::value<std::string>(), "with --secret, instead of --token")
        ("secret", po::value<std::string>(), "the client's secret")
        ("scenario", po::value<std::string>()->default_value("get"), "create, get, get-external or mixed")
        ("read-ratio", po::value<double>()->default_value(0.9), "mixed: share of requests that are lookups (0 to 1)")
        ("connections", po::value<unsigned>()->default_value(64), "connections, each with one request in flight (in-process: caller threads)")
        ("threads", po::value<unsigned>()->default_value(2), "client threads (HTTP runs)")
        ("duration", po::value<double>()->default_value(10), "seconds measured, after the warm-up")
        ("warmup", po::value<double>()->default_value(2), "seconds run first and left out of the figures")
        ("rate", po::value<double>(), "open loop: requests per second over all connections, latency measured from each request's intended send time (or its actual one, if sent up to 100 us early)")
        ("preload", po::value<std::uint64_t>()->default_value(0), "users to create before the run, for lookups (default for lookups: 10000)")
        ("id", po::value<std::string>(), "look up this one id (a hot key) instead of preloaded users")
        ("idle-connections", po::value<unsigned>()->default_value(0),
         "HTTP: besides the measured connections, open this many that each make one request (a lookup that "
         "answers 404) and then stay idle until the run ends")
        ("users-file", po::value<std::string>(),
         "with --preload: save the users created there (id and external id, a line each); without: look up "
         "the users listed there (e.g. preloaded in-process into a store a server then opens)")
        ("json", "print the results as JSON on stdout")
        ("in-process", "drive the ozzie library directly, without HTTP")
        ("data-dir", po::value<std::string>(), "in-process: the store's directory");

    po::variables_map values;
    try {
        po::store(po::parse_command_line(argc, argv, described), values);
        po::notify(values);
    } catch (const po::error& e) {
        throw std::runtime_error(e.what());
    }
    if (values.count("help")) {
        std::ostringstream text;
        text << "Usage: ozzie-bench [options]\nLoad generator and latency benchmark for the Ozzie Users API.\n\n"
             << described;
        return print_and_exit{text.str()};
    }

    bench_options options;
    options.which = parse_scenario(values["scenario"].as<std::string>());
    parse_target(values["target"].as<std::string>(), options);
    if (values.count("token")) {
        options.authorization = "Bearer " + values["token"].as<std::string>();
        if (auto credentials = parse_bearer(options.authorization)) options.client_id = credentials->client_id;
    } else if (values.count("client-id") && values.count("secret")) {
        options.client_id = values["client-id"].as<std::string>();
        options.authorization = make_bearer(options.client_id, values["secret"].as<std::string>());
    } else if (values.count("client-id") || values.count("secret")) {
        throw std::runtime_error("--client-id and --secret go together");
    }
    options.connections = values["connections"].as<unsigned>();
    options.threads = values["threads"].as<unsigned>();
    options.duration_s = values["duration"].as<double>();
    options.warmup_s = values["warmup"].as<double>();
    options.read_ratio = values["read-ratio"].as<double>();
    options.preload = values["preload"].as<std::uint64_t>();
    if (values.count("rate")) options.rate = values["rate"].as<double>();
    if (values.count("id")) options.fixed_id = values["id"].as<std::string>();
    options.idle_connections = values["idle-connections"].as<unsigned>();
    if (values.count("users-file")) options.users_file = values["users-file"].as<std::string>();
    options.json = values.count("json") > 0;
    options.in_process = values.count("in-process") > 0;
    if (values.count("data-dir")) options.data_dir = values["data-dir"].as<std::string>();

    if (options.connections < 1 || options.connections > 100000)
        throw std::runtime_error("--connections must be 1 to 100000");
    if (options.threads < 1 || options.threads > 1024) throw std::runtime_error("--threads must be 1 to 1024");
    if (!(options.duration_s > 0)) throw std::runtime_error("--duration must be positive");
    if (!(options.warmup_s >= 0)) throw std::runtime_error("--warmup must be 0 or more");
    if (options.rate && !(*options.rate > 0)) throw std::runtime_error("--rate must be positive");
    if (!(options.read_ratio >= 0 && options.read_ratio <= 1)) throw std::runtime_error("--read-ratio must be 0 to 1");
    if (options.in_process) {
        if (options.data_dir.empty()) throw std::runtime_error("--in-process needs --data-dir");
        if (options.rate) throw std::runtime_error("--rate is for HTTP runs; --in-process runs closed loop");
        if (options.fixed_id) throw std::runtime_error("--id is for HTTP runs");
        if (options.idle_connections) throw std::runtime_error("--idle-connections is for HTTP runs");
    } else if (options.authorization.empty() && !options.fixed_id) {
        throw std::runtime_error("--token, or --client-id with --secret, is required");
    }
    const bool looks_up = options.which != scenario::create;
    if (looks_up && !options.fixed_id && options.users_file.empty() && values["preload"].defaulted())
        options.preload = 10000;
    return options;
}

}  // namespace ozzie::bench
