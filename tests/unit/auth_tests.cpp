// Bearer tokens and the clients file (source/auth/).
#include <boost/test/unit_test.hpp>

#include "auth/bearer_token.hpp"
#include "auth/client_registry.hpp"
#include "auth/credential_memo.hpp"

#include "support/temp_dir.hpp"

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Standard base64 with padding, written here so the tests do not depend on make_bearer.
std::string base64(std::string_view in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    } else if (in.size() - i == 2) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

// "client_id / secret" or "<nullopt>", printable by BOOST_TEST.
std::string parsed(std::string_view authorization) {
    auto c = ozzie::parse_bearer(authorization);
    return c ? c->client_id + " / " + c->secret : std::string("<nullopt>");
}

std::string authenticated(const ozzie::client_registry& registry, std::string_view authorization) {
    auto id = registry.authenticate(authorization);
    return id ? std::string(*id) : std::string("<nullopt>");
}

// SHA-256 hex digests computed outside the code under test (sha256sum).
const std::string s2secret_hex = "0c98506c11bd88f6cf9e55282b73488a8a7a9227c027c4db654b1df4dfc5d290";
const std::string other_secret_hex =
    "9c0ee26e4a1fbb028187486a7ea91f81f8ab81fcf467cba75107dbd3a64244d7";

const std::string spec_token = "Bearer czJjbGllbnQ6czJzZWNyZXQ=";

}  // namespace

BOOST_AUTO_TEST_SUITE(bearer_tokens)

BOOST_AUTO_TEST_CASE(spec_token_decodes_to_s2client_and_s2secret) {
    BOOST_TEST(parsed(spec_token) == "s2client / s2secret");
}

BOOST_AUTO_TEST_CASE(make_bearer_gives_the_spec_token) {
    BOOST_TEST(ozzie::make_bearer("s2client", "s2secret") == spec_token);
}

BOOST_AUTO_TEST_CASE(make_bearer_and_parse_bearer_round_trip) {
    const std::pair<std::string, std::string> cases[] = {
        {"a", "b"},                // 3 bytes: no padding
        {"ab", "c"},               // 4 bytes: "=="
        {"abc", "de"},             // 6 bytes: no padding
        {"client", "se"},          // 9 bytes
        {"client.id-1_x", "p@ss w0rd!"},
        {"c", "s\xC3\xA9" "cret"},  // non-ASCII secret
    };
    for (const auto& [id, secret] : cases) {
        const std::string token = ozzie::make_bearer(id, secret);
        BOOST_TEST(token == "Bearer " + base64(id + ":" + secret));
        BOOST_TEST(parsed(token) == id + " / " + secret);
    }
}

BOOST_AUTO_TEST_CASE(secret_may_contain_colons) {
    BOOST_TEST(parsed("Bearer " + base64("client:a:b:c")) == "client / a:b:c");
    BOOST_TEST(parsed(ozzie::make_bearer("client", "::")) == "client / ::");
}

BOOST_AUTO_TEST_CASE(other_schemes_are_rejected) {
    BOOST_TEST(parsed("Basic czJjbGllbnQ6czJzZWNyZXQ=") == "<nullopt>");
    BOOST_TEST(parsed("Token czJjbGllbnQ6czJzZWNyZXQ=") == "<nullopt>");
    BOOST_TEST(parsed("czJjbGllbnQ6czJzZWNyZXQ=") == "<nullopt>");
}

BOOST_AUTO_TEST_CASE(scheme_must_be_followed_by_a_space) {
    BOOST_TEST(parsed("BearerczJjbGllbnQ6czJzZWNyZXQ=") == "<nullopt>");
    BOOST_TEST(parsed("Bearer") == "<nullopt>");
}

BOOST_AUTO_TEST_CASE(empty_header_is_rejected) {
    BOOST_TEST(parsed("") == "<nullopt>");
    BOOST_TEST(parsed("Bearer ") == "<nullopt>");
}

BOOST_AUTO_TEST_CASE(bad_base64_characters_are_rejected) {
    BOOST_TEST(parsed("Bearer czJjbGllbnQ6czJz!WNyZXQ=") == "<nullopt>");
    BOOST_TEST(parsed("Bearer czJjbGllbnQ6 czJzZWNyZXQ=") == "<nullopt>");
    BOOST_TEST(parsed("Bearer ****") == "<nullopt>");
    BOOST_TEST(parsed("Bearer czJjbGllbnQ6czJzZWNyZXQ=\xFF") == "<nullopt>");
}

BOOST_AUTO_TEST_CASE(bad_padding_is_rejected) {
    // "a:b" is YTpi; "ab:c" is YWI6Yw==.
    BOOST_TEST(parsed("Bearer YTpi") == "a / b");  // sanity: the well-formed one works
    BOOST_TEST(parsed("Bearer YWI6Yw==") == "ab / c");
    BOOST_TEST(parsed("Bearer YWI6Yw") == "<nullopt>");        // padding missing
    BOOST_TEST(parsed("Bearer YWI6Yw=") == "<nullopt>");       // padding short
    BOOST_TEST(parsed("Bearer YWI6Yw===") == "<nullopt>");     // too much padding
    BOOST_TEST(parsed("Bearer YWI6Y===") == "<nullopt>");      // three padding characters
    BOOST_TEST(parsed("Bearer YW=6Yw==") == "<nullopt>");      // padding in the middle
    BOOST_TEST(parsed("Bearer =WI6Yw==") == "<nullopt>");      // padding first
    BOOST_TEST(parsed("Bearer YWI6Yw==YTpi") == "<nullopt>");  // data after padding
    BOOST_TEST(parsed("Bearer ====") == "<nullopt>");          // nothing but padding
}

BOOST_AUTO_TEST_CASE(no_colon_is_rejected) {
    BOOST_TEST(parsed("Bearer " + base64("s2client")) == "<nullopt>");
    BOOST_TEST(parsed("Bearer " + base64("s2clients2secret")) == "<nullopt>");
}

BOOST_AUTO_TEST_CASE(empty_client_id_is_rejected) {
    BOOST_TEST(parsed("Bearer " + base64(":s2secret")) == "<nullopt>");
    BOOST_TEST(parsed("Bearer " + base64(":")) == "<nullopt>");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sha256_digests)

BOOST_AUTO_TEST_CASE(known_vector_abc) {
    BOOST_TEST(ozzie::to_hex(ozzie::sha256("abc")) ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(known_vector_empty) {
    BOOST_TEST(ozzie::to_hex(ozzie::sha256("")) ==
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_CASE(digest_of_the_demo_secret) {
    BOOST_TEST(ozzie::to_hex(ozzie::sha256("s2secret")) == s2secret_hex);
}

BOOST_AUTO_TEST_CASE(to_hex_is_64_lower_case_digits) {
    ozzie::sha256_digest d{};
    d[0] = 0xAB;
    d[31] = 0x0F;
    const std::string hex = ozzie::to_hex(d);
    BOOST_TEST(hex.size() == 64u);
    BOOST_TEST(hex.substr(0, 2) == "ab");
    BOOST_TEST(hex.substr(62) == "0f");
    BOOST_TEST(hex.substr(2, 60) == std::string(60, '0'));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client_registry_suite)

BOOST_AUTO_TEST_CASE(parses_clients_comments_and_blank_lines) {
    const std::string text = "# demo clients\n"
                             "\n"
                             "s2client:" + s2secret_hex + "\n"
                             "# another comment\n"
                             "\n"
                             "other.client-2_x:" + other_secret_hex + "\n";
    auto registry = ozzie::client_registry::parse(text);
    BOOST_TEST(registry.size() == 2u);
}

BOOST_AUTO_TEST_CASE(empty_text_gives_an_empty_registry) {
    BOOST_TEST(ozzie::client_registry::parse("").size() == 0u);
    BOOST_TEST(ozzie::client_registry::parse("# nothing here\n\n").size() == 0u);
}

BOOST_AUTO_TEST_CASE(last_line_needs_no_newline) {
    auto registry = ozzie::client_registry::parse("s2client:" + s2secret_hex);
    BOOST_TEST(registry.size() == 1u);
    BOOST_TEST(authenticated(registry, spec_token) == "s2client");
}

BOOST_AUTO_TEST_CASE(authenticates_the_right_secret) {
    auto registry = ozzie::client_registry::parse("s2client:" + s2secret_hex + "\n" +
                                                  "other:" + other_secret_hex + "\n");
    BOOST_TEST(authenticated(registry, spec_token) == "s2client");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("other", "other-secret")) == "other");
}

BOOST_AUTO_TEST_CASE(rejects_wrong_secret_unknown_client_and_garbage) {
    auto registry = ozzie::client_registry::parse("s2client:" + s2secret_hex + "\n" +
                                                  "other:" + other_secret_hex + "\n");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("s2client", "wrong")) == "<nullopt>");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("s2client", "")) == "<nullopt>");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("s2client", "s2secret ")) == "<nullopt>");
    // Another client's secret does not work for this client.
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("s2client", "other-secret")) ==
               "<nullopt>");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("nobody", "s2secret")) == "<nullopt>");
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("S2CLIENT", "s2secret")) == "<nullopt>");
    BOOST_TEST(authenticated(registry, "") == "<nullopt>");
    BOOST_TEST(authenticated(registry, "Basic czJjbGllbnQ6czJzZWNyZXQ=") == "<nullopt>");
    BOOST_TEST(authenticated(registry, "Bearer !!!") == "<nullopt>");
    BOOST_TEST(authenticated(registry, "Bearer " + base64("s2client")) == "<nullopt>");
    // The stored digest is not the secret.
    BOOST_TEST(authenticated(registry, ozzie::make_bearer("s2client", s2secret_hex)) ==
               "<nullopt>");
}

BOOST_AUTO_TEST_CASE(returned_id_outlives_the_header_value) {
    auto registry = ozzie::client_registry::parse("s2client:" + s2secret_hex + "\n");
    std::optional<std::string_view> id;
    {
        std::string header = spec_token;
        id = registry.authenticate(header);
        header.assign(header.size(), 'x');
    }
    BOOST_REQUIRE(id.has_value());
    BOOST_TEST(*id == "s2client");
}

BOOST_AUTO_TEST_CASE(bad_hex_throws) {
    std::string bad = s2secret_hex;
    bad[10] = 'g';
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + bad + "\n"), std::runtime_error);
    bad = s2secret_hex;
    bad[0] = ' ';
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + bad + "\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(upper_case_hex_throws) {
    std::string upper = s2secret_hex;
    for (char& c : upper)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + upper + "\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(wrong_digest_length_throws) {
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + s2secret_hex.substr(1) + "\n"),
                      std::runtime_error);
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + s2secret_hex + "0\n"),
                      std::runtime_error);
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:\n"), std::runtime_error);
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:s2secret\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(bad_client_id_throws) {
    const std::vector<std::string> bad_ids = {"", "bad id", "a/b", "a:b", "caf\xC3\xA9",
                                              std::string(65, 'c')};
    for (const std::string& id : bad_ids) {
        BOOST_CHECK_THROW(ozzie::client_registry::parse(id + ":" + s2secret_hex + "\n"),
                          std::runtime_error);
    }
    // 64 characters is the longest allowed.
    BOOST_TEST(ozzie::client_registry::parse(std::string(64, 'c') + ":" + s2secret_hex + "\n")
                   .size() == 1u);
}

BOOST_AUTO_TEST_CASE(missing_colon_throws) {
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client" + s2secret_hex + "\n"),
                      std::runtime_error);
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_bad_line_after_good_ones_throws) {
    BOOST_CHECK_THROW(ozzie::client_registry::parse("# ok\ns2client:" + s2secret_hex +
                                                    "\nnot a client line\n"),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(duplicate_client_id_throws) {
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + s2secret_hex + "\n" +
                                                    "s2client:" + other_secret_hex + "\n"),
                      std::runtime_error);
    BOOST_CHECK_THROW(ozzie::client_registry::parse("s2client:" + s2secret_hex + "\n" +
                                                    "s2client:" + s2secret_hex + "\n"),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(load_reads_a_file) {
    ozzie::testing::temp_dir dir;
    const auto path = dir.path() / "clients";
    {
        std::ofstream out(path);
        out << "# clients\ns2client:" << s2secret_hex << "\n";
    }
    auto registry = ozzie::client_registry::load(path);
    BOOST_TEST(registry.size() == 1u);
    BOOST_TEST(authenticated(registry, spec_token) == "s2client");
}

BOOST_AUTO_TEST_CASE(load_of_a_missing_file_throws) {
    ozzie::testing::temp_dir dir;
    BOOST_CHECK_THROW(ozzie::client_registry::load(dir.path() / "no-such-file"),
                      std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

// The per-connection memo of the credentials last accepted (source/auth/credential_memo.hpp).
BOOST_AUTO_TEST_SUITE(credential_memo_suite)

using registry_ptr = std::shared_ptr<const ozzie::client_registry>;

registry_ptr both_clients() {
    return std::make_shared<const ozzie::client_registry>(ozzie::client_registry::parse(
        "s2client:" + s2secret_hex + "\nother:" + other_secret_hex + "\n"));
}

std::string answer(ozzie::credential_memo& memo, const registry_ptr& clients, const std::string& header) {
    const auto client = memo.authenticate(clients, header);
    return client ? std::string(*client) : "(refused)";
}

BOOST_AUTO_TEST_CASE(the_same_header_again_is_the_same_client) {
    ozzie::credential_memo memo;
    const auto clients = both_clients();
    for (int i = 0; i < 3; ++i) BOOST_TEST(answer(memo, clients, spec_token) == "s2client");
}

BOOST_AUTO_TEST_CASE(another_header_on_the_connection_is_checked_in_full) {
    ozzie::credential_memo memo;
    const auto clients = both_clients();
    BOOST_TEST(answer(memo, clients, spec_token) == "s2client");
    // Same length as the accepted header, one character off: a wrong secret.
    std::string wrong = spec_token;
    wrong[wrong.size() - 2] = wrong[wrong.size() - 2] == 'A' ? 'B' : 'A';
    BOOST_TEST(answer(memo, clients, wrong) == "(refused)");
    BOOST_TEST(answer(memo, clients, "") == "(refused)");
    const std::string other = "Bearer " + base64("other:other-secret");
    BOOST_TEST(answer(memo, clients, other) == "other");
    BOOST_TEST(answer(memo, clients, spec_token) == "s2client");
}

BOOST_AUTO_TEST_CASE(a_refused_header_is_never_remembered) {
    ozzie::credential_memo memo;
    const auto clients = both_clients();
    const std::string wrong = "Bearer " + base64("s2client:not-the-secret");
    BOOST_TEST(answer(memo, clients, wrong) == "(refused)");
    BOOST_TEST(answer(memo, clients, wrong) == "(refused)");
    BOOST_TEST(answer(memo, clients, spec_token) == "s2client");
}

BOOST_AUTO_TEST_CASE(a_reloaded_registry_is_asked_again) {
    ozzie::credential_memo memo;
    BOOST_TEST(answer(memo, both_clients(), spec_token) == "s2client");
    // The clients file reloaded without s2client: the accepted header no longer passes.
    const auto without = std::make_shared<const ozzie::client_registry>(
        ozzie::client_registry::parse("other:" + other_secret_hex + "\n"));
    BOOST_TEST(answer(memo, without, spec_token) == "(refused)");
}

BOOST_AUTO_TEST_SUITE_END()
