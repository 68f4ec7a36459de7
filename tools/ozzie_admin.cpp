// ozzie-admin: manage API clients, take online backups, compact the store, import and export
// users, migrate a PostgreSQL database's schema.
#include "auth/client_registry.hpp"
#include "auth/clients_file.hpp"
#include "offline/user_export.hpp"
#include "offline/user_import.hpp"
#include "ops/logging.hpp"
#include "storage/rocksdb/offline_store.hpp"
#include "storage/postgres/libpq.hpp"
#include "storage/postgres/schema.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
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
  ozzie-admin import --data-dir DIR --client ID FILE
      import users into the store in DIR (created if missing) as client ID's, from FILE (- for
      standard input): NDJSON, one JSON object a line, each a create body as POST /v1/users
      takes it (new id, created_at now, intake_pending) or a user object as export writes it
      (keeps its id, created_at and onboarding_stage); blank lines are skipped. Every line is
      checked as a create is; a bad line, or one whose external_user_id (or id) is already
      taken, in the store or by an earlier line, is reported as "line N: CODE: message" and
      skipped, the others imported. Exit status 1 if any line failed. No server may have DIR
      open: stop it first (a store in use is refused, untouched). Users are written in large
      unsynced batches and made durable at the end: if the import is killed midway, some of
      the users before that point may be in the store, each one whole (its record and index
      entries), and the store stays consistent; import the file again into a fresh DIR.
  ozzie-admin export --data-dir DIR --client ID [--admin HOST:PORT]
      write client ID's users to standard output, newest first, as NDJSON: one user object a
      line, exactly the "data" of GET /v1/users/{id}, all read from one snapshot. If a server
      has DIR open, pass its admin listener with --admin: the export then takes a checkpoint
      through it (POST /backup) into a new directory next to DIR (.ozzie-export-*), reads that,
      and removes it (remove it by hand if the export is killed).
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

// POSTs `body` (JSON) to `target` on the admin listener at `admin` and returns the answer.
http::response<http::string_body> post(const std::string& admin, const char* target, const std::string& body) {
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
    return res;
}

// post(), printing the answer; the exit status is 0 for a 200.
int post_to_admin(const std::string& admin, const char* target, const std::string& body) {
    const auto res = post(admin, target, body);
    std::cout << res.body() << '\n';
    return res.result() == http::status::ok ? 0 : 1;
}

// The body of POST /backup into `directory`. The server resolves the path from its own working
// directory: send it absolute.
std::string backup_request(const std::filesystem::path& directory) {
    return boost::json::serialize(boost::json::object{{"directory", std::filesystem::absolute(directory).string()}});
}

int backup(const std::string& directory, const std::string& admin) {
    return post_to_admin(admin, "/backup", backup_request(directory));
}

std::string checked_client_id(const std::string& client_id) {
    if (!ozzie::is_valid_client_id(client_id))
        throw std::runtime_error("--client must be a client id (1 to 64 of A-Z a-z 0-9 _ . -), not '" + client_id +
                                 "'");
    return client_id;
}

// The store logs its errors (on stderr, as JSON lines), but not RocksDB's warnings: those of a
// refused open, say, would only repeat what ozzie-admin says itself.
void quiet_store_log() { ozzie::start_logging(ozzie::log_level::error); }

double seconds_since(std::chrono::steady_clock::time_point began) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
}

int import_command(const std::filesystem::path& data_dir, const std::string& client_id, const std::string& file) {
    const auto began = std::chrono::steady_clock::now();
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> opened(file == "-" ? nullptr : std::fopen(file.c_str(), "rb"),
                                                                 &std::fclose);
    if (file != "-" && !opened) throw std::runtime_error("cannot read " + file + ": " + std::strerror(errno));
    quiet_store_log();
    std::unique_ptr<ozzie::rocksdb_store> store;
    try {
        store = ozzie::open_offline_store({.data_dir = data_dir});
    } catch (const ozzie::store_in_use& e) {
        throw std::runtime_error(std::string(e.what()) + "; stop it first");
    }
    const auto summary = ozzie::import_users(*store, client_id, opened ? opened.get() : stdin, stderr,
                                             ::isatty(STDERR_FILENO) == 1);
    store.reset();  // closed: what it holds is in its files
    const double seconds = seconds_since(began);
    std::fprintf(stderr, "imported %llu, failed %llu, in %.1f s (%.0f users/s)\n",
                 static_cast<unsigned long long>(summary.imported), static_cast<unsigned long long>(summary.failed),
                 seconds, static_cast<double>(summary.imported) / seconds);
    return summary.failed == 0 ? 0 : 1;
}

// A directory that is removed, with everything in it, when this goes out of scope.
class scratch_directory {
public:
    explicit scratch_directory(std::filesystem::path path) : path_(std::move(path)) {}
    ~scratch_directory() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
        if (ec) std::cerr << "ozzie-admin: cannot remove " << path_.string() << ": " << ec.message() << '\n';
    }
    scratch_directory(const scratch_directory&) = delete;
    scratch_directory& operator=(const scratch_directory&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

// A new directory's path beside `data_dir`: on its file system, so that a checkpoint there
// hard-links the table files instead of copying them.
std::filesystem::path beside(const std::filesystem::path& data_dir) {
    auto dir = std::filesystem::absolute(data_dir).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();  // "data/" names "data"
    std::random_device random;
    char name[32];
    std::snprintf(name, sizeof name, ".ozzie-export-%08x%08x", random(), random());
    return dir.parent_path() / name;
}

int export_command(const std::filesystem::path& data_dir, const std::string& client_id, const std::string& admin) {
    const auto began = std::chrono::steady_clock::now();
    if (!ozzie::holds_store(data_dir)) throw std::runtime_error("there is no store in " + data_dir.string());
    quiet_store_log();
    std::optional<scratch_directory> checkpoint;  // declared before the store: removed after it is closed
    std::unique_ptr<ozzie::rocksdb_store> store;
    try {
        store = ozzie::open_offline_store({.data_dir = data_dir});
    } catch (const ozzie::store_in_use& e) {
        if (admin.empty())
            throw std::runtime_error(std::string(e.what()) +
                                     "; pass --admin HOST:PORT (its admin listener) to export from a checkpoint of it");
    }
    if (!store) {
        checkpoint.emplace(beside(data_dir));
        const auto res = post(admin, "/backup", backup_request(checkpoint->path()));
        if (res.result() != http::status::ok)
            throw std::runtime_error("the checkpoint through " + admin + " failed: " + res.body());
        store = ozzie::open_offline_store({.data_dir = checkpoint->path()});
    }
    // A reader that goes away (`| head`) then fails the write (EPIPE) instead of killing the
    // process, so the checkpoint is still removed.
    std::signal(SIGPIPE, SIG_IGN);
    const auto exported = ozzie::export_users(*store, client_id, stdout);
    const double seconds = seconds_since(began);
    std::fprintf(stderr, "exported %llu, in %.1f s (%.0f users/s)\n", static_cast<unsigned long long>(exported),
                 seconds, static_cast<double>(exported) / seconds);
    return 0;
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
    const auto admin_given = take_flag(args, "--admin", "");
    const auto admin = admin_given.empty() ? "127.0.0.1:9090" : admin_given;
    const auto data_dir = take_flag(args, "--data-dir", "");
    const auto client_id = take_flag(args, "--client", "");
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
    const bool store_command = (args.size() == 2 && args[0] == "import") || (args.size() == 1 && args[0] == "export");
    if (store_command && !data_dir.empty() && !client_id.empty()) {
        if (args[0] == "import") return import_command(data_dir, checked_client_id(client_id), args[1]);
        return export_command(data_dir, checked_client_id(client_id), admin_given);
    }
    std::cerr << usage;
    return args.size() == 1 && (args[0] == "--help" || args[0] == "help") ? 0 : 2;
}

}  // namespace

int main(int argc, char* argv[]) {
    int status = 1;
    try {
        status = run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "ozzie-admin: " << e.what() << '\n';
    }
    ozzie::stop_logging();  // the store's log lines, if any, written out
    return status;
}
