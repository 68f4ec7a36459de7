// Crash tests: run one (disabled) test case of this same binary in a child process that kills
// itself with SIGKILL, so nothing is closed or flushed, then check what survived.
#pragma once

#include <ozzie/config.hpp>

#include <boost/test/unit_test.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace ozzie::testing {

// Runs `test_path` (e.g. "suite/case") of this executable in a child with `extra_env`
// ("NAME=value" entries) added; returns the child's wait status.
inline int run_self_test(const std::string& test_path, const std::vector<std::string>& extra_env) {
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    const std::string run_test = "--run_test=" + test_path;
    const char* argv[] = {exe.c_str(), run_test.c_str(), "--log_level=error", "--report_level=no",
                          nullptr};
    std::vector<const char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (const auto& e : extra_env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr,
                                      const_cast<char* const*>(argv),
                                      const_cast<char* const*>(envp.data()));
    BOOST_TEST_REQUIRE(spawned == 0, "posix_spawn failed");
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

// The child's last act: die without any cleanup, as a crash would.
[[noreturn]] inline void die_like_a_crash() {
    ::kill(::getpid(), SIGKILL);
    for (;;) ::pause();
}

inline bool killed_by_sigkill(int status) {
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// The parent's end of a storage crash test: runs child case `test_path` on a store in `data_dir`
// (with `sync` as its sync option; `removes`: the child also removes some of what it stored)
// and requires that the child got as far as its crash. The
// caller then opens the store again and checks what survived.
inline void run_crash_child(const std::string& test_path, const std::filesystem::path& data_dir, bool sync,
                            bool removes = false) {
    const int status = run_self_test(
        test_path, {"OZZIE_CRASH_DIR=" + data_dir.string(), std::string("OZZIE_CRASH_SYNC=") + (sync ? "1" : "0"),
                    std::string("OZZIE_CRASH_REMOVES=") + (removes ? "1" : "0")});
    BOOST_TEST_REQUIRE(killed_by_sigkill(status),
                       "the child failed before its crash (wait status " << status << ")");
}

// The child's end: the store options its parent chose; nullopt when the case was not started by
// run_crash_child (run on its own, the disabled case then does nothing).
// The child's end: whether its parent asked it to remove some of the users it stores.
inline bool crash_child_removes() {
    const char* removes = std::getenv("OZZIE_CRASH_REMOVES");
    return removes && std::string(removes) == "1";
}

inline std::optional<ozzie::store_options> crash_child_store_options() {
    const char* dir = std::getenv("OZZIE_CRASH_DIR");
    const char* sync = std::getenv("OZZIE_CRASH_SYNC");
    if (!dir || !sync) return std::nullopt;
    ozzie::store_options options;
    options.data_dir = dir;
    options.sync = std::string(sync) == "1";
    return options;
}

}  // namespace ozzie::testing
