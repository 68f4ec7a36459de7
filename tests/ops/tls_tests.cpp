// The HTTPS listener (issue 5): Beast ssl_stream over OpenSSL beside the plain listener. The test
// generates its own self-signed certificate with the OpenSSL C API (EC P-256, CN=localhost,
// SAN DNS:localhost and IP:127.0.0.1), writes it and its key as PEM into a temp dir, and talks
// to a real server through a Beast ssl_stream client that verifies the certificate (trusted as
// the only CA, peer verification, host name check, SNI). Clients that do not trust the
// certificate must fail the handshake; plain HTTP sent to the TLS port must get no HTTP answer;
// a TLS listener without a certificate must not start.
#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/ops_server.hpp"
#include "support/server_files.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/unused_port.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ozzie::testing::alice;
using ozzie::testing::auth_headers;
using ozzie::testing::create_body;
using ozzie::testing::header_list;
using ozzie::testing::header_value;
using ozzie::testing::http_client;
using ozzie::testing::http_response;
using ozzie::testing::is_error_envelope;

// ---------------------------------------------------------------------------------------------
// A self-signed certificate, made with the OpenSSL C API.

struct openssl_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(BIO* p) const { BIO_free_all(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <class T>
using openssl_ptr = std::unique_ptr<T, openssl_free>;

void require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

struct certificate_files {
    fs::path certificate;
    fs::path private_key;
};

// Writes `<stem>.crt` and `<stem>.key` (PEM) into `dir`: an EC P-256 key and a self-signed X.509
// v3 certificate for it, CN=localhost, SAN DNS:localhost and IP:127.0.0.1, valid from an hour
// ago for a week.
certificate_files make_self_signed(const fs::path& dir, const std::string& stem) {
    openssl_ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
    require(key != nullptr, "EVP_EC_gen P-256");
    openssl_ptr<X509> cert(X509_new());
    require(cert != nullptr, "X509_new");
    require(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
    unsigned char serial_bytes[8];
    require(RAND_bytes(serial_bytes, sizeof serial_bytes) == 1, "RAND_bytes");
    long serial = 0;
    for (unsigned char b : serial_bytes) serial = (serial << 8) | b;
    require(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial & 0x7fffffffffffffffL) == 1, "serial");
    require(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
    require(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600) != nullptr, "notAfter");
    require(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(cert.get());
    require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                                       -1, -1, 0) == 1,
            "CN");
    require(X509_set_issuer_name(cert.get(), name) == 1, "issuer");
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    const std::pair<int, const char*> extensions[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,digitalSignature,keyCertSign"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
    };
    for (const auto& [nid, value] : extensions) {
        openssl_ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
        require(ext != nullptr, value);
        require(X509_add_ext(cert.get(), ext.get(), -1) == 1, "X509_add_ext");
    }
    require(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

    certificate_files files{dir / (stem + ".crt"), dir / (stem + ".key")};
    {
        openssl_ptr<BIO> out(BIO_new_file(files.certificate.c_str(), "w"));
        require(out != nullptr, "BIO_new_file certificate");
        require(PEM_write_bio_X509(out.get(), cert.get()) == 1, "PEM_write_bio_X509");
    }
    {
        openssl_ptr<BIO> out(BIO_new_file(files.private_key.c_str(), "w"));
        require(out != nullptr, "BIO_new_file key");
        require(PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
                "PEM_write_bio_PrivateKey");
    }
    fs::permissions(files.private_key, fs::perms::owner_read | fs::perms::owner_write);
    return files;
}

// ---------------------------------------------------------------------------------------------
// An HTTPS client: Beast ssl_stream over a tcp_stream, every operation with a deadline.

// A client TLS context that verifies the peer against `trusted` only (none: trusts nothing).
ssl::context client_context(const std::optional<fs::path>& trusted) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_verify_mode(ssl::verify_peer);
    if (trusted) ctx.load_verify_file(trusted->string());
    return ctx;
}

class https_client {
public:
    // Connects to 127.0.0.1:port (throws if it cannot); handshake() does the TLS part.
    https_client(std::uint16_t port, ssl::context& ctx) : stream_(ioc_, ctx) {
        const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
        run("connect", [&](auto done) {
            beast::get_lowest_layer(stream_).async_connect(endpoint, [done](boost::system::error_code ec) mutable {
                done(ec, 0);
            });
        });
    }

    // The TLS handshake, checking the certificate for `verify_host` (a DNS name or an IP
    // address), with SNI `sni` if not empty. Returns the error (none: success).
    boost::system::error_code handshake(const std::string& verify_host, const std::string& sni) {
        if (!sni.empty())
            if (!SSL_set_tlsext_host_name(stream_.native_handle(), sni.c_str()))
                throw std::runtime_error("SSL_set_tlsext_host_name failed");
        stream_.set_verify_callback(ssl::host_name_verification(verify_host));
        boost::system::error_code ec;
        try_run([&](auto done) {
            stream_.async_handshake(ssl::stream_base::client, [done](boost::system::error_code e) mutable { done(e, 0); });
        }, ec);
        return ec;
    }

    int protocol_version() { return SSL_version(stream_.native_handle()); }

    http_response request(http::verb method, std::string_view target, const header_list& headers = {},
                          std::string body = {}) {
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "localhost");
        for (const auto& [name, value] : headers) req.set(name, value);
        const bool has_body = !body.empty() || method == http::verb::post;
        req.body() = std::move(body);
        if (has_body) req.prepare_payload();
        run("write", [&](auto done) { http::async_write(stream_, req, done); });
        http::response_parser<http::string_body> parser;
        parser.skip(method == http::verb::head);
        run("read", [&](auto done) { http::async_read(stream_, buffer_, parser, done); });
        return parser.release();
    }

    // A TLS close_notify exchange; errors (a peer that just closes) are ignored.
    void shutdown() {
        boost::system::error_code ignored;
        try_run([&](auto done) { stream_.async_shutdown([done](boost::system::error_code e) mutable { done(e, 0); }); },
                ignored);
    }

private:
    template <class Start>
    void try_run(Start&& start, boost::system::error_code& ec) {
        bool finished = false;
        beast::get_lowest_layer(stream_).expires_after(30s);
        start([&](boost::system::error_code e, std::size_t) {
            ec = e;
            finished = true;
        });
        ioc_.restart();
        ioc_.run();
        if (!finished) throw std::logic_error("https_client: operation did not complete");
    }
    template <class Start>
    void run(const char* what, Start&& start) {
        boost::system::error_code ec;
        try_run(std::forward<Start>(start), ec);
        if (ec) throw boost::system::system_error(ec, std::string("https_client: ") + what);
    }

    net::io_context ioc_;
    beast::ssl_stream<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
};

// A verifying client, connected and handshaken: throws if the handshake fails.
std::unique_ptr<https_client> verified_client(std::uint16_t port, ssl::context& ctx) {
    auto c = std::make_unique<https_client>(port, ctx);
    const auto ec = c->handshake("localhost", "localhost");
    if (ec) throw boost::system::system_error(ec, "TLS handshake with a client that trusts the certificate");
    return c;
}

// The fixture: a certificate in a temp dir and a server with both listeners.
struct tls_server {
    ozzie::testing::temp_dir certs;
    certificate_files files = make_self_signed(certs.path(), "server");
    ozzie::testing::ops_server server{[this](ozzie::server_options& o) {
        o.tls_port = 0;
        o.tls_certificate = files.certificate;
        o.tls_private_key = files.private_key;
    }};
    ssl::context trusting = client_context(files.certificate);

    std::uint16_t tls_port() const { return server.server->tls_port(); }
};

std::string data_field(const http_response& res, const char* field) {
    const auto v = ozzie::testing::json_body(res);
    if (!v.is_object() || !v.as_object().contains("data")) return {};
    const auto& f = v.at("data").at(field);
    return f.is_string() ? std::string(f.as_string()) : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_FIXTURE_TEST_CASE(a_verifying_client_creates_and_gets_a_user_over_https, tls_server, *boost::unit_test::timeout(120)) {
    BOOST_TEST_REQUIRE(tls_port() != 0u);
    BOOST_TEST(tls_port() != server.port);
    auto client = verified_client(tls_port(), trusting);
    BOOST_TEST(client->protocol_version() >= TLS1_2_VERSION);

    const json::object maria{{"external_user_id", "tls-maria"}, {"name", "Maria Santos"}, {"language", "pt"}};
    const auto created = client->request(http::verb::post, "/v1/users", auth_headers(alice), json::serialize(maria));
    BOOST_TEST_REQUIRE(created.result_int() == 201u, created.body());
    BOOST_TEST(header_value(created, "Content-Type").starts_with("application/json"));
    const auto id = data_field(created, "id");
    BOOST_TEST_REQUIRE(id.starts_with("ozz_usr_"), created.body());
    BOOST_TEST(header_value(created, "Location") == "/v1/users/" + id);
    BOOST_TEST(data_field(created, "external_user_id") == "tls-maria");
    BOOST_TEST(data_field(created, "name") == "Maria Santos");
    BOOST_TEST(data_field(created, "language") == "pt");
    BOOST_TEST(!header_value(created, "X-Request-Id").empty());

    // On the same TLS connection: by id, by external id, a duplicate, not found, unauthorized.
    const auto by_id = client->request(http::verb::get, "/v1/users/" + id, auth_headers(alice));
    BOOST_TEST(by_id.result_int() == 200u, by_id.body());
    BOOST_TEST(json::parse(by_id.body()) == json::parse(created.body()));
    const auto by_external = client->request(http::verb::get, "/v1/users/external:tls-maria", auth_headers(alice));
    BOOST_TEST(by_external.result_int() == 200u);
    BOOST_TEST(json::parse(by_external.body()) == json::parse(created.body()));
    const auto duplicate = client->request(http::verb::post, "/v1/users", auth_headers(alice), json::serialize(maria));
    BOOST_TEST(duplicate.result_int() == 409u);
    BOOST_TEST(is_error_envelope(duplicate, "CONFLICT"), duplicate.body());
    const auto missing = client->request(http::verb::get, "/v1/users/external:nobody", auth_headers(alice));
    BOOST_TEST(missing.result_int() == 404u);
    BOOST_TEST(is_error_envelope(missing, "NOT_FOUND"), missing.body());
    const auto anonymous = client->request(http::verb::get, "/v1/users/" + id);
    BOOST_TEST(anonymous.result_int() == 401u);
    BOOST_TEST(is_error_envelope(anonymous, "UNAUTHORIZED"), anonymous.body());
    const auto head = client->request(http::verb::head, "/v1/users/" + id, auth_headers(alice));
    BOOST_TEST(head.result_int() == 200u);
    BOOST_TEST(head.body().empty());
    client->shutdown();

    // The certificate's IP address SAN verifies too (no SNI with an address).
    {
        https_client by_ip(tls_port(), trusting);
        const auto ec = by_ip.handshake("127.0.0.1", "");
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(by_ip.request(http::verb::get, "/v1/users/" + id, auth_headers(alice)).result_int() == 200u);
        by_ip.shutdown();
    }

    // The plain listener works alongside, on the same store.
    http_client plain(server.port);
    const auto over_plain = plain.request(http::verb::get, "/v1/users/external:tls-maria", auth_headers(alice));
    BOOST_TEST(over_plain.result_int() == 200u);
    BOOST_TEST(json::parse(over_plain.body()) == json::parse(created.body()));
    BOOST_TEST(plain.request(http::verb::post, "/v1/users", auth_headers(alice), create_body("plain-made")).result_int() ==
               201u);
    auto again = verified_client(tls_port(), trusting);
    BOOST_TEST(again->request(http::verb::get, "/v1/users/external:plain-made", auth_headers(alice)).result_int() == 200u);
    again->shutdown();
}

BOOST_FIXTURE_TEST_CASE(a_client_that_does_not_trust_the_certificate_fails_the_handshake, tls_server,
                        *boost::unit_test::timeout(120)) {
    // Trusts nothing.
    {
        auto ctx = client_context(std::nullopt);
        https_client c(tls_port(), ctx);
        const auto ec = c.handshake("localhost", "localhost");
        BOOST_TEST(ec.failed(), "handshake succeeded without trusting the certificate");
    }
    // Trusts another self-signed certificate for the same name.
    {
        const auto other = make_self_signed(certs.path(), "impostor");
        auto ctx = client_context(other.certificate);
        https_client c(tls_port(), ctx);
        const auto ec = c.handshake("localhost", "localhost");
        BOOST_TEST(ec.failed(), "handshake succeeded trusting another certificate");
    }
    // Trusts the certificate but expects another host name.
    {
        https_client c(tls_port(), trusting);
        const auto ec = c.handshake("example.com", "example.com");
        BOOST_TEST(ec.failed(), "handshake succeeded for a name the certificate does not carry");
    }
    // Trusts the certificate but offers only TLS 1.0 and 1.1, which the server must refuse; the
    // same client allowed TLS 1.2 as well gets through (so it is the version that is refused).
    const auto offering = [&](int highest) {
        auto ctx = client_context(files.certificate);
        SSL_CTX_set_security_level(ctx.native_handle(), 0);
        SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx.native_handle(), highest);
        return ctx;
    };
    {
        auto ctx = offering(TLS1_1_VERSION);
        https_client c(tls_port(), ctx);
        const auto ec = c.handshake("localhost", "localhost");
        BOOST_TEST(ec.failed(), "a TLS 1.1 handshake succeeded");
    }
    {
        auto ctx = offering(TLS1_2_VERSION);
        https_client c(tls_port(), ctx);
        const auto ec = c.handshake("localhost", "localhost");
        BOOST_TEST(!ec.failed(), "the same client offering TLS 1.2 too failed: " << ec.message());
        if (!ec.failed()) BOOST_TEST(c.protocol_version() == TLS1_2_VERSION);
    }
    // The server is unaffected.
    auto good = verified_client(tls_port(), trusting);
    BOOST_TEST(good->request(http::verb::get, "/v1/users/external:nobody", auth_headers(alice)).result_int() == 404u);
    good->shutdown();
}

BOOST_FIXTURE_TEST_CASE(plain_http_on_the_tls_port_gets_no_http_response, tls_server, *boost::unit_test::timeout(120)) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        net::io_context ioc;
        beast::tcp_stream stream(ioc);
        stream.expires_after(30s);
        stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), tls_port()));
        const std::string request = "GET /v1/users/external:nobody HTTP/1.1\r\nHost: localhost\r\nAuthorization: " +
                                    alice.authorization() + "\r\n\r\n";
        net::write(stream.socket(), net::buffer(request));
        // Read whatever comes until the server closes (or the safety deadline passes).
        std::string received;
        boost::system::error_code end;
        bool done = false;
        std::function<void()> read_more;
        char chunk[4096];
        read_more = [&] {
            stream.async_read_some(net::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
                received.append(chunk, n);
                if (ec) {
                    end = ec;
                    done = true;
                } else {
                    read_more();
                }
            });
        };
        read_more();
        ioc.run();
        BOOST_TEST_REQUIRE(done);
        BOOST_TEST((end != beast::error::timeout), "the server neither answered nor closed the connection");
        BOOST_TEST((end == net::error::eof || end == net::error::connection_reset), end.message());
        BOOST_TEST(received.find("HTTP/") == std::string::npos, "an HTTP answer on the TLS port: " << received);
    }
    // Both listeners still serve.
    auto good = verified_client(tls_port(), trusting);
    BOOST_TEST(good->request(http::verb::get, "/v1/users/external:nobody", auth_headers(alice)).result_int() == 404u);
    good->shutdown();
    http_client plain(server.port);
    BOOST_TEST(plain.request(http::verb::get, "/v1/users/external:nobody", auth_headers(alice)).result_int() == 404u);
}

BOOST_AUTO_TEST_CASE(a_tls_listener_without_a_usable_certificate_does_not_start, *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir dir;
    ozzie::testing::write_clients_file(dir.path() / "clients", {alice});
    const auto good = make_self_signed(dir.path(), "good");
    const auto other = make_self_signed(dir.path(), "other");
    ozzie::user_service service({.data_dir = dir.path() / "data"});
    const auto start_with = [&](const fs::path& certificate, const fs::path& key) -> std::string {
        ozzie::server_options o;
        o.port = 0;
        o.threads = 1;
        o.clients_file = dir.path() / "clients";
        o.log_level = "warning";
        o.tls_port = 0;
        o.tls_certificate = certificate;
        o.tls_private_key = key;
        ozzie::server s(service, o);
        return ozzie::testing::start_failure(s);
    };
    const auto no_certificate = start_with({}, {});
    BOOST_TEST(!no_certificate.empty(), "started HTTPS without a certificate");
    BOOST_TEST(no_certificate.find("certificate") != std::string::npos, no_certificate);
    BOOST_TEST(!start_with(good.certificate, {}).empty(), "started without a private key");
    BOOST_TEST(!start_with({}, good.private_key).empty(), "started without a certificate");
    BOOST_TEST(!start_with(dir.path() / "missing.crt", good.private_key).empty(), "started with a missing file");
    BOOST_TEST(!start_with(good.certificate, other.private_key).empty(), "started with a key that does not match");
    BOOST_TEST(start_with(good.certificate, good.private_key).empty(), "a good certificate and key were refused");

    // The executable: --tls-listen without --tls-cert fails with a message naming it.
    const auto result = ozzie::testing::run_command(
        {ozzie::testing::executable_from_env("OZZIE_SERVER").string(), "--listen", "127.0.0.1:0", "--tls-listen",
         "127.0.0.1:0", "--data-dir", (dir.path() / "data2").string(), "--clients", (dir.path() / "clients").string()},
        dir.path(), 60s);
    BOOST_TEST(result.exit_code == 1, result.describe());
    BOOST_TEST(result.err.find("--tls-cert") != std::string::npos, result.describe());
}

// The HTTPS port is a public port: it must differ from the plain one (or the kernel would hand
// each connection at random to the TLS or the plain acceptor) and the admin listener must never
// share it.
BOOST_AUTO_TEST_CASE(the_tls_port_must_differ_from_the_plain_and_admin_ports, *boost::unit_test::timeout(120)) {
    ozzie::testing::temp_dir dir;
    ozzie::testing::write_clients_file(dir.path() / "clients", {alice});
    const auto files = make_self_signed(dir.path(), "server");
    ozzie::user_service service({.data_dir = dir.path() / "data"});
    const auto start_with = [&](std::uint16_t plain, std::uint16_t tls, std::optional<std::uint16_t> admin) -> std::string {
        ozzie::server_options o;
        o.port = plain;
        o.threads = 1;
        o.clients_file = dir.path() / "clients";
        o.log_level = "warning";
        o.tls_port = tls;
        o.tls_certificate = files.certificate;
        o.tls_private_key = files.private_key;
        o.admin_port = admin;
        ozzie::server s(service, o);
        return ozzie::testing::start_failure(s);
    };
    const ozzie::testing::unused_port unused;
    const auto shared = unused.port();
    // Refused for the shared port itself, not because something else holds it ('' if it started).
    const auto same_as_plain = start_with(shared, shared, std::nullopt);
    BOOST_TEST(same_as_plain.find("would share port") != std::string::npos,
               "tls_port == port == " << shared << ": '" << same_as_plain << "'");
    const auto same_as_admin = start_with(0, shared, shared);
    BOOST_TEST(same_as_admin.find("would share port") != std::string::npos,
               "admin_port == tls_port == " << shared << ": '" << same_as_admin << "'");
    BOOST_TEST(start_with(0, 0, 0).empty(), "distinct ports were refused");
}

BOOST_AUTO_TEST_CASE(the_server_executable_serves_https_from_its_options, *boost::unit_test::timeout(120)) {
    ozzie::testing::server_files server_dir;
    ozzie::testing::write_clients_file(server_dir.clients_file(), {alice});
    const auto files = make_self_signed(server_dir.dir.path(), "server");
    ozzie::testing::server_process server(ozzie::testing::process_options(
        server_dir, {"--threads", "1", "--tls-listen", "127.0.0.1:0", "--tls-cert", files.certificate.string(),
                     "--tls-key", files.private_key.string()}));
    std::smatch m;
    const auto log = server.new_log();
    BOOST_TEST_REQUIRE(std::regex_search(log, m, std::regex(R"("tls_port":([0-9]+))")), log);
    const auto port = static_cast<std::uint16_t>(std::stoul(m[1].str()));
    BOOST_TEST_REQUIRE(port != 0u, log);
    auto ctx = client_context(files.certificate);
    auto client = verified_client(port, ctx);
    const auto created = client->request(http::verb::post, "/v1/users", auth_headers(alice), create_body("cli-tls"));
    BOOST_TEST(created.result_int() == 201u, created.body());
    BOOST_TEST(client->request(http::verb::get, "/v1/users/external:cli-tls", auth_headers(alice)).result_int() == 200u);
    client->shutdown();
    server.signal(SIGTERM);
    const auto exit = server.wait(60s);
    BOOST_TEST_REQUIRE(exit.has_value());
    BOOST_TEST((WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0), ozzie::testing::describe_status(*exit));
}

BOOST_AUTO_TEST_SUITE_END()
