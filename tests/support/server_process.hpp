// The real ozzie-server executable as a child process: spawned with posix_spawn on a data dir and
// a clients file, its stdout and stderr appended to a log file, its port read from the
// "listening" line it logs once it accepts connections (see listening_port).
//
// Every wait has a generous deadline, so a server that hangs makes the test fail instead of
// hanging it; the deadlines are safety nets, not timing assertions. A process still running
// when its server_process is destroyed is killed with SIGKILL and reaped.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

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
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace ozzie::testing {

// Lower-case hex SHA-256, computed with OpenSSL directly rather than with the code under test.
inline std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xF];
    }
    return out;
}

// Standard base64 with padding (RFC 4648), computed with OpenSSL directly.
inline std::string base64(std::string_view data) {
    std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// The whole content of a file as bytes (empty if it cannot be read).
inline std::string read_file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// The ozzie-server executable under test: $OZZIE_SERVER (ctest sets it). Throws if unset.
inline std::filesystem::path server_executable() {
    const char* path = std::getenv("OZZIE_SERVER");
    if (!path || !*path)
        throw std::runtime_error(
            "OZZIE_SERVER is not set: run through ctest, or set it to the ozzie-server executable");
    if (!std::filesystem::is_regular_file(path))
        throw std::runtime_error(std::string("OZZIE_SERVER is not a file: ") + path);
    return path;
}

// "Wait status" of a child, in words, for failure messages.
inline std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = ::strsignal(WTERMSIG(status));
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               (name ? name : "?") + ")";
    }
    return "wait status " + std::to_string(status);
}

// The port in the server's "listening" line: the plain text line
// "ozzie-server: listening on HOST:PORT, ..." or the structured JSON log line
// {..."event":"listening",...,"port":PORT,...}. nullopt if there is none yet.
inline std::optional<std::uint16_t> listening_port(const std::string& log) {
    static const std::regex plain(R"(ozzie-server: listening on [^\n]*:([0-9]+))");
    static const std::regex structured(R"re("event":"listening"[^\n]*?"port":([0-9]+))re");
    std::smatch m;
    if (std::regex_search(log, m, plain) || std::regex_search(log, m, structured))
        return static_cast<std::uint16_t>(std::stoul(m[1].str()));
    return std::nullopt;
}

// Whether the log has the server's last line of a graceful stop, in either format.
inline bool log_says_stopped(const std::string& log) {
    return log.find("ozzie-server: stopped") != std::string::npos ||
           log.find(R"("event":"stopped")") != std::string::npos;
}

// The --help text of the server executable (to find out which options it has).
inline std::string help_text(const std::filesystem::path& executable, const std::filesystem::path& scratch_file) {
    std::string exe = executable.string();
    std::string help = "--help";
    char* argv[] = {exe.data(), help.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = scratch_file.string();
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw std::runtime_error("posix_spawn " + exe + " --help failed");
    int status = 0;
    ::waitpid(pid, &status, 0);
    auto text = read_file_bytes(scratch_file);
    std::error_code ignored;
    std::filesystem::remove(scratch_file, ignored);
    return text;
}

class server_process {
public:
    struct options {
        std::filesystem::path executable;  // the ozzie-server binary
        std::filesystem::path data_dir;
        std::filesystem::path clients_file;
        std::filesystem::path log_file;  // stdout and stderr are appended here
        std::vector<std::string> extra_args;  // e.g. {"--sync", "false"}
        std::chrono::seconds startup_deadline{60};
    };

    // Spawns the server on 127.0.0.1, port 0, and waits until it prints the port it listens on.
    // Throws std::runtime_error (with the log's new lines) if it exits first or never does.
    explicit server_process(options opts) : options_(std::move(opts)) {
        std::error_code ignored;
        log_offset_ = std::filesystem::exists(options_.log_file)
                          ? static_cast<std::size_t>(std::filesystem::file_size(options_.log_file, ignored))
                          : 0;
        std::vector<std::string> args = {options_.executable.string(),
                                         "--listen", "127.0.0.1:0",
                                         "--data-dir", options_.data_dir.string(),
                                         "--clients", options_.clients_file.string()};
        args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const std::string log = options_.log_file.string();
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        // The test's own sockets and files are none of the server's business.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
        const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (spawned != 0) {
            pid_ = -1;
            throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(spawned));
        }
        wait_for_port();
    }

    ~server_process() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }
    bool running() const noexcept { return pid_ > 0 && !status_; }

    // Sends `sig` to the server (if it has not been reaped yet).
    void signal(int sig) const {
        if (pid_ > 0 && !status_) ::kill(pid_, sig);
    }

    // Waits until the server exits and returns its wait status; nullopt if it is still running
    // after `deadline` (it is then left running).
    std::optional<int> wait(std::chrono::milliseconds deadline) {
        if (status_) return status_;
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

    // What this process has written to the log so far (the log may hold earlier processes too).
    std::string new_log() const {
        std::ifstream in(options_.log_file, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(log_offset_));
        if (!in) return {};
        return {std::istreambuf_iterator<char>(in), {}};
    }

private:
    void wait_for_port() {
        const auto until = std::chrono::steady_clock::now() + options_.startup_deadline;
        for (;;) {
            const std::string log = new_log();
            if (const auto port = listening_port(log)) {
                port_ = *port;
                if (port_ == 0) throw std::runtime_error("ozzie-server reported port 0");
                return;
            }
            if (wait(std::chrono::milliseconds(0)))
                throw std::runtime_error("ozzie-server " + describe_status(*status_) +
                                         " before listening; its output:\n" + log);
            if (std::chrono::steady_clock::now() >= until)
                throw std::runtime_error("ozzie-server did not report its port in time; its output:\n" + log);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    options options_;
    pid_t pid_ = -1;
    std::optional<int> status_;
    std::uint16_t port_ = 0;
    std::size_t log_offset_ = 0;
};

}  // namespace ozzie::testing
