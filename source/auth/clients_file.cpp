#include "auth/clients_file.hpp"

#include "auth/bearer_token.hpp"
#include "auth/client_registry.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ozzie {
namespace {

std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Replaces the file's contents atomically, keeping its permissions (0600 for a new file).
void write_text(const std::filesystem::path& file, const std::string& text) {
    namespace fs = std::filesystem;
    const auto perms = fs::exists(file) ? fs::status(file).permissions() : fs::perms::owner_read | fs::perms::owner_write;
    auto temporary = file;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) throw std::runtime_error("cannot write " + temporary.string());
    }
    fs::permissions(temporary, perms);
    fs::rename(temporary, file);
}

}  // namespace

new_client add_client(const std::filesystem::path& file, std::string_view client_id) {
    if (!is_valid_client_id(client_id))
        throw std::runtime_error("a client id is 1 to 64 of A-Z a-z 0-9 _ . -, got '" + std::string(client_id) + "'");
    std::string text = std::filesystem::exists(file) ? read_text(file) : std::string();
    const auto registry = client_registry::parse(text);  // the ids below are views into it
    const auto ids = registry.client_ids();
    if (std::find(ids.begin(), ids.end(), client_id) != ids.end())
        throw std::runtime_error("client '" + std::string(client_id) + "' already exists");

    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    new_client added{std::string(client_id), to_hex(bytes), {}};
    added.bearer_token = make_bearer(added.client_id, added.secret);

    if (!text.empty() && text.back() != '\n') text += '\n';
    text += added.client_id + ":" + to_hex(sha256(added.secret)) + "\n";
    write_text(file, text);
    return added;
}

std::vector<std::string> list_clients(const std::filesystem::path& file) {
    const auto registry = client_registry::load(file);
    std::vector<std::string> ids;
    for (const auto id : registry.client_ids()) ids.emplace_back(id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

void remove_client(const std::filesystem::path& file, std::string_view client_id) {
    const auto ids = list_clients(file);
    if (std::find(ids.begin(), ids.end(), client_id) == ids.end())
        throw std::runtime_error("no client '" + std::string(client_id) + "' in " + file.string());
    const std::string text = read_text(file);
    const std::string prefix = std::string(client_id) + ":";
    std::string kept;
    for (std::size_t start = 0; start < text.size();) {
        const auto end = std::min(text.find('\n', start), text.size());
        const std::string_view line(text.data() + start, end - start);
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || !line.substr(first).starts_with(prefix))
            kept.append(line).append("\n");
        start = end + 1;
    }
    write_text(file, kept);
}

}  // namespace ozzie
