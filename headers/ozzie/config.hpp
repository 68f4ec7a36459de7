// Options of the store and the HTTP server: plain structs, each field with its default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace ozzie {

struct store_options {
    // Directory of the RocksDB database; created with its column families if missing. Required.
    std::filesystem::path data_dir;
    // true: a create is acknowledged only after the WAL is fsynced (survives power loss).
    // false: only after the WAL is written to the OS (survives a process crash). Default true.
    bool sync = true;
    // Size of the shared block cache for reads. Default 64 MiB.
    std::size_t block_cache_bytes = std::size_t{64} << 20;
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
    // Largest request header block, in bytes. Default 8 KiB.
    std::size_t header_limit = 8 * 1024;
};

}  // namespace ozzie
