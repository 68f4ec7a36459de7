// Waiting for a condition in a test, with a deadline that is a safety net, not a timing assertion.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ozzie::testing {

// Waits until `done()` or the deadline; returns done().
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds deadline = std::chrono::seconds(15)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return done();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace ozzie::testing
