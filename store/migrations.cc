#include "store/migrations.h"

#include <array>
#include <limits>

#include "absl/strings/str_cat.h"
#include "store/store.h"

namespace squatstream::store::internal {
namespace {

// Version 1: watches, what their scans observed, the events. Version 2: the webhook outbox (deliveries) and the
// indexes the scheduler, the deliverer and retention read by. Version 3: API keys and each watch's owner key.
//
// Both texts describe the same tables. Where the engines differ: ids (SQLite's INTEGER PRIMARY KEY AUTOINCREMENT,
// which, like PostgreSQL's identity, never hands out an id again after the largest row was deleted: an event id
// is a client's cursor), BLOB / BYTEA, booleans (0/1 INTEGER / BOOLEAN). Times are BIGINT unix milliseconds,
// INT64_MIN for "never" (migrations.h). Serialized protos: watches.settings (v1::WatchSettings, the webhook secret
// included), observations.state (the watch side's own bytes), observations.record (v1::Record), events.payload
// (v1::WatchEvent without its id and watch, which are the columns).
//
// A rescan where nothing changed writes no observation row: a candidate in the watch's last scan was last seen
// at watches.last_scan_ms, written once per scan. Only a candidate that drops out of the scans (the watch's kinds
// or cap changed) is written, once: observations.absent set, its last_seen_ms the last scan it was in. (Writing
// last_seen_ms per candidate per scan cost a whole new row version on PostgreSQL — MVCC rewrites the ~1.5 KB
// record with it — and doubled the table until vacuum: docs/BENCHMARKS.md.)
constexpr absl::string_view kV1Sqlite = R"sql(
CREATE TABLE watches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  domain TEXT NOT NULL UNIQUE,
  domain_unicode TEXT NOT NULL,
  settings BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  next_scan_ms INTEGER NOT NULL,
  last_scan_ms INTEGER NOT NULL,
  last_scan_outcome TEXT NOT NULL DEFAULT '',
  scans INTEGER NOT NULL DEFAULT 0,
  baseline_done INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL
);
CREATE TABLE observations (
  watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  candidate TEXT NOT NULL,
  candidate_unicode TEXT NOT NULL,
  kind INTEGER NOT NULL,
  verdict INTEGER NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  last_changed_ms INTEGER NOT NULL,
  triage INTEGER NOT NULL DEFAULT 0,
  triage_note TEXT NOT NULL DEFAULT '',
  state BLOB NOT NULL,
  record BLOB NOT NULL,
  absent INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (watch_id, candidate)
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  type INTEGER NOT NULL,
  payload BLOB NOT NULL
);
CREATE INDEX events_by_watch ON events (watch_id, id);
)sql";

constexpr absl::string_view kV1Postgresql = R"sql(
CREATE TABLE watches (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  domain TEXT NOT NULL UNIQUE,
  domain_unicode TEXT NOT NULL,
  settings BYTEA NOT NULL,
  created_ms BIGINT NOT NULL,
  next_scan_ms BIGINT NOT NULL,
  last_scan_ms BIGINT NOT NULL,
  last_scan_outcome TEXT NOT NULL DEFAULT '',
  scans BIGINT NOT NULL DEFAULT 0,
  baseline_done BOOLEAN NOT NULL DEFAULT FALSE,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL
);
CREATE TABLE observations (
  watch_id BIGINT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  candidate TEXT NOT NULL,
  candidate_unicode TEXT NOT NULL,
  kind INTEGER NOT NULL,
  verdict INTEGER NOT NULL,
  first_seen_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  last_changed_ms BIGINT NOT NULL,
  triage INTEGER NOT NULL DEFAULT 0,
  triage_note TEXT NOT NULL DEFAULT '',
  state BYTEA NOT NULL,
  record BYTEA NOT NULL,
  absent BOOLEAN NOT NULL DEFAULT FALSE,
  PRIMARY KEY (watch_id, candidate)
);
CREATE TABLE events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  watch_id BIGINT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  created_ms BIGINT NOT NULL,
  type INTEGER NOT NULL,
  payload BYTEA NOT NULL
);
CREATE INDEX events_by_watch ON events (watch_id, id);
)sql";

// The outbox: one row per event of a watch with a webhook, written in the event's transaction. Each watch's
// deliveries go out in event order: the deliverer claims only a watch's oldest pending one
// (deliveries_pending). state: 'pending', 'delivered' or 'dead'.
constexpr absl::string_view kV2Sqlite = R"sql(
CREATE TABLE deliveries (
  event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
  watch_id INTEGER NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL,
  delivered_ms INTEGER NOT NULL
);
CREATE INDEX deliveries_pending ON deliveries (watch_id, event_id) WHERE state = 'pending';
CREATE INDEX watches_due ON watches (next_scan_ms);
CREATE INDEX events_by_created ON events (created_ms);
)sql";

constexpr absl::string_view kV2Postgresql = R"sql(
CREATE TABLE deliveries (
  event_id BIGINT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
  watch_id BIGINT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until_ms BIGINT NOT NULL,
  delivered_ms BIGINT NOT NULL
);
CREATE INDEX deliveries_pending ON deliveries (watch_id, event_id) WHERE state = 'pending';
CREATE INDEX watches_due ON watches (next_scan_ms);
CREATE INDEX events_by_created ON events (created_ms);
)sql";

// API keys (access/): only the SHA-256 of each key is kept (hash, lowercase hex), never the key. Times are
// BIGINT unix milliseconds as everywhere; expires_at_ms / revoked_at_ms are NULL for "never" / "not revoked", and
// the quotas NULL for "no quota". watches.owner_key_id: the id of the key that created the watch (NULL when the
// server ran without authentication), no foreign key: a revoked key's row stays, and a watch outlives its key.
constexpr absl::string_view kV3Sqlite = R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NULL,
  revoked_at_ms INTEGER NULL,
  quota_candidates_per_hour INTEGER NULL,
  quota_concurrent_streams INTEGER NULL,
  quota_watches INTEGER NULL
);
ALTER TABLE watches ADD COLUMN owner_key_id TEXT NULL;
CREATE INDEX watches_by_owner ON watches (owner_key_id);
)sql";

constexpr absl::string_view kV3Postgresql = R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NULL,
  revoked_at_ms BIGINT NULL,
  quota_candidates_per_hour BIGINT NULL,
  quota_concurrent_streams INTEGER NULL,
  quota_watches INTEGER NULL
);
ALTER TABLE watches ADD COLUMN owner_key_id TEXT NULL;
CREATE INDEX watches_by_owner ON watches (owner_key_id);
)sql";

constexpr std::array<Migration, 3> kMigrations = {{
    {1, "watches, observations, events", kV1Sqlite, kV1Postgresql},
    {2, "the webhook outbox (deliveries) and the indexes of the scheduler and retention", kV2Sqlite, kV2Postgresql},
    {3, "API keys (their hashes, scopes, expiry, quotas) and the key that created each watch", kV3Sqlite,
     kV3Postgresql},
}};
static_assert(kMigrations.size() == static_cast<std::size_t>(kSchemaVersion),
              "one migration per schema version: add the step when kSchemaVersion grows");

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

absl::Status NewerSchemaError(int found) {
  return absl::FailedPreconditionError(absl::StrCat("the store's schema is version ", found,
                                                    ", newer than this squatstreamd knows (", kSchemaVersion,
                                                    "): run a newer squatstreamd, or point --store at another "
                                                    "database"));
}

std::int64_t ToMillis(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<std::int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<std::int64_t>::max();
  return absl::ToUnixMillis(t);
}

absl::Time FromMillis(std::int64_t ms) {
  if (ms == std::numeric_limits<std::int64_t>::min()) return absl::InfinitePast();
  if (ms == std::numeric_limits<std::int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMillis(ms);
}

}  // namespace squatstream::store::internal
