// Options of the store and the HTTP server: plain structs, each field with its default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ozzie {

struct store_options {
    // Directory of the RocksDB database; created with its column families if missing. Required
    // unless `postgres` is set; never both.
    std::filesystem::path data_dir;
    // A PostgreSQL database to keep the users in instead, shared by any number of servers: a
    // libpq connection URI (postgresql://user:password@host:port/dbname?...) or conninfo string
    // ("host=... dbname=..."). Its schema must be ozzie-admin migrate's latest. Default empty:
    // RocksDB in data_dir. With PostgreSQL, `sync`, `block_cache_bytes` and `row_cache_bytes` do
    // not apply: a write is acknowledged once its transaction has committed (durable as the
    // database's synchronous_commit makes it), and no server caches users that other servers
    // may change.
    std::string postgres{};  // ({}: designated initializers may leave it out without a warning)
    // Streaming replicas of that database for lookups (GET of one user), each as `postgres`; a
    // lookup that finds nothing on a replica, or that a replica fails (stopped, unreachable),
    // asks the primary, so a client reads its own fresh create and a replica down costs no
    // error. A replica behind the primary may show a user as it was before its latest change.
    // Lists and idempotency keys read the primary. Default none: every read goes to the primary.
    std::vector<std::string> postgres_replicas{};
    // true: a create is acknowledged only after the WAL is fsynced (survives power loss).
    // false: only after the WAL is written to the OS (survives a process crash). Default true.
    bool sync = true;
    // Size of the shared block cache for reads. Default 64 MiB.
    std::size_t block_cache_bytes = std::size_t{64} << 20;
    // Size of the cache of users lately looked up (by id and by external id), in front of the
    // memtable and the block cache; 0: none. Default 64 MiB (about 250,000 lookups' users).
    std::size_t row_cache_bytes = std::size_t{64} << 20;
    // How long the answer of a write made with an idempotency key is kept for its retries; after
    // that the key is new again, and its record is removed by the store's compactions. Default 24 h.
    std::chrono::seconds idempotency_ttl{24 * 60 * 60};
};

struct server_options {
    // Address to listen on. Default 127.0.0.1.
    std::string host = "127.0.0.1";
    // Port to listen on; 0 picks a free one (server::start returns it). Default 8080.
    std::uint16_t port = 8080;
    // Network threads, each with its own io_context and acceptor. 0 (the default) means one
    // per core.
    unsigned threads = 0;
    // The clients file: one `client_id:<hex sha256 of secret>` per line, `#` comments. Required.
    std::filesystem::path clients_file;
    // Largest request body accepted, in bytes; larger gets 413. Default 64 KiB.
    std::size_t body_limit = 64 * 1024;
    // The same for POST /v1/users/batch, whose body holds up to 1000 creates. Default 4 MiB:
    // 1000 creates with every field at its longest.
    std::size_t batch_body_limit = 4 * 1024 * 1024;
    // Largest request line and header block, in bytes; larger gets 431. Default 8 KiB.
    std::size_t header_limit = 8 * 1024;
    // Time a client has to send a whole request (headers and body) from its first byte; slower
    // clients (slowloris) are disconnected. Default 10 s.
    std::chrono::milliseconds request_timeout{10'000};
    // A keep-alive connection with no request under way is closed after this long. Default 60 s.
    std::chrono::milliseconds idle_timeout{60'000};
    // Time a response has to be written; a client that does not read is disconnected. Default 10 s.
    std::chrono::milliseconds write_timeout{10'000};
    // Connections open at once; past it, a new connection is answered 503 and closed, while the
    // open ones keep working. Default 10000.
    std::size_t max_connections = 10'000;
    // Per-client token bucket: requests per second sustained (0: no limit), and the burst a
    // client may spend at once. Over it, 429 RATE_LIMITED with Retry-After. Defaults 100000
    // and 200000: generous, a guard against runaway clients rather than a quota.
    double rate_limit = 100'000;
    double rate_burst = 200'000;
    // An HTTPS listener (TLS 1.2 or later) on tls_host:tls_port besides the plain one, so an
    // edge node needs no proxy; bind the plain one to loopback to serve HTTPS only. nullopt (the
    // default): none; 0 picks a free port (server::tls_port tells it).
    std::string tls_host = "127.0.0.1";
    std::optional<std::uint16_t> tls_port;
    // The HTTPS listener's PEM certificate chain and private key; required with tls_port.
    std::filesystem::path tls_certificate;
    std::filesystem::path tls_private_key;
    // The admin listener (GET /healthz, /readyz, /metrics; POST /backup), for operators only:
    // keep it on loopback. Its port must differ from the public one. nullopt (the default): no
    // admin listener; 0 picks a free port (server::admin_port tells it).
    std::string admin_host = "127.0.0.1";
    std::optional<std::uint16_t> admin_port;
    // Lines of the structured log at or above this level go to stderr: "debug", "info" (one line
    // per request), "warning", "error" or "off". Default "info".
    std::string log_level = "info";
};

}  // namespace ozzie
