// A throwaway PostgreSQL 15 cluster for the tests: initdb into a new temporary directory, the
// server started with pg_ctl on a free port of 127.0.0.1, its socket in that directory, so
// nothing depends on (or disturbs) a database already on the machine. Stopped with
// `pg_ctl stop -m immediate` and its directory removed when the object is destroyed, also when
// the test that owns it fails. It can be stopped and started again (fault tests), and a streaming
// replica of it made with pg_basebackup -R (the replica tests).
//
// PostgreSQL refuses to run as root. When the tests run as root (CI does), initdb, pg_ctl and
// pg_basebackup run as the `postgres` user that Debian's postgresql-15 package creates, through
// `setpriv --reuid=postgres --regid=postgres --init-groups` (a plain exec: no PAM session, no
// environment reset), and the directory is chowned to that user; otherwise they run directly.
//
// The server trades durability for speed (fsync=off, --no-sync): a test cluster never outlives a
// crash of the machine. Its binaries: $OZZIE_PG_BINDIR, else Debian's /usr/lib/postgresql/15/bin
// (tools/install-deps.sh installs postgresql-15).
//
// A test process killed outright (ctest's timeout) cannot stop its cluster; the next cluster made
// on the machine stops and removes the clusters of processes that are gone (see sweep_orphans).
#pragma once

#include "support/child_process.hpp"
#include "support/unused_port.hpp"

#include <libpq-fe.h>

#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace ozzie::testing {

// The directory of initdb, pg_ctl and pg_basebackup.
inline std::filesystem::path postgres_bindir() {
    const char* dir = std::getenv("OZZIE_PG_BINDIR");
    std::filesystem::path bindir = dir && *dir ? dir : "/usr/lib/postgresql/15/bin";
    if (!std::filesystem::is_regular_file(bindir / "initdb"))
        throw std::runtime_error("no initdb in " + bindir.string() +
                                 ": install postgresql-15 (tools/install-deps.sh) or set OZZIE_PG_BINDIR");
    return bindir;
}

class postgres_cluster {
public:
    // A new cluster, initialized and started; ready for connections when this returns.
    // Throws std::runtime_error with the failed command's output if it cannot be.
    postgres_cluster() : postgres_cluster(nullptr) {}

    // A streaming replica of `primary` (which must be running), started in hot standby: a
    // pg_basebackup -R of it, following it from then on. Read-only; ready when this returns.
    static std::unique_ptr<postgres_cluster> replica_of(const postgres_cluster& primary) {
        return std::unique_ptr<postgres_cluster>(new postgres_cluster(&primary));
    }

    ~postgres_cluster() {
        if (running_) {
            try {
                stop();
            } catch (...) {
                kill_postmaster(data_dir());  // pg_ctl failed: SIGQUIT is what it would have sent
            }
        }
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }
    postgres_cluster(const postgres_cluster&) = delete;
    postgres_cluster& operator=(const postgres_cluster&) = delete;

    std::uint16_t port() const noexcept { return port_.port(); }
    // A libpq URI of `database` as the superuser "ozzie" (trust authentication, no password).
    std::string url(const std::string& database = "postgres") const {
        return "postgresql://ozzie@127.0.0.1:" + std::to_string(port()) + "/" + database;
    }
    std::filesystem::path data_dir() const { return root_ / "data"; }
    bool running() const noexcept { return running_; }
    // What the server has logged so far, for failure messages.
    std::string log() const { return read_whole_file(log_file()); }

    // Starts the server (again) on the same port, and waits until it accepts connections.
    void start() {
        // The port stays reserved by port_ (bound, not listening; see unused_port.hpp), and
        // PostgreSQL, which sets SO_REUSEADDR too, can bind it beside that socket.
        const std::string server_options = "-k " + root_.string() + " -p " + std::to_string(port()) +
                                           " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off";
        running_ = true;  // even if pg_ctl fails: the destructor then stops whatever did start
        run({pg("pg_ctl"), "-D", data_dir().string(), "-l", log_file().string(), "-w", "-t", "60", "-o",
             server_options, "start"});
        wait_until_ready();
    }

    // Stops the server at once, like a crash (`pg_ctl stop -m immediate`): connections drop, and
    // the next start recovers from the WAL.
    void stop() {
        run({pg("pg_ctl"), "-D", data_dir().string(), "-m", "immediate", "-w", "-t", "60", "stop"});
        running_ = false;
    }

private:
    explicit postgres_cluster(const postgres_cluster* primary) : bindir_(postgres_bindir()) {
        sweep_orphans();
        try {
            make_root();
            create_and_start(primary);
        } catch (...) {
            // No destructor runs for an object whose constructor throws: clean up here.
            if (!root_.empty()) {
                kill_postmaster(data_dir());
                std::error_code ignored;
                std::filesystem::remove_all(root_, ignored);
            }
            throw;
        }
    }

    void create_and_start(const postgres_cluster* primary) {
        if (primary)
            // -R writes standby.signal and primary_conninfo; -X stream copies the WAL the backup
            // needs over a second connection; a fast checkpoint starts the copy at once. The
            // trust rules that initdb -A trust writes admit replication from 127.0.0.1.
            run({pg("pg_basebackup"), "-D", data_dir().string(), "-R", "-X", "stream", "--checkpoint=fast",
                 "--no-sync", "-h", "127.0.0.1", "-p", std::to_string(primary->port()), "-U", "ozzie"});
        else
            run({pg("initdb"), "-D", data_dir().string(), "-A", "trust", "-U", "ozzie", "-E", "UTF8", "--locale=C",
                 "--no-sync", "--no-instructions"});
        start();
    }

    static constexpr const char* prefix = "ozzie-pg-";  // then the creating process's pid

    std::filesystem::path log_file() const { return root_ / "server.log"; }
    std::string pg(const char* program) const { return (bindir_ / program).string(); }

    // The temporary directory, /tmp/ozzie-pg-PID-XXXXXX, owned by the user that runs PostgreSQL.
    void make_root() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()) + "-XXXXXX")).string();
        if (!::mkdtemp(pattern.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        root_ = std::filesystem::absolute(pattern);
        if (::geteuid() != 0) return;
        errno = 0;
        const passwd* user = ::getpwnam("postgres");
        if (!user)
            throw std::runtime_error("running as root, and PostgreSQL refuses to: its tests run it as the user "
                                     "'postgres', which does not exist; install postgresql-15 (tools/install-deps.sh)");
        uid_ = user->pw_uid;
        gid_ = user->pw_gid;
        if (::chown(root_.c_str(), *uid_, gid_) != 0)
            throw std::system_error(errno, std::generic_category(), "chown " + root_.string());
    }

    // Runs a PostgreSQL program to its end, as the postgres user when this process is root.
    // Throws with its output (and the server's log) if it fails.
    void run(std::vector<std::string> args) const {
        if (uid_)
            args.insert(args.begin(), {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"});
        const auto result = run_command(args, root_, std::chrono::seconds(120));
        if (result.exit_code != 0) {
            std::string command;
            for (const auto& a : args) command += a + ' ';
            throw std::runtime_error("PostgreSQL test cluster: " + command + "failed: " + result.describe() +
                                     "--- server log:\n" + log());
        }
    }

    // Waits until the server answers a connection attempt with PQping, the way clients will.
    void wait_until_ready() const {
        const std::string conninfo = url() + "?connect_timeout=2";
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (PQping(conninfo.c_str()) != PQPING_OK) {
            if (std::chrono::steady_clock::now() >= until)
                throw std::runtime_error("PostgreSQL test cluster does not accept connections; its log:\n" + log());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // Whether process `pid` exists and has not exited: a zombie (exited, not yet reaped by its
    // parent, which for an orphan is init, sometimes slow to do it) counts as gone.
    static bool alive(pid_t pid) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return false;
        const auto after_name = line.rfind(')');  // "PID (COMM) STATE ...", COMM may hold anything
        return after_name == std::string::npos || line.compare(after_name, 3, ") Z") != 0;
    }

    // Sends SIGQUIT (immediate shutdown) to the postmaster of `data` if its pid file names one
    // that is still a postgres process (a stale file may name a pid since reused), and waits up to
    // 10 s for it to go.
    static void kill_postmaster(const std::filesystem::path& data) {
        std::ifstream pid_file(data / "postmaster.pid");
        long pid = 0;
        if (!(pid_file >> pid) || pid <= 0) return;
        std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
        std::string name;
        if (!std::getline(comm, name) || name != "postgres") return;
        if (::kill(static_cast<pid_t>(pid), SIGQUIT) != 0) return;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (alive(static_cast<pid_t>(pid)) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    // Stops and removes the clusters of test processes that no longer exist: those killed
    // before their destructors ran. A live process's clusters are left alone.
    static void sweep_orphans() {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(std::filesystem::temp_directory_path(), ec), end;
             !ec && it != end; it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (name.rfind(prefix, 0) != 0) continue;
            const long owner = std::strtol(name.c_str() + std::strlen(prefix), nullptr, 10);
            if (owner <= 0) continue;
            if (alive(static_cast<pid_t>(owner))) continue;
            kill_postmaster(it->path() / "data");
            std::error_code ignored;
            std::filesystem::remove_all(it->path(), ignored);
        }
    }

    std::filesystem::path bindir_;
    unused_port port_;
    std::filesystem::path root_;
    std::optional<uid_t> uid_;  // set when PostgreSQL runs as another user (this process is root)
    gid_t gid_ = 0;
    bool running_ = false;
};

}  // namespace ozzie::testing
