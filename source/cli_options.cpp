#include "cli_options.hpp"

#include "ops/logging.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <sstream>
#include <stdexcept>

namespace ozzie {
namespace po = boost::program_options;
namespace {

// More network threads than this is a typo (or "-1" read as unsigned), not a configuration.
constexpr unsigned max_threads = 1024;

struct host_port {
    std::string host;
    std::uint16_t port;
};

// "HOST:PORT" or "[IPV6]:PORT", given to `option`.
host_port parse_listen(const std::string& listen, const char* option) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
        throw std::runtime_error(std::string(option) + " must be HOST:PORT, got '" + listen + "'");
    std::string host = listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const char* first = listen.data() + colon + 1;
    const char* last = listen.data() + listen.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (ec != std::errc{} || end != last || port > 65535)
        throw std::runtime_error(std::string(option) + " port must be 0 to 65535, got '" + listen + "'");
    return {std::move(host), static_cast<std::uint16_t>(port)};
}

double seconds(std::chrono::milliseconds ms) { return std::chrono::duration<double>(ms).count(); }

std::chrono::milliseconds timeout(const po::variables_map& values, const char* name) {
    const double s = values[name].as<double>();
    if (!(s > 0 && s <= 86400)) throw std::runtime_error(std::string("--") + name + " must be more than 0 and at most 86400 seconds");
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

}  // namespace

po::options_description command_line_options() {
    const server_options defaults;
    po::options_description options("Options (each can also be set in the --config file as name = value)");
    options.add_options()
        ("help", "print this help and exit")
        ("version", "print the version and exit")
        ("config", po::value<std::string>(), "read options from this file; the command line wins")
        ("listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HOST:PORT to listen on")
        ("data-dir", po::value<std::string>(), "directory of the RocksDB database (created if missing); this or --postgres is required")
        ("postgres", po::value<std::string>(), "keep the users in this PostgreSQL database instead (a libpq URI or conninfo), shared by any number of servers; run ozzie-admin migrate first")
        ("postgres-replica", po::value<std::vector<std::string>>()->composing(), "a streaming replica of the --postgres database for lookups (repeatable); a lookup it misses goes to the primary")
        ("clients", po::value<std::string>(), "the clients file, lines of client_id:<sha256 hex of secret>; required")
        ("threads", po::value<unsigned>()->default_value(0), "network threads; 0 means one per core")
        ("sync", po::value<bool>()->default_value(true),
         "true: fsync the WAL before acknowledging a create, change or delete; false: write it only (survives a "
         "process crash, not a power loss)")
        ("body-limit", po::value<std::size_t>()->default_value(defaults.body_limit), "largest request body in bytes; larger gets 413")
        ("batch-body-limit", po::value<std::size_t>()->default_value(defaults.batch_body_limit), "largest body of POST /v1/users/batch in bytes; larger gets 413")
        ("idempotency-ttl", po::value<double>()->default_value(86400), "seconds the answer of a write made with an Idempotency-Key is kept for its retries (at least 1)")
        ("block-cache", po::value<std::size_t>()->default_value(store_options{}.block_cache_bytes), "bytes of the store's block cache for reads (at least 1 MiB); a store much larger than it reads most lookups from the page cache")
        ("row-cache", po::value<std::size_t>()->default_value(store_options{}.row_cache_bytes), "bytes of the cache of users lately looked up, in front of the store; 0: none")
        ("header-limit", po::value<std::size_t>()->default_value(defaults.header_limit), "largest request line and headers in bytes; larger gets 431")
        ("request-timeout", po::value<double>()->default_value(seconds(defaults.request_timeout)), "seconds a client has to send a whole request")
        ("idle-timeout", po::value<double>()->default_value(seconds(defaults.idle_timeout)), "seconds an idle keep-alive connection stays open")
        ("write-timeout", po::value<double>()->default_value(seconds(defaults.write_timeout)), "seconds a response has to be written")
        ("max-connections", po::value<std::size_t>()->default_value(defaults.max_connections), "connections open at once; past it new ones get 503")
        ("rate-limit", po::value<double>()->default_value(defaults.rate_limit), "requests per second each client may sustain; 0: no limit")
        ("rate-burst", po::value<double>()->default_value(defaults.rate_burst), "requests a client may send at once above the rate")
        ("admin-listen", po::value<std::string>(), "HOST:PORT of the admin listener (/healthz, /readyz, /metrics, /backup, /compact); keep it on loopback; none if not given")
        ("tls-listen", po::value<std::string>(), "HOST:PORT of an HTTPS listener besides the plain one; needs --tls-cert and --tls-key")
        ("tls-cert", po::value<std::string>(), "PEM certificate chain of the HTTPS listener")
        ("tls-key", po::value<std::string>(), "PEM private key of the HTTPS listener")
        ("log-level", po::value<std::string>()->default_value(defaults.log_level), "debug, info (a line per request), warning, error or off");
    return options;
}

std::variant<run_options, print_and_exit> parse_command_line(int argc, const char* const argv[]) {
    const auto options = command_line_options();
    po::variables_map values;
    try {
        // No positional options: a stray word is an error, not silently ignored.
        po::store(po::command_line_parser(argc, argv).options(options).positional({}).run(), values);
        if (values.count("help")) {
            std::ostringstream text;
            text << "Usage: ozzie-server (--data-dir DIR | --postgres URL) --clients PATH [options]\n"
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

    if (!values.count("clients")) throw std::runtime_error("--clients is required");
    if (!values.count("data-dir") && !values.count("postgres"))
        throw std::runtime_error("--data-dir (RocksDB on this machine) or --postgres (a PostgreSQL database) is required");
    if (values.count("data-dir") && values.count("postgres"))
        throw std::runtime_error("give --data-dir or --postgres, not both: the users are kept in one store");
    if (values.count("postgres-replica") && !values.count("postgres"))
        throw std::runtime_error("--postgres-replica needs --postgres");
    // Said, not ignored: on PostgreSQL a write is as durable as the database makes it.
    for (const char* rocksdb_only : {"sync", "block-cache", "row-cache"})
        if (values.count("postgres") && !values[rocksdb_only].defaulted())
            throw std::runtime_error(std::string("--") + rocksdb_only +
                                     " is RocksDB's (--data-dir): with --postgres the database's own settings "
                                     "(synchronous_commit, shared_buffers) decide, and no server caches what "
                                     "other servers may change");

    run_options run;
    auto listen = parse_listen(values["listen"].as<std::string>(), "--listen");
    run.server.host = std::move(listen.host);
    run.server.port = listen.port;
    if (values.count("admin-listen")) {
        auto admin = parse_listen(values["admin-listen"].as<std::string>(), "--admin-listen");
        run.server.admin_host = std::move(admin.host);
        run.server.admin_port = admin.port;
    }
    if (values.count("tls-listen")) {
        if (!values.count("tls-cert") || !values.count("tls-key"))
            throw std::runtime_error("--tls-listen needs --tls-cert and --tls-key");
        auto tls = parse_listen(values["tls-listen"].as<std::string>(), "--tls-listen");
        run.server.tls_host = std::move(tls.host);
        run.server.tls_port = tls.port;
        run.server.tls_certificate = values["tls-cert"].as<std::string>();
        run.server.tls_private_key = values["tls-key"].as<std::string>();
    }
    run.server.log_level = values["log-level"].as<std::string>();
    if (!parse_log_level(run.server.log_level))
        throw std::runtime_error("--log-level must be debug, info, warning, error or off");
    run.server.threads = values["threads"].as<unsigned>();
    if (run.server.threads > max_threads)
        throw std::runtime_error("--threads must be 0 to " + std::to_string(max_threads));
    run.server.clients_file = values["clients"].as<std::string>();
    if (values.count("data-dir")) run.store.data_dir = values["data-dir"].as<std::string>();
    if (values.count("postgres")) run.store.postgres = values["postgres"].as<std::string>();
    if (values.count("postgres-replica"))
        run.store.postgres_replicas = values["postgres-replica"].as<std::vector<std::string>>();
    for (const auto& url : run.store.postgres_replicas)
        if (url.empty()) throw std::runtime_error("--postgres-replica must not be empty");
    if (values.count("postgres") && run.store.postgres.empty()) throw std::runtime_error("--postgres must not be empty");
    run.store.sync = values["sync"].as<bool>();
    run.server.body_limit = values["body-limit"].as<std::size_t>();
    run.server.batch_body_limit = values["batch-body-limit"].as<std::size_t>();
    const double ttl = values["idempotency-ttl"].as<double>();
    if (!(ttl >= 1 && ttl <= 365 * 86400)) throw std::runtime_error("--idempotency-ttl must be 1 second to 365 days");
    run.store.idempotency_ttl = std::chrono::seconds(static_cast<std::int64_t>(ttl));
    run.store.block_cache_bytes = values["block-cache"].as<std::size_t>();
    if (run.store.block_cache_bytes < (std::size_t{1} << 20)) throw std::runtime_error("--block-cache must be at least 1 MiB (1048576)");
    run.store.row_cache_bytes = values["row-cache"].as<std::size_t>();
    run.server.header_limit = values["header-limit"].as<std::size_t>();
    run.server.request_timeout = timeout(values, "request-timeout");
    run.server.idle_timeout = timeout(values, "idle-timeout");
    run.server.write_timeout = timeout(values, "write-timeout");
    run.server.max_connections = values["max-connections"].as<std::size_t>();
    run.server.rate_limit = values["rate-limit"].as<double>();
    run.server.rate_burst = values["rate-burst"].as<double>();
    if (run.server.body_limit == 0 || run.server.batch_body_limit == 0 || run.server.header_limit < 256 ||
        run.server.header_limit > (1u << 30))
        throw std::runtime_error("--body-limit and --batch-body-limit must be positive and --header-limit 256 bytes to 1 GiB");
    if (run.server.max_connections == 0) throw std::runtime_error("--max-connections must be positive");
    if (!(run.server.rate_limit >= 0) || !(run.server.rate_burst >= 1))
        throw std::runtime_error("--rate-limit must be 0 or more and --rate-burst at least 1");
    return run;
}

}  // namespace ozzie
