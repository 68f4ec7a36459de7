#include "storage/rocksdb/encoding.hpp"

#include "service/ulid.hpp"

#include <cstdint>

namespace ozzie::encoding {
namespace {

constexpr char format_version = 0x01;

void put_varint(std::string& out, std::uint32_t n) {
    while (n >= 0x80) {
        out += static_cast<char>((n & 0x7F) | 0x80);
        n >>= 7;
    }
    out += static_cast<char>(n);
}

void put_int64(std::string& out, std::int64_t value) {
    const auto v = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i));
}

void put_string(std::string& out, std::string_view s) {
    put_varint(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}

void put_optional(std::string& out, const std::optional<std::string>& s) {
    out += static_cast<char>(s ? 1 : 0);
    if (s) put_string(out, *s);
}

// Reads from the front of a value; any read past its end or malformed varint sets failed.
class reader {
public:
    explicit reader(std::string_view in) : in_(in) {}

    bool failed() const noexcept { return failed_; }
    bool at_end() const noexcept { return in_.empty(); }

    unsigned char byte() {
        if (in_.empty()) {
            failed_ = true;
            return 0;
        }
        const auto b = static_cast<unsigned char>(in_.front());
        in_.remove_prefix(1);
        return b;
    }
    std::uint32_t varint() {
        std::uint32_t n = 0;
        for (int shift = 0;; shift += 7) {
            const unsigned char b = byte();
            if (failed_ || shift > 28) {
                failed_ = true;
                return 0;
            }
            n |= static_cast<std::uint32_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return n;
        }
    }
    std::string string() {
        const std::uint32_t n = varint();
        if (failed_ || n > in_.size()) {
            failed_ = true;
            return {};
        }
        std::string s(in_.substr(0, n));
        in_.remove_prefix(n);
        return s;
    }
    std::optional<std::string> optional() {
        const unsigned char present = byte();
        if (present > 1) failed_ = true;
        if (present != 1 || failed_) return std::nullopt;
        return string();
    }
    std::int64_t int64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(byte()) << (8 * i);
        return static_cast<std::int64_t>(v);
    }

private:
    std::string_view in_;
    bool failed_ = false;
};

}  // namespace

std::string_view user_key(const user& u) noexcept {
    return std::string_view(u.id).substr(user_id_prefix.size());
}

std::string user_value(const user& u) {
    std::string out;
    out.reserve(64 + u.client_id.size() + u.external_user_id.size());
    out += format_version;
    put_string(out, u.client_id);
    put_string(out, u.external_user_id);
    put_optional(out, u.name);
    put_optional(out, u.email);
    put_optional(out, u.phone);
    put_string(out, u.language);
    out += static_cast<char>(u.stage);
    put_int64(out, u.created_at.time_since_epoch().count());
    return out;
}

std::optional<user> decode_user(std::string_view key, std::string_view value) {
    reader in(value);
    if (in.byte() != format_version) return std::nullopt;
    user u;
    u.id = std::string(user_id_prefix) + std::string(key);
    u.client_id = in.string();
    u.external_user_id = in.string();
    u.name = in.optional();
    u.email = in.optional();
    u.phone = in.optional();
    u.language = in.string();
    const unsigned char stage = in.byte();
    if (stage > static_cast<unsigned char>(onboarding_stage::active)) return std::nullopt;
    u.stage = static_cast<onboarding_stage>(stage);
    u.created_at = std::chrono::sys_seconds(std::chrono::seconds(in.int64()));
    if (in.failed() || !in.at_end()) return std::nullopt;
    return u;
}

std::string external_key(std::string_view client_id, std::string_view external_user_id) {
    std::string key;
    key.reserve(client_id.size() + 1 + external_user_id.size());
    key.append(client_id);
    key += '\0';
    key.append(external_user_id);
    return key;
}

std::string external_value(const user& u) {
    return std::string(user_key(u)) + user_value(u);
}

std::optional<user> decode_external_value(std::string_view value) {
    if (value.size() < ulid_chars) return std::nullopt;
    return decode_user(value.substr(0, ulid_chars), value.substr(ulid_chars));
}

std::string list_prefix(std::string_view client_id, onboarding_stage stage) {
    std::string key;
    key.reserve(client_id.size() + 2 + ulid_chars);
    key.append(client_id);
    key += '\0';
    key += static_cast<char>('0' + static_cast<int>(stage));
    return key;
}

std::string list_key(const user& u) {
    auto key = list_prefix(u.client_id, u.stage);
    key.append(user_key(u));
    return key;
}

std::string kept_key(std::string_view client_id, std::string_view key) { return external_key(client_id, key); }

std::string kept_value(const kept_record& r) {
    std::string out;
    out.reserve(64 + r.fingerprint.size() + r.answer.body.size());
    out += format_version;
    put_int64(out, r.created_at.time_since_epoch().count());
    put_string(out, r.fingerprint);
    put_varint(out, r.answer.status);
    put_varint(out, static_cast<std::uint32_t>(r.answer.headers.size()));
    for (const auto& [name, value] : r.answer.headers) {
        put_string(out, name);
        put_string(out, value);
    }
    put_string(out, r.answer.body);
    return out;
}

std::optional<kept_record> decode_kept(std::string_view client_id, std::string_view key, std::string_view value) {
    reader in(value);
    if (in.byte() != format_version) return std::nullopt;
    kept_record r{.client_id = std::string(client_id), .key = std::string(key), .fingerprint = {}, .created_at = {},
                  .answer = {}};
    r.created_at = std::chrono::sys_seconds(std::chrono::seconds(in.int64()));
    r.fingerprint = in.string();
    r.answer.status = in.varint();
    const auto headers = in.varint();
    for (std::uint32_t i = 0; i < headers && !in.failed(); ++i) {
        auto name = in.string();
        r.answer.headers.emplace_back(std::move(name), in.string());
    }
    r.answer.body = in.string();
    if (in.failed() || !in.at_end()) return std::nullopt;
    return r;
}

std::optional<std::chrono::sys_seconds> kept_created_at(std::string_view value) noexcept {
    if (value.size() < 9 || value[0] != format_version) return std::nullopt;
    reader in(value.substr(1, 8));
    return std::chrono::sys_seconds(std::chrono::seconds(in.int64()));
}

}  // namespace ozzie::encoding
