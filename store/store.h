// Store: what squatstream remembers between scans — watches, what each scan observed about each candidate, the
// events that say what changed, and the outbox of their webhook deliveries — behind one interface with two
// engines of the same schema and behaviour: SQLite (embedded, the default: one file, WAL, one writer) and
// PostgreSQL (several replicas sharing watches, history and work). No gRPC here: the watch side (watch/) calls
// it, the adapters never do.
//
// Errors: every call returns a status — UNAVAILABLE when the engine cannot be reached, is locked past its busy
// timeout, is read-only or full (the message says which, and the engine's own words); NOT_FOUND / ALREADY_EXISTS
// where a call says so; ABORTED when a lease was lost. Nothing is half-written: a call that fails changed nothing.
// Thread-safe: calls from any thread; they block (run them off the I/O executor).
#ifndef SQUATSTREAM_STORE_STORE_H_
#define SQUATSTREAM_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "squatstream/v1/watch.pb.h"

namespace squatstream::store {

// The schema version this binary writes. Open applies every migration up to it; a store at a newer version is
// refused (FAILED_PRECONDITION naming both versions).
inline constexpr int kSchemaVersion = 3;

struct WatchRow {
  std::int64_t id = 0;  // assigned by CreateWatch
  std::string domain;   // ASCII form; unique
  std::string domain_unicode;
  v1::WatchSettings settings;  // webhook_secret included (the deliverer signs with it)
  absl::Time created = absl::InfinitePast();
  absl::Time next_scan = absl::InfinitePast();
  absl::Time last_scan = absl::InfinitePast();  // InfinitePast: never scanned
  std::string last_scan_outcome;
  std::uint64_t scans = 0;
  bool baseline_done = false;
  // Counts of its observations (filled by GetWatch and ListWatches).
  std::uint64_t observed = 0;
  std::uint64_t registered = 0;  // confirmed verdict REGISTERED or WILDCARD
  // The id of the API key that created the watch (ApiKeyRow::id); "" when the server ran without authentication.
  // Written by CreateWatch, read back by every call that returns a WatchRow.
  std::string owner_key_id;
};

struct ObservationRow {
  std::string candidate;  // ASCII form; unique within the watch
  std::string candidate_unicode;
  v1::PermutationKind kind = v1::PERMUTATION_KIND_UNSPECIFIED;
  v1::DnsVerdict verdict = v1::DNS_VERDICT_UNSPECIFIED;  // the confirmed verdict
  // The watch side's own state of the candidate (its confirmed fingerprint and what is pending), serialized;
  // the store keeps it as bytes.
  std::string state;
  std::string record;                            // the latest v1::Record, serialized
  absl::Time first_seen = absl::InfinitePast();  // InfinitePast: never registered
  // When the row was last written. A candidate in the watch's last scan was seen then: its last_seen is the
  // watch's last_scan (WatchRow), which a scan writes once, so that a rescan where nothing changed writes no
  // observation row at all. Only an absent row's last_seen is its own.
  absl::Time last_seen = absl::InfinitePast();
  absl::Time last_changed = absl::InfinitePast();
  v1::Triage triage = v1::TRIAGE_UNSPECIFIED;
  std::string triage_note;
  // Not in the watch's last scan (its kinds or cap changed since); last_seen is then the row's own.
  bool absent = false;
};

struct ObservationFilter {
  std::vector<v1::DnsVerdict> verdicts;    // empty: any
  std::vector<v1::Triage> triage;          // empty: any
  std::vector<v1::PermutationKind> kinds;  // empty: any
  bool changed_only = false;               // last_changed after first_seen
  bool include_records = false;            // fill ObservationRow::record (else left empty)
};

// One scan's outcome, written in one transaction: the observations, the events (each with a webhook delivery in
// the outbox when the watch has a webhook — the transactional outbox), and the watch's schedule. Refused with
// ABORTED, writing nothing, when `lease_owner` no longer holds the watch's lease (another replica took it over).
struct ScanCommit {
  std::int64_t watch_id = 0;
  std::string lease_owner;
  absl::Time scanned_at;
  absl::Time next_scan;
  // The watch's next_scan when it was claimed (WatchRow::next_scan): when the row's has changed since — a scan
  // asked for (ScheduleScan) or rescheduled while this one ran — the earlier of the two is kept, so that the
  // request is not lost. InfinitePast: `next_scan` as it is.
  absl::Time claimed_next_scan = absl::InfinitePast();
  std::string outcome = "ok";
  bool baseline_done = false;
  std::vector<ObservationRow> inserts;  // new candidates
  // Candidates whose verdict, state, record or `absent` changed: every column but triage, triage_note (kept).
  // A candidate back in the scans after it was absent is an update with absent = false.
  std::vector<ObservationRow> updates;
  // Candidates stored but not in this scan and not absent already: marked absent, their last_seen set to the
  // watch's previous last_scan (the last scan they were in), which the engine reads from the watch's row inside
  // the commit's transaction. A candidate not stored, or absent already, is left as it is. Candidates of this
  // scan with nothing changed are in no list: nothing of theirs is written (their last_seen is the watch's
  // last_scan, which this commit sets to scanned_at).
  std::vector<std::string> absent;
  // Ids are assigned in order, each larger than every id written before (events commit in id order, so that a
  // reader that saw id N never later finds a smaller one: StreamEvents' cursor has no gap).
  std::vector<v1::WatchEvent> events;
};

struct DeliveryRow {
  std::int64_t event_id = 0;
  std::int64_t watch_id = 0;
  std::string url;     // the watch's webhook when claimed
  std::string secret;  // and its secret
  int attempts = 0;    // attempts made before this one
  absl::Time created;  // when the event was written
  v1::WatchEvent event;
};

struct DeliveryCounts {
  std::uint64_t pending = 0;  // not delivered yet, still tried
  std::uint64_t dead = 0;     // given up on
  absl::Time oldest_pending = absl::InfinitePast();
};

// An API key as the store keeps it (access/ makes and checks them): never the key itself, only its hash.
struct ApiKeyRow {
  std::string id;      // the key's public part (sqs_<id>_...); unique
  std::string name;    // who or what it is for, as the administrator named it
  std::string hash;    // lowercase hex SHA-256 of the whole key
  std::string scopes;  // comma-separated scope names ("scan,watch:read"), as access/scopes.h formats them
  absl::Time created = absl::InfinitePast();
  std::optional<absl::Time> expires;  // nullopt: never
  std::optional<absl::Time> revoked;  // nullopt: not revoked
  // nullopt: no quota of that kind.
  std::optional<std::int64_t> quota_candidates_per_hour;
  std::optional<std::int64_t> quota_concurrent_streams;
  std::optional<std::int64_t> quota_watches;
};

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgresql" (the engine label of the metrics).
  virtual std::string engine() const = 0;
  // A cheap round trip: OK when the store answers now.
  virtual absl::Status Ping() = 0;

  // Watches. CreateWatch: ALREADY_EXISTS for a domain watched already; returns the row with its id, next_scan
  // = created (due at once).
  virtual absl::StatusOr<WatchRow> CreateWatch(const WatchRow& watch) = 0;
  virtual absl::StatusOr<WatchRow> GetWatch(const std::string& domain) = 0;  // NOT_FOUND
  // In domain order, those after `after_domain` ("" from the start), at most `limit`.
  virtual absl::StatusOr<std::vector<WatchRow>> ListWatches(const std::string& after_domain, int limit) = 0;
  // Replaces the settings (NOT_FOUND); next_scan moves to `next_scan` when set.
  virtual absl::StatusOr<WatchRow> UpdateWatch(const std::string& domain, const v1::WatchSettings& settings,
                                               std::optional<absl::Time> next_scan) = 0;
  // Deletes the watch, its observations, events and deliveries (NOT_FOUND).
  virtual absl::Status DeleteWatch(const std::string& domain) = 0;
  // next_scan = `when` (NOT_FOUND).
  virtual absl::StatusOr<WatchRow> ScheduleScan(const std::string& domain, absl::Time when) = 0;

  // Scheduling across replicas. Claims the watch due first (next_scan <= now, no lease held until after now)
  // for `owner` until `lease_until`; nullopt when none is due. With PostgreSQL, replicas claiming at once get
  // different watches (FOR UPDATE SKIP LOCKED).
  virtual absl::StatusOr<std::optional<WatchRow>> ClaimDueWatch(const std::string& owner, absl::Time now,
                                                                absl::Time lease_until) = 0;
  // Extends the lease (ABORTED when `owner` no longer holds it).
  virtual absl::Status RenewLease(std::int64_t watch_id, const std::string& owner, absl::Time lease_until) = 0;
  // Gives a lease back without a commit (a scan that failed): next_scan and the outcome are set; ABORTED as
  // RenewLease.
  virtual absl::Status ReleaseLease(std::int64_t watch_id, const std::string& owner, absl::Time next_scan,
                                    const std::string& outcome) = 0;

  // Observations of a watch: all of them (with their state; records left empty), for a scan to compare with.
  virtual absl::StatusOr<std::vector<ObservationRow>> LoadObservations(std::int64_t watch_id) = 0;
  // Filtered, in candidate order after `after_candidate`, at most `limit`.
  virtual absl::StatusOr<std::vector<ObservationRow>> ListObservations(std::int64_t watch_id,
                                                                       const ObservationFilter& filter,
                                                                       const std::string& after_candidate,
                                                                       int limit) = 0;
  virtual absl::Status CommitScan(const ScanCommit& commit) = 0;
  // Sets a candidate's triage and note (NOT_FOUND when the watch never observed it); returns the row (no record).
  virtual absl::StatusOr<ObservationRow> Annotate(std::int64_t watch_id, const std::string& candidate,
                                                  v1::Triage triage, const std::string& note) = 0;

  // Events after `after_id`, in id order, at most `limit`; of one watch (watch_id > 0) or of all (0). Each with
  // its id and watch domain filled.
  virtual absl::StatusOr<std::vector<v1::WatchEvent>> ListEvents(std::int64_t watch_id, std::uint64_t after_id,
                                                                 int limit) = 0;

  // The outbox. Claims due deliveries (next attempt <= now, no live lease) for `owner` until `lease_until`: for
  // each watch only its oldest undelivered one (so each watch's events arrive in order), at most `limit`.
  virtual absl::StatusOr<std::vector<DeliveryRow>> ClaimDeliveries(const std::string& owner, absl::Time now,
                                                                   absl::Time lease_until, int limit) = 0;
  // Ends a claimed delivery: delivered; or tried again at `next_attempt` (attempts + 1, the error kept); or
  // dead (given up, the error kept). ABORTED when `owner` no longer holds it.
  virtual absl::Status MarkDelivered(std::int64_t event_id, const std::string& owner, absl::Time at) = 0;
  virtual absl::Status RetryDelivery(std::int64_t event_id, const std::string& owner, absl::Time next_attempt,
                                     const std::string& error) = 0;
  virtual absl::Status MarkDead(std::int64_t event_id, const std::string& owner, const std::string& error) = 0;
  virtual absl::StatusOr<DeliveryCounts> CountDeliveries() = 0;
  // The largest event id ever written (ids are never reused, even once their events are pruned or deleted with
  // their watch); 0 before the first.
  virtual absl::StatusOr<std::uint64_t> LastEventId() = 0;

  // Retention: deletes events written before `before` whose delivery ended (delivered, dead or none), and
  // returns how many.
  virtual absl::StatusOr<std::uint64_t> PruneEvents(absl::Time before) = 0;

  // API keys. Both engines implement them; the defaults answer UNIMPLEMENTED, for test doubles that forward only
  // the watch side's calls.
  // Stores a new key (created: absl::Now() when InfinitePast). ALREADY_EXISTS when its id is taken.
  virtual absl::Status CreateApiKey(const ApiKeyRow& key);
  // Every key, revoked and expired ones too, in creation order (then id).
  virtual absl::StatusOr<std::vector<ApiKeyRow>> ListApiKeys();
  // Marks the key revoked at `at` and returns its row; a key revoked already keeps its first time. NOT_FOUND
  // naming the id.
  virtual absl::StatusOr<ApiKeyRow> RevokeApiKey(const std::string& id, absl::Time at);
  // How many watches the key created (WatchRow::owner_key_id), for its watches quota.
  virtual absl::StatusOr<std::int64_t> CountWatchesOwnedBy(const std::string& key_id);
};

// Opens (creating when absent) the store `spec` names and applies its migrations:
//   sqlite:PATH                 SQLite file at PATH (its folder created), WAL
//   postgresql://... postgres://...   a libpq connection URI
//   host=... dbname=...         a libpq key=value DSN
// INVALID_ARGUMENT for a spec of no known engine, PERMISSION_DENIED for an SQLite file (or folder) this user may
// not write, UNAVAILABLE when it cannot be opened or reached now,
// FAILED_PRECONDITION for a schema newer than kSchemaVersion.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& spec);

}  // namespace squatstream::store

#endif  // SQUATSTREAM_STORE_STORE_H_
