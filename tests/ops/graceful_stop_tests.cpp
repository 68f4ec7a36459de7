// A graceful stop of the real ozzie-server (issue 12): a request in flight when SIGTERM arrives
// is answered before the process exits, while new connections are refused and idle keep-alive
// connections are closed; the exit status is 0, and the create that was in flight is stored.
#include "support/child_process.hpp"
#include "support/credentials.hpp"
#include "support/ops_server.hpp"
#include "support/raw_connection.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <csignal>
#include <string>

namespace {

using namespace std::chrono_literals;
using ozzie::testing::raw_connection;
using ozzie::testing::server_process;

const ozzie::testing::test_client client{"stopper", "st0pper-s3cret"};

std::uint16_t local_port(const raw_connection& c) {
    sockaddr_in address{};
    socklen_t size = sizeof address;
    ::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&address), &size);
    return ntohs(address.sin_port);
}

// Whether the server's end of the loopback connection server_port <-> client_port has no unread
// bytes in its receive queue: the server has read all the client sent.
bool server_read_everything(std::uint16_t server_port, std::uint16_t client_port) {
    for (const auto& row : ozzie::testing::tcp_table("/proc/net/tcp"))
        if (row.local_port == server_port && row.remote_port == client_port) return row.receive_queue == 0;
    return false;
}

struct stop_fixture : ozzie::testing::server_files {
    stop_fixture() { ozzie::testing::write_clients_file(clients_file(), {client}); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(graceful_stop)

BOOST_FIXTURE_TEST_CASE(a_create_in_flight_at_sigterm_is_answered_and_kept, stop_fixture,
                        *boost::unit_test::timeout(120)) {
    const std::string body = R"({"external_user_id":"in-flight-at-stop","name":"Last One"})";
    const std::string head = "POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                             client.authorization() +
                             "\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    std::string id;
    {
        server_process server(ozzie::testing::process_options(*this, {"--threads", "2"}));
        const auto port = server.port();

        // An idle keep-alive connection, one request answered.
        raw_connection idle(port);
        idle.send("GET /v1/users/external:nobody HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                  client.authorization() + "\r\n\r\n");
        BOOST_TEST_REQUIRE((idle.read_response() == raw_connection::outcome::response));
        BOOST_TEST(idle.last_response().result_int() == 404u);

        // A create whose header and half its body have arrived and been read by the server.
        raw_connection in_flight(port);
        in_flight.send(head + body.substr(0, body.size() / 2));
        BOOST_TEST_REQUIRE(ozzie::testing::eventually([&] { return server_read_everything(port, local_port(in_flight)); }),
                           "the server did not read the first half of the request");

        server.signal(SIGTERM);
        BOOST_TEST(ozzie::testing::eventually([&] { return !ozzie::testing::accepts_connections(port); }),
                   "new connections still accepted while stopping");
        BOOST_TEST((idle.wait_for_close(10s) == raw_connection::outcome::closed), "the idle connection stays open");
        BOOST_TEST(server.running(), "exited with a request in flight");

        // The rest of the body: the create is answered, and the connection closes after it.
        in_flight.send(body.substr(body.size() / 2));
        BOOST_TEST_REQUIRE((in_flight.read_response(30s) == raw_connection::outcome::response));
        const auto& res = in_flight.last_response();
        BOOST_TEST(res.result_int() == 201u, res.body());
        BOOST_TEST(res[boost::beast::http::field::connection] == "close");
        id = std::string(boost::json::parse(res.body()).at("data").at("id").as_string());
        BOOST_TEST((in_flight.wait_for_close(10s) == raw_connection::outcome::closed));

        const auto exit = server.wait(60s);
        BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop");
        BOOST_TEST(ozzie::testing::describe_status(*exit) == "exited with status 0");
    }

    server_process restarted(ozzie::testing::process_options(*this));
    ozzie::testing::http_client c(restarted.port());
    const auto res = c.request(ozzie::testing::http::verb::get, "/v1/users/" + id, {{"Authorization", client.authorization()}});
    BOOST_TEST(res.result_int() == 200u, res.body());
    BOOST_TEST(res.body().find("in-flight-at-stop") != std::string::npos, res.body());
}

BOOST_AUTO_TEST_SUITE_END()
