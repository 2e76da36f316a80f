#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/mutex.h"
#include "store/migrations.h"

namespace squatstream::store {
namespace {

using internal::FromMillis;
using internal::ToMillis;

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();

// The SQL, one statement each (prepared once, cached by its text's address). Parameters are numbered (?N).
#define SQUATSTREAM_WATCH_COLUMNS                                                                \
  "w.id, w.domain, w.domain_unicode, w.settings, w.created_ms, w.next_scan_ms, w.last_scan_ms, " \
  "w.last_scan_outcome, w.scans, w.baseline_done, "                                              \
  "(SELECT count(*) FROM observations o WHERE o.watch_id = w.id), "                              \
  "(SELECT count(*) FROM observations o WHERE o.watch_id = w.id AND o.verdict IN (1, 4)), "      \
  "coalesce(w.owner_key_id, '')"
constexpr char kSelectWatchByDomain[] = "SELECT " SQUATSTREAM_WATCH_COLUMNS " FROM watches w WHERE w.domain = ?1";
constexpr char kSelectWatchById[] = "SELECT " SQUATSTREAM_WATCH_COLUMNS " FROM watches w WHERE w.id = ?1";
constexpr char kListWatches[] =
    "SELECT " SQUATSTREAM_WATCH_COLUMNS " FROM watches w WHERE w.domain > ?1 ORDER BY w.domain LIMIT ?2";
#undef SQUATSTREAM_WATCH_COLUMNS
// WatchRow::registered counts the confirmed verdicts REGISTERED and WILDCARD, as numbers in the SQL.
static_assert(v1::DNS_VERDICT_REGISTERED == 1 && v1::DNS_VERDICT_WILDCARD == 4);
constexpr char kInsertWatch[] =
    "INSERT INTO watches (domain, domain_unicode, settings, created_ms, next_scan_ms, last_scan_ms, "
    "last_scan_outcome, scans, baseline_done, lease_owner, lease_until_ms, owner_key_id) "
    "VALUES (?1, ?2, ?3, ?4, ?4, ?5, '', 0, 0, '', ?5, nullif(?6, ''))";
constexpr char kUpdateWatchSettings[] =
    "UPDATE watches SET settings = ?2, next_scan_ms = CASE WHEN ?3 THEN ?4 ELSE next_scan_ms END "
    "WHERE domain = ?1";
constexpr char kDeleteWatch[] = "DELETE FROM watches WHERE domain = ?1";
constexpr char kScheduleScan[] = "UPDATE watches SET next_scan_ms = ?2 WHERE domain = ?1";
constexpr char kSelectDue[] =
    "SELECT id FROM watches WHERE next_scan_ms <= ?1 AND lease_until_ms <= ?1 ORDER BY next_scan_ms, id LIMIT 1";
constexpr char kTakeLease[] = "UPDATE watches SET lease_owner = ?2, lease_until_ms = ?3 WHERE id = ?1";
constexpr char kRenewLease[] = "UPDATE watches SET lease_until_ms = ?3 WHERE id = ?1 AND lease_owner = ?2";
constexpr char kReleaseLease[] =
    "UPDATE watches SET lease_owner = '', lease_until_ms = ?5, next_scan_ms = ?3, last_scan_outcome = ?4 "
    "WHERE id = ?1 AND lease_owner = ?2";
constexpr char kSelectLease[] = "SELECT lease_owner, settings, last_scan_ms FROM watches WHERE id = ?1";
constexpr char kFinishScan[] =
    "UPDATE watches SET last_scan_ms = ?2, "
    "next_scan_ms = CASE WHEN ?7 = 1 AND next_scan_ms <> ?8 THEN min(next_scan_ms, ?3) ELSE ?3 END, "
    "last_scan_outcome = ?4, scans = scans + 1, baseline_done = ?5, lease_owner = '', lease_until_ms = ?6 "
    "WHERE id = ?1";

// Observations: the columns in the order ReadObservation reads them.
constexpr char kLoadObservations[] =
    "SELECT candidate, candidate_unicode, kind, verdict, state, x'', first_seen_ms, last_seen_ms, last_changed_ms, "
    "triage, triage_note, absent FROM observations WHERE watch_id = ?1 ORDER BY candidate";
// Filters as JSON arrays of enum numbers ('[]': any), so that one statement serves every combination.
constexpr char kListObservations[] =
    "SELECT candidate, candidate_unicode, kind, verdict, state, CASE WHEN ?2 THEN record ELSE x'' END, "
    "first_seen_ms, last_seen_ms, last_changed_ms, triage, triage_note, absent FROM observations "
    "WHERE watch_id = ?1 AND candidate > ?3 "
    "AND (?4 = '[]' OR verdict IN (SELECT value FROM json_each(?4))) "
    "AND (?5 = '[]' OR triage IN (SELECT value FROM json_each(?5))) "
    "AND (?6 = '[]' OR kind IN (SELECT value FROM json_each(?6))) "
    "AND (NOT ?7 OR last_changed_ms > first_seen_ms) "
    "ORDER BY candidate LIMIT ?8";
constexpr char kSelectObservation[] =
    "SELECT candidate, candidate_unicode, kind, verdict, state, x'', first_seen_ms, last_seen_ms, last_changed_ms, "
    "triage, triage_note, absent FROM observations WHERE watch_id = ?1 AND candidate = ?2";
constexpr char kInsertObservation[] =
    "INSERT INTO observations (watch_id, candidate, candidate_unicode, kind, verdict, first_seen_ms, last_seen_ms, "
    "last_changed_ms, triage, triage_note, state, record, absent) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kUpdateObservation[] =
    "UPDATE observations SET candidate_unicode = ?3, kind = ?4, verdict = ?5, first_seen_ms = ?6, last_seen_ms = ?7, "
    "last_changed_ms = ?8, state = ?9, record = ?10, absent = ?11 WHERE watch_id = ?1 AND candidate = ?2";
// A candidate that dropped out of the scans: marked once (an absent row is left as it is).
constexpr char kAbsentObservation[] =
    "UPDATE observations SET absent = 1, last_seen_ms = ?3 WHERE watch_id = ?1 AND candidate = ?2 AND absent = 0";
constexpr char kAnnotate[] =
    "UPDATE observations SET triage = ?3, triage_note = ?4 WHERE watch_id = ?1 AND candidate = ?2";

constexpr char kInsertEvent[] = "INSERT INTO events (watch_id, created_ms, type, payload) VALUES (?1, ?2, ?3, ?4)";
constexpr char kInsertDelivery[] =
    "INSERT INTO deliveries (event_id, watch_id, state, attempts, next_attempt_ms, last_error, lease_owner, "
    "lease_until_ms, delivered_ms) VALUES (?1, ?2, 'pending', 0, ?3, '', '', ?4, ?4)";
constexpr char kListEventsAll[] =
    "SELECT e.id, e.payload, w.domain FROM events e JOIN watches w ON w.id = e.watch_id WHERE e.id > ?1 "
    "ORDER BY e.id LIMIT ?2";
constexpr char kListEventsOfWatch[] =
    "SELECT e.id, e.payload, w.domain FROM events e JOIN watches w ON w.id = e.watch_id "
    "WHERE e.watch_id = ?3 AND e.id > ?1 ORDER BY e.id LIMIT ?2";
constexpr char kPruneEvents[] =
    "DELETE FROM events WHERE created_ms < ?1 AND NOT EXISTS "
    "(SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.state = 'pending')";

// Each watch's head: its oldest pending delivery; claimable when due and not leased.
constexpr char kSelectDeliveries[] =
    "WITH heads AS (SELECT watch_id, min(event_id) AS event_id FROM deliveries WHERE state = 'pending' "
    "GROUP BY watch_id) "
    "SELECT d.event_id, d.watch_id, w.settings, d.attempts, e.created_ms, e.payload, w.domain "
    "FROM heads h JOIN deliveries d ON d.event_id = h.event_id JOIN watches w ON w.id = d.watch_id "
    "JOIN events e ON e.id = d.event_id "
    "WHERE d.next_attempt_ms <= ?1 AND d.lease_until_ms <= ?1 ORDER BY d.next_attempt_ms, d.event_id LIMIT ?2";
constexpr char kLeaseDelivery[] = "UPDATE deliveries SET lease_owner = ?2, lease_until_ms = ?3 WHERE event_id = ?1";
constexpr char kMarkDelivered[] =
    "UPDATE deliveries SET state = 'delivered', delivered_ms = ?3, lease_owner = '', lease_until_ms = ?4 "
    "WHERE event_id = ?1 AND lease_owner = ?2 AND state = 'pending'";
constexpr char kRetryDelivery[] =
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_ms = ?3, last_error = ?4, lease_owner = '', "
    "lease_until_ms = ?5 WHERE event_id = ?1 AND lease_owner = ?2 AND state = 'pending'";
constexpr char kMarkDead[] =
    "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?3, lease_owner = '', "
    "lease_until_ms = ?4 WHERE event_id = ?1 AND lease_owner = ?2 AND state = 'pending'";
constexpr char kLastEventId[] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)";
constexpr char kCountDeliveries[] =
    "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending'), "
    "(SELECT count(*) FROM deliveries WHERE state = 'dead'), "
    "(SELECT min(e.created_ms) FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.state = 'pending')";

// API keys: the columns in the order ReadApiKey reads them.
#define SQUATSTREAM_KEY_COLUMNS                                                                      \
  "id, name, hash, scopes, created_at_ms, expires_at_ms, revoked_at_ms, quota_candidates_per_hour, " \
  "quota_concurrent_streams, quota_watches"
constexpr char kInsertApiKey[] =
    "INSERT INTO api_keys (" SQUATSTREAM_KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr char kListApiKeys[] = "SELECT " SQUATSTREAM_KEY_COLUMNS " FROM api_keys ORDER BY created_at_ms, id";
constexpr char kSelectApiKey[] = "SELECT " SQUATSTREAM_KEY_COLUMNS " FROM api_keys WHERE id = ?1";
#undef SQUATSTREAM_KEY_COLUMNS
// A second revocation keeps the first time.
constexpr char kRevokeApiKey[] = "UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?2) WHERE id = ?1";
constexpr char kCountWatchesOwnedBy[] = "SELECT count(*) FROM watches WHERE owner_key_id = ?1";

constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kSchemaVersionQuery[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr char kHasMigrationsTable[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
constexpr char kRecordMigration[] = "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)";

// A JSON array of enum numbers, for the filters of kListObservations.
template <typename E>
std::string JsonInts(const std::vector<E>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i == 0 ? "" : ",", static_cast<int>(values[i]));
  out += "]";
  return out;
}

// A cached statement in use: bind, step, read; reset when it goes out of scope.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  Stmt& Int(std::int64_t v) {
    sqlite3_bind_int64(s_, ++next_, v);
    return *this;
  }
  Stmt& Time(absl::Time t) { return Int(ToMillis(t)); }
  Stmt& Null() {
    sqlite3_bind_null(s_, ++next_);
    return *this;
  }
  Stmt& OptInt(std::optional<std::int64_t> v) { return v.has_value() ? Int(*v) : Null(); }
  Stmt& OptTime(std::optional<absl::Time> t) { return t.has_value() ? Time(*t) : Null(); }
  // Text and bytes are bound without a copy: they must outlive the statement's use.
  Stmt& Text(absl::string_view v) {
    sqlite3_bind_text(s_, ++next_, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& Blob(absl::string_view v) {
    sqlite3_bind_blob(s_, ++next_, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  // Rebinds from the first parameter (a statement run in a loop).
  Stmt& Again() {
    sqlite3_reset(s_);
    next_ = 0;
    return *this;
  }

  int Step() { return sqlite3_step(s_); }

  std::int64_t ColInt(int c) const { return sqlite3_column_int64(s_, c); }
  bool ColNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  absl::Time ColTime(int c) const { return FromMillis(ColInt(c)); }
  std::string ColStr(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    const int n = sqlite3_column_bytes(s_, c);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }

 private:
  sqlite3_stmt* s_;
  int next_ = 0;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteStore() override {
    MutexLock lock(mu_);
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  absl::Status Init(const SqliteOptions& options) {
    MutexLock lock(mu_);
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
    // WAL: readers do not block the writer; synchronous=FULL: a commit that returned survives a power loss
    // (the outbox promises at-least-once), at one fsync per transaction — a scan's commit is one transaction.
    std::string pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";
    if (options.max_page_count > 0) absl::StrAppend(&pragmas, " PRAGMA max_page_count = ", options.max_page_count, ";");
    if (int rc = sqlite3_exec(db_, pragmas.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return Error(rc, "setting it up");
    }
    return Migrate(options.migrate_to);
  }

  std::string engine() const override { return "sqlite"; }

  absl::Status Ping() override {
    MutexLock lock(mu_);
    // Whether a write could start now: the write lock is free (within the busy timeout) and the file writable.
    if (absl::Status s = Exec(kBegin, "checking it"); !s.ok()) return s;
    return Exec(kRollback, "checking it");
  }

  absl::StatusOr<WatchRow> CreateWatch(const WatchRow& watch) override {
    MutexLock lock(mu_);
    const absl::Time created = watch.created == absl::InfinitePast() ? absl::Now() : watch.created;
    const std::string settings = watch.settings.SerializeAsString();
    {
      absl::StatusOr<sqlite3_stmt*> p = Prepare(kInsertWatch);
      if (!p.ok()) return p.status();
      Stmt st(*p);
      st.Text(watch.domain)
          .Text(watch.domain_unicode)
          .Blob(settings)
          .Time(created)
          .Int(kNever)
          .Text(watch.owner_key_id);
      if (int rc = st.Step(); rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
          return absl::AlreadyExistsError(absl::StrCat("a watch of ", watch.domain, " exists already"));
        }
        return Error(rc, "creating a watch");
      }
    }
    return GetWatchLocked(watch.domain);
  }

  absl::StatusOr<WatchRow> GetWatch(const std::string& domain) override {
    MutexLock lock(mu_);
    return GetWatchLocked(domain);
  }

  absl::StatusOr<std::vector<WatchRow>> ListWatches(const std::string& after_domain, int limit) override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kListWatches);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Text(after_domain).Int(limit);
    std::vector<WatchRow> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      absl::StatusOr<WatchRow> w = ReadWatch(st);
      if (!w.ok()) return w.status();
      out.push_back(*std::move(w));
    }
    if (rc != SQLITE_DONE) return Error(rc, "listing watches");
    return out;
  }

  absl::StatusOr<WatchRow> UpdateWatch(const std::string& domain, const v1::WatchSettings& settings,
                                       std::optional<absl::Time> next_scan) override {
    MutexLock lock(mu_);
    const std::string bytes = settings.SerializeAsString();
    absl::StatusOr<int> changed = Change(kUpdateWatchSettings, "updating a watch", [&](Stmt& st) {
      st.Text(domain).Blob(bytes).Int(next_scan.has_value() ? 1 : 0).Time(next_scan.value_or(absl::InfinitePast()));
    });
    if (!changed.ok()) return changed.status();
    if (*changed == 0) return NoWatch(domain);
    return GetWatchLocked(domain);
  }

  absl::Status DeleteWatch(const std::string& domain) override {
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(kDeleteWatch, "deleting a watch", [&](Stmt& st) { st.Text(domain); });
    if (!changed.ok()) return changed.status();
    return *changed == 0 ? NoWatch(domain) : absl::OkStatus();
  }

  absl::StatusOr<WatchRow> ScheduleScan(const std::string& domain, absl::Time when) override {
    MutexLock lock(mu_);
    absl::StatusOr<int> changed =
        Change(kScheduleScan, "scheduling a scan", [&](Stmt& st) { st.Text(domain).Time(when); });
    if (!changed.ok()) return changed.status();
    if (*changed == 0) return NoWatch(domain);
    return GetWatchLocked(domain);
  }

  absl::StatusOr<std::optional<WatchRow>> ClaimDueWatch(const std::string& owner, absl::Time now,
                                                        absl::Time lease_until) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    if (absl::Status s = Exec(kBegin, "claiming a watch"); !s.ok()) return s;
    absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec(kRollback, "rolling back"); };
    std::int64_t id = 0;
    {
      absl::StatusOr<sqlite3_stmt*> p = Prepare(kSelectDue);
      if (!p.ok()) return p.status();
      Stmt st(*p);
      st.Time(now);
      const int rc = st.Step();
      if (rc == SQLITE_DONE) return std::optional<WatchRow>();
      if (rc != SQLITE_ROW) return Error(rc, "claiming a watch");
      id = st.ColInt(0);
    }
    absl::StatusOr<int> changed =
        Change(kTakeLease, "claiming a watch", [&](Stmt& st) { st.Int(id).Text(owner).Time(lease_until); });
    if (!changed.ok()) return changed.status();
    absl::StatusOr<WatchRow> row = GetWatchById(id);
    if (!row.ok()) return row.status();
    if (absl::Status s = Exec(kCommit, "claiming a watch"); !s.ok()) return s;
    std::move(rollback).Cancel();
    return std::optional<WatchRow>(*std::move(row));
  }

  absl::Status RenewLease(std::int64_t watch_id, const std::string& owner, absl::Time lease_until) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    absl::StatusOr<int> changed =
        Change(kRenewLease, "renewing a lease", [&](Stmt& st) { st.Int(watch_id).Text(owner).Time(lease_until); });
    if (!changed.ok()) return changed.status();
    return *changed == 0 ? LeaseLost(watch_id, owner) : absl::OkStatus();
  }

  absl::Status ReleaseLease(std::int64_t watch_id, const std::string& owner, absl::Time next_scan,
                            const std::string& outcome) override {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(kReleaseLease, "releasing a lease", [&](Stmt& st) {
      st.Int(watch_id).Text(owner).Time(next_scan).Text(outcome).Int(kNever);
    });
    if (!changed.ok()) return changed.status();
    return *changed == 0 ? LeaseLost(watch_id, owner) : absl::OkStatus();
  }

  absl::StatusOr<std::vector<ObservationRow>> LoadObservations(std::int64_t watch_id) override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kLoadObservations);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Int(watch_id);
    return ReadObservations(st, "loading observations");
  }

  absl::StatusOr<std::vector<ObservationRow>> ListObservations(std::int64_t watch_id, const ObservationFilter& filter,
                                                               const std::string& after_candidate, int limit) override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kListObservations);
    if (!p.ok()) return p.status();
    const std::string verdicts = JsonInts(filter.verdicts);
    const std::string triage = JsonInts(filter.triage);
    const std::string kinds = JsonInts(filter.kinds);
    Stmt st(*p);
    st.Int(watch_id)
        .Int(filter.include_records ? 1 : 0)
        .Text(after_candidate)
        .Text(verdicts)
        .Text(triage)
        .Text(kinds)
        .Int(filter.changed_only ? 1 : 0)
        .Int(limit);
    return ReadObservations(st, "listing observations");
  }

  absl::Status CommitScan(const ScanCommit& commit) override;

  absl::StatusOr<ObservationRow> Annotate(std::int64_t watch_id, const std::string& candidate, v1::Triage triage,
                                          const std::string& note) override {
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(kAnnotate, "annotating a candidate", [&](Stmt& st) {
      st.Int(watch_id).Text(candidate).Int(static_cast<int>(triage)).Text(note);
    });
    if (!changed.ok()) return changed.status();
    if (*changed == 0) {
      return absl::NotFoundError(absl::StrCat("watch ", watch_id, " never observed ", candidate));
    }
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kSelectObservation);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Int(watch_id).Text(candidate);
    absl::StatusOr<std::vector<ObservationRow>> rows = ReadObservations(st, "annotating a candidate");
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::NotFoundError(absl::StrCat("watch ", watch_id, " never observed ", candidate));
    return std::move(rows->front());
  }

  absl::StatusOr<std::vector<v1::WatchEvent>> ListEvents(std::int64_t watch_id, std::uint64_t after_id,
                                                         int limit) override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(watch_id > 0 ? kListEventsOfWatch : kListEventsAll);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Int(ClampId(after_id)).Int(limit);
    if (watch_id > 0) st.Int(watch_id);
    std::vector<v1::WatchEvent> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      v1::WatchEvent& e = out.emplace_back();
      const std::string payload = st.ColStr(1);
      if (!e.ParseFromString(payload)) return Corrupt("event", st.ColInt(0));
      e.set_id(static_cast<std::uint64_t>(st.ColInt(0)));
      e.set_watch(st.ColStr(2));
    }
    if (rc != SQLITE_DONE) return Error(rc, "listing events");
    return out;
  }

  absl::StatusOr<std::vector<DeliveryRow>> ClaimDeliveries(const std::string& owner, absl::Time now,
                                                           absl::Time lease_until, int limit) override;

  absl::Status MarkDelivered(std::int64_t event_id, const std::string& owner, absl::Time at) override {
    return EndDelivery(kMarkDelivered, event_id, owner, "marking a delivery delivered",
                       [&](Stmt& st) { st.Time(at).Int(kNever); });
  }
  absl::Status RetryDelivery(std::int64_t event_id, const std::string& owner, absl::Time next_attempt,
                             const std::string& error) override {
    return EndDelivery(kRetryDelivery, event_id, owner, "rescheduling a delivery",
                       [&](Stmt& st) { st.Time(next_attempt).Text(error).Int(kNever); });
  }
  absl::Status MarkDead(std::int64_t event_id, const std::string& owner, const std::string& error) override {
    return EndDelivery(kMarkDead, event_id, owner, "marking a delivery dead",
                       [&](Stmt& st) { st.Text(error).Int(kNever); });
  }

  absl::StatusOr<DeliveryCounts> CountDeliveries() override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kCountDeliveries);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    if (int rc = st.Step(); rc != SQLITE_ROW) return Error(rc, "counting deliveries");
    DeliveryCounts c;
    c.pending = static_cast<std::uint64_t>(st.ColInt(0));
    c.dead = static_cast<std::uint64_t>(st.ColInt(1));
    c.oldest_pending = st.ColNull(2) ? absl::InfinitePast() : st.ColTime(2);
    return c;
  }

  absl::StatusOr<std::uint64_t> LastEventId() override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kLastEventId);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    if (int rc = st.Step(); rc != SQLITE_ROW) return Error(rc, "reading the last event id");
    return static_cast<std::uint64_t>(st.ColInt(0));
  }

  absl::StatusOr<std::uint64_t> PruneEvents(absl::Time before) override {
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(kPruneEvents, "pruning events", [&](Stmt& st) { st.Time(before); });
    if (!changed.ok()) return changed.status();
    return static_cast<std::uint64_t>(*changed);
  }

  absl::Status CreateApiKey(const ApiKeyRow& key) override {
    MutexLock lock(mu_);
    const absl::Time created = key.created == absl::InfinitePast() ? absl::Now() : key.created;
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kInsertApiKey);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Text(key.id)
        .Text(key.name)
        .Text(key.hash)
        .Text(key.scopes)
        .Time(created)
        .OptTime(key.expires)
        .OptTime(key.revoked)
        .OptInt(key.quota_candidates_per_hour)
        .OptInt(key.quota_concurrent_streams)
        .OptInt(key.quota_watches);
    if (int rc = st.Step(); rc != SQLITE_DONE) {
      if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return absl::AlreadyExistsError(absl::StrCat("an API key with the id ", key.id, " exists already"));
      }
      return Error(rc, "creating an API key");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ApiKeyRow>> ListApiKeys() override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kListApiKeys);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    std::vector<ApiKeyRow> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadApiKey(st));
    if (rc != SQLITE_DONE) return Error(rc, "listing API keys");
    return out;
  }

  absl::StatusOr<ApiKeyRow> RevokeApiKey(const std::string& id, absl::Time at) override {
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(kRevokeApiKey, "revoking an API key", [&](Stmt& st) { st.Text(id).Time(at); });
    if (!changed.ok()) return changed.status();
    if (*changed == 0) return NoKey(id);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kSelectApiKey);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Text(id);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return NoKey(id);
    if (rc != SQLITE_ROW) return Error(rc, "revoking an API key");
    return ReadApiKey(st);
  }

  absl::StatusOr<std::int64_t> CountWatchesOwnedBy(const std::string& key_id) override {
    MutexLock lock(mu_);
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kCountWatchesOwnedBy);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Text(key_id);
    if (int rc = st.Step(); rc != SQLITE_ROW) return Error(rc, "counting a key's watches");
    return st.ColInt(0);
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
  static absl::Status NoKey(const std::string& id) {
    return absl::NotFoundError(absl::StrCat("no API key with the id ", id, " (squatstreamd keys list shows them)"));
  }
  static absl::Status LeaseLost(std::int64_t watch_id, const std::string& owner) {
    return absl::AbortedError(absl::StrCat("the lease of watch ", watch_id, " is no longer held by ", owner));
  }
  absl::Status Corrupt(absl::string_view what, std::int64_t id) const {
    return absl::DataLossError(absl::StrCat("sqlite:", path_, ": ", what, " ", id, " holds bytes that do not parse"));
  }

  // UNAVAILABLE for what the operator must fix (locked past the busy timeout, read-only, full, unreadable: the
  // engine's words and the path), INTERNAL for the rest (a bug of ours).
  absl::Status Error(int rc, absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string message =
        absl::StrCat("sqlite:", path_, ": ", what, ": ", sqlite3_errmsg(db_), " (", sqlite3_errstr(rc), ")");
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return absl::UnavailableError(absl::StrCat(message, ": another process holds the database's write lock"));
      case SQLITE_READONLY:
      case SQLITE_CANTOPEN:
      case SQLITE_FULL:
      case SQLITE_IOERR:
      case SQLITE_PERM:
      case SQLITE_NOTADB:
      case SQLITE_CORRUPT:
      case SQLITE_PROTOCOL:
      case SQLITE_NOLFS:
      case SQLITE_AUTH:
        return absl::UnavailableError(message);
      default:
        return absl::InternalError(message);
    }
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = stmts_.find(sql.data());
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "preparing a statement");
    stmts_.emplace(sql.data(), stmt);
    return stmt;
  }

  // A statement without rows (BEGIN, COMMIT, ...).
  absl::Status Exec(absl::string_view sql, absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(sql);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    if (int rc = st.Step(); rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, what);
    return absl::OkStatus();
  }

  // A statement that changes rows: how many it changed.
  template <typename BindFn>
  absl::StatusOr<int> Change(absl::string_view sql, absl::string_view what, BindFn bind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(sql);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    bind(st);
    if (int rc = st.Step(); rc != SQLITE_DONE) return Error(rc, what);
    return sqlite3_changes(db_);
  }

  template <typename BindFn>
  absl::Status EndDelivery(absl::string_view sql, std::int64_t event_id, const std::string& owner,
                           absl::string_view what, BindFn bind) {
    if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
    MutexLock lock(mu_);
    absl::StatusOr<int> changed = Change(sql, what, [&](Stmt& st) {
      st.Int(event_id).Text(owner);
      bind(st);
    });
    if (!changed.ok()) return changed.status();
    if (*changed == 0) {
      return absl::AbortedError(
          absl::StrCat("the delivery of event ", event_id, " is no longer held by ", owner, " (or has ended)"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<WatchRow> ReadWatch(const Stmt& st) const {
    WatchRow w;
    w.id = st.ColInt(0);
    w.domain = st.ColStr(1);
    w.domain_unicode = st.ColStr(2);
    if (!w.settings.ParseFromString(st.ColStr(3))) return Corrupt("the settings of watch", w.id);
    w.created = st.ColTime(4);
    w.next_scan = st.ColTime(5);
    w.last_scan = st.ColTime(6);
    w.last_scan_outcome = st.ColStr(7);
    w.scans = static_cast<std::uint64_t>(st.ColInt(8));
    w.baseline_done = st.ColInt(9) != 0;
    w.observed = static_cast<std::uint64_t>(st.ColInt(10));
    w.registered = static_cast<std::uint64_t>(st.ColInt(11));
    w.owner_key_id = st.ColStr(12);
    return w;
  }

  static ApiKeyRow ReadApiKey(const Stmt& st) {
    ApiKeyRow k;
    k.id = st.ColStr(0);
    k.name = st.ColStr(1);
    k.hash = st.ColStr(2);
    k.scopes = st.ColStr(3);
    k.created = st.ColTime(4);
    if (!st.ColNull(5)) k.expires = st.ColTime(5);
    if (!st.ColNull(6)) k.revoked = st.ColTime(6);
    if (!st.ColNull(7)) k.quota_candidates_per_hour = st.ColInt(7);
    if (!st.ColNull(8)) k.quota_concurrent_streams = st.ColInt(8);
    if (!st.ColNull(9)) k.quota_watches = st.ColInt(9);
    return k;
  }

  absl::StatusOr<WatchRow> SelectOneWatch(absl::string_view sql, const std::function<void(Stmt&)>& bind,
                                          const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(sql);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    bind(st);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return NoWatch(name);
    if (rc != SQLITE_ROW) return Error(rc, "reading a watch");
    return ReadWatch(st);
  }
  absl::StatusOr<WatchRow> GetWatchLocked(const std::string& domain) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return SelectOneWatch(
        kSelectWatchByDomain, [&](Stmt& st) { st.Text(domain); }, domain);
  }
  absl::StatusOr<WatchRow> GetWatchById(std::int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return SelectOneWatch(
        kSelectWatchById, [&](Stmt& st) { st.Int(id); }, absl::StrCat("id ", id));
  }

  absl::StatusOr<std::vector<ObservationRow>> ReadObservations(Stmt& st, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<ObservationRow> out;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      ObservationRow& o = out.emplace_back();
      o.candidate = st.ColStr(0);
      o.candidate_unicode = st.ColStr(1);
      o.kind = static_cast<v1::PermutationKind>(st.ColInt(2));
      o.verdict = static_cast<v1::DnsVerdict>(st.ColInt(3));
      o.state = st.ColStr(4);
      o.record = st.ColStr(5);
      o.first_seen = st.ColTime(6);
      o.last_seen = st.ColTime(7);
      o.last_changed = st.ColTime(8);
      o.triage = static_cast<v1::Triage>(st.ColInt(9));
      o.triage_note = st.ColStr(10);
      o.absent = st.ColInt(11) != 0;
    }
    if (rc != SQLITE_DONE) return Error(rc, what);
    return out;
  }

  absl::Status Migrate(int target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> SchemaVersion() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  // One connection, so one lock: SQLite serializes a connection's calls anyway, and a transaction must not
  // interleave with another thread's statements on the same connection.
  mutable Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  // Prepared statements by their SQL text's address (every text is a constant of this file).
  absl::flat_hash_map<const char*, sqlite3_stmt*> stmts_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<int> SqliteStore::SchemaVersion() {
  {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kHasMigrationsTable);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    if (int rc = st.Step(); rc != SQLITE_ROW) return Error(rc, "reading its schema version");
    if (st.ColInt(0) == 0) return 0;
  }
  absl::StatusOr<sqlite3_stmt*> p = Prepare(kSchemaVersionQuery);
  if (!p.ok()) return p.status();
  Stmt st(*p);
  if (int rc = st.Step(); rc != SQLITE_ROW) return Error(rc, "reading its schema version");
  return static_cast<int>(st.ColInt(0));
}

absl::Status SqliteStore::Migrate(int target) {
  // Read first, without the write lock: a current store opens without writing (a read-only copy included).
  absl::StatusOr<int> version = SchemaVersion();
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) return internal::NewerSchemaError(*version);
  if (*version >= target) return absl::OkStatus();
  if (int rc = sqlite3_exec(db_, std::string(internal::kCreateSchemaMigrations).c_str(), nullptr, nullptr, nullptr);
      rc != SQLITE_OK) {
    return Error(rc, "creating schema_migrations");
  }
  for (const internal::Migration& m : internal::Migrations()) {
    if (m.version > target) break;
    // Each step in its own write transaction, the version read again inside it: another process opening the
    // same file at once applies each step once.
    if (absl::Status s = Exec(kBegin, "migrating"); !s.ok()) return s;
    absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec(kRollback, "rolling back"); };
    version = SchemaVersion();
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) return internal::NewerSchemaError(*version);
    if (*version < m.version) {
      const std::string sql(m.sqlite);
      if (int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return Error(rc, absl::StrCat("applying migration ", m.version, " (", m.description, ")"));
      }
      absl::StatusOr<int> changed =
          Change(kRecordMigration, "recording a migration", [&](Stmt& st) { st.Int(m.version).Time(absl::Now()); });
      if (!changed.ok()) return changed.status();
    }
    if (absl::Status s = Exec(kCommit, "migrating"); !s.ok()) return s;
    std::move(rollback).Cancel();
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::CommitScan(const ScanCommit& commit) {
  MutexLock lock(mu_);
  if (absl::Status s = Exec(kBegin, "committing a scan"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec(kRollback, "rolling back"); };
  bool webhook = false;
  absl::Time previous_scan = absl::InfinitePast();  // the absent candidates' last_seen
  {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kSelectLease);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Int(commit.watch_id);
    const int rc = st.Step();
    if (rc == SQLITE_DONE) return absl::AbortedError(absl::StrCat("watch ", commit.watch_id, " was deleted"));
    if (rc != SQLITE_ROW) return Error(rc, "committing a scan");
    if (st.ColStr(0) != commit.lease_owner || commit.lease_owner.empty()) {
      return LeaseLost(commit.watch_id, commit.lease_owner);
    }
    v1::WatchSettings settings;
    if (!settings.ParseFromString(st.ColStr(1))) return Corrupt("the settings of watch", commit.watch_id);
    webhook = !settings.webhook_url().empty();
    previous_scan = st.ColTime(2);
  }
  if (!commit.inserts.empty()) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kInsertObservation);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    for (const ObservationRow& o : commit.inserts) {
      st.Again()
          .Int(commit.watch_id)
          .Text(o.candidate)
          .Text(o.candidate_unicode)
          .Int(o.kind)
          .Int(o.verdict)
          .Time(o.first_seen)
          .Time(o.last_seen)
          .Time(o.last_changed)
          .Int(o.triage)
          .Text(o.triage_note)
          .Blob(o.state)
          .Blob(o.record)
          .Int(o.absent ? 1 : 0);
      if (int rc = st.Step(); rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
          return absl::AlreadyExistsError(
              absl::StrCat("watch ", commit.watch_id, " observed ", o.candidate, " already (inserted again)"));
        }
        return Error(rc, "writing observations");
      }
    }
  }
  if (!commit.updates.empty()) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kUpdateObservation);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    for (const ObservationRow& o : commit.updates) {
      st.Again()
          .Int(commit.watch_id)
          .Text(o.candidate)
          .Text(o.candidate_unicode)
          .Int(o.kind)
          .Int(o.verdict)
          .Time(o.first_seen)
          .Time(o.last_seen)
          .Time(o.last_changed)
          .Blob(o.state)
          .Blob(o.record)
          .Int(o.absent ? 1 : 0);
      if (int rc = st.Step(); rc != SQLITE_DONE) return Error(rc, "updating observations");
      if (sqlite3_changes(db_) == 0) {
        return absl::NotFoundError(
            absl::StrCat("watch ", commit.watch_id, " never observed ", o.candidate, " (an update of it)"));
      }
    }
  }
  if (!commit.absent.empty()) {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kAbsentObservation);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    for (const std::string& candidate : commit.absent) {
      st.Again().Int(commit.watch_id).Text(candidate).Time(previous_scan);
      if (int rc = st.Step(); rc != SQLITE_DONE) return Error(rc, "updating observations");
    }
  }
  if (!commit.events.empty()) {
    absl::StatusOr<sqlite3_stmt*> pe = Prepare(kInsertEvent);
    if (!pe.ok()) return pe.status();
    absl::StatusOr<sqlite3_stmt*> pd = Prepare(kInsertDelivery);
    if (!pd.ok()) return pd.status();
    Stmt event_st(*pe);
    Stmt delivery_st(*pd);
    std::string payload;
    for (const v1::WatchEvent& e : commit.events) {
      // The id and the watch are columns; a missing time is the scan's.
      v1::WatchEvent stored = e;
      stored.clear_id();
      stored.clear_watch();
      if (!stored.has_time()) stored.mutable_time()->set_seconds(absl::ToUnixSeconds(commit.scanned_at));
      const absl::Time created =
          absl::FromUnixSeconds(stored.time().seconds()) + absl::Nanoseconds(stored.time().nanos());
      stored.SerializeToString(&payload);
      event_st.Again().Int(commit.watch_id).Time(created).Int(stored.type()).Blob(payload);
      if (int rc = event_st.Step(); rc != SQLITE_DONE) return Error(rc, "writing events");
      if (webhook) {
        delivery_st.Again().Int(sqlite3_last_insert_rowid(db_)).Int(commit.watch_id).Time(created).Int(kNever);
        if (int rc = delivery_st.Step(); rc != SQLITE_DONE) return Error(rc, "writing the outbox");
      }
    }
  }
  absl::StatusOr<int> changed = Change(kFinishScan, "committing a scan", [&](Stmt& st) {
    st.Int(commit.watch_id)
        .Time(commit.scanned_at)
        .Time(commit.next_scan)
        .Text(commit.outcome)
        .Int(commit.baseline_done ? 1 : 0)
        .Int(kNever)
        .Int(commit.claimed_next_scan != absl::InfinitePast() ? 1 : 0)
        .Time(commit.claimed_next_scan == absl::InfinitePast() ? absl::UnixEpoch() : commit.claimed_next_scan);
  });
  if (!changed.ok()) return changed.status();
  if (absl::Status s = Exec(kCommit, "committing a scan"); !s.ok()) return s;
  std::move(rollback).Cancel();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DeliveryRow>> SqliteStore::ClaimDeliveries(const std::string& owner, absl::Time now,
                                                                      absl::Time lease_until, int limit) {
  if (owner.empty()) return absl::InvalidArgumentError("a lease needs an owner");
  MutexLock lock(mu_);
  if (absl::Status s = Exec(kBegin, "claiming deliveries"); !s.ok()) return s;
  absl::Cleanup rollback = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { (void)Exec(kRollback, "rolling back"); };
  std::vector<DeliveryRow> out;
  {
    absl::StatusOr<sqlite3_stmt*> p = Prepare(kSelectDeliveries);
    if (!p.ok()) return p.status();
    Stmt st(*p);
    st.Time(now).Int(limit);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      DeliveryRow& d = out.emplace_back();
      d.event_id = st.ColInt(0);
      d.watch_id = st.ColInt(1);
      v1::WatchSettings settings;
      if (!settings.ParseFromString(st.ColStr(2))) return Corrupt("the settings of watch", d.watch_id);
      d.url = settings.webhook_url();
      d.secret = settings.webhook_secret();
      d.attempts = static_cast<int>(st.ColInt(3));
      d.created = st.ColTime(4);
      if (!d.event.ParseFromString(st.ColStr(5))) return Corrupt("event", d.event_id);
      d.event.set_id(static_cast<std::uint64_t>(d.event_id));
      d.event.set_watch(st.ColStr(6));
    }
    if (rc != SQLITE_DONE) return Error(rc, "claiming deliveries");
  }
  for (const DeliveryRow& d : out) {
    absl::StatusOr<int> changed = Change(kLeaseDelivery, "claiming deliveries",
                                         [&](Stmt& st) { st.Int(d.event_id).Text(owner).Time(lease_until); });
    if (!changed.ok()) return changed.status();
  }
  if (absl::Status s = Exec(kCommit, "claiming deliveries"); !s.ok()) return s;
  std::move(rollback).Cancel();
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const SqliteOptions& options) {
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) {
      // Not allowed here (permissions, a read-only file system): PERMISSION_DENIED, which waiting will not mend.
      const bool denied = ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted ||
                          ec == std::errc::read_only_file_system;
      return absl::Status(
          denied ? absl::StatusCode::kPermissionDenied : absl::StatusCode::kUnavailable,
          absl::StrCat("sqlite:", path, ": cannot create its folder ", folder.string(), ": ", ec.message()));
    }
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    const bool denied = rc == SQLITE_CANTOPEN || rc == SQLITE_PERM || rc == SQLITE_READONLY;
    return absl::Status(denied ? absl::StatusCode::kPermissionDenied : absl::StatusCode::kUnavailable,
                        absl::StrCat("sqlite:", path, ": cannot open it: ", message));
  }
  // SQLite opens a file it may not write read-only, silently: every write would fail later, one by one.
  if (sqlite3_db_readonly(db, "main") == 1) {
    sqlite3_close_v2(db);
    return absl::PermissionDeniedError(
        absl::StrCat("sqlite:", path, ": can only be read (its file or folder is not writable by this user)"));
  }
  auto store = std::make_unique<SqliteStore>(path, db);
  if (absl::Status s = store->Init(options); !s.ok()) return s;
  return store;
}

}  // namespace squatstream::store
