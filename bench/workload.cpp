#include "workload.hpp"

#include <fstream>
#include <stdexcept>

#include <openssl/rand.h>

#include <cstdio>

namespace ozzie::bench {

std::string_view name_of(operation op) noexcept {
    switch (op) {
    case operation::create: return "create";
    case operation::get: return "get";
    case operation::get_external: return "get-external";
    }
    return "get";
}

void operation_stats::merge(const operation_stats& other) {
    latency.merge(other.latency);
    count += other.count;
    errors += other.errors;
    for (const auto& [kind, n] : other.errors_by_status) errors_by_status[kind] += n;
}

std::uint64_t run_stats::completed() const {
    std::uint64_t n = 0;
    for (const auto& op : operations) n += op.count + op.errors;
    return n;
}

void run_stats::merge(const run_stats& other) {
    for (std::size_t i = 0; i < operations.size(); ++i) operations[i].merge(other.operations[i]);
    idle_held += other.idle_held;
    idle_failed += other.idle_failed;
}

void save_users(const std::filesystem::path& path, const std::vector<known_user>& users) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const auto& u : users) out << u.id << '\t' << u.external_id << '\n';
    out.flush();
    if (!out) throw std::runtime_error("cannot write the users file " + path.string());
}

std::vector<known_user> load_users(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read the users file " + path.string());
    std::vector<known_user> users;
    std::string line;
    while (std::getline(in, line)) {
        const auto tab = line.find('\t');
        if (tab == std::string::npos) throw std::runtime_error("not a users file: " + path.string());
        users.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    if (users.empty()) throw std::runtime_error("no users in " + path.string());
    return users;
}

workload::workload(const bench_options& options, const std::vector<known_user>& preloaded,
                   std::string external_id_prefix, std::uint64_t seed)
    : options_(options), preloaded_(preloaded), prefix_(std::move(external_id_prefix)), random_(seed) {}

const known_user& workload::pick() {
    const auto total = preloaded_.size() + own_.size();
    const auto i = std::uniform_int_distribution<std::size_t>(0, total - 1)(random_);
    return i < preloaded_.size() ? preloaded_[i] : own_[i - preloaded_.size()];
}

step workload::next() {
    const bool have_users = options_.fixed_id || !preloaded_.empty() || !own_.empty();
    bool lookup = options_.which == scenario::get || options_.which == scenario::get_external;
    if (options_.which == scenario::mixed)
        lookup = have_users && std::uniform_real_distribution<double>(0, 1)(random_) < options_.read_ratio;
    if (!lookup || (!have_users && !options_.fixed_id)) {
        create_key_ = prefix_ + std::to_string(creates_++);
        return {operation::create, create_key_};
    }
    if (options_.fixed_id) return {operation::get, *options_.fixed_id};
    const known_user& u = pick();
    if (options_.which == scenario::get_external) return {operation::get_external, u.external_id};
    return {operation::get, u.id};
}

std::string run_prefix() {
    unsigned char bytes[4];
    RAND_bytes(bytes, sizeof bytes);
    char text[16];
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    return std::string("bench-") + text + "-";
}

std::string create_body(std::string_view external_id) {
    std::string body = R"({"external_user_id":")";
    body.append(external_id);
    body += R"(","name":"Bench User","email":"bench@example.com","phone":"+15551234567","language":"en"})";
    return body;
}

bool check_answer(const step& s, unsigned status, std::string_view body, std::string* created_id) {
    // Whether body holds "field":"value", found without allocating.
    const auto has = [&](std::string_view field, std::string_view value) {
        for (auto at = body.find(value); at != std::string_view::npos; at = body.find(value, at + 1)) {
            const auto key_at = at - std::min(at, field.size() + 4);
            if (at >= field.size() + 4 && body.substr(key_at, 1) == "\"" &&
                body.substr(key_at + 1, field.size()) == field && body.substr(at - 3, 3) == "\":\"" &&
                body.substr(at + value.size(), 1) == "\"")
                return true;
        }
        return false;
    };
    switch (s.op) {
    case operation::create: {
        constexpr std::string_view id_field = "\"id\":\"ozz_usr_";
        const auto at = body.find(id_field);
        constexpr std::size_t id_length = 8 + 26;
        if (status != 201 || at == std::string_view::npos || !has("external_user_id", s.key)) return false;
        const auto id = body.substr(at + 6, id_length);
        if (id.size() != id_length || body.substr(at + 6 + id_length, 1) != "\"") return false;
        if (created_id) *created_id = id;
        return true;
    }
    case operation::get: return status == 200 && has("id", s.key);
    case operation::get_external: return status == 200 && has("external_user_id", s.key);
    }
    return false;
}

}  // namespace ozzie::bench
