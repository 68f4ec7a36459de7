// A simulated power loss, at RocksDB's file-system layer: the store runs on a file system that
// notes, in a journal beside the data, how many bytes of each file were synced (fsync or
// fdatasync); after the process is killed, lose_unsynced_data() cuts every file it wrote back
// to that size, as a power cut would drop what was still in the page cache.
//
// What it models: file contents not synced are lost, from the end. What it does not: a
// directory entry never synced vanishing, writes reordered or torn inside the disk, or a disk
// that acknowledges a flush it has not done. (The journal itself is written without syncing:
// the kill is a process crash, so the kernel keeps it.)
#pragma once

#include <rocksdb/file_system.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

namespace ozzie::testing {

class power_loss_fs final : public rocksdb::FileSystemWrapper {
public:
    explicit power_loss_fs(const std::filesystem::path& journal)
        : FileSystemWrapper(rocksdb::FileSystem::Default()),
          journal_(::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
    ~power_loss_fs() override { ::close(journal_); }
    const char* Name() const override { return "power_loss_fs"; }

    rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* d) override {
        auto status = target()->NewWritableFile(name, o, file, d);
        if (status.ok()) *file = std::make_unique<tracked_file>(std::move(*file), name, 0, journal_);
        return status;
    }
    rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& o,
                                         std::unique_ptr<rocksdb::FSWritableFile>* file,
                                         rocksdb::IODebugContext* d) override {
        std::uint64_t size = 0;
        if (!target()->GetFileSize(name, rocksdb::IOOptions(), &size, d).ok()) size = 0;
        auto status = target()->ReopenWritableFile(name, o, file, d);
        if (status.ok()) *file = std::make_unique<tracked_file>(std::move(*file), name, size, journal_);
        return status;
    }
    rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                        const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSWritableFile>* file,
                                        rocksdb::IODebugContext* d) override {
        auto status = target()->ReuseWritableFile(name, old_name, o, file, d);
        if (status.ok()) *file = std::make_unique<tracked_file>(std::move(*file), name, 0, journal_);
        return status;
    }

private:
    // Notes "<synced bytes> <path>" when the file is created (what it starts with counts as
    // synced) and after each successful sync.
    class tracked_file final : public rocksdb::FSWritableFileOwnerWrapper {
    public:
        tracked_file(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name, std::uint64_t size, int journal)
            : FSWritableFileOwnerWrapper(std::move(file)), name_(std::move(name)), size_(size), journal_(journal) {
            note();
        }
        rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                                 rocksdb::IODebugContext* d) override {
            return grew(FSWritableFileOwnerWrapper::Append(data, o, d), size_ + data.size());
        }
        rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                                 const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* d) override {
            return grew(FSWritableFileOwnerWrapper::Append(data, o, v, d), size_ + data.size());
        }
        rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                           const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            return grew(FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, d),
                        std::max(size_, offset + data.size()));
        }
        rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                           const rocksdb::IOOptions& o, const rocksdb::DataVerificationInfo& v,
                                           rocksdb::IODebugContext* d) override {
            return grew(FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o, v, d),
                        std::max(size_, offset + data.size()));
        }
        rocksdb::IOStatus Truncate(std::uint64_t size, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            return grew(FSWritableFileOwnerWrapper::Truncate(size, o, d), size);
        }
        rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            return synced(FSWritableFileOwnerWrapper::Sync(o, d));
        }
        rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            return synced(FSWritableFileOwnerWrapper::Fsync(o, d));
        }

    private:
        rocksdb::IOStatus grew(rocksdb::IOStatus status, std::uint64_t size) {
            if (status.ok()) size_ = size;
            return status;
        }
        rocksdb::IOStatus synced(rocksdb::IOStatus status) {
            if (status.ok()) note();
            return status;
        }
        void note() const {
            const std::string line = std::to_string(size_) + " " + name_ + "\n";
            [[maybe_unused]] const auto written = ::write(journal_, line.data(), line.size());
        }

        std::string name_;
        std::uint64_t size_;
        int journal_;
    };

    int journal_;
};

// Cuts each file the journal names back to its last synced size. Returns how many bytes went.
inline std::uintmax_t lose_unsynced_data(const std::filesystem::path& journal) {
    std::map<std::string, std::uintmax_t> synced;
    std::ifstream in(journal);
    std::uintmax_t size = 0;
    std::string name;
    while (in >> size && std::getline(in >> std::ws, name)) synced[name] = size;
    std::uintmax_t lost = 0;
    for (const auto& [file, keep] : synced) {
        std::error_code ec;
        const auto now = std::filesystem::file_size(file, ec);
        if (ec || now <= keep) continue;  // deleted, or renamed away, or nothing unsynced
        std::filesystem::resize_file(file, keep);
        lost += now - keep;
    }
    return lost;
}

}  // namespace ozzie::testing
