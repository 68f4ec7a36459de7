#include "storage/rocksdb/offline_store.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace ozzie {
namespace {

// Whether a process other than this one holds RocksDB's lock on the store in `data_dir`: RocksDB
// takes a POSIX write lock on the whole LOCK file for as long as the database is open, and
// F_GETLK names a conflicting holder without taking the lock.
bool locked_by_another_process(const std::filesystem::path& data_dir) {
    const int fd = ::open((data_dir / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    const bool held = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
    ::close(fd);
    return held;
}

}  // namespace

bool holds_store(const std::filesystem::path& data_dir) {
    std::error_code ignored;
    return std::filesystem::is_regular_file(data_dir / "CURRENT", ignored);
}

std::unique_ptr<rocksdb_store> open_offline_store(const store_options& options) {
    // Offline work reads each user once at most: a row cache, and its warm-up, would be waste.
    auto without_row_cache = options;
    without_row_cache.row_cache_bytes = 0;
    try {
        return std::make_unique<rocksdb_store>(without_row_cache);
    } catch (const std::runtime_error&) {
        // RocksDB refuses at its lock, before it has written anything (its "IO error: While
        // lock file ... Resource temporarily unavailable"); the lock says whose it is.
        if (locked_by_another_process(options.data_dir))
            throw store_in_use("the store in " + options.data_dir.string() +
                               " is in use (is ozzie-server running on it?)");
        throw;
    }
}

}  // namespace ozzie
