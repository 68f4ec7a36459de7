// The on-disk format of every key and value, in one place.
//
// Column family "users": key = the user's 26-character ULID (without "ozz_usr_"), so keys sort
//   by creation time. Value (version 1):
//     byte 0x01 (format version)
//     string client_id, string external_user_id,
//     optional name, optional email, optional phone,
//     string language, byte onboarding_stage, int64 created_at (Unix seconds, little-endian)
//   where string = varint32 byte length + bytes, optional = byte 0 (absent) or byte 1 + string.
// Column family "external_ids": key = client_id + '\0' + external_user_id (client ids never
//   hold '\0', so the split is unambiguous); value = the user's ULID.
// Column family "meta": key "schema_version" = decimal text of schema_version below.
#pragma once

#include <ozzie/user.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ozzie::encoding {

inline constexpr std::string_view users_cf = "users";
inline constexpr std::string_view external_ids_cf = "external_ids";
inline constexpr std::string_view meta_cf = "meta";
inline constexpr std::string_view schema_version_key = "schema_version";
inline constexpr std::string_view schema_version = "1";

// The key of `u` in "users": its ULID.
std::string_view user_key(const user& u) noexcept;
// The value of `u` in "users".
std::string user_value(const user& u);
// The user stored under `key` with `value`; nullopt if the value is not in a known format.
std::optional<user> decode_user(std::string_view key, std::string_view value);

// The key in "external_ids".
std::string external_key(std::string_view client_id, std::string_view external_user_id);

}  // namespace ozzie::encoding
