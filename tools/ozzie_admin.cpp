// ozzie-admin: manage API clients, take online backups, compact the store, migrate a PostgreSQL
// database's schema.
#include "auth/clients_file.hpp"
#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;

constexpr const char* usage = R"(Usage:
  ozzie-admin client add NAME --clients PATH     add a client; prints its secret and token once
  ozzie-admin client list --clients PATH         list the client ids
  ozzie-admin client remove ID --clients PATH    remove a client
  ozzie-admin backup DIR [--admin HOST:PORT]     consistent backup of a running server into DIR
                                                 (a new directory; default admin 127.0.0.1:9090)
  ozzie-admin compact [--admin HOST:PORT]        compact a running server's store, so that deleted
                                                 users are in none of its files any more
  ozzie-admin migrate --postgres URL             create or upgrade the schema of a PostgreSQL
                                                 database (URL: a libpq URI, e.g.
                                                 postgresql://USER@HOST:PORT/DB, or conninfo)
After changing the clients file, send SIGHUP to ozzie-server to load it without dropping
connections. Restore a backup by starting ozzie-server with --data-dir pointing at a copy of DIR.
)";

// The value after `flag` in args (removing both), or `fallback`.
std::string take_flag(std::vector<std::string>& args, const std::string& flag, const std::string& fallback) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == flag) {
            std::string value = args[i + 1];
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
            return value;
        }
    return fallback;
}

// POSTs `body` (JSON) to `target` on the admin listener at `admin` and prints the answer; the
// exit status is 0 for a 200.
int post_to_admin(const std::string& admin, const char* target, const std::string& body) {
    const auto colon = admin.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--admin must be HOST:PORT");
    net::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(net::ip::tcp::resolver(io).resolve(admin.substr(0, colon), admin.substr(colon + 1)));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, admin);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    std::cout << res.body() << '\n';
    return res.result() == http::status::ok ? 0 : 1;
}

int backup(const std::string& directory, const std::string& admin) {
    // The server resolves the path from its own working directory: send it absolute.
    return post_to_admin(admin, "/backup",
                         boost::json::serialize(boost::json::object{{"directory", std::filesystem::absolute(directory).string()}}));
}

// Creates or upgrades the schema at `url`, saying what it did. Failures throw: main prints them
// and exits with 1 (unreachable, a newer schema, a failed statement).
int migrate(const std::string& url) {
    if (url.empty()) throw std::runtime_error("--postgres URL is required");
    const auto conn = ozzie::postgres::connect(url);
    const auto report = ozzie::postgres::migrate(conn.get(), ozzie::postgres::migrations(),
                                                 [](const ozzie::postgres::migration& step) {
                                                     std::cout << "applied migration " << step.version << " ("
                                                               << step.summary << ")" << std::endl;
                                                 });
    if (report.applied.empty())
        std::cout << "schema is at version " << report.to_version << "; nothing to do\n";
    else
        std::cout << "schema is at version " << report.to_version << '\n';
    return 0;
}

int run(std::vector<std::string> args) {
    const auto postgres = take_flag(args, "--postgres", "");
    const auto clients = take_flag(args, "--clients", "");
    const auto admin = take_flag(args, "--admin", "127.0.0.1:9090");
    const auto need_clients = [&] {
        if (clients.empty()) throw std::runtime_error("--clients PATH is required");
        return clients;
    };
    if (args.size() == 3 && args[0] == "client" && args[1] == "add") {
        const auto added = ozzie::add_client(need_clients(), args[2]);
        std::cout << "client_id: " << added.client_id << "\nsecret: " << added.secret
                  << "\nAuthorization: " << added.bearer_token
                  << "\nThe secret is shown only now; the clients file keeps its SHA-256 only.\n";
        return 0;
    }
    if (args.size() == 2 && args[0] == "client" && args[1] == "list") {
        for (const auto& id : ozzie::list_clients(need_clients())) std::cout << id << '\n';
        return 0;
    }
    if (args.size() == 3 && args[0] == "client" && args[1] == "remove") {
        ozzie::remove_client(need_clients(), args[2]);
        std::cout << "removed " << args[2] << '\n';
        return 0;
    }
    if (args.size() == 2 && args[0] == "backup") return backup(args[1], admin);
    if (args.size() == 1 && args[0] == "compact") return post_to_admin(admin, "/compact", "");
    if (args.size() == 1 && args[0] == "migrate") return migrate(postgres);
    std::cerr << usage;
    return args.size() == 1 && (args[0] == "--help" || args[0] == "help") ? 0 : 2;
}

}  // namespace

int main(int argc, char* argv[]) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "ozzie-admin: " << e.what() << '\n';
        return 1;
    }
}
