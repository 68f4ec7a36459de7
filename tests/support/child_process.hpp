// Any executable as a child process, for the operations tests: spawned with posix_spawn and an
// arbitrary argument list, its stdout and stderr each appended to a file of its own (or both to
// one), signalled, waited for with a deadline, killed (SIGKILL) and reaped if still running when
// the object is destroyed.
//
// server_process.hpp builds on it to start ozzie-server on port 0 and read the port from its
// "listening" log line; use child_process directly for everything else: ozzie-admin, and
// ozzie-server runs that do not log that line (--log-level warning: listening_ports reads its
// port) or must not start at all (bad options).
//
// Every wait has a generous deadline: a safety net against hangs, not a timing assertion.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace ozzie::testing {

// The executable named by environment variable `variable` (ctest sets OZZIE_SERVER and
// OZZIE_ADMIN). Throws if it is unset or not a file.
inline std::filesystem::path executable_from_env(const char* variable) {
    const char* path = std::getenv(variable);
    if (!path || !*path)
        throw std::runtime_error(std::string(variable) + " is not set: run through ctest, or set it to the executable");
    if (!std::filesystem::is_regular_file(path))
        throw std::runtime_error(std::string(variable) + " is not a file: " + path);
    return path;
}

// The whole content of a file as bytes (empty if it cannot be read).
inline std::string read_whole_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// A row of a /proc/net/tcp table (tcp or tcp6): one socket.
struct tcp_table_row {
    std::uint16_t local_port = 0;
    std::uint16_t remote_port = 0;
    bool listening = false;        // state 0A, TCP_LISTEN
    unsigned long receive_queue = 0;  // bytes received and not yet read by the socket's owner
    std::string inode;
};

// The rows of `table`, e.g. /proc/net/tcp or /proc/PID/net/tcp6.
inline std::vector<tcp_table_row> tcp_table(const std::filesystem::path& table) {
    std::vector<tcp_table_row> rows;
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
        // with addresses as HEX_ADDRESS:HEX_PORT.
        std::istringstream columns(line);
        std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout;
        tcp_table_row row;
        columns >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> row.inode;
        if (!columns) continue;
        const auto port_of = [](const std::string& address) {
            return static_cast<std::uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
        };
        row.local_port = port_of(local);
        row.remote_port = port_of(remote);
        row.listening = state == "0A";
        row.receive_queue = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
        rows.push_back(std::move(row));
    }
    return rows;
}

// The TCP ports process `pid` listens on, read from /proc (its sockets in LISTEN state, IPv4 and
// IPv6): how a test learns the port of an ozzie-server started on port 0 that does not log it
// (--log-level warning). Empty until it listens, or once it is gone.
inline std::set<std::uint16_t> listening_ports(pid_t pid) {
    const std::filesystem::path proc = "/proc/" + std::to_string(pid);
    std::set<std::string> sockets;  // its descriptors' links, "socket:[INODE]" for a socket
    std::error_code ec;
    for (std::filesystem::directory_iterator fd(proc / "fd", ec), end; !ec && fd != end; fd.increment(ec)) {
        std::error_code unreadable;  // closed meanwhile
        const auto target = std::filesystem::read_symlink(fd->path(), unreadable);
        if (!unreadable) sockets.insert(target.string());
    }
    std::set<std::uint16_t> ports;
    for (const char* table : {"net/tcp", "net/tcp6"})
        for (const auto& row : tcp_table(proc / table))
            if (row.listening && sockets.count("socket:[" + row.inode + "]")) ports.insert(row.local_port);
    return ports;
}

// Whether something accepts TCP connections on 127.0.0.1:port right now.
inline bool accepts_connections(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

class child_process {
public:
    // Spawns args[0] with `args`; stdout is appended to `out_file` and stderr to `err_file`
    // (the same path for both is fine); stdin is /dev/null. Throws if it cannot spawn.
    child_process(std::vector<std::string> args, std::filesystem::path out_file, std::filesystem::path err_file)
        : out_file_(std::move(out_file)), err_file_(std::move(err_file)) {
        if (args.empty()) throw std::invalid_argument("child_process: no arguments");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const std::string out = out_file_.string();
        const std::string err = err_file_.string();
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (out_file_ == err_file_)
            posix_spawn_file_actions_adddup2(&actions, 1, 2);
        else
            posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
        const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (spawned != 0) {
            pid_ = -1;
            throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(spawned));
        }
    }
    ~child_process() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const noexcept { return pid_; }
    bool running() const noexcept { return pid_ > 0 && !status_; }
    void signal(int sig) const {
        if (running()) ::kill(pid_, sig);
    }

    // The wait status once the child has exited; nullopt if it still runs after `deadline`.
    std::optional<int> wait(std::chrono::milliseconds deadline) {
        if (status_ || pid_ <= 0) return status_;
        const auto until = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                status_ = status;
                return status_;
            }
            if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
            if (std::chrono::steady_clock::now() >= until) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    std::string out() const { return read_whole_file(out_file_); }
    std::string err() const { return read_whole_file(err_file_); }

private:
    std::filesystem::path out_file_;
    std::filesystem::path err_file_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// What a command that ran to its end printed, and how it ended.
struct command_result {
    int exit_code = -1;  // -1 if it did not exit normally (signal, or still running past the deadline)
    std::string out;
    std::string err;
    std::string describe() const {
        return "exit code " + std::to_string(exit_code) + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
    }
};

// Runs `args` to completion (killing it after `deadline`), stdout and stderr captured apart in
// files under `scratch_dir`.
inline command_result run_command(std::vector<std::string> args, const std::filesystem::path& scratch_dir,
                                  std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
    static int counter = 0;
    const auto stem = scratch_dir / ("command-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    auto out_file = stem;
    out_file += ".out";
    auto err_file = stem;
    err_file += ".err";
    command_result result;
    {
        child_process child(std::move(args), out_file, err_file);
        const auto status = child.wait(deadline);
        if (status && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
        result.out = child.out();
        result.err = child.err();
        if (!status) result.err += "\n[test: killed after the deadline]\n";
    }
    std::error_code ignored;
    std::filesystem::remove(out_file, ignored);
    std::filesystem::remove(err_file, ignored);
    return result;
}

}  // namespace ozzie::testing
