// The real ozzie-server executable as a child process (a child_process, see child_process.hpp):
// spawned on a data dir and a clients file, its stdout and stderr appended to a log file, its
// port read from the "listening" line it logs once it accepts connections (see listening_port).
//
// Every wait has a generous deadline, so a server that hangs makes the test fail instead of
// hanging it; the deadlines are safety nets, not timing assertions. A process still running
// when its server_process is destroyed is killed with SIGKILL and reaped.
#pragma once

#include "support/child_process.hpp"
#include "support/server_files.hpp"

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace ozzie::testing {

// The ozzie-server executable under test: $OZZIE_SERVER (ctest sets it). Throws if unset.
inline std::filesystem::path server_executable() { return executable_from_env("OZZIE_SERVER"); }

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

// The --help text of the server executable (to find out which options it has), stdout and
// stderr together; `scratch_dir` holds the captured output while it runs.
inline std::string help_text(const std::filesystem::path& executable, const std::filesystem::path& scratch_dir) {
    const auto result = run_command({executable.string(), "--help"}, scratch_dir);
    return result.out + result.err;
}

class server_process {
public:
    struct options {
        std::filesystem::path executable;  // the ozzie-server binary
        std::filesystem::path data_dir;  // empty: none (extra_args gives --postgres)
        std::filesystem::path clients_file;
        std::filesystem::path log_file;  // stdout and stderr are appended here
        std::vector<std::string> extra_args;  // e.g. {"--sync", "false"}
        // A command that runs the server, e.g. {"/usr/bin/fiu-run", "-x"}; it must exec it, so
        // that pid() is the server's.
        std::vector<std::string> launcher{};
        std::chrono::seconds startup_deadline{60};
        std::string listen = "127.0.0.1:0";  // --listen; port 0, read back from the log
    };

    // Spawns the server on `listen` and waits until it prints the port it listens on.
    // Throws std::runtime_error (with the log's new lines) if it exits first or never does.
    explicit server_process(options opts)
        : options_(std::move(opts)),
          log_offset_(current_size(options_.log_file)),
          child_(arguments(options_), options_.log_file, options_.log_file) {
        wait_for_port();
    }

    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return child_.pid(); }
    bool running() const noexcept { return child_.running(); }

    // Sends `sig` to the server (if it has not been reaped yet).
    void signal(int sig) const { child_.signal(sig); }

    // Waits until the server exits and returns its wait status; nullopt if it is still running
    // after `deadline` (it is then left running).
    std::optional<int> wait(std::chrono::milliseconds deadline) { return child_.wait(deadline); }

    // What this process has written to the log so far (the log may hold earlier processes too).
    std::string new_log() const {
        std::ifstream in(options_.log_file, std::ios::binary);
        in.seekg(static_cast<std::streamoff>(log_offset_));
        if (!in) return {};
        return {std::istreambuf_iterator<char>(in), {}};
    }

private:
    static std::size_t current_size(const std::filesystem::path& file) {
        std::error_code ignored;
        return std::filesystem::exists(file) ? static_cast<std::size_t>(std::filesystem::file_size(file, ignored))
                                             : 0;
    }

    static std::vector<std::string> arguments(const options& o) {
        std::vector<std::string> args = o.launcher;
        args.insert(args.end(), {o.executable.string(), "--listen", o.listen, "--clients", o.clients_file.string()});
        if (!o.data_dir.empty()) args.insert(args.end(), {"--data-dir", o.data_dir.string()});
        args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
        return args;
    }

    void wait_for_port() {
        const auto until = std::chrono::steady_clock::now() + options_.startup_deadline;
        for (;;) {
            const std::string log = new_log();
            if (const auto port = listening_port(log)) {
                port_ = *port;
                if (port_ == 0) throw std::runtime_error("ozzie-server reported port 0");
                return;
            }
            if (const auto status = wait(std::chrono::milliseconds(0)))
                throw std::runtime_error("ozzie-server " + describe_status(*status) +
                                         " before listening; its output:\n" + log);
            if (std::chrono::steady_clock::now() >= until)
                throw std::runtime_error("ozzie-server did not report its port in time; its output:\n" + log);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

    options options_;
    std::size_t log_offset_ = 0;  // where this process's lines begin in the log file
    child_process child_;         // after options_ and log_offset_: spawned once they are set
    std::uint16_t port_ = 0;
};

// The options to run the server on `files` (its data dir, clients file and log file), with
// `extra_args` after the arguments every server_process gets.
inline server_process::options process_options(const server_files& files, std::vector<std::string> extra_args = {}) {
    return {.executable = server_executable(),
            .data_dir = files.data_dir(),
            .clients_file = files.clients_file(),
            .log_file = files.log_file(),
            .extra_args = std::move(extra_args)};
}

}  // namespace ozzie::testing
