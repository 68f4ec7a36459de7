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
//   hold '\0', so the split is unambiguous); value = the user's ULID followed by a copy of its
//   value in "users" (since version 2; version 1 had the ULID alone). A lookup by external id
//   is then one read, as fast as one by id, and sees the record and its index entry as one
//   write left them; the price is the record's bytes written twice.
// Column family "client_users" (since version 2), the list index: for each user one key,
//   client_id + '\0' + stage + ULID, with an empty value, where stage is the user's
//   onboarding_stage as a digit ('0' intake_pending, '1' plan_pending, '2' active). The client's
//   users at one stage are one key range in ULID order, read with an iterator from a cursor; all
//   of them, three ranges merged as they are read. (One key a user, not a second one for "all":
//   every create pays for each key, and a merge of three ranges costs a list little.)
// Column family "idempotency" (needs no schema version: a store without it gets it empty): the
//   answers kept for writes made with an idempotency key. Key = client_id + '\0' + the key.
//   Value: byte 0x01 (format version), int64 created_at (Unix seconds, little-endian: at a fixed
//   offset, so the compaction filter that drops expired answers reads it without decoding),
//   string fingerprint, varint32 status, varint32 header count, then each header as string
//   name + string value, and string body.
// Column family "meta": key "schema_version" = decimal text of schema_version below.
//   Version 1 had no "client_users"; opening such a store migrates it (schema_migration.hpp).
#pragma once

#include <ozzie/user.hpp>
#include <ozzie/user_service.hpp>

#include "storage/store.hpp"

#include <chrono>

#include <optional>
#include <string>
#include <string_view>

namespace ozzie::encoding {

inline constexpr std::string_view users_cf = "users";
inline constexpr std::string_view external_ids_cf = "external_ids";
inline constexpr std::string_view client_users_cf = "client_users";
inline constexpr std::string_view idempotency_cf = "idempotency";
inline constexpr std::string_view meta_cf = "meta";
inline constexpr std::string_view schema_version_key = "schema_version";
inline constexpr int schema_version = 2;

// The key of `u` in "users": its ULID.
std::string_view user_key(const user& u) noexcept;
// The value of `u` in "users".
std::string user_value(const user& u);
// The user stored under `key` with `value`; nullopt if the value is not in a known format.
std::optional<user> decode_user(std::string_view key, std::string_view value);

// The key of `u` in "external_ids", and its value there.
std::string external_key(std::string_view client_id, std::string_view external_user_id);
std::string external_value(const user& u);
// The user in a value of "external_ids"; nullopt if it is not in the format above.
std::optional<user> decode_external_value(std::string_view value);

// The keys of "client_users" of a client's users at `stage` start with this.
std::string list_prefix(std::string_view client_id, onboarding_stage stage);
// The key of `u` in "client_users".
std::string list_key(const user& u);

// The key of `r` in "idempotency" (the same form as external_key), and its value there.
std::string kept_key(std::string_view client_id, std::string_view key);
std::string kept_value(const kept_record& r);
// The record stored under that key with `value`; nullopt if the value is not in the format above.
std::optional<kept_record> decode_kept(std::string_view client_id, std::string_view key, std::string_view value);
// Only the created_at of such a value, read at its fixed offset; nullopt if it is too short.
std::optional<std::chrono::sys_seconds> kept_created_at(std::string_view value) noexcept;

}  // namespace ozzie::encoding
