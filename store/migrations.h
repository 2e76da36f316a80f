// The store's schema, as numbered migrations with one text per engine side by side (so that both engines keep
// the same tables, columns and meaning), and what both engines share in mapping it: times as int64 unix
// milliseconds, the refusal of a newer schema. Engine-internal: only store/ includes this.
#ifndef SQUATSTREAM_STORE_MIGRATIONS_H_
#define SQUATSTREAM_STORE_MIGRATIONS_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace squatstream::store::internal {

// One step of the schema. Applied in order, each in a transaction of its own together with its row in
// schema_migrations(version, applied_at_ms).
struct Migration {
  int version;
  absl::string_view description;
  absl::string_view sqlite;
  absl::string_view postgresql;
};

// Every migration, version 1 to kSchemaVersion, in order.
std::span<const Migration> Migrations();

// The table that records them (the same in both engines; created before anything else).
inline constexpr absl::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)";

// FAILED_PRECONDITION for a store whose schema is at `found`, newer than this binary knows.
absl::Status NewerSchemaError(int found);

// Times in the store: unix milliseconds (sub-millisecond parts are dropped). absl::InfinitePast is INT64_MIN
// and InfiniteFuture INT64_MAX, so that every time column is NOT NULL and compares and sorts the same way in
// both engines ("never" is before every time: a watch whose next_scan is InfinitePast is due first; a lease
// until InfinitePast is no lease).
std::int64_t ToMillis(absl::Time t);
absl::Time FromMillis(std::int64_t ms);

// The key of the PostgreSQL advisory locks: the session lock around migrations (replicas starting at once
// migrate one after the other) and the transaction lock that orders the events' commits (postgres_store.cc).
inline constexpr std::int64_t kMigrationLockKey = 0x5371756174'01;  // "Squat" 1
inline constexpr std::int64_t kEventsLockKey = 0x5371756174'02;     // "Squat" 2

}  // namespace squatstream::store::internal

#endif  // SQUATSTREAM_STORE_MIGRATIONS_H_
