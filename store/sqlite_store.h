// The SQLite engine of the store (store.h): one file in WAL mode, one connection behind one mutex (SQLite has
// one writer anyway; readers of the same process wait their turn, which the store's short transactions make
// cheap), every statement prepared once and cached. Several processes (or several SqliteStore objects) may open
// the same file: writes take the write lock at BEGIN IMMEDIATE and wait up to the busy timeout for it.
#ifndef SQUATSTREAM_STORE_SQLITE_STORE_H_
#define SQUATSTREAM_STORE_SQLITE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace squatstream::store {

struct SqliteOptions {
  // How long a write waits for another connection's write lock before the call fails UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Tests: apply the migrations only up to this version (an older schema, upgraded by the next open).
  int migrate_to = kSchemaVersion;
  // Tests: PRAGMA max_page_count (0: SQLite's default), a database that is full at that size (SQLITE_FULL).
  std::int64_t max_page_count = 0;
};

// Opens (creating it and its folder when absent) the SQLite store at `path` and applies its migrations.
// UNAVAILABLE when the file or its folder cannot be created, opened or written (the message names the path and
// says SQLite's words); FAILED_PRECONDITION for a newer schema.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options = {});

}  // namespace squatstream::store

#endif  // SQUATSTREAM_STORE_SQLITE_STORE_H_
