#include "store/postgres_store.h"

#include <endian.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/mutex.h"
#include "store/migrations.h"

namespace squatstream::store {
namespace {

using internal::FromMillis;
using internal::ToMillis;

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

// Column types of the binary results we read (pg_type.oid; fixed since forever).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

// A statement, prepared once per connection under its name. Parameters are $N; their types are inferred from
// the SQL (cast where the context leaves them open).
struct Sql {
  const char* name;
  const char* text;
};

#define SQUATSTREAM_WATCH_COLUMNS                                                                \
  "w.id, w.domain, w.domain_unicode, w.settings, w.created_ms, w.next_scan_ms, w.last_scan_ms, " \
  "w.last_scan_outcome, w.scans, w.baseline_done, "                                              \
  "(SELECT count(*) FROM observations o WHERE o.watch_id = w.id), "                              \
  "(SELECT count(*) FROM observations o WHERE o.watch_id = w.id AND o.verdict IN (1, 4)), "      \
  "coalesce(w.owner_key_id, '')"
constexpr Sql kSelectWatchByDomain{"watch_by_domain",
                                   "SELECT " SQUATSTREAM_WATCH_COLUMNS " FROM watches w WHERE w.domain = $1"};
constexpr Sql kSelectWatchById{"watch_by_id", "SELECT " SQUATSTREAM_WATCH_COLUMNS " FROM watches w WHERE w.id = $1"};
constexpr Sql kListWatches{"list_watches", "SELECT " SQUATSTREAM_WATCH_COLUMNS
                                           " FROM watches w WHERE w.domain > $1 ORDER BY w.domain LIMIT $2"};
#undef SQUATSTREAM_WATCH_COLUMNS
// WatchRow::registered counts the confirmed verdicts REGISTERED and WILDCARD, as numbers in the SQL.
static_assert(v1::DNS_VERDICT_REGISTERED == 1 && v1::DNS_VERDICT_WILDCARD == 4);

constexpr Sql kInsertWatch{
    "insert_watch",
    "INSERT INTO watches (domain, domain_unicode, settings, created_ms, next_scan_ms, last_scan_ms, "
    "last_scan_outcome, scans, baseline_done, lease_owner, lease_until_ms, owner_key_id) "
    "VALUES ($1, $2, $3, $4, $4, $5, '', 0, FALSE, '', $5, nullif($6::text, ''))"};
constexpr Sql kUpdateWatchSettings{
    "update_watch",
    "UPDATE watches SET settings = $2, next_scan_ms = CASE WHEN $3::boolean THEN $4::bigint ELSE next_scan_ms END "
    "WHERE domain = $1"};
constexpr Sql kDeleteWatch{"delete_watch", "DELETE FROM watches WHERE domain = $1"};
constexpr Sql kScheduleScan{"schedule_scan", "UPDATE watches SET next_scan_ms = $2 WHERE domain = $1"};
// Replicas claiming at once: each skips the rows another's open claim has locked, so they get different watches.
constexpr Sql kSelectDue{"select_due",
                         "SELECT id FROM watches WHERE next_scan_ms <= $1 AND lease_until_ms <= $1 "
                         "ORDER BY next_scan_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED"};
constexpr Sql kTakeLease{"take_lease", "UPDATE watches SET lease_owner = $2, lease_until_ms = $3 WHERE id = $1"};
constexpr Sql kRenewLease{"renew_lease", "UPDATE watches SET lease_until_ms = $3 WHERE id = $1 AND lease_owner = $2"};
constexpr Sql kReleaseLease{
    "release_lease",
    "UPDATE watches SET lease_owner = '', lease_until_ms = $5, next_scan_ms = $3, last_scan_outcome = $4 "
    "WHERE id = $1 AND lease_owner = $2"};
constexpr Sql kSelectLease{"select_lease",
                           "SELECT lease_owner, settings, last_scan_ms FROM watches WHERE id = $1 FOR UPDATE"};
constexpr Sql kFinishScan{
    "finish_scan",
    "UPDATE watches SET last_scan_ms = $2, "
    "next_scan_ms = CASE WHEN $7::boolean AND next_scan_ms <> $8::bigint THEN LEAST(next_scan_ms, $3::bigint) "
    "ELSE $3::bigint END, "
    "last_scan_outcome = $4, scans = scans + 1, baseline_done = $5, lease_owner = '', lease_until_ms = $6 "
    "WHERE id = $1"};

constexpr Sql kLoadObservations{
    "load_observations",
    "SELECT candidate, candidate_unicode, kind, verdict, state, ''::bytea, first_seen_ms, last_seen_ms, "
    "last_changed_ms, triage, triage_note, absent FROM observations WHERE watch_id = $1 ORDER BY candidate"};
// Filters as int[] literals (NULL: any), so that one statement serves every combination.
constexpr Sql kListObservations{
    "list_observations",
    "SELECT candidate, candidate_unicode, kind, verdict, state, "
    "CASE WHEN $2::boolean THEN record ELSE ''::bytea END, first_seen_ms, last_seen_ms, last_changed_ms, triage, "
    "triage_note, absent FROM observations WHERE watch_id = $1 AND candidate > $3 "
    "AND ($4::int[] IS NULL OR verdict = ANY($4::int[])) "
    "AND ($5::int[] IS NULL OR triage = ANY($5::int[])) "
    "AND ($6::int[] IS NULL OR kind = ANY($6::int[])) "
    "AND (NOT $7::boolean OR last_changed_ms > first_seen_ms) "
    "ORDER BY candidate LIMIT $8"};
constexpr Sql kSelectObservation{
    "select_observation",
    "SELECT candidate, candidate_unicode, kind, verdict, state, ''::bytea, first_seen_ms, last_seen_ms, "
    "last_changed_ms, triage, triage_note, absent FROM observations WHERE watch_id = $1 AND candidate = $2"};
constexpr Sql kInsertObservation{
    "insert_observation",
    "INSERT INTO observations (watch_id, candidate, candidate_unicode, kind, verdict, first_seen_ms, last_seen_ms, "
    "last_changed_ms, triage, triage_note, state, record, absent) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"};
constexpr Sql kUpdateObservation{
    "update_observation",
    "UPDATE observations SET candidate_unicode = $3, kind = $4, verdict = $5, first_seen_ms = $6, last_seen_ms = $7, "
    "last_changed_ms = $8, state = $9, record = $10, absent = $11 WHERE watch_id = $1 AND candidate = $2"};
// The candidates that dropped out of the scans, in one statement: marked once (an absent row is left as it is).
constexpr Sql kAbsentObservations{
    "absent_observations",
    "UPDATE observations SET absent = TRUE, last_seen_ms = $2 WHERE watch_id = $1 AND candidate = ANY($3::text[]) "
    "AND NOT absent"};
constexpr Sql kAnnotate{"annotate",
                        "UPDATE observations SET triage = $3, triage_note = $4 WHERE watch_id = $1 AND candidate = $2"};

// Events commit in id order (store.h: a cursor reader must never see id N+1 before N). An identity hands out ids
// at insert, not at commit: two transactions could take N and N+1 and commit N+1 first, and a reader in between
// would move its cursor past N for good. So every transaction that writes events first takes one transaction-
// level advisory lock (kEventsLockKey) and holds it to its end: ids are drawn and made visible one transaction
// after another (PostgreSQL makes a commit visible before it releases the transaction's locks). It serializes
// only the end of scans that have events to write (taken after their observations are written); the rest of
// the store does not wait on it.
constexpr Sql kEventsLock{"events_lock", "SELECT pg_advisory_xact_lock($1)"};
constexpr Sql kInsertEvent{"insert_event",
                           "INSERT INTO events (watch_id, created_ms, type, payload) VALUES ($1, $2, $3, $4)"};
constexpr Sql kInsertEventAndDelivery{
    "insert_event_delivery",
    "WITH e AS (INSERT INTO events (watch_id, created_ms, type, payload) VALUES ($1, $2, $3, $4) RETURNING id) "
    "INSERT INTO deliveries (event_id, watch_id, state, attempts, next_attempt_ms, last_error, lease_owner, "
    "lease_until_ms, delivered_ms) SELECT e.id, $1::bigint, 'pending', 0, $2::bigint, '', '', $5::bigint, "
    "$5::bigint FROM e"};
constexpr Sql kListEventsAll{"list_events",
                             "SELECT e.id, e.payload, w.domain FROM events e JOIN watches w ON w.id = e.watch_id "
                             "WHERE e.id > $1 ORDER BY e.id LIMIT $2"};
constexpr Sql kListEventsOfWatch{"list_events_of_watch",
                                 "SELECT e.id, e.payload, w.domain FROM events e JOIN watches w ON w.id = e.watch_id "
                                 "WHERE e.watch_id = $3 AND e.id > $1 ORDER BY e.id LIMIT $2"};
constexpr Sql kPruneEvents{"prune_events",
                           "DELETE FROM events WHERE created_ms < $1 AND NOT EXISTS "
                           "(SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state = 'pending')"};

// Each watch's head: its oldest pending delivery; claimable when due and not leased. Replicas claiming at once
// skip each other's locked heads (and never take a watch's second delivery: only heads are candidates).
constexpr Sql kSelectDeliveries{
    "select_deliveries",
    "WITH heads AS (SELECT watch_id, min(event_id) AS event_id FROM deliveries WHERE state = 'pending' "
    "GROUP BY watch_id) "
    "SELECT d.event_id, d.watch_id, w.settings, d.attempts, e.created_ms, e.payload, w.domain "
    "FROM heads h JOIN deliveries d ON d.event_id = h.event_id JOIN watches w ON w.id = d.watch_id "
    "JOIN events e ON e.id = d.event_id "
    "WHERE d.next_attempt_ms <= $1 AND d.lease_until_ms <= $1 ORDER BY d.next_attempt_ms, d.event_id LIMIT $2 "
    "FOR UPDATE OF d SKIP LOCKED"};
constexpr Sql kLeaseDeliveries{
    "lease_deliveries",
    "UPDATE deliveries SET lease_owner = $2, lease_until_ms = $3 WHERE event_id = ANY($1::bigint[])"};
constexpr Sql kMarkDelivered{
    "mark_delivered",
    "UPDATE deliveries SET state = 'delivered', delivered_ms = $3, lease_owner = '', lease_until_ms = $4 "
    "WHERE event_id = $1 AND lease_owner = $2 AND state = 'pending'"};
constexpr Sql kRetryDelivery{
    "retry_delivery",
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = $3, last_error = $4, lease_owner = '', "
    "lease_until_ms = $5 WHERE event_id = $1 AND lease_owner = $2 AND state = 'pending'"};
constexpr Sql kMarkDead{
    "mark_dead",
    "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = $3, lease_owner = '', "
    "lease_until_ms = $4 WHERE event_id = $1 AND lease_owner = $2 AND state = 'pending'"};
constexpr Sql kLastEventId{
    "last_event_id",
    "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'id')::regclass), 0)::bigint"};
constexpr Sql kCountDeliveries{
    "count_deliveries",
    "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending'), "
    "(SELECT count(*) FROM deliveries WHERE state = 'dead'), "
    "(SELECT min(e.created_ms) FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.state = 'pending')"};

// API keys: the columns in the order ReadApiKey reads them.
#define SQUATSTREAM_KEY_COLUMNS                                                                      \
  "id, name, hash, scopes, created_at_ms, expires_at_ms, revoked_at_ms, quota_candidates_per_hour, " \
  "quota_concurrent_streams::bigint, quota_watches::bigint"
constexpr Sql kInsertApiKey{"insert_api_key",
                            "INSERT INTO api_keys (id, name, hash, scopes, created_at_ms, expires_at_ms, "
                            "revoked_at_ms, quota_candidates_per_hour, quota_concurrent_streams, quota_watches) "
                            "VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $8::bigint, $9::integer, "
                            "$10::integer)"};
constexpr Sql kListApiKeys{"list_api_keys",
                           "SELECT " SQUATSTREAM_KEY_COLUMNS " FROM api_keys ORDER BY created_at_ms, id"};
// A second revocation keeps the first time.
constexpr Sql kRevokeApiKey{"revoke_api_key",
                            "UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, $2::bigint) WHERE id = $1 "
                            "RETURNING " SQUATSTREAM_KEY_COLUMNS};
#undef SQUATSTREAM_KEY_COLUMNS
constexpr Sql kCountWatchesOwnedBy{"count_watches_owned_by", "SELECT count(*) FROM watches WHERE owner_key_id = $1"};

constexpr Sql kSchemaVersionQuery{"schema_version", "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations"};
constexpr Sql kRecordMigration{"record_migration",
                               "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)"};
constexpr Sql kMigrationLock{"migration_lock", "SELECT pg_advisory_lock($1)"};
constexpr Sql kMigrationUnlock{"migration_unlock", "SELECT pg_advisory_unlock($1)"};
constexpr Sql kPing{"ping", "SELECT 1"};

// How many statements CommitScan sends before it reads their results: enough to hide the round trips, few
// enough that the results waiting to be read never fill the socket buffers (where client and server would both
// block writing).
constexpr std::size_t kPipelineChunk = 256;

// A statement's parameters. Numbers and literals go as text; strings and bytes as binary, without a copy (they
// must outlive the call).
class Params {
 public:
  Params& Int(std::int64_t v) { return Owned(absl::StrCat(v)); }
  Params& Time(absl::Time t) { return Int(ToMillis(t)); }
  Params& Bool(bool b) { return Owned(b ? "t" : "f"); }
  Params& Owned(std::string text) {
    p_.push_back({std::move(text), {}, false, false});
    return *this;
  }
  Params& Null() {
    p_.push_back({{}, {}, false, true});
    return *this;
  }
  Params& OptInt(std::optional<std::int64_t> v) { return v.has_value() ? Int(*v) : Null(); }
  Params& OptTime(std::optional<absl::Time> t) { return t.has_value() ? Time(*t) : Null(); }
  Params& Text(absl::string_view v) { return Bytes(v); }
  Params& Bytes(absl::string_view v) {
    p_.push_back({{}, v, true, false});
    return *this;
  }

  int size() const { return static_cast<int>(p_.size()); }
  // Valid until the next change of the parameters.
  void Build(std::vector<const char*>& values, std::vector<int>& lengths, std::vector<int>& formats) const {
    values.clear();
    lengths.clear();
    formats.clear();
    for (const P& p : p_) {
      if (p.null) {
        values.push_back(nullptr);
      } else if (p.binary) {
        values.push_back(p.view.empty() ? "" : p.view.data());
      } else {
        values.push_back(p.owned.c_str());
      }
      lengths.push_back(p.binary ? static_cast<int>(p.view.size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
  }

 private:
  struct P {
    std::string owned;
    absl::string_view view;
    bool binary;
    bool null;
  };
  std::vector<P> p_;
};

// A PostgreSQL array literal of strings ({"a","b"}), for = ANY($n::text[]).
std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

template <typename T>
std::string IntArray(const std::vector<T>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", static_cast<std::int64_t>(values[i]));
  }
  out += '}';
  return out;
}

// A query's result (binary format), cleared with it.
class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  PGresult* get() const { return r_.get(); }
  int rows() const { return PQntuples(r_.get()); }
  std::int64_t affected() const { return std::atoll(PQcmdTuples(r_.get())); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::int64_t Int(int row, int col) const {
    if (IsNull(row, col)) return 0;
    const char* v = PQgetvalue(r_.get(), row, col);
    switch (PQftype(r_.get(), col)) {
      case kInt8Oid: {
        std::uint64_t x;
        std::memcpy(&x, v, sizeof(x));
        return static_cast<std::int64_t>(be64toh(x));
      }
      case kInt4Oid: {
        std::uint32_t x;
        std::memcpy(&x, v, sizeof(x));
        return static_cast<std::int32_t>(be32toh(x));
      }
      case kInt2Oid: {
        std::uint16_t x;
        std::memcpy(&x, v, sizeof(x));
        return static_cast<std::int16_t>(be16toh(x));
      }
      case kBoolOid:
        return v[0] != 0 ? 1 : 0;
      default:
        return 0;
    }
  }
  absl::Time Time(int row, int col) const { return FromMillis(Int(row, col)); }
  std::string Str(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> r_;
};

void IgnoreNotice(void*, const char*) {}

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string dsn, const PostgresOptions& options) : dsn_(std::move(dsn)), options_(options) {
    // The password, only to keep it out of every message (libpq's own messages do not repeat it; a server's
    // might, quoting a DSN it was given).
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(dsn_.c_str(), &error);
    if (parsed != nullptr) {
      for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
        if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) password_ = o->val;
      }
      PQconninfoFree(parsed);
    }
    PQfreemem(error);
  }
  ~PostgresStore() override {
    MutexLock lock(mu_);
    if (conn_ != nullptr) PQfinish(conn_);
  }

  absl::Status Init() {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    return Migrate(options_.migrate_to);
  }

  std::string engine() const override { return "postgresql"; }

  absl::Status Ping() override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    return Run(kPing, Params(), "checking it").status();
  }

  absl::StatusOr<WatchRow> CreateWatch(const WatchRow& watch) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    const absl::Time created = watch.created == absl::InfinitePast() ? absl::Now() : watch.created;
    const std::string settings = watch.settings.SerializeAsString();
    absl::StatusOr<Result> r = Run(kInsertWatch,
                                   Params()
                                       .Text(watch.domain)
                                       .Text(watch.domain_unicode)
                                       .Bytes(settings)
                                       .Time(created)
                                       .Int(kNever)
                                       .Text(watch.owner_key_id),
                                   "creating a watch");
    if (!r.ok()) {
      if (absl::IsAlreadyExists(r.status())) {
        return absl::AlreadyExistsError(absl::StrCat("a watch of ", watch.domain, " exists already"));
      }
      return r.status();
    }
    return GetWatchLocked(kSelectWatchByDomain, Params().Text(watch.domain), watch.domain);
  }

  absl::StatusOr<WatchRow> GetWatch(const std::string& domain) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    return GetWatchLocked(kSelectWatchByDomain, Params().Text(domain), domain);
  }

  absl::StatusOr<std::vector<WatchRow>> ListWatches(const std::string& after_domain, int limit) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kListWatches, Params().Text(after_domain).Int(limit), "listing watches");
    if (!r.ok()) return r.status();
    std::vector<WatchRow> out;
    for (int i = 0; i < r->rows(); ++i) {
      absl::StatusOr<WatchRow> w = ReadWatch(*r, i);
      if (!w.ok()) return w.status();
      out.push_back(*std::move(w));
    }
    return out;
  }

  absl::StatusOr<WatchRow> UpdateWatch(const std::string& domain, const v1::WatchSettings& settings,
                                       std::optional<absl::Time> next_scan) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    const std::string bytes = settings.SerializeAsString();
    absl::StatusOr<Result> r = Run(
        kUpdateWatchSettings,
        Params().Text(domain).Bytes(bytes).Bool(next_scan.has_value()).Time(next_scan.value_or(absl::InfinitePast())),
        "updating a watch");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return NoWatch(domain);
    return GetWatchLocked(kSelectWatchByDomain, Params().Text(domain), domain);
  }

  absl::Status DeleteWatch(const std::string& domain) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kDeleteWatch, Params().Text(domain), "deleting a watch");
    if (!r.ok()) return r.status();
    return r->affected() == 0 ? NoWatch(domain) : absl::OkStatus();
  }

  absl::StatusOr<WatchRow> ScheduleScan(const std::string& domain, absl::Time when) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kScheduleScan, Params().Text(domain).Time(when), "scheduling a scan");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return NoWatch(domain);
    return GetWatchLocked(kSelectWatchByDomain, Params().Text(domain), domain);
  }

  absl::StatusOr<std::optional<WatchRow>> ClaimDueWatch(const std::string& owner, absl::Time now,
                                                        absl::Time lease_until) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    if (absl::Status s = Simple("BEGIN", "claiming a watch"); !s.ok()) return s;
    absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { Rollback(); };
    absl::StatusOr<Result> due = Run(kSelectDue, Params().Time(now), "claiming a watch");
    if (!due.ok()) return due.status();
    if (due->rows() == 0) return std::optional<WatchRow>();
    const std::int64_t id = due->Int(0, 0);
    absl::StatusOr<Result> taken = Run(kTakeLease, Params().Int(id).Text(owner).Time(lease_until), "claiming a watch");
    if (!taken.ok()) return taken.status();
    absl::StatusOr<WatchRow> row = GetWatchLocked(kSelectWatchById, Params().Int(id), absl::StrCat("id ", id));
    if (!row.ok()) return row.status();
    if (absl::Status s = Simple("COMMIT", "claiming a watch"); !s.ok()) return s;
    std::move(rollback).Cancel();
    return std::optional<WatchRow>(*std::move(row));
  }

  absl::Status RenewLease(std::int64_t watch_id, const std::string& owner, absl::Time lease_until) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r =
        Run(kRenewLease, Params().Int(watch_id).Text(owner).Time(lease_until), "renewing a lease");
    if (!r.ok()) return r.status();
    return r->affected() == 0 ? LeaseLost(watch_id, owner) : absl::OkStatus();
  }

  absl::Status ReleaseLease(std::int64_t watch_id, const std::string& owner, absl::Time next_scan,
                            const std::string& outcome) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r =
        Run(kReleaseLease, Params().Int(watch_id).Text(owner).Time(next_scan).Text(outcome).Int(kNever),
            "releasing a lease");
    if (!r.ok()) return r.status();
    return r->affected() == 0 ? LeaseLost(watch_id, owner) : absl::OkStatus();
  }

  absl::StatusOr<std::vector<ObservationRow>> LoadObservations(std::int64_t watch_id) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kLoadObservations, Params().Int(watch_id), "loading observations");
    if (!r.ok()) return r.status();
    return ReadObservations(*r);
  }

  absl::StatusOr<std::vector<ObservationRow>> ListObservations(std::int64_t watch_id, const ObservationFilter& filter,
                                                               const std::string& after_candidate, int limit) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    Params p;
    p.Int(watch_id).Bool(filter.include_records).Text(after_candidate);
    if (filter.verdicts.empty())
      p.Null();
    else
      p.Owned(IntArray(filter.verdicts));
    if (filter.triage.empty())
      p.Null();
    else
      p.Owned(IntArray(filter.triage));
    if (filter.kinds.empty())
      p.Null();
    else
      p.Owned(IntArray(filter.kinds));
    p.Bool(filter.changed_only).Int(limit);
    absl::StatusOr<Result> r = Run(kListObservations, p, "listing observations");
    if (!r.ok()) return r.status();
    return ReadObservations(*r);
  }

  absl::Status CommitScan(const ScanCommit& commit) override;

  absl::StatusOr<ObservationRow> Annotate(std::int64_t watch_id, const std::string& candidate, v1::Triage triage,
                                          const std::string& note) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r =
        Run(kAnnotate, Params().Int(watch_id).Text(candidate).Int(triage).Text(note), "annotating a candidate");
    if (!r.ok()) return r.status();
    if (r->affected() == 0) return absl::NotFoundError(absl::StrCat("watch ", watch_id, " never observed ", candidate));
    absl::StatusOr<Result> row =
        Run(kSelectObservation, Params().Int(watch_id).Text(candidate), "annotating a candidate");
    if (!row.ok()) return row.status();
    std::vector<ObservationRow> rows = ReadObservations(*row);
    if (rows.empty()) return absl::NotFoundError(absl::StrCat("watch ", watch_id, " never observed ", candidate));
    return std::move(rows.front());
  }

  absl::StatusOr<std::vector<v1::WatchEvent>> ListEvents(std::int64_t watch_id, std::uint64_t after_id,
                                                         int limit) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    Params p;
    p.Int(ClampId(after_id)).Int(limit);
    if (watch_id > 0) p.Int(watch_id);
    absl::StatusOr<Result> r = Run(watch_id > 0 ? kListEventsOfWatch : kListEventsAll, p, "listing events");
    if (!r.ok()) return r.status();
    std::vector<v1::WatchEvent> out;
    out.reserve(static_cast<std::size_t>(r->rows()));
    for (int i = 0; i < r->rows(); ++i) {
      v1::WatchEvent& e = out.emplace_back();
      if (!e.ParseFromString(r->Str(i, 1))) return Corrupt("event", r->Int(i, 0));
      e.set_id(static_cast<std::uint64_t>(r->Int(i, 0)));
      e.set_watch(r->Str(i, 2));
    }
    return out;
  }

  absl::StatusOr<std::vector<DeliveryRow>> ClaimDeliveries(const std::string& owner, absl::Time now,
                                                           absl::Time lease_until, int limit) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    if (absl::Status s = Simple("BEGIN", "claiming deliveries"); !s.ok()) return s;
    absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { Rollback(); };
    absl::StatusOr<Result> r = Run(kSelectDeliveries, Params().Time(now).Int(limit), "claiming deliveries");
    if (!r.ok()) return r.status();
    std::vector<DeliveryRow> out;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < r->rows(); ++i) {
      DeliveryRow& d = out.emplace_back();
      d.event_id = r->Int(i, 0);
      d.watch_id = r->Int(i, 1);
      v1::WatchSettings settings;
      if (!settings.ParseFromString(r->Str(i, 2))) return Corrupt("the settings of watch", d.watch_id);
      d.url = settings.webhook_url();
      d.secret = settings.webhook_secret();
      d.attempts = static_cast<int>(r->Int(i, 3));
      d.created = r->Time(i, 4);
      if (!d.event.ParseFromString(r->Str(i, 5))) return Corrupt("event", d.event_id);
      d.event.set_id(static_cast<std::uint64_t>(d.event_id));
      d.event.set_watch(r->Str(i, 6));
      ids.push_back(d.event_id);
    }
    if (!ids.empty()) {
      absl::StatusOr<Result> leased =
          Run(kLeaseDeliveries, Params().Owned(IntArray(ids)).Text(owner).Time(lease_until), "claiming deliveries");
      if (!leased.ok()) return leased.status();
    }
    if (absl::Status s = Simple("COMMIT", "claiming deliveries"); !s.ok()) return s;
    std::move(rollback).Cancel();
    return out;
  }

  absl::Status MarkDelivered(std::int64_t event_id, const std::string& owner, absl::Time at) override {
    return EndDelivery(kMarkDelivered, event_id, owner, "marking a delivery delivered",
                       [&](Params& p) { p.Time(at).Int(kNever); });
  }
  absl::Status RetryDelivery(std::int64_t event_id, const std::string& owner, absl::Time next_attempt,
                             const std::string& error) override {
    return EndDelivery(kRetryDelivery, event_id, owner, "rescheduling a delivery",
                       [&](Params& p) { p.Time(next_attempt).Text(error).Int(kNever); });
  }
  absl::Status MarkDead(std::int64_t event_id, const std::string& owner, const std::string& error) override {
    return EndDelivery(kMarkDead, event_id, owner, "marking a delivery dead",
                       [&](Params& p) { p.Text(error).Int(kNever); });
  }

  absl::StatusOr<DeliveryCounts> CountDeliveries() override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kCountDeliveries, Params(), "counting deliveries");
    if (!r.ok()) return r.status();
    DeliveryCounts c;
    c.pending = static_cast<std::uint64_t>(r->Int(0, 0));
    c.dead = static_cast<std::uint64_t>(r->Int(0, 1));
    c.oldest_pending = r->IsNull(0, 2) ? absl::InfinitePast() : r->Time(0, 2);
    return c;
  }

  absl::StatusOr<std::uint64_t> LastEventId() override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kLastEventId, Params(), "reading the last event id");
    if (!r.ok()) return r.status();
    return static_cast<std::uint64_t>(r->Int(0, 0));
  }

  absl::StatusOr<std::uint64_t> PruneEvents(absl::Time before) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kPruneEvents, Params().Time(before), "pruning events");
    if (!r.ok()) return r.status();
    return static_cast<std::uint64_t>(r->affected());
  }

  absl::Status CreateApiKey(const ApiKeyRow& key) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    const absl::Time created = key.created == absl::InfinitePast() ? absl::Now() : key.created;
    absl::StatusOr<Result> r = Run(kInsertApiKey,
                                   Params()
                                       .Text(key.id)
                                       .Text(key.name)
                                       .Text(key.hash)
                                       .Text(key.scopes)
                                       .Time(created)
                                       .OptTime(key.expires)
                                       .OptTime(key.revoked)
                                       .OptInt(key.quota_candidates_per_hour)
                                       .OptInt(key.quota_concurrent_streams)
                                       .OptInt(key.quota_watches),
                                   "creating an API key");
    if (!r.ok()) {
      if (absl::IsAlreadyExists(r.status())) {
        return absl::AlreadyExistsError(absl::StrCat("an API key with the id ", key.id, " exists already"));
      }
      return r.status();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ApiKeyRow>> ListApiKeys() override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kListApiKeys, Params(), "listing API keys");
    if (!r.ok()) return r.status();
    std::vector<ApiKeyRow> out;
    out.reserve(static_cast<std::size_t>(r->rows()));
    for (int i = 0; i < r->rows(); ++i) out.push_back(ReadApiKey(*r, i));
    return out;
  }

  absl::StatusOr<ApiKeyRow> RevokeApiKey(const std::string& id, absl::Time at) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kRevokeApiKey, Params().Text(id).Time(at), "revoking an API key");
    if (!r.ok()) return r.status();
    if (r->rows() == 0) {
      return absl::NotFoundError(absl::StrCat("no API key with the id ", id, " (squatstreamd keys list shows them)"));
    }
    return ReadApiKey(*r, 0);
  }

  absl::StatusOr<std::int64_t> CountWatchesOwnedBy(const std::string& key_id) override {
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    absl::StatusOr<Result> r = Run(kCountWatchesOwnedBy, Params().Text(key_id), "counting a key's watches");
    if (!r.ok()) return r.status();
    return r->Int(0, 0);
  }

 private:
  static std::int64_t ClampId(std::uint64_t id) {
    return id > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(id);
  }
  static absl::Status NoWatch(const std::string& domain) {
    return absl::NotFoundError(absl::StrCat("no watch of ", domain));
  }
  static absl::Status LeaseLost(std::int64_t watch_id, const std::string& owner) {
    return absl::AbortedError(absl::StrCat("the lease of watch ", watch_id, " is no longer held by ", owner));
  }

  // "postgresql HOST:PORT/DATABASE", as the connection says (no user, no password).
  std::string Where() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (conn_ == nullptr) return "postgresql";
    const char* host = PQhost(conn_);
    const char* port = PQport(conn_);
    const char* db = PQdb(conn_);
    return absl::StrCat("postgresql ", host != nullptr ? host : "", ":", port != nullptr ? port : "", "/",
                        db != nullptr ? db : "");
  }
  std::string Scrub(absl::string_view message) const {
    std::string out(absl::StripTrailingAsciiWhitespace(message));
    if (!password_.empty()) out = absl::StrReplaceAll(out, {{password_, "***"}});
    // Any URI's user:password@ a server's message might quote, whatever its password.
    for (std::size_t at = out.find("://"); at != std::string::npos; at = out.find("://", at + 3)) {
      const std::size_t start = at + 3;
      const std::size_t end = out.find_first_of("@/ \"'", start);
      if (end == std::string::npos || out[end] != '@') continue;
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < end) out.replace(colon + 1, end - colon - 1, "***");
    }
    absl::StrReplaceAll({{"\n", " "}, {"\t", " "}}, &out);
    return out;
  }
  absl::Status Corrupt(absl::string_view what, std::int64_t id) {
    return absl::DataLossError(absl::StrCat("postgresql: ", what, " ", id, " holds bytes that do not parse"));
  }

  // UNAVAILABLE for a connection that failed or broke, a server shutting down, out of resources (disk full) or
  // read-only (a standby); ALREADY_EXISTS for a unique violation (the callers say which); INTERNAL for the rest.
  absl::Status Error(const PGresult* r, absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state != nullptr ? state : "";
    const std::string message =
        absl::StrCat(Where(), ": ", what, ": ", Scrub(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_)));
    if (PQstatus(conn_) != CONNECTION_OK || sqlstate.empty() || absl::StartsWith(sqlstate, "08") ||
        absl::StartsWith(sqlstate, "57P") || absl::StartsWith(sqlstate, "53") || sqlstate == "25006") {
      return absl::UnavailableError(message);
    }
    if (sqlstate == "23505") return absl::AlreadyExistsError(message);
    return absl::InternalError(absl::StrCat(message, " (SQLSTATE ", sqlstate, ")"));
  }

  // Makes sure there is a working connection: the first, or a new one after the last call found it broken.
  absl::Status Connect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK && PQpipelineStatus(conn_) == PQ_PIPELINE_OFF &&
        PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      return absl::OkStatus();
    }
    // None yet, or the last call found it broken (or left it mid-transaction: its rollback failed too): a new
    // session.
    if (conn_ != nullptr) PQfinish(conn_);
    prepared_.clear();
    // connect_timeout first: the DSN's own, when it has one, comes later and wins.
    const std::string timeout = absl::StrCat(std::max<std::int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout)));
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {timeout.c_str(), "squatstreamd", dsn_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr) return absl::UnavailableError("postgresql: cannot connect: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat(Where(), ": cannot connect: ", Scrub(PQerrorMessage(conn_))));
    }
    PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
    return absl::OkStatus();
  }

  absl::Status Prepare(const Sql& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (prepared_.contains(sql.name)) return absl::OkStatus();
    Result r(PQprepare(conn_, sql.name, sql.text, 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Error(r.get(), "preparing a statement");
    prepared_.insert(sql.name);
    return absl::OkStatus();
  }

  absl::StatusOr<Result> Run(const Sql& sql, const Params& params, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (absl::Status s = Prepare(sql); !s.ok()) return s;
    params.Build(values_, lengths_, formats_);
    Result r(PQexecPrepared(conn_, sql.name, params.size(), values_.data(), lengths_.data(), formats_.data(),
                            /*resultFormat=*/1));
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error(r.get(), what);
    return r;
  }

  // A statement without parameters (BEGIN, COMMIT, a migration's script).
  absl::Status Simple(const char* sql, absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Result r(PQexec(conn_, sql));
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Error(r.get(), what);
    return absl::OkStatus();
  }
  void Rollback() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
  }

  template <typename BindFn>
  absl::Status EndDelivery(const Sql& sql, std::int64_t event_id, const std::string& owner, absl::string_view what,
                           BindFn bind) {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Connect(); !s.ok()) return s;
    Params p;
    p.Int(event_id).Text(owner);
    bind(p);
    absl::StatusOr<Result> r = Run(sql, p, what);
    if (!r.ok()) return r.status();
    if (r->affected() == 0) {
      return absl::AbortedError(
          absl::StrCat("the delivery of event ", event_id, " is no longer held by ", owner, " (or has ended)"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<WatchRow> ReadWatch(const Result& r, int i) {
    WatchRow w;
    w.id = r.Int(i, 0);
    w.domain = r.Str(i, 1);
    w.domain_unicode = r.Str(i, 2);
    if (!w.settings.ParseFromString(r.Str(i, 3))) return Corrupt("the settings of watch", w.id);
    w.created = r.Time(i, 4);
    w.next_scan = r.Time(i, 5);
    w.last_scan = r.Time(i, 6);
    w.last_scan_outcome = r.Str(i, 7);
    w.scans = static_cast<std::uint64_t>(r.Int(i, 8));
    w.baseline_done = r.Int(i, 9) != 0;
    w.observed = static_cast<std::uint64_t>(r.Int(i, 10));
    w.registered = static_cast<std::uint64_t>(r.Int(i, 11));
    w.owner_key_id = r.Str(i, 12);
    return w;
  }
  static ApiKeyRow ReadApiKey(const Result& r, int i) {
    ApiKeyRow k;
    k.id = r.Str(i, 0);
    k.name = r.Str(i, 1);
    k.hash = r.Str(i, 2);
    k.scopes = r.Str(i, 3);
    k.created = r.Time(i, 4);
    if (!r.IsNull(i, 5)) k.expires = r.Time(i, 5);
    if (!r.IsNull(i, 6)) k.revoked = r.Time(i, 6);
    if (!r.IsNull(i, 7)) k.quota_candidates_per_hour = r.Int(i, 7);
    if (!r.IsNull(i, 8)) k.quota_concurrent_streams = r.Int(i, 8);
    if (!r.IsNull(i, 9)) k.quota_watches = r.Int(i, 9);
    return k;
  }
  absl::StatusOr<WatchRow> GetWatchLocked(const Sql& sql, const Params& params, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<Result> r = Run(sql, params, "reading a watch");
    if (!r.ok()) return r.status();
    if (r->rows() == 0) return NoWatch(name);
    return ReadWatch(*r, 0);
  }
  static std::vector<ObservationRow> ReadObservations(const Result& r) {
    std::vector<ObservationRow> out(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      ObservationRow& o = out[static_cast<std::size_t>(i)];
      o.candidate = r.Str(i, 0);
      o.candidate_unicode = r.Str(i, 1);
      o.kind = static_cast<v1::PermutationKind>(r.Int(i, 2));
      o.verdict = static_cast<v1::DnsVerdict>(r.Int(i, 3));
      o.state = r.Str(i, 4);
      o.record = r.Str(i, 5);
      o.first_seen = r.Time(i, 6);
      o.last_seen = r.Time(i, 7);
      o.last_changed = r.Time(i, 8);
      o.triage = static_cast<v1::Triage>(r.Int(i, 9));
      o.triage_note = r.Str(i, 10);
      o.absent = r.Int(i, 11) != 0;
    }
    return out;
  }

  absl::Status Migrate(int target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // One statement of CommitScan's pipeline: its SQL, its parameters, and whether it must change exactly one row
  // (the error when it does not).
  struct Op {
    const Sql* sql;
    Params params;
    absl::Status unless_one_row;
  };
  absl::Status RunPipeline(std::vector<Op>& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dsn_;
  const PostgresOptions options_;
  std::string password_;
  // One connection, so one lock: libpq's connection is not thread-safe, and a transaction's statements must not
  // interleave with another thread's. Replicas (and tests that want several) open several stores.
  mutable Mutex mu_;
  PGconn* conn_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The statements prepared on conn_ (forgotten with it).
  absl::flat_hash_set<std::string> prepared_ ABSL_GUARDED_BY(mu_);
  // Run's parameter arrays, reused.
  std::vector<const char*> values_ ABSL_GUARDED_BY(mu_);
  std::vector<int> lengths_ ABSL_GUARDED_BY(mu_);
  std::vector<int> formats_ ABSL_GUARDED_BY(mu_);
};

absl::Status PostgresStore::Migrate(int target) {
  // Replicas starting at once: one migrates, the others wait here and then find nothing left to do.
  const Params key = Params().Int(internal::kMigrationLockKey);
  if (absl::StatusOr<Result> r = Run(kMigrationLock, key, "locking the migrations"); !r.ok()) return r.status();
  absl::Cleanup unlock = [this, &key]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (PQstatus(conn_) == CONNECTION_OK) (void)Run(kMigrationUnlock, key, "unlocking the migrations");
  };
  const std::string create(internal::kCreateSchemaMigrations);
  if (absl::Status s = Simple(create.c_str(), "creating schema_migrations"); !s.ok()) return s;
  absl::StatusOr<Result> v = Run(kSchemaVersionQuery, Params(), "reading its schema version");
  if (!v.ok()) return v.status();
  const std::int64_t version = v->Int(0, 0);
  if (version > kSchemaVersion) return internal::NewerSchemaError(static_cast<int>(version));
  for (const internal::Migration& m : internal::Migrations()) {
    if (m.version > target) break;
    if (m.version <= version) continue;
    if (absl::Status s = Simple("BEGIN", "migrating"); !s.ok()) return s;
    absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { Rollback(); };
    const std::string sql(m.postgresql);
    if (absl::Status s = Simple(sql.c_str(), absl::StrCat("applying migration ", m.version, " (", m.description, ")"));
        !s.ok()) {
      return s;
    }
    if (absl::StatusOr<Result> r = Run(kRecordMigration, Params().Int(m.version).Time(absl::Now()), "migrating");
        !r.ok()) {
      return r.status();
    }
    if (absl::Status s = Simple("COMMIT", "migrating"); !s.ok()) return s;
    std::move(rollback).Cancel();
  }
  return absl::OkStatus();
}

absl::Status PostgresStore::RunPipeline(std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (absl::Status s = Prepare(*op.sql); !s.ok()) return s;
  }
  if (PQenterPipelineMode(conn_) != 1) return Error(nullptr, "committing a scan");
  absl::Status failed;
  for (std::size_t begin = 0; begin < ops.size() && failed.ok(); begin += kPipelineChunk) {
    const std::size_t end = std::min(ops.size(), begin + kPipelineChunk);
    std::size_t sent = begin;
    for (; sent < end; ++sent) {
      ops[sent].params.Build(values_, lengths_, formats_);
      if (PQsendQueryPrepared(conn_, ops[sent].sql->name, ops[sent].params.size(), values_.data(), lengths_.data(),
                              formats_.data(), 1) != 1) {
        failed = Error(nullptr, "committing a scan");
        break;
      }
    }
    if (PQpipelineSync(conn_) != 1) {
      failed = Error(nullptr, "committing a scan");
      break;
    }
    // Each statement's result (NULL after each), then the sync's. After a failure the rest are
    // PGRES_PIPELINE_ABORTED.
    std::size_t next = begin;
    for (;;) {
      PGresult* raw = PQgetResult(conn_);
      if (raw == nullptr) {
        if (PQstatus(conn_) != CONNECTION_OK) {
          if (failed.ok()) failed = Error(nullptr, "committing a scan");
          break;
        }
        continue;
      }
      Result r(raw);
      const ExecStatusType status = PQresultStatus(raw);
      if (status == PGRES_PIPELINE_SYNC) break;
      if (status == PGRES_PIPELINE_ABORTED) {
        ++next;
        continue;
      }
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        if (failed.ok()) failed = Error(raw, "committing a scan");
      } else if (next < sent && !ops[next].unless_one_row.ok() && r.affected() != 1 && failed.ok()) {
        failed = ops[next].unless_one_row;
      }
      ++next;
    }
  }
  if (PQstatus(conn_) == CONNECTION_OK && PQexitPipelineMode(conn_) != 1 && failed.ok()) {
    failed = Error(nullptr, "committing a scan");
  }
  return failed;
}

absl::Status PostgresStore::CommitScan(const ScanCommit& commit) {
  MutexLock lock(mu_);
  if (absl::Status s = Connect(); !s.ok()) return s;
  if (absl::Status s = Simple("BEGIN", "committing a scan"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { Rollback(); };
  // The lease first (the row locked to the end: a claim skips it, a renewal waits), so that a lost lease writes
  // nothing.
  absl::StatusOr<Result> lease = Run(kSelectLease, Params().Int(commit.watch_id), "committing a scan");
  if (!lease.ok()) return lease.status();
  if (lease->rows() == 0) return absl::AbortedError(absl::StrCat("watch ", commit.watch_id, " was deleted"));
  if (lease->Str(0, 0) != commit.lease_owner || commit.lease_owner.empty()) {
    return LeaseLost(commit.watch_id, commit.lease_owner);
  }
  v1::WatchSettings settings;
  if (!settings.ParseFromString(lease->Str(0, 1))) return Corrupt("the settings of watch", commit.watch_id);
  const bool webhook = !settings.webhook_url().empty();
  const absl::Time previous_scan = lease->Time(0, 2);  // the absent candidates' last_seen

  std::vector<Op> ops;
  ops.reserve(commit.inserts.size() + commit.updates.size() + commit.events.size() + 3);
  for (const ObservationRow& o : commit.inserts) {
    ops.push_back({&kInsertObservation, Params(), absl::OkStatus()});
    Params& p = ops.back().params;
    p.Int(commit.watch_id)
        .Text(o.candidate)
        .Text(o.candidate_unicode)
        .Int(o.kind)
        .Int(o.verdict)
        .Time(o.first_seen)
        .Time(o.last_seen)
        .Time(o.last_changed)
        .Int(o.triage)
        .Text(o.triage_note)
        .Bytes(o.state)
        .Bytes(o.record)
        .Bool(o.absent);
  }
  for (const ObservationRow& o : commit.updates) {
    ops.push_back({&kUpdateObservation, Params(),
                   absl::NotFoundError(absl::StrCat("watch ", commit.watch_id, " never observed ", o.candidate,
                                                    " (an update of it)"))});
    ops.back()
        .params.Int(commit.watch_id)
        .Text(o.candidate)
        .Text(o.candidate_unicode)
        .Int(o.kind)
        .Int(o.verdict)
        .Time(o.first_seen)
        .Time(o.last_seen)
        .Time(o.last_changed)
        .Bytes(o.state)
        .Bytes(o.record)
        .Bool(o.absent);
  }
  if (!commit.absent.empty()) {
    ops.push_back({&kAbsentObservations, Params(), absl::OkStatus()});
    ops.back().params.Int(commit.watch_id).Time(previous_scan).Owned(TextArray(commit.absent));
  }
  std::vector<std::string> payloads;
  payloads.reserve(commit.events.size());
  if (!commit.events.empty()) {
    ops.push_back({&kEventsLock, Params(), absl::OkStatus()});
    ops.back().params.Int(internal::kEventsLockKey);
    for (const v1::WatchEvent& e : commit.events) {
      // The id and the watch are columns; a missing time is the scan's.
      v1::WatchEvent stored = e;
      stored.clear_id();
      stored.clear_watch();
      if (!stored.has_time()) stored.mutable_time()->set_seconds(absl::ToUnixSeconds(commit.scanned_at));
      const absl::Time created =
          absl::FromUnixSeconds(stored.time().seconds()) + absl::Nanoseconds(stored.time().nanos());
      payloads.push_back(stored.SerializeAsString());
      ops.push_back({webhook ? &kInsertEventAndDelivery : &kInsertEvent, Params(), absl::OkStatus()});
      ops.back().params.Int(commit.watch_id).Time(created).Int(stored.type()).Bytes(payloads.back());
      if (webhook) ops.back().params.Int(kNever);
    }
  }
  ops.push_back({&kFinishScan, Params(), LeaseLost(commit.watch_id, commit.lease_owner)});
  ops.back()
      .params.Int(commit.watch_id)
      .Time(commit.scanned_at)
      .Time(commit.next_scan)
      .Text(commit.outcome)
      .Bool(commit.baseline_done)
      .Int(kNever)
      .Bool(commit.claimed_next_scan != absl::InfinitePast())
      .Time(commit.claimed_next_scan == absl::InfinitePast() ? absl::UnixEpoch() : commit.claimed_next_scan);
  if (absl::Status s = RunPipeline(ops); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "watch ", commit.watch_id, " observed a candidate of this commit's inserts already: ", s.message()));
    }
    return s;
  }
  if (absl::Status s = Simple("COMMIT", "committing a scan"); !s.ok()) return s;
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& dsn, const PostgresOptions& options) {
  // A DSN that does not parse is a configuration error, said without repeating the DSN (libpq's message quotes
  // it, password and all).
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &error);
  if (parsed == nullptr) {
    // libpq's message quotes the piece it could not read — often part of the password: not repeated.
    PQfreemem(error);
    return absl::InvalidArgumentError(
        "the PostgreSQL connection string does not parse (libpq's key=value or postgresql://user:password@host:port/db "
        "form; in a URI, characters such as % @ : / in the password are written percent-encoded: %25 %40 %3A %2F)");
  }
  PQconninfoFree(parsed);
  PQfreemem(error);
  auto store = std::make_unique<PostgresStore>(dsn, options);
  if (absl::Status s = store->Init(); !s.ok()) return s;
  return store;
}

}  // namespace squatstream::store
