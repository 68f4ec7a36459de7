// Per-client token buckets (source/http/rate_limiter.hpp), on an injected clock: every time
// point is given, so nothing depends on how fast the machine runs.
#include <boost/test/unit_test.hpp>

#include "http/rate_limiter.hpp"

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ozzie::rate_limiter;

// A limiter and a time origin just after it was made (its buckets were filled before).
struct limited {
    limited(const std::vector<std::string_view>& clients, double per_second, double burst)
        : limiter(clients, per_second, burst) {}

    // The seconds to wait, or 0 if `cost` tokens were taken, at `at` after the origin.
    long long take(std::string_view client, rate_limiter::clock::duration at, double cost = 1) {
        const auto wait = limiter.take(client, t0 + at, cost);
        return wait ? wait->count() : 0;
    }

    rate_limiter limiter;
    const rate_limiter::clock::time_point t0 = rate_limiter::clock::now();
};

}  // namespace

BOOST_AUTO_TEST_SUITE(rate_limiter_suite)

BOOST_AUTO_TEST_CASE(a_full_bucket_gives_its_burst_then_refuses) {
    limited limiter({"acme"}, 10, 3);
    for (int i = 0; i < 3; ++i) BOOST_TEST(limiter.take("acme", 0ms) == 0);
    // Empty: one token comes in 100 ms, which rounds up to a Retry-After of 1 s.
    BOOST_TEST(limiter.take("acme", 0ms) == 1);
}

BOOST_AUTO_TEST_CASE(tokens_come_back_at_the_rate) {
    limited limiter({"acme"}, 10, 1);
    BOOST_TEST(limiter.take("acme", 0ms) == 0);
    BOOST_TEST(limiter.take("acme", 50ms) == 1);  // half a token
    BOOST_TEST(limiter.take("acme", 100ms) == 0);  // a whole one
    BOOST_TEST(limiter.take("acme", 100ms) == 1);
}

BOOST_AUTO_TEST_CASE(the_wait_is_the_time_to_the_next_token_in_whole_seconds) {
    limited limiter({"slow"}, 0.25, 1);  // a token every 4 s
    BOOST_TEST(limiter.take("slow", 0ms) == 0);
    BOOST_TEST(limiter.take("slow", 0ms) == 4);
    BOOST_TEST(limiter.take("slow", 1500ms) == 3);  // 2.5 s to go, rounded up
    BOOST_TEST(limiter.take("slow", 4000ms) == 0);
}

BOOST_AUTO_TEST_CASE(an_idle_bucket_fills_up_to_its_burst_and_no_more) {
    limited limiter({"acme"}, 100, 5);
    for (int i = 0; i < 5; ++i) BOOST_TEST(limiter.take("acme", 0ms) == 0);
    // An hour later: 5 tokens, not 360000.
    for (int i = 0; i < 5; ++i) BOOST_TEST(limiter.take("acme", 1h) == 0);
    BOOST_TEST(limiter.take("acme", 1h) == 1);
}

BOOST_AUTO_TEST_CASE(a_clock_going_backwards_adds_no_tokens) {
    limited limiter({"acme"}, 10, 1);
    BOOST_TEST(limiter.take("acme", 1s) == 0);
    BOOST_TEST(limiter.take("acme", 0ms) == 1);
    BOOST_TEST(limiter.take("acme", 1s) == 1);
    BOOST_TEST(limiter.take("acme", 1100ms) == 0);
}

BOOST_AUTO_TEST_CASE(clients_have_buckets_of_their_own) {
    limited limiter({"acme", "globex"}, 1, 1);
    BOOST_TEST(limiter.take("acme", 0ms) == 0);
    BOOST_TEST(limiter.take("acme", 0ms) == 1);
    BOOST_TEST(limiter.take("globex", 0ms) == 0);
}

BOOST_AUTO_TEST_CASE(a_rate_of_zero_and_unknown_clients_are_not_limited) {
    limited off({"acme"}, 0, 1);
    for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(off.take("acme", 0ms) == 0);
    limited limiter({"acme"}, 1, 1);
    for (int i = 0; i < 1000; ++i) BOOST_TEST_REQUIRE(limiter.take("stranger", 0ms) == 0);
}

// A batch takes a token per user, or none if there are not as many; one larger than the burst
// takes the whole burst (or it could never pass).
BOOST_AUTO_TEST_CASE(a_cost_takes_that_many_tokens_or_none) {
    limited limiter({"acme"}, 10, 10);
    BOOST_TEST(limiter.take("acme", 0ms, 8) == 0);
    BOOST_TEST(limiter.take("acme", 0ms, 5) == 1);  // 2 left: 3 more come in 300 ms
    BOOST_TEST(limiter.take("acme", 0ms, 2) == 0);  // the refusal took nothing
    BOOST_TEST(limiter.take("acme", 0ms) == 1);
    BOOST_TEST(limiter.take("acme", 1000ms, 50) == 0);  // full again: 50 costs the burst
    BOOST_TEST(limiter.take("acme", 1000ms) == 1);
    BOOST_TEST(limiter.take("acme", 3500ms, 50) == 0);
}

// A refund puts tokens back, never above the burst; the wait then counts them.
BOOST_AUTO_TEST_CASE(a_refund_gives_tokens_back_up_to_the_burst) {
    limited limiter({"acme"}, 1, 10);
    BOOST_TEST(limiter.take("acme", 0ms, 7) == 0);
    BOOST_TEST(limiter.take("acme", 0ms) == 0);  // 2 left
    BOOST_TEST(limiter.take("acme", 0ms, 4) == 2);
    limiter.limiter.refund("acme", 1);  // 3 left: 4 take 1 s more
    BOOST_TEST(limiter.take("acme", 0ms, 4) == 1);
    BOOST_TEST(limiter.take("acme", 1000ms, 4) == 0);
    limiter.limiter.refund("acme", 100);
    BOOST_TEST(limiter.take("acme", 1000ms, 10) == 0);
    BOOST_TEST(limiter.take("acme", 1000ms) == 1);  // the refund stopped at the burst
    limiter.limiter.refund("nobody", 1);  // a client without a bucket: nothing to do
}

BOOST_AUTO_TEST_SUITE_END()
