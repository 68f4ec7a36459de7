// The schema version in "meta", and the migrations that bring an older store up to it.
#pragma once

#include <rocksdb/db.h>

#include <string_view>

namespace ozzie {

struct schema_column_families {
    rocksdb::ColumnFamilyHandle* users;
    rocksdb::ColumnFamilyHandle* external_ids;
    rocksdb::ColumnFamilyHandle* client_users;
    rocksdb::ColumnFamilyHandle* meta;
};

// Makes the store in `db` (opened from `data_dir`) one of encoding::schema_version: a new store
// gets the version; one of version 1 is migrated, logging from which version to which and how
// many users; a newer one is refused. A migration writes in synced batches whose writes are
// idempotent, and the version last, so one killed midway is simply done again at the next
// open. Throws std::runtime_error if the store cannot be used.
void ensure_schema(rocksdb::DB& db, const schema_column_families& cfs, std::string_view data_dir);

}  // namespace ozzie
