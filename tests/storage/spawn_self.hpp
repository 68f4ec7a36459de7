// Crash tests: run one (disabled) test case of this same binary in a child process that kills
// itself with SIGKILL, so nothing is closed or flushed, then check what survived.
#pragma once

#include <boost/test/unit_test.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
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

}  // namespace ozzie::testing
