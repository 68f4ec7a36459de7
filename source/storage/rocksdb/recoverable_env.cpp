#include "storage/rocksdb/recoverable_env.hpp"

#include "ops/logging.hpp"

#include <rocksdb/file_system.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ozzie {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

IOStatus retryable(IOStatus status) {
    if (status.IsIOError()) status.SetRetryable(true);
    return status;
}

class writable_file final : public rocksdb::FSWritableFileOwnerWrapper {
public:
    using FSWritableFileOwnerWrapper::FSWritableFileOwnerWrapper;

    IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Append(data, o, d));
    }
    IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& v,
                    IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Append(data, o, v, d));
    }
    IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                              IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, d));
    }
    IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                              const rocksdb::DataVerificationInfo& v, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, v, d));
    }
    IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Truncate(size, o, d));
    }
    IOStatus Close(const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Close(o, d));
    }
    IOStatus Flush(const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Flush(o, d));
    }
    IOStatus Sync(const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Sync(o, d));
    }
    IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::Fsync(o, d));
    }
    IOStatus RangeSync(uint64_t offset, uint64_t bytes, const IOOptions& o, IODebugContext* d) override {
        return retryable(FSWritableFileOwnerWrapper::RangeSync(offset, bytes, o, d));
    }
};

class directory final : public rocksdb::FSDirectoryWrapper {
public:
    using FSDirectoryWrapper::FSDirectoryWrapper;

    IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
        return retryable(FSDirectoryWrapper::Fsync(o, d));
    }
    IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* d,
                                 const rocksdb::DirFsyncOptions& options) override {
        return retryable(FSDirectoryWrapper::FsyncWithDirOptions(o, d, options));
    }
};

class file_system final : public rocksdb::FileSystemWrapper {
public:
    explicit file_system(std::shared_ptr<rocksdb::FileSystem> base) : FileSystemWrapper(std::move(base)) {}
    const char* Name() const override { return "ozzie_recoverable"; }

    IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                             std::unique_ptr<rocksdb::FSWritableFile>* file, IODebugContext* d) override {
        return wrap(target()->NewWritableFile(name, o, file, d), file);
    }
    IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                std::unique_ptr<rocksdb::FSWritableFile>* file, IODebugContext* d) override {
        return wrap(target()->ReopenWritableFile(name, o, file, d), file);
    }
    IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                               const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSWritableFile>* file,
                               IODebugContext* d) override {
        return wrap(target()->ReuseWritableFile(name, old_name, o, file, d), file);
    }
    IOStatus NewDirectory(const std::string& name, const IOOptions& o,
                          std::unique_ptr<rocksdb::FSDirectory>* dir, IODebugContext* d) override {
        auto status = target()->NewDirectory(name, o, dir, d);
        if (status.ok()) *dir = std::make_unique<directory>(std::move(*dir));
        return retryable(status);
    }

private:
    static IOStatus wrap(IOStatus status, std::unique_ptr<rocksdb::FSWritableFile>* file) {
        if (status.ok()) *file = std::make_unique<writable_file>(std::move(*file));
        return retryable(status);
    }
};

// RocksDB's warnings and errors as "rocksdb" events at warning level (RocksDB files some
// harmless conditions, such as a data directory that does not exist yet, as errors); its
// informational lines and the options dump at open are dropped.
class logger final : public rocksdb::Logger {
public:
    logger() : Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

    void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        if (level < rocksdb::InfoLogLevel::WARN_LEVEL || level == rocksdb::InfoLogLevel::HEADER_LEVEL ||
            !log_enabled(log_level::warning))
            return;
        char text[1024];
        const int n = std::vsnprintf(text, sizeof text, format, ap);
        if (n < 0) return;
        log(log_level::warning, "rocksdb", {{"message", std::string_view(text, std::min<std::size_t>(n, sizeof text - 1))}});
    }
};

}  // namespace

recoverable_env make_recoverable_env(std::shared_ptr<rocksdb::FileSystem> base) {
    return {rocksdb::NewCompositeEnv(std::make_shared<file_system>(std::move(base))), std::make_shared<logger>()};
}

}  // namespace ozzie
