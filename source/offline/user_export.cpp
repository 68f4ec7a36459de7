#include "offline/user_export.hpp"

#include "http/user_json.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ozzie {
namespace {

// Lines are gathered and written a block at a time.
constexpr std::size_t block_bytes = std::size_t{1} << 20;

}  // namespace

std::uint64_t export_users(const rocksdb_store& store, std::string_view client_id, std::FILE* output) {
    std::string block;
    block.reserve(block_bytes + 4096);
    const auto write_block = [&] {
        if (std::fwrite(block.data(), 1, block.size(), output) != block.size())
            throw std::runtime_error(std::string("cannot write the output: ") + std::strerror(errno));
        block.clear();
    };
    std::uint64_t exported = 0;
    const auto read = store.for_each_user(client_id, [&](const user& u) {
        append_user_object(block, u);
        block += '\n';
        ++exported;
        if (block.size() >= block_bytes) write_block();
    });
    if (!read) throw std::runtime_error("reading the store failed (the log above says why)");
    write_block();
    if (std::fflush(output) != 0)
        throw std::runtime_error(std::string("cannot write the output: ") + std::strerror(errno));
    return exported;
}

}  // namespace ozzie
