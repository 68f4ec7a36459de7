// IPv6 listeners from the command line: the real ozzie-server with `--listen [::1]:0` and
// `--admin-listen [::1]:0` binds both on ::1 (port 0: the ports are read back from its
// "listening" line) and answers there. Skipped, saying why, on a machine without ::1.
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdint>
#include <regex>
#include <string>

namespace {

namespace http = ozzie::testing::http;
namespace net = boost::asio;
using namespace std::chrono_literals;
using ozzie::testing::alice;
using ozzie::testing::http_client;

// Whether this machine has the IPv6 loopback address: a socket binds to [::1]:0.
boost::test_tools::assertion_result ipv6_loopback_available(boost::unit_test::test_unit_id) {
    net::io_context io;
    net::ip::tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(net::ip::tcp::v6(), ec);
    if (!ec) acceptor.bind({net::ip::address_v6::loopback(), 0}, ec);
    boost::test_tools::assertion_result available(!ec);
    if (ec) available.message() << "this machine has no IPv6 loopback ::1 (" << ec.message() << ")";
    return available;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipv6_listeners)

BOOST_AUTO_TEST_CASE(the_server_executable_listens_and_answers_on_ipv6_loopback,
                     *boost::unit_test::precondition(ipv6_loopback_available) * boost::unit_test::timeout(120)) {
    ozzie::testing::server_files files;
    ozzie::testing::write_clients_file(files.clients_file(), {alice});
    auto options = ozzie::testing::process_options(files, {"--threads", "1", "--admin-listen", "[::1]:0"});
    options.listen = "[::1]:0";
    ozzie::testing::server_process server(std::move(options));
    const auto log = server.new_log();
    BOOST_TEST(log.find(R"("host":"::1")") != std::string::npos, log);
    std::smatch m;
    BOOST_TEST_REQUIRE(std::regex_search(log, m, std::regex(R"("admin_port":([0-9]+))")), log);
    const auto admin_port = static_cast<std::uint16_t>(std::stoul(m[1].str()));
    BOOST_TEST_REQUIRE(admin_port != 0u, log);

    const auto loopback = net::ip::make_address("::1");
    http_client client(loopback, server.port());
    const auto auth = ozzie::testing::auth_headers(alice);
    const auto created =
        client.request(http::verb::post, "/v1/users", auth, ozzie::testing::create_body("over-ipv6"));
    BOOST_TEST(created.result_int() == 201u, created.body());
    const auto read = client.request(http::verb::get, "/v1/users/external:over-ipv6", auth);
    BOOST_TEST(read.result_int() == 200u, read.body());
    http_client admin(loopback, admin_port);
    BOOST_TEST(admin.request(http::verb::get, "/healthz").result_int() == 200u);

    server.signal(SIGTERM);
    const auto exit = server.wait(60s);
    BOOST_TEST_REQUIRE(exit.has_value(), "ozzie-server did not stop");
    BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));
}

BOOST_AUTO_TEST_SUITE_END()
