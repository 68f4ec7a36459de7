#include "rate_schedule.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <vector>

using ozzie::bench::rate_schedule;
using namespace std::chrono;

BOOST_AUTO_TEST_SUITE(rate_schedule_suite)

BOOST_AUTO_TEST_CASE(connections_interleave_at_the_global_rate) {
    const auto start = steady_clock::now();
    const rate_schedule second_of_four(1000, 4, 1, start);
    BOOST_TEST((second_of_four.due(0) - start == milliseconds(1)));
    BOOST_TEST((second_of_four.due(1) - start == milliseconds(5)));
    BOOST_TEST((second_of_four.due(10) - start == milliseconds(41)));
}

BOOST_AUTO_TEST_CASE(all_connections_together_are_evenly_spaced) {
    const auto start = steady_clock::time_point{};
    constexpr unsigned connections = 7;
    constexpr double rate = 2500;
    std::vector<steady_clock::duration> due;
    for (unsigned c = 0; c < connections; ++c) {
        const rate_schedule schedule(rate, connections, c, start);
        for (std::uint64_t k = 0; k < 100; ++k) due.push_back(schedule.due(k) - start);
    }
    std::sort(due.begin(), due.end());
    for (std::size_t n = 0; n < due.size(); ++n)
        BOOST_TEST(duration_cast<nanoseconds>(due[n]).count() == static_cast<std::int64_t>(n * 400'000));
}

BOOST_AUTO_TEST_CASE(no_drift_over_long_runs) {
    // A period that is not a whole number of nanoseconds must not accumulate rounding.
    const auto start = steady_clock::time_point{};
    const rate_schedule schedule(3, 1, 0, start);
    const auto late = duration_cast<nanoseconds>(schedule.due(3'000'000) - start);
    BOOST_TEST(late.count() == 1'000'000'000'000'000LL);
    BOOST_TEST(duration_cast<nanoseconds>(schedule.due(1) - start).count() == 333'333'333);
}

BOOST_AUTO_TEST_CASE(connections_wake_on_the_tick_before_their_due_time) {
    const auto start = steady_clock::now();
    for (unsigned c = 0; c < 64; ++c) {
        const rate_schedule schedule(60000, 64, c, start);
        for (std::uint64_t k = 0; k < 50; ++k) {
            const auto wake = schedule.wake(k);
            BOOST_TEST((wake <= schedule.due(k)));
            BOOST_TEST((schedule.due(k) - wake < microseconds(100)));
            BOOST_TEST(wake.time_since_epoch() % microseconds(100) == steady_clock::duration::zero());
        }
    }
}

BOOST_AUTO_TEST_CASE(connections_share_their_wake_times) {
    // 60k requests a second over 64 connections: 3000 requests in 50 ms wake the client at most
    // 501 times (one tick in 100 us, and the edge), where a timer per request would be 3000.
    const auto start = steady_clock::time_point{} + microseconds(37);
    std::vector<steady_clock::time_point> wakes;
    for (unsigned c = 0; c < 64; ++c) {
        const rate_schedule schedule(60000, 64, c, start);
        for (std::uint64_t k = 0; schedule.due(k) < start + milliseconds(50); ++k) wakes.push_back(schedule.wake(k));
    }
    BOOST_TEST(wakes.size() == 3000u);
    std::sort(wakes.begin(), wakes.end());
    BOOST_TEST(std::distance(wakes.begin(), std::unique(wakes.begin(), wakes.end())) <= 501);
}

BOOST_AUTO_TEST_CASE(an_early_request_is_timed_from_when_it_went_out) {
    const auto due = steady_clock::time_point{} + milliseconds(10);
    BOOST_TEST((rate_schedule::timed_from(due, due - microseconds(40)) == due - microseconds(40)));
    BOOST_TEST((rate_schedule::timed_from(due, due + milliseconds(3)) == due));  // a late one, from its due time
}

BOOST_AUTO_TEST_SUITE_END()
