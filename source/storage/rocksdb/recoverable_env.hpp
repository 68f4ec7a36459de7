// The RocksDB environment the store runs on: the POSIX one, with two changes that let the
// store survive a failing disk instead of wedging or aborting.
//
// 1. An I/O error while writing or syncing a file (EIO, ENOSPC, ...) is marked retryable.
//    RocksDB 7.8 treats a plain POSIX I/O error on the WAL as fatal: every later write fails,
//    and DB::Resume() refuses, until the process restarts. A retryable error takes the path
//    RocksDB has for transient faults instead: writes are refused while it, every second,
//    flushes the memtables (which hold exactly the writes it acknowledged) to new table files
//    and starts a new WAL, so the WAL whose write or fsync failed is never trusted again.
//    Once that succeeds, writes are taken again, with no restart.
// 2. RocksDB's diagnostics go to our log (warnings and errors only) instead of its LOG file in
//    the data directory: Debian's librocksdb is built with assertions, and after a failed write
//    to that file the next line it logs aborts the process (found by injecting ENOSPC).
#pragma once

#include <rocksdb/env.h>

#include <memory>

namespace rocksdb {
class FileSystem;
}

namespace ozzie {

struct recoverable_env {
    std::unique_ptr<rocksdb::Env> env;
    std::shared_ptr<rocksdb::Logger> info_log;
};

// Over `base`: rocksdb::FileSystem::Default() in production, a fault-injecting one in tests.
recoverable_env make_recoverable_env(std::shared_ptr<rocksdb::FileSystem> base);

}  // namespace ozzie
