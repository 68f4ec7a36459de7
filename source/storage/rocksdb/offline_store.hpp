// Opening a store for ozzie-admin's offline commands (import, export), which must never share it
// with a running server: RocksDB lets one process at a time open a database (an fcntl lock on
// its LOCK file), and these say so plainly when that process is someone else.
#pragma once

#include "storage/rocksdb/rocksdb_store.hpp"

#include <ozzie/config.hpp>

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace ozzie {

// Another process (a running ozzie-server) has the store open.
class store_in_use : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Whether `data_dir` holds a store (a RocksDB database), without opening it.
bool holds_store(const std::filesystem::path& data_dir);

// The store in options.data_dir, opened by rocksdb_store's constructor (so created, or migrated,
// as a server would). Throws store_in_use if another process has it open ("the store in DIR is
// in use (is ozzie-server running on it?)"), and std::runtime_error for any other failure.
std::unique_ptr<rocksdb_store> open_offline_store(const store_options& options);

}  // namespace ozzie
