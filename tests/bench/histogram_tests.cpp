#include "histogram.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

using ozzie::bench::histogram;
using namespace std::chrono;

namespace {

double relative_error(nanoseconds got, nanoseconds want) {
    return std::abs(static_cast<double>(got.count() - want.count())) / static_cast<double>(want.count());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(histogram_suite)

BOOST_AUTO_TEST_CASE(empty_histogram_reports_zero) {
    const histogram h;
    BOOST_TEST(h.count() == 0u);
    BOOST_TEST(h.percentile(0.5).count() == 0);
    BOOST_TEST(h.max().count() == 0);
}

BOOST_AUTO_TEST_CASE(single_values_within_one_percent_from_1us_to_60s) {
    for (double v = 1000; v <= 60e9; v *= 1.37) {
        histogram h;
        const nanoseconds value(static_cast<std::int64_t>(v));
        h.record(value);
        BOOST_TEST(relative_error(h.percentile(0.5), value) <= 0.01, "value " << value.count() << " ns");
        BOOST_TEST(h.max() == value);
    }
}

BOOST_AUTO_TEST_CASE(uniform_distribution_percentiles) {
    histogram h;
    for (int us = 1; us <= 100000; ++us) h.record(microseconds(us));
    BOOST_TEST(h.count() == 100000u);
    BOOST_TEST(relative_error(h.percentile(0.5), microseconds(50000)) <= 0.01);
    BOOST_TEST(relative_error(h.percentile(0.9), microseconds(90000)) <= 0.01);
    BOOST_TEST(relative_error(h.percentile(0.99), microseconds(99000)) <= 0.01);
    BOOST_TEST(relative_error(h.percentile(0.999), microseconds(99900)) <= 0.01);
    BOOST_TEST(h.max() == microseconds(100000));
    BOOST_TEST(h.percentile(1.0) == microseconds(100000));
}

BOOST_AUTO_TEST_CASE(exponential_distribution_percentiles) {
    // Exponential with a 1 ms mean: the q-quantile is -ln(1 - q) ms.
    std::mt19937_64 random(42);
    std::exponential_distribution<double> exponential(1.0);
    histogram h;
    for (int i = 0; i < 1'000'000; ++i)
        h.record(nanoseconds(static_cast<std::int64_t>(exponential(random) * 1e6) + 1));
    for (const double q : {0.5, 0.9, 0.99}) {
        const nanoseconds want(static_cast<std::int64_t>(-std::log(1 - q) * 1e6));
        BOOST_TEST(relative_error(h.percentile(q), want) <= 0.02, "quantile " << q);
    }
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_everything_in_one) {
    histogram a, b, both;
    for (int i = 1; i <= 1000; ++i) {
        const auto v = microseconds(i * 7);
        (i % 2 ? a : b).record(v);
        both.record(v);
    }
    a.merge(b);
    BOOST_TEST(a.count() == both.count());
    BOOST_TEST(a.max() == both.max());
    for (const double q : {0.1, 0.5, 0.9, 0.99, 1.0}) BOOST_TEST(a.percentile(q) == both.percentile(q));
}

BOOST_AUTO_TEST_CASE(values_beyond_the_range_keep_an_exact_max) {
    histogram h;
    h.record(seconds(500));
    BOOST_TEST(h.max() == seconds(500));
    BOOST_TEST(h.percentile(0.5) <= seconds(500));
    BOOST_TEST(h.percentile(0.5) >= seconds(100));
}

BOOST_AUTO_TEST_SUITE_END()
