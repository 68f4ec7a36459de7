// Slow and stalling clients (issue 4): slowloris connections dribbling their headers, idle
// keep-alive connections, and a client that never reads its responses. The server runs with
// short timeouts (request 1 s, idle 2 s, write 1 s) so the tests stay fast.
//
// The only time checks are generous bounds that catch a hang (a connection the server never
// drops, a normal request left unanswered for 5 s), and "not before the timeout", which a
// correct server cannot fail (timers do not fire early) and which tells the idle timeout from
// the request timeout.
#include "support/hardening_server.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

namespace {

using namespace ozzie::testing::hardening;
using ozzie::testing::raise_fd_limit;
using ozzie::testing::raw_connection;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using outcome = raw_connection::outcome;

constexpr auto request_timeout = 1000ms;
constexpr auto idle_timeout = 2000ms;
constexpr auto write_timeout = 1000ms;
// A normal request answered later than this means the server is being held.
constexpr auto answer_bound = 5s;
// Timers never fire early; this much slack covers clock reads on either side.
constexpr auto early_slack = 300ms;

struct slow_fixture : server_under_test {
    slow_fixture() {
        raise_fd_limit();
        options.request_timeout = request_timeout;
        options.idle_timeout = idle_timeout;
        options.write_timeout = write_timeout;
        start();
    }
};

double seconds(clock_type::duration d) { return std::chrono::duration<double>(d).count(); }

// What a normal client saw; checked on the test thread (Boost.Test is not thread-safe).
struct normal_result {
    std::string what;
    unsigned status = 0;  // 0: no response
    std::string body;
    clock_type::duration took{};
};

// One request on a fresh connection, as a normal client would send it.
normal_result normal_request(std::uint16_t port, std::string what, const std::string& bytes) {
    normal_result r;
    r.what = std::move(what);
    const auto start = clock_type::now();
    try {
        raw_connection conn(port);
        conn.send(bytes);
        if (conn.read_response(answer_bound) == outcome::response) {
            r.status = conn.last_response().result_int();
            r.body = conn.last_response().body();
        }
    } catch (const std::exception& e) {
        r.body = e.what();
    }
    r.took = clock_type::now() - start;
    return r;
}

// Runs normal requests (a GET of `user_id` and a create, alternately) on fresh connections
// until `stop` is set, at least `minimum` of them.
class normal_traffic {
public:
    normal_traffic(std::uint16_t port, std::string user_id, std::size_t minimum)
        : thread_([this, port, user_id, minimum] {
              for (std::size_t i = 0; i < minimum || !stop_; ++i) {
                  if (i % 2 == 0)
                      results_.push_back(normal_request(port, "GET " + user_id,
                                                        get_request("/v1/users/" + user_id)));
                  else
                      results_.push_back(normal_request(
                          port, "create",
                          post_request(R"({"external_user_id":"normal-)" + std::to_string(i) + R"("})")));
                  std::this_thread::sleep_for(50ms);
              }
          }) {}
    ~normal_traffic() { finish(); }

    const std::vector<normal_result>& finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        return results_;
    }

    // Every request was answered in time with the right status.
    static void check(const std::vector<normal_result>& results) {
        for (const auto& r : results) {
            BOOST_TEST_CONTEXT(r.what << " (took " << seconds(r.took) << " s): " << r.body) {
                BOOST_TEST(r.status == (r.what == "create" ? 201u : 200u));
                BOOST_TEST((r.took < answer_bound));
            }
        }
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<normal_result> results_;
    std::thread thread_;
};

std::string create_user(std::uint16_t port, std::string_view body) {
    raw_connection conn(port);
    conn.send(post_request(body));
    return str(check_user(expect_response(conn), 201).at("id"));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(slow_clients, slow_fixture)

BOOST_AUTO_TEST_CASE(slowloris_connections_are_dropped_while_normal_requests_are_answered) {
    const std::string user_id = create_user(port, R"({"external_user_id":"steady"})");

    // 300 slow clients, each with two descriptors in this process (its own and the server's).
    const auto fd_limit = raise_fd_limit();
    const std::size_t wanted = 300;
    const std::size_t slow_count = std::min<std::size_t>(wanted, fd_limit > 400 ? (fd_limit - 200) / 2 : 100);
    BOOST_TEST_MESSAGE("slowloris: " << slow_count << " connections (descriptor limit " << fd_limit << ")");
    BOOST_TEST(slow_count >= 100u);

    const std::string slow_head = get_request("/v1/users/" + user_id, spec_token,
                                              "X-Slow: " + std::string(200, 's') + "\r\n");
    struct slow_client {
        std::unique_ptr<raw_connection> conn;
        std::size_t sent = 0;
        clock_type::time_point first_byte;
        std::optional<clock_type::time_point> closed;
    };
    std::vector<slow_client> slow(slow_count);
    for (auto& s : slow) {
        s.conn = std::make_unique<raw_connection>(port);
        s.first_byte = clock_type::now();
        BOOST_TEST_REQUIRE(s.conn->send_byte_now(slow_head[s.sent++]));
    }

    normal_traffic traffic(port, user_id, 6);
    // One byte per slow connection every 200 ms, until the server has closed them all (or
    // long past the point where it should have).
    const auto give_up = clock_type::now() + 3 * request_timeout + 2s;
    auto next_tick = clock_type::now() + 200ms;
    std::size_t open = slow.size();
    while (open > 0 && clock_type::now() < give_up) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < slow.size(); ++i)
            if (!slow[i].closed) {
                fds.push_back({slow[i].conn->fd(), POLLIN | POLLRDHUP, 0});
                which.push_back(i);
            }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - clock_type::now());
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(0, wait.count())));
        const auto now = clock_type::now();
        for (std::size_t k = 0; k < fds.size(); ++k)
            if (fds[k].revents != 0 && slow[which[k]].conn->closed_now()) {
                slow[which[k]].closed = now;
                --open;
            }
        if (now >= next_tick) {
            next_tick += 200ms;
            for (auto& s : slow)
                if (!s.closed && s.sent < slow_head.size() && !s.conn->send_byte_now(slow_head[s.sent++])) {
                    if (s.conn->closed_now()) {
                        s.closed = now;
                        --open;
                    }
                }
        }
    }
    const auto results = traffic.finish();

    BOOST_TEST(open == 0u, open << " slow connections still open after " << seconds(3 * request_timeout + 2s) << " s");
    std::size_t late = 0;
    clock_type::duration slowest{};
    for (const auto& s : slow) {
        if (!s.closed) continue;
        const auto held = *s.closed - s.first_byte;
        slowest = std::max(slowest, held);
        if (held > 3 * request_timeout) ++late;
        // Nothing was answered: the request never finished.
        BOOST_TEST(s.sent < slow_head.size());
    }
    BOOST_TEST(late == 0u, late << " slow connections were held longer than 3x the request timeout");
    BOOST_TEST_MESSAGE("slowloris: the last slow connection was dropped " << seconds(slowest)
                       << " s after its first byte; " << results.size() << " normal requests meanwhile");
    BOOST_TEST(results.size() >= 6u);
    normal_traffic::check(results);
}

BOOST_AUTO_TEST_CASE(idle_connections_are_closed_after_the_idle_timeout) {
    // A connection that never sends a byte, and a keep-alive connection after its answers.
    raw_connection silent(port);
    const auto silent_opened = clock_type::now();

    raw_connection keep_alive(port);
    keep_alive.send(get_request("/v1/users/external:idle"));
    check_error(expect_response(keep_alive), 404, "NOT_FOUND");
    BOOST_TEST(keep_alive.last_response().keep_alive());
    // A pause shorter than the idle timeout does not close it...
    std::this_thread::sleep_for(500ms);
    keep_alive.send(get_request("/v1/users/external:idle"));
    check_error(expect_response(keep_alive), 404, "NOT_FOUND");
    const auto answered = clock_type::now();

    // ...but the idle timeout does, and not before it.
    BOOST_TEST_REQUIRE((keep_alive.wait_for_close(3 * idle_timeout) == outcome::closed));
    const auto keep_alive_held = clock_type::now() - answered;
    BOOST_TEST_REQUIRE((silent.wait_for_close(3 * idle_timeout) == outcome::closed));
    const auto silent_held = clock_type::now() - silent_opened;
    BOOST_TEST_MESSAGE("idle: keep-alive closed after " << seconds(keep_alive_held) << " s, silent after "
                                                        << seconds(silent_held) << " s");
    BOOST_TEST((keep_alive_held >= idle_timeout - early_slack), "closed before the idle timeout");
    BOOST_TEST((keep_alive_held <= 3 * idle_timeout));
    BOOST_TEST((silent_held >= idle_timeout - early_slack), "closed before the idle timeout");
    BOOST_TEST((silent_held <= 3 * idle_timeout));
}

BOOST_AUTO_TEST_CASE(a_client_that_never_reads_is_dropped_after_the_write_timeout) {
    // Large answers (a 200-character name of 4-byte characters) fill the buffers quickly.
    std::string name;
    for (int i = 0; i < 200; ++i) name += "\xF0\x9F\x98\x80";
    const std::string user_id = create_user(port, R"({"external_user_id":"big","name":")" + name + R"("})");

    std::string requests;
    for (int i = 0; i < 100; ++i) requests += get_request("/v1/users/" + user_id);

    normal_traffic traffic(port, user_id, 4);
    // A tiny receive buffer, pipelined requests, and never a read.
    raw_connection hog(port, 2048);
    const auto started = clock_type::now();
    const auto give_up = started + 20s;
    std::size_t bytes_sent = 0, offset = 0;
    bool gone = false;
    while (!gone && clock_type::now() < give_up) {
        std::size_t sent = 0;
        const auto r = hog.try_send(std::string_view(requests).substr(offset), sent);
        if (r == raw_connection::send_result::gone) {
            gone = true;
        } else if (r == raw_connection::send_result::progress) {
            bytes_sent += sent;
            offset = (offset + sent) % requests.size();
        } else {
            gone = hog.hung_up(50ms);
        }
    }
    const auto held = clock_type::now() - started;
    const auto results = traffic.finish();

    BOOST_TEST_MESSAGE("non-reading client: " << bytes_sent << " bytes of requests sent, dropped after "
                                              << seconds(held) << " s");
    BOOST_TEST(gone, "the server still holds a client that has not read for " << seconds(held) << " s");
    BOOST_TEST(results.size() >= 4u);
    normal_traffic::check(results);

    // And the server is still fine.
    const auto after = normal_request(port, "GET " + user_id, get_request("/v1/users/" + user_id));
    BOOST_TEST(after.status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
