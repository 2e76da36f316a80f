// The store's conformance suite: every typed test runs against both engines, SQLite (a file in a temporary
// folder) and PostgreSQL (a cluster this process starts with tests/peers/postgres.py, a database of its own per
// test), so that both keep the same behaviour. Then each engine's own failures. Times are fixed (kT0 on), never
// the clock's; concurrency tests wait for threads, never for time.
#include "store/store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "tests/store/postgres_peer.h"

namespace squatstream::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// --- Engines -------------------------------------------------------------------------------------------------

class SqliteEngine {
 public:
  static constexpr const char* kName = "sqlite";
  SqliteEngine() {
    char dir[] = "/tmp/squatstream-store-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/sub/store.db";  // its folder does not exist yet: Open creates it
  }
  ~SqliteEngine() { std::filesystem::remove_all(dir_); }
  bool Ready(std::string*) { return true; }

  absl::StatusOr<std::unique_ptr<Store>> Open(int migrate_to = kSchemaVersion) {
    SqliteOptions options;
    options.migrate_to = migrate_to;
    return OpenSqliteStore(path_, options);
  }
  std::string Spec() const { return "sqlite:" + path_; }
  // A statement on a connection of its own (the test's hand in the database).
  std::string Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    char* error = nullptr;
    std::string out;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) out = error;
    sqlite3_free(error);
    sqlite3_close(db);
    return out;
  }
  // Counts every row written to observations from now on (inserted, updated, deleted) in obs_writes.
  std::string CountObservationWrites() {
    return Exec(
        "CREATE TABLE obs_writes (n INTEGER);"
        "CREATE TRIGGER obs_inserted AFTER INSERT ON observations BEGIN INSERT INTO obs_writes VALUES (1); END;"
        "CREATE TRIGGER obs_updated AFTER UPDATE ON observations BEGIN INSERT INTO obs_writes VALUES (1); END;"
        "CREATE TRIGGER obs_deleted AFTER DELETE ON observations BEGIN INSERT INTO obs_writes VALUES (1); END;");
  }
  // The first column of the first row, as text ("" when none).
  std::string Query(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* v = sqlite3_column_text(st, 0);
      if (v != nullptr) out = reinterpret_cast<const char*>(v);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string path_;
};

// The cluster shared by this process's tests (each with its own database); started on first use, stopped at exit.
testing::PostgresPeer* SharedPostgres(std::string* error) {
  static std::string start_error;
  static std::unique_ptr<testing::PostgresPeer> peer = testing::PostgresPeer::Start(&start_error);
  *error = start_error;
  return peer.get();
}

class PostgresEngine {
 public:
  static constexpr const char* kName = "postgresql";
  PostgresEngine() {
    testing::PostgresPeer* peer = SharedPostgres(&error_);
    if (peer != nullptr) dsn_ = peer->NewDatabase(&error_);
  }
  bool Ready(std::string* error) {
    *error = error_;
    return error_.empty();
  }

  absl::StatusOr<std::unique_ptr<Store>> Open(int migrate_to = kSchemaVersion) {
    PostgresOptions options;
    options.migrate_to = migrate_to;
    return OpenPostgresStore(dsn_, options);
  }
  std::string Spec() const { return dsn_; }
  std::string Exec(const std::string& sql) {
    PGconn* conn = PQconnectdb(dsn_.c_str());
    PGresult* r = PQexec(conn, sql.c_str());
    std::string out;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) out = PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
    return out;
  }
  // As SqliteEngine's: a row trigger fires once per row version written (an UPDATE that sets the same values
  // included), which is what MVCC costs.
  std::string CountObservationWrites() {
    return Exec(
        "CREATE TABLE obs_writes (n INTEGER);"
        "CREATE FUNCTION obs_written() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO obs_writes VALUES (1); RETURN NULL; END $$;"
        "CREATE TRIGGER obs_written AFTER INSERT OR UPDATE OR DELETE ON observations FOR EACH ROW "
        "EXECUTE FUNCTION obs_written();");
  }
  std::string Query(const std::string& sql) {
    PGconn* conn = PQconnectdb(dsn_.c_str());
    PGresult* r = PQexec(conn, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
    PQfinish(conn);
    return out;
  }

 private:
  std::string error_;
  std::string dsn_;
};

// --- Helpers ---------------------------------------------------------------------------------------------------

WatchRow NewWatch(const std::string& domain, absl::Time created, const std::string& webhook = "") {
  WatchRow w;
  w.domain = domain;
  w.domain_unicode = absl::StrCat("u-", domain);
  w.created = created;
  w.settings.set_interval_seconds(3600);
  w.settings.add_kinds(v1::PERMUTATION_KIND_UNSPECIFIED);
  w.settings.set_max_candidates(500);
  if (!webhook.empty()) {
    w.settings.set_webhook_url(webhook);
    w.settings.set_webhook_secret("whsec");
  }
  return w;
}

ObservationRow Obs(const std::string& candidate, v1::DnsVerdict verdict, absl::Time at,
                   const std::string& state = "state") {
  ObservationRow o;
  o.candidate = candidate;
  o.candidate_unicode = absl::StrCat("u-", candidate);
  o.kind = static_cast<v1::PermutationKind>(1);
  o.verdict = verdict;
  o.state = state;
  v1::Record record;
  record.set_domain_ascii(candidate);
  o.record = record.SerializeAsString();
  if (verdict == v1::DNS_VERDICT_REGISTERED) o.first_seen = at;
  o.last_seen = at;
  return o;
}

v1::WatchEvent Event(v1::EventType type, const std::string& candidate) {
  v1::WatchEvent e;
  e.set_type(type);
  e.set_candidate_ascii(candidate);
  return e;
}

template <typename Engine>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    if (!engine_.Ready(&error)) GTEST_FAIL() << "no " << Engine::kName << ": " << error;
    absl::StatusOr<std::unique_ptr<Store>> s = engine_.Open();
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  WatchRow Create(const std::string& domain, absl::Time created, const std::string& webhook = "") {
    absl::StatusOr<WatchRow> w = store_->CreateWatch(NewWatch(domain, created, webhook));
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *w : WatchRow();
  }

  // Claims `w` (made due before every other watch) for `owner` at `now`.
  void Claim(const WatchRow& w, const std::string& owner, absl::Time now) {
    ASSERT_TRUE(store_->ScheduleScan(w.domain, absl::InfinitePast()).ok());
    absl::StatusOr<std::optional<WatchRow>> c = store_->ClaimDueWatch(owner, now, now + absl::Minutes(5));
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(c->has_value());
    ASSERT_EQ((*c)->id, w.id);
  }

  // Claims `w` and commits a scan of it.
  absl::Status ClaimAndCommit(const WatchRow& w, absl::Time at, std::vector<ObservationRow> inserts,
                              std::vector<v1::WatchEvent> events = {}, std::vector<ObservationRow> updates = {},
                              std::vector<std::string> absent = {}) {
    Claim(w, "scanner", at);
    ScanCommit c;
    c.watch_id = w.id;
    c.lease_owner = "scanner";
    c.scanned_at = at;
    c.next_scan = at + absl::Hours(1);
    c.baseline_done = true;
    c.inserts = std::move(inserts);
    c.updates = std::move(updates);
    c.absent = std::move(absent);
    c.events = std::move(events);
    return store_->CommitScan(c);
  }

  Engine engine_;
  std::unique_ptr<Store> store_;
};

struct EngineNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Engines = ::testing::Types<SqliteEngine, PostgresEngine>;
TYPED_TEST_SUITE(StoreTest, Engines, EngineNames);

// --- Watches -------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, CreateGetListWatches) {
  Store& s = *this->store_;
  const WatchRow a = this->Create("b.example", kT0);
  EXPECT_GT(a.id, 0);
  EXPECT_EQ(a.domain, "b.example");
  EXPECT_EQ(a.domain_unicode, "u-b.example");
  EXPECT_EQ(a.created, kT0);
  EXPECT_EQ(a.next_scan, kT0);  // due at once
  EXPECT_EQ(a.last_scan, absl::InfinitePast());
  EXPECT_EQ(a.scans, 0u);
  EXPECT_FALSE(a.baseline_done);
  EXPECT_EQ(a.settings.max_candidates(), 500u);
  this->Create("a.example", kT0);
  this->Create("c.example", kT0, "https://hooks.example/x");

  absl::StatusOr<WatchRow> dup = s.CreateWatch(NewWatch("b.example", kT0));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists) << dup.status();
  EXPECT_THAT(dup.status().message(), HasSubstr("b.example"));

  absl::StatusOr<WatchRow> got = s.GetWatch("c.example");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->settings.webhook_url(), "https://hooks.example/x");
  EXPECT_EQ(got->settings.webhook_secret(), "whsec");
  EXPECT_EQ(s.GetWatch("nope.example").status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<std::vector<WatchRow>> page = s.ListWatches("", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].domain, "a.example");
  EXPECT_EQ((*page)[1].domain, "b.example");
  page = s.ListWatches((*page)[1].domain, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].domain, "c.example");
  page = s.ListWatches("c.example", 2);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
}

TYPED_TEST(StoreTest, UpdateScheduleAndDeleteWatches) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  v1::WatchSettings settings = w.settings;
  settings.set_interval_seconds(7200);
  absl::StatusOr<WatchRow> u = s.UpdateWatch("a.example", settings, std::nullopt);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->settings.interval_seconds(), 7200u);
  EXPECT_EQ(u->next_scan, kT0);  // kept
  u = s.UpdateWatch("a.example", settings, kT0 + absl::Hours(2));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->next_scan, kT0 + absl::Hours(2));
  EXPECT_EQ(s.UpdateWatch("nope.example", settings, std::nullopt).status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<WatchRow> sc = s.ScheduleScan("a.example", kT0 + absl::Minutes(1));
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->next_scan, kT0 + absl::Minutes(1));
  EXPECT_EQ(s.ScheduleScan("nope.example", kT0).status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(s.DeleteWatch("nope.example").code(), absl::StatusCode::kNotFound);
}

TYPED_TEST(StoreTest, DeleteWatchCascades) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0, "https://hooks.example/x");
  const WatchRow other = this->Create("b.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0, {Obs("aa.example", v1::DNS_VERDICT_REGISTERED, kT0)},
                                   {Event(v1::EVENT_TYPE_APPEARED, "aa.example")})
                  .ok());
  ASSERT_TRUE(this->ClaimAndCommit(other, kT0, {Obs("bb.example", v1::DNS_VERDICT_REGISTERED, kT0)},
                                   {Event(v1::EVENT_TYPE_APPEARED, "bb.example")})
                  .ok());
  ASSERT_EQ(s.CountDeliveries()->pending, 1u);
  ASSERT_TRUE(s.DeleteWatch("a.example").ok());
  EXPECT_EQ(s.GetWatch("a.example").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(s.LoadObservations(w.id)->empty());
  absl::StatusOr<std::vector<v1::WatchEvent>> events = s.ListEvents(0, 0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].watch(), "b.example");
  EXPECT_EQ(s.CountDeliveries()->pending, 0u);
  EXPECT_EQ(s.LoadObservations(other.id)->size(), 1u);
}

// --- Scans: observations and their commit ----------------------------------------------------------------------

TYPED_TEST(StoreTest, CommitScanWritesObservationsAndTheSchedule) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0 + absl::Seconds(1),
                                   {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0, "s1"),
                                    Obs("a.example1", v1::DNS_VERDICT_UNREGISTERED, kT0, "s2"),
                                    Obs("c.example", v1::DNS_VERDICT_WILDCARD, kT0, "s3")},
                                   {Event(v1::EVENT_TYPE_BASELINE, "")})
                  .ok());
  absl::StatusOr<WatchRow> got = s.GetWatch("a.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->scans, 1u);
  EXPECT_EQ(got->last_scan, kT0 + absl::Seconds(1));
  EXPECT_EQ(got->next_scan, kT0 + absl::Seconds(1) + absl::Hours(1));
  EXPECT_EQ(got->last_scan_outcome, "ok");
  EXPECT_TRUE(got->baseline_done);
  EXPECT_EQ(got->observed, 3u);
  EXPECT_EQ(got->registered, 2u);  // REGISTERED and WILDCARD
  // The lease is released: a renewal by the scanner fails, the watch is claimable when due.
  EXPECT_EQ(s.RenewLease(w.id, "scanner", kT0 + absl::Hours(1)).code(), absl::StatusCode::kAborted);

  absl::StatusOr<std::vector<ObservationRow>> all = s.LoadObservations(w.id);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].candidate, "a.example1");  // candidate order
  EXPECT_EQ((*all)[0].state, "s2");
  EXPECT_EQ((*all)[0].first_seen, absl::InfinitePast());
  EXPECT_TRUE((*all)[0].record.empty());  // LoadObservations leaves records out
  EXPECT_EQ((*all)[1].candidate, "b.example");
  EXPECT_EQ((*all)[1].candidate_unicode, "u-b.example");
  EXPECT_EQ((*all)[1].verdict, v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ((*all)[1].first_seen, kT0);
  EXPECT_EQ((*all)[1].last_seen, kT0);
  EXPECT_EQ((*all)[1].kind, static_cast<v1::PermutationKind>(1));
  EXPECT_FALSE((*all)[1].absent);

  ObservationFilter with_records;
  with_records.include_records = true;
  absl::StatusOr<std::vector<ObservationRow>> listed = s.ListObservations(w.id, with_records, "", 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  v1::Record record;
  ASSERT_TRUE(record.ParseFromString((*listed)[1].record));
  EXPECT_EQ(record.domain_ascii(), "b.example");
}

TYPED_TEST(StoreTest, AScanAskedForDuringAScanIsKeptByItsCommit) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("asked.example", kT0);
  const absl::Time now = kT0 + absl::Seconds(1);
  absl::StatusOr<std::optional<WatchRow>> claimed = s.ClaimDueWatch("scanner", now, now + absl::Minutes(5));
  ASSERT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
  // ScanWatchNow while the scan runs.
  const absl::Time asked = now + absl::Seconds(2);
  ASSERT_TRUE(s.ScheduleScan("asked.example", asked).ok());
  ScanCommit commit;
  commit.watch_id = w.id;
  commit.lease_owner = "scanner";
  commit.scanned_at = now + absl::Seconds(3);
  commit.next_scan = now + absl::Hours(6);
  commit.claimed_next_scan = (*claimed)->next_scan;
  ASSERT_TRUE(s.CommitScan(commit).ok());
  absl::StatusOr<WatchRow> got = s.GetWatch("asked.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_scan, asked);  // the request is not lost

  // Nothing asked during the next scan: its own next_scan.
  claimed = s.ClaimDueWatch("scanner", asked, asked + absl::Minutes(5));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  commit.scanned_at = asked + absl::Seconds(1);
  commit.next_scan = asked + absl::Hours(6);
  commit.claimed_next_scan = (*claimed)->next_scan;
  ASSERT_TRUE(s.CommitScan(commit).ok());
  got = s.GetWatch("asked.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_scan, asked + absl::Hours(6));
}

TYPED_TEST(StoreTest, UpdatesWriteOnlyWhatTheyMust) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0,
                                   {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0, "s1"),
                                    Obs("c.example", v1::DNS_VERDICT_REGISTERED, kT0, "s2")})
                  .ok());
  ASSERT_TRUE(s.Annotate(w.id, "b.example", v1::TRIAGE_OWNED, "ours").ok());
  const absl::Time t1 = kT0 + absl::Hours(6);
  ObservationRow changed = Obs("b.example", v1::DNS_VERDICT_UNREGISTERED, t1, "s1-changed");
  changed.first_seen = kT0;
  changed.last_changed = t1;
  ASSERT_TRUE(this->ClaimAndCommit(w, t1, {}, {}, {changed}).ok());
  absl::StatusOr<std::vector<ObservationRow>> all = s.LoadObservations(w.id);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  const ObservationRow& b = (*all)[0];
  EXPECT_EQ(b.verdict, v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_EQ(b.state, "s1-changed");
  EXPECT_EQ(b.last_seen, t1);
  EXPECT_EQ(b.last_changed, t1);
  EXPECT_EQ(b.triage, v1::TRIAGE_OWNED);  // an update keeps the triage
  EXPECT_EQ(b.triage_note, "ours");
  const ObservationRow& c = (*all)[1];
  EXPECT_EQ(c.last_seen, kT0);  // in no list: not written (its last_seen is the watch's last_scan)
  EXPECT_EQ(c.state, "s2");
  EXPECT_EQ(c.first_seen, kT0);
  EXPECT_EQ(c.last_changed, absl::InfinitePast());
  EXPECT_EQ(s.GetWatch("a.example")->scans, 2u);
  EXPECT_EQ(s.GetWatch("a.example")->last_scan, t1);
}

TYPED_TEST(StoreTest, ARescanWhereNothingChangedWritesNoObservation) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0,
                                   {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0, "s1"),
                                    Obs("c.example", v1::DNS_VERDICT_UNREGISTERED, kT0, "s2")})
                  .ok());
  absl::StatusOr<std::vector<ObservationRow>> before = s.LoadObservations(w.id);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(this->engine_.CountObservationWrites(), "");
  const absl::Time t1 = kT0 + absl::Hours(6);
  ASSERT_TRUE(this->ClaimAndCommit(w, t1, {}).ok());  // no inserts, no updates, no absent
  EXPECT_EQ(this->engine_.Query("SELECT count(*) FROM obs_writes"), "0");
  absl::StatusOr<std::vector<ObservationRow>> after = s.LoadObservations(w.id);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  for (std::size_t i = 0; i < after->size(); ++i) {
    const ObservationRow& a = (*after)[i];
    const ObservationRow& b = (*before)[i];
    EXPECT_EQ(a.candidate, b.candidate);
    EXPECT_EQ(a.state, b.state) << a.candidate;
    EXPECT_EQ(a.verdict, b.verdict) << a.candidate;
    EXPECT_EQ(a.first_seen, b.first_seen) << a.candidate;
    EXPECT_EQ(a.last_seen, kT0) << a.candidate;  // untouched
    EXPECT_EQ(a.last_changed, b.last_changed) << a.candidate;
    EXPECT_FALSE(a.absent) << a.candidate;
  }
  // The watch's row says when they were last seen: this scan.
  absl::StatusOr<WatchRow> got = s.GetWatch("a.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->last_scan, t1);
  EXPECT_EQ(got->scans, 2u);
  EXPECT_EQ(got->observed, 2u);
}

TYPED_TEST(StoreTest, AbsentMarksOnceWithThePreviousScanAndAnUpdateBringsItBack) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0,
                                   {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0, "s1"),
                                    Obs("c.example", v1::DNS_VERDICT_REGISTERED, kT0, "s2")})
                  .ok());
  const absl::Time t1 = kT0 + absl::Hours(6);
  ASSERT_TRUE(this->ClaimAndCommit(w, t1, {}).ok());  // both in the scan at t1, nothing written
  ASSERT_TRUE(s.Annotate(w.id, "c.example", v1::TRIAGE_MALICIOUS, "bad").ok());
  ASSERT_EQ(this->engine_.CountObservationWrites(), "");

  // At t2, c.example is no longer a candidate: marked absent, last seen at the watch's previous scan (t1).
  const absl::Time t2 = kT0 + absl::Hours(12);
  ASSERT_TRUE(this->ClaimAndCommit(w, t2, {}, {}, {}, {"c.example", "never.example"}).ok());
  EXPECT_EQ(this->engine_.Query("SELECT count(*) FROM obs_writes"), "1");  // c.example's row only
  absl::StatusOr<std::vector<ObservationRow>> all = s.LoadObservations(w.id);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);  // a candidate never observed is not added
  EXPECT_FALSE((*all)[0].absent);
  EXPECT_EQ((*all)[0].last_seen, kT0);
  const ObservationRow c = (*all)[1];
  EXPECT_TRUE(c.absent);
  EXPECT_EQ(c.last_seen, t1);
  EXPECT_EQ(c.state, "s2");  // nothing else written
  EXPECT_EQ(c.verdict, v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(c.first_seen, kT0);
  EXPECT_EQ(c.triage, v1::TRIAGE_MALICIOUS);
  EXPECT_EQ(c.triage_note, "bad");
  // Listed and annotated with it.
  ObservationFilter any;
  absl::StatusOr<std::vector<ObservationRow>> listed = s.ListObservations(w.id, any, "b.example", 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].absent);
  absl::StatusOr<ObservationRow> annotated = s.Annotate(w.id, "c.example", v1::TRIAGE_MALICIOUS, "still bad");
  ASSERT_TRUE(annotated.ok()) << annotated.status();
  EXPECT_TRUE(annotated->absent);
  EXPECT_EQ(annotated->last_seen, t1);

  // Absent already: left as it is (its last_seen stays the last scan it was in).
  const absl::Time t3 = kT0 + absl::Hours(18);
  const std::string writes = this->engine_.Query("SELECT count(*) FROM obs_writes");
  ASSERT_TRUE(this->ClaimAndCommit(w, t3, {}, {}, {}, {"c.example"}).ok());
  EXPECT_EQ(this->engine_.Query("SELECT count(*) FROM obs_writes"), writes);
  all = s.LoadObservations(w.id);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE((*all)[1].absent);
  EXPECT_EQ((*all)[1].last_seen, t1);

  // Back in the scans: an update with absent = false.
  const absl::Time t4 = kT0 + absl::Hours(24);
  ObservationRow back = Obs("c.example", v1::DNS_VERDICT_REGISTERED, t4, "s2");
  back.first_seen = kT0;
  ASSERT_TRUE(this->ClaimAndCommit(w, t4, {}, {}, {back}).ok());
  all = s.LoadObservations(w.id);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE((*all)[1].absent);
  EXPECT_EQ((*all)[1].last_seen, t4);
  EXPECT_EQ((*all)[1].triage, v1::TRIAGE_MALICIOUS);  // kept
  EXPECT_EQ((*all)[1].triage_note, "still bad");
}

TYPED_TEST(StoreTest, AFailedCommitWritesNothing) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0, "https://hooks.example/x");
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0, {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0)}).ok());
  // An update of a candidate never observed: NOT_FOUND, and the insert, event and schedule beside it are not kept.
  absl::Status st = this->ClaimAndCommit(w, kT0 + absl::Hours(1), {Obs("new.example", v1::DNS_VERDICT_REGISTERED, kT0)},
                                         {Event(v1::EVENT_TYPE_APPEARED, "new.example")},
                                         {Obs("ghost.example", v1::DNS_VERDICT_REGISTERED, kT0)});
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_THAT(st.message(), HasSubstr("ghost.example"));
  ASSERT_TRUE(s.ReleaseLease(w.id, "scanner", kT0, "failed").ok());  // still held: the commit changed nothing
  // An insert of a candidate observed already: ALREADY_EXISTS, nothing kept.
  st = this->ClaimAndCommit(
      w, kT0 + absl::Hours(1),
      {Obs("new.example", v1::DNS_VERDICT_REGISTERED, kT0), Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0)},
      {Event(v1::EVENT_TYPE_APPEARED, "new.example")});
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << st;
  EXPECT_EQ(s.LoadObservations(w.id)->size(), 1u);
  EXPECT_TRUE(s.ListEvents(0, 0, 10)->empty());
  EXPECT_EQ(s.CountDeliveries()->pending, 0u);
  EXPECT_EQ(s.GetWatch("a.example")->scans, 1u);
}

TYPED_TEST(StoreTest, ListObservationsFiltersAndPages) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  std::vector<ObservationRow> rows;
  for (int i = 0; i < 10; ++i) {
    ObservationRow o = Obs(absl::StrCat("c", i, ".example"),
                           i % 2 == 0 ? v1::DNS_VERDICT_REGISTERED : v1::DNS_VERDICT_UNREGISTERED, kT0);
    o.kind = static_cast<v1::PermutationKind>(1 + i % 3);
    if (i == 4) o.last_changed = kT0 + absl::Hours(1);  // changed after it was first seen
    rows.push_back(o);
  }
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0, rows).ok());
  ASSERT_TRUE(s.Annotate(w.id, "c2.example", v1::TRIAGE_MALICIOUS, "").ok());
  ASSERT_TRUE(s.Annotate(w.id, "c3.example", v1::TRIAGE_IGNORED, "").ok());

  auto candidates = [&](const ObservationFilter& f, const std::string& after, int limit) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<ObservationRow>> r = s.ListObservations(w.id, f, after, limit);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const ObservationRow& o : *r) {
        EXPECT_TRUE(o.record.empty());
        out.push_back(o.candidate);
      }
    }
    return out;
  };
  ObservationFilter any;
  EXPECT_THAT(candidates(any, "", 3), ElementsAre("c0.example", "c1.example", "c2.example"));
  EXPECT_THAT(candidates(any, "c2.example", 3), ElementsAre("c3.example", "c4.example", "c5.example"));
  EXPECT_THAT(candidates(any, "c8.example", 3), ElementsAre("c9.example"));
  ObservationFilter registered;
  registered.verdicts = {v1::DNS_VERDICT_REGISTERED, v1::DNS_VERDICT_WILDCARD};
  EXPECT_THAT(candidates(registered, "c2.example", 10), ElementsAre("c4.example", "c6.example", "c8.example"));
  ObservationFilter triaged;
  triaged.triage = {v1::TRIAGE_MALICIOUS, v1::TRIAGE_IGNORED};
  EXPECT_THAT(candidates(triaged, "", 10), ElementsAre("c2.example", "c3.example"));
  ObservationFilter kinds;
  kinds.kinds = {static_cast<v1::PermutationKind>(2)};
  EXPECT_THAT(candidates(kinds, "", 10), ElementsAre("c1.example", "c4.example", "c7.example"));
  ObservationFilter changed;
  changed.changed_only = true;
  EXPECT_THAT(candidates(changed, "", 10), ElementsAre("c4.example"));
  ObservationFilter both;
  both.verdicts = {v1::DNS_VERDICT_REGISTERED};
  both.kinds = {static_cast<v1::PermutationKind>(1)};
  EXPECT_THAT(candidates(both, "", 10), ElementsAre("c0.example", "c6.example"));
}

TYPED_TEST(StoreTest, Annotate) {
  Store& s = *this->store_;
  const WatchRow w = this->Create("a.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(w, kT0, {Obs("b.example", v1::DNS_VERDICT_REGISTERED, kT0, "st")}).ok());
  absl::StatusOr<ObservationRow> a = s.Annotate(w.id, "b.example", v1::TRIAGE_FALSE_POSITIVE, "a bakery");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->candidate, "b.example");
  EXPECT_EQ(a->triage, v1::TRIAGE_FALSE_POSITIVE);
  EXPECT_EQ(a->triage_note, "a bakery");
  EXPECT_EQ(a->state, "st");
  EXPECT_TRUE(a->record.empty());
  EXPECT_EQ(s.Annotate(w.id, "never.example", v1::TRIAGE_OWNED, "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.Annotate(w.id + 100, "b.example", v1::TRIAGE_OWNED, "").status().code(), absl::StatusCode::kNotFound);
}

// --- Leases ----------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, LeasesClaimRenewExpireAndAreLost) {
  Store& s = *this->store_;
  const WatchRow first = this->Create("first.example", kT0);
  const WatchRow second = this->Create("second.example", kT0 + absl::Seconds(1));
  this->Create("later.example", kT0 + absl::Hours(1));
  const absl::Time now = kT0 + absl::Minutes(1);
  const absl::Time until = now + absl::Minutes(5);

  absl::StatusOr<std::optional<WatchRow>> a = s.ClaimDueWatch("a", now, until);
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status();
  EXPECT_EQ((*a)->id, first.id);  // the watch due first
  absl::StatusOr<std::optional<WatchRow>> b = s.ClaimDueWatch("b", now, until);
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->id, second.id);
  absl::StatusOr<std::optional<WatchRow>> c = s.ClaimDueWatch("c", now, until);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());  // later.example is not due; the others are leased
  EXPECT_EQ(s.ClaimDueWatch("", now, until).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_TRUE(s.RenewLease(first.id, "a", until + absl::Minutes(1)).ok());
  EXPECT_EQ(s.RenewLease(first.id, "b", until + absl::Minutes(1)).code(), absl::StatusCode::kAborted);

  // a's lease (renewed to until + 1 min) runs out; c takes the watch over.
  const absl::Time after = until + absl::Minutes(2);
  c = s.ClaimDueWatch("c", after, after + absl::Minutes(5));
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->id, first.id);
  absl::Status lost = s.RenewLease(first.id, "a", after + absl::Minutes(10));
  EXPECT_EQ(lost.code(), absl::StatusCode::kAborted) << lost;
  ScanCommit commit;
  commit.watch_id = first.id;
  commit.lease_owner = "a";
  commit.scanned_at = after;
  commit.next_scan = after + absl::Hours(1);
  commit.inserts = {Obs("x.example", v1::DNS_VERDICT_REGISTERED, after)};
  commit.events = {Event(v1::EVENT_TYPE_BASELINE, "")};
  EXPECT_EQ(s.CommitScan(commit).code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(s.LoadObservations(first.id)->empty());
  EXPECT_TRUE(s.ListEvents(0, 0, 10)->empty());
  EXPECT_EQ(s.GetWatch("first.example")->scans, 0u);

  // c gives it back (a failed scan): next_scan and outcome set, no scan counted, claimable when due.
  ASSERT_TRUE(s.ReleaseLease(first.id, "c", after + absl::Minutes(30), "dns failed").ok());
  EXPECT_EQ(s.ReleaseLease(first.id, "c", after, "again").code(), absl::StatusCode::kAborted);
  absl::StatusOr<WatchRow> got = s.GetWatch("first.example");
  EXPECT_EQ(got->next_scan, after + absl::Minutes(30));
  EXPECT_EQ(got->last_scan_outcome, "dns failed");
  EXPECT_EQ(got->scans, 0u);
  // b's expired lease on second.example does not hold it either; it was due earlier, so it comes first.
  c = s.ClaimDueWatch("d", after + absl::Minutes(30), after + absl::Hours(1));
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->id, second.id);
  c = s.ClaimDueWatch("d", after + absl::Minutes(30), after + absl::Hours(1));
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->id, first.id);
}

TYPED_TEST(StoreTest, ConcurrentClaimsFromThreadsGetDifferentWatches) {
  Store& s = *this->store_;
  this->Create("a.example", kT0);
  this->Create("b.example", kT0);
  std::atomic<int> ready{0};
  std::vector<std::int64_t> got(2, -1);
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      absl::StatusOr<std::optional<WatchRow>> c =
          s.ClaimDueWatch(absl::StrCat("owner", i), kT0 + absl::Minutes(1), kT0 + absl::Minutes(6));
      if (c.ok() && c->has_value()) got[static_cast<std::size_t>(i)] = (*c)->id;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_NE(got[0], -1);
  EXPECT_NE(got[1], -1);
  EXPECT_NE(got[0], got[1]);
}

// Three stores (three connections, as three replicas have) claim 30 due watches at once: each exactly once.
TYPED_TEST(StoreTest, SeveralStoresClaimEachDueWatchOnce) {
  for (int i = 0; i < 30; ++i) this->Create(absl::StrCat("w", i, ".example"), kT0);
  std::vector<std::unique_ptr<Store>> replicas;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Store>> r = this->engine_.Open();
    ASSERT_TRUE(r.ok()) << r.status();
    replicas.push_back(*std::move(r));
  }
  std::mutex mu;
  std::vector<std::int64_t> claimed;
  std::atomic<int> errors{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  threads.reserve(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < 3) std::this_thread::yield();
      for (;;) {
        absl::StatusOr<std::optional<WatchRow>> c = replicas[static_cast<std::size_t>(i)]->ClaimDueWatch(
            absl::StrCat("replica", i), kT0 + absl::Minutes(1), kT0 + absl::Minutes(6));
        if (!c.ok()) {
          ADD_FAILURE() << c.status();
          errors.fetch_add(1);
          return;
        }
        if (!c->has_value()) return;
        std::lock_guard<std::mutex> lock(mu);
        claimed.push_back((*c)->id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), 30u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 30u);
}

// --- Events ----------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, ListEventsInIdOrderWithWatchAndCursor) {
  Store& s = *this->store_;
  absl::StatusOr<std::uint64_t> none = s.LastEventId();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0u);
  const WatchRow a = this->Create("a.example", kT0);
  const WatchRow b = this->Create("b.example", kT0);
  v1::WatchEvent timed = Event(v1::EVENT_TYPE_CHANGED, "x.example");
  timed.mutable_time()->set_seconds(absl::ToUnixSeconds(kT0) - 5);
  auto* change = timed.add_changes();
  change->set_field("addresses");
  change->set_after("192.0.2.1");
  ASSERT_TRUE(this->ClaimAndCommit(a, kT0, {}, {Event(v1::EVENT_TYPE_BASELINE, ""), timed}).ok());
  ASSERT_TRUE(this->ClaimAndCommit(b, kT0 + absl::Seconds(1), {}, {Event(v1::EVENT_TYPE_APPEARED, "y.example")}).ok());
  ASSERT_TRUE(this->ClaimAndCommit(a, kT0 + absl::Seconds(2), {}, {Event(v1::EVENT_TYPE_GONE, "x.example")}).ok());

  absl::StatusOr<std::vector<v1::WatchEvent>> all = s.ListEvents(0, 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  for (std::size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].id(), (*all)[i - 1].id());
  EXPECT_EQ((*all)[0].watch(), "a.example");
  EXPECT_EQ((*all)[0].type(), v1::EVENT_TYPE_BASELINE);
  EXPECT_EQ((*all)[0].time().seconds(), absl::ToUnixSeconds(kT0));  // no time: the scan's
  EXPECT_EQ((*all)[1].time().seconds(), absl::ToUnixSeconds(kT0) - 5);
  ASSERT_EQ((*all)[1].changes_size(), 1);
  EXPECT_EQ((*all)[1].changes(0).after(), "192.0.2.1");
  EXPECT_EQ((*all)[2].watch(), "b.example");
  EXPECT_EQ((*all)[2].candidate_ascii(), "y.example");

  absl::StatusOr<std::vector<v1::WatchEvent>> after = s.ListEvents(0, (*all)[1].id(), 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].id(), (*all)[2].id());
  absl::StatusOr<std::vector<v1::WatchEvent>> of_a = s.ListEvents(a.id, 0, 100);
  ASSERT_TRUE(of_a.ok());
  ASSERT_EQ(of_a->size(), 3u);
  EXPECT_EQ((*of_a)[2].type(), v1::EVENT_TYPE_GONE);
  EXPECT_TRUE(s.ListEvents(a.id, (*all)[3].id(), 100)->empty());

  // The last id ever written stays, whatever is deleted (a follower's cursor is still valid).
  absl::StatusOr<std::uint64_t> last = s.LastEventId();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, (*all)[3].id());
  ASSERT_TRUE(s.DeleteWatch("a.example").ok());
  last = s.LastEventId();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, (*all)[3].id());
}

// Writers on three stores commit events at once while a reader follows a cursor: ids only grow, and the reader,
// moving its cursor to the last id it saw, ends with every event exactly once (no id committed behind it).
TYPED_TEST(StoreTest, ConcurrentCommittersNeverLeaveACursorGap) {
  constexpr int kWriters = 3;
  constexpr int kCommitsEach = 25;
  for (int i = 0; i < 6; ++i) this->Create(absl::StrCat("w", i, ".example"), kT0);
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kWriters + 1; ++i) {
    absl::StatusOr<std::unique_ptr<Store>> r = this->engine_.Open();
    ASSERT_TRUE(r.ok()) << r.status();
    stores.push_back(*std::move(r));
  }
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      Store& s = *stores[static_cast<std::size_t>(i)];
      const std::string owner = absl::StrCat("writer", i);
      int done = 0;
      while (done < kCommitsEach && failures.load() == 0) {
        const absl::Time now = kT0 + absl::Minutes(1);
        absl::StatusOr<std::optional<WatchRow>> c = s.ClaimDueWatch(owner, now, now + absl::Minutes(5));
        if (!c.ok()) {
          ADD_FAILURE() << c.status();
          failures.fetch_add(1);
          break;
        }
        if (!c->has_value()) continue;  // every watch leased by the others right now
        ScanCommit commit;
        commit.watch_id = (*c)->id;
        commit.lease_owner = owner;
        commit.scanned_at = now;
        commit.next_scan = kT0;  // due again at once
        for (int e = 0; e < 3; ++e) commit.events.push_back(Event(v1::EVENT_TYPE_APPEARED, absl::StrCat(owner, e)));
        if (absl::Status st = s.CommitScan(commit); !st.ok()) {
          ADD_FAILURE() << st;
          failures.fetch_add(1);
          break;
        }
        ++done;
      }
      writers_left.fetch_sub(1);
    });
  }
  std::vector<std::uint64_t> seen;
  bool increasing = true;
  {
    Store& reader = *stores[kWriters];
    std::uint64_t cursor = 0;
    for (;;) {
      const bool last_round = writers_left.load() == 0;  // read once more after the writers are done
      absl::StatusOr<std::vector<v1::WatchEvent>> batch = reader.ListEvents(0, cursor, 7);
      ASSERT_TRUE(batch.ok()) << batch.status();
      for (const v1::WatchEvent& e : *batch) {
        if (e.id() <= cursor) increasing = false;
        cursor = e.id();
        seen.push_back(e.id());
      }
      if (last_round && batch->empty()) break;
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(increasing);
  absl::StatusOr<std::vector<v1::WatchEvent>> all = this->store_->ListEvents(0, 0, 10000);
  ASSERT_TRUE(all.ok());
  std::vector<std::uint64_t> ids;
  for (const v1::WatchEvent& e : *all) ids.push_back(e.id());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kWriters * kCommitsEach * 3));
  EXPECT_EQ(seen, ids);  // nothing skipped, nothing twice
}

// --- The outbox ------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, OutboxDeliversEachWatchInOrderWithRetriesAndDeath) {
  Store& s = *this->store_;
  const WatchRow hooked = this->Create("a.example", kT0, "https://hooks.example/a");
  const WatchRow silent = this->Create("b.example", kT0);
  ASSERT_TRUE(
      this->ClaimAndCommit(hooked, kT0, {},
                           {Event(v1::EVENT_TYPE_APPEARED, "1.example"), Event(v1::EVENT_TYPE_APPEARED, "2.example"),
                            Event(v1::EVENT_TYPE_APPEARED, "3.example")})
          .ok());
  ASSERT_TRUE(this->ClaimAndCommit(silent, kT0, {}, {Event(v1::EVENT_TYPE_APPEARED, "x.example")}).ok());
  absl::StatusOr<DeliveryCounts> counts = s.CountDeliveries();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->pending, 3u);  // none for the watch without a webhook
  EXPECT_EQ(counts->dead, 0u);
  EXPECT_EQ(counts->oldest_pending, kT0);

  absl::Time now = kT0 + absl::Seconds(1);
  absl::StatusOr<std::vector<DeliveryRow>> d = s.ClaimDeliveries("d1", now, now + absl::Minutes(1), 10);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 1u);  // only the watch's oldest
  const DeliveryRow first = (*d)[0];
  EXPECT_EQ(first.watch_id, hooked.id);
  EXPECT_EQ(first.url, "https://hooks.example/a");
  EXPECT_EQ(first.secret, "whsec");
  EXPECT_EQ(first.attempts, 0);
  EXPECT_EQ(first.created, kT0);
  EXPECT_EQ(first.event.id(), static_cast<std::uint64_t>(first.event_id));
  EXPECT_EQ(first.event.watch(), "a.example");
  EXPECT_EQ(first.event.candidate_ascii(), "1.example");
  // Leased: no one else gets it (nor the next one of the same watch).
  EXPECT_TRUE(s.ClaimDeliveries("d2", now, now + absl::Minutes(1), 10)->empty());
  EXPECT_EQ(s.MarkDelivered(first.event_id, "d2", now).code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(s.MarkDelivered(first.event_id, "d1", now).ok());
  EXPECT_EQ(s.MarkDelivered(first.event_id, "d1", now).code(), absl::StatusCode::kAborted);  // ended

  d = s.ClaimDeliveries("d1", now, now + absl::Minutes(1), 10);
  ASSERT_EQ(d->size(), 1u);
  const DeliveryRow second = (*d)[0];
  EXPECT_EQ(second.event.candidate_ascii(), "2.example");
  EXPECT_GT(second.event_id, first.event_id);
  ASSERT_TRUE(s.RetryDelivery(second.event_id, "d1", now + absl::Seconds(10), "HTTP 503").ok());
  // Its retry is not due: the watch's later events wait behind it.
  EXPECT_TRUE(s.ClaimDeliveries("d1", now, now + absl::Minutes(1), 10)->empty());
  now += absl::Seconds(10);
  d = s.ClaimDeliveries("d1", now, now + absl::Minutes(1), 10);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].event_id, second.event_id);
  EXPECT_EQ((*d)[0].attempts, 1);
  // The deliverer died holding it: its lease runs out, another takes it; the first one's end is refused.
  now += absl::Minutes(2);
  d = s.ClaimDeliveries("d3", now, now + absl::Minutes(1), 10);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].event_id, second.event_id);
  EXPECT_EQ(s.MarkDead(second.event_id, "d1", "gave up").code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(s.MarkDead(second.event_id, "d3", "HTTP 503 for 24 h").ok());

  counts = s.CountDeliveries();
  EXPECT_EQ(counts->pending, 1u);
  EXPECT_EQ(counts->dead, 1u);
  d = s.ClaimDeliveries("d3", now, now + absl::Minutes(1), 10);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].event.candidate_ascii(), "3.example");
  ASSERT_TRUE(s.MarkDelivered((*d)[0].event_id, "d3", now).ok());
  counts = s.CountDeliveries();
  EXPECT_EQ(counts->pending, 0u);
  EXPECT_EQ(counts->oldest_pending, absl::InfinitePast());
  EXPECT_TRUE(s.ClaimDeliveries("d3", now, now + absl::Minutes(1), 10)->empty());
}

TYPED_TEST(StoreTest, ClaimDeliveriesTakesOneHeadPerWatch) {
  Store& s = *this->store_;
  std::vector<WatchRow> watches;
  for (int i = 0; i < 3; ++i) {
    watches.push_back(this->Create(absl::StrCat("w", i, ".example"), kT0, "https://hooks.example/"));
    ASSERT_TRUE(this->ClaimAndCommit(watches.back(), kT0, {},
                                     {Event(v1::EVENT_TYPE_APPEARED, "first"), Event(v1::EVENT_TYPE_GONE, "second")})
                    .ok());
  }
  absl::StatusOr<std::vector<DeliveryRow>> two = s.ClaimDeliveries("a", kT0, kT0 + absl::Minutes(1), 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->size(), 2u);
  absl::StatusOr<std::vector<DeliveryRow>> rest = s.ClaimDeliveries("b", kT0, kT0 + absl::Minutes(1), 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  std::set<std::int64_t> watch_ids;
  for (const auto* batch : {&*two, &*rest}) {
    for (const DeliveryRow& d : *batch) {
      watch_ids.insert(d.watch_id);
      EXPECT_EQ(d.event.candidate_ascii(), "first");
    }
  }
  EXPECT_EQ(watch_ids.size(), 3u);
  EXPECT_EQ(s.ClaimDeliveries("", kT0, kT0, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreTest, PruneEventsKeepsWhatIsStillToDeliver) {
  Store& s = *this->store_;
  const WatchRow hooked = this->Create("a.example", kT0, "https://hooks.example/a");
  const WatchRow silent = this->Create("b.example", kT0);
  ASSERT_TRUE(this->ClaimAndCommit(silent, kT0, {}, {Event(v1::EVENT_TYPE_BASELINE, "")}).ok());
  ASSERT_TRUE(this->ClaimAndCommit(hooked, kT0, {},
                                   {Event(v1::EVENT_TYPE_APPEARED, "delivered"), Event(v1::EVENT_TYPE_APPEARED, "dead"),
                                    Event(v1::EVENT_TYPE_APPEARED, "pending")})
                  .ok());
  ASSERT_TRUE(
      this->ClaimAndCommit(silent, kT0 + absl::Hours(240), {}, {Event(v1::EVENT_TYPE_APPEARED, "recent")}).ok());
  for (const bool deliver : {true, false}) {
    absl::StatusOr<std::vector<DeliveryRow>> d = s.ClaimDeliveries("d", kT0, kT0 + absl::Minutes(1), 10);
    ASSERT_TRUE(d.ok() && d->size() == 1u);
    ASSERT_TRUE((deliver ? s.MarkDelivered((*d)[0].event_id, "d", kT0) : s.MarkDead((*d)[0].event_id, "d", "no")).ok());
  }
  absl::StatusOr<std::uint64_t> pruned = s.PruneEvents(kT0 + absl::Hours(24));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3u);  // the baseline (no delivery), the delivered one, the dead one
  std::vector<std::string> left;
  absl::StatusOr<std::vector<v1::WatchEvent>> events = s.ListEvents(0, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  for (const v1::WatchEvent& e : *events) left.push_back(e.candidate_ascii());
  EXPECT_THAT(left, ElementsAre("pending", "recent"));
  absl::StatusOr<DeliveryCounts> counts = s.CountDeliveries();
  EXPECT_EQ(counts->pending, 1u);
  EXPECT_EQ(counts->dead, 0u);  // its row went with its event
}

// --- API keys ------------------------------------------------------------------------------------------------

ApiKeyRow Key(const std::string& id, absl::Time created) {
  ApiKeyRow k;
  k.id = id;
  k.name = absl::StrCat("name of ", id);
  k.hash = std::string(64, 'a');
  k.scopes = "scan,watch:read";
  k.created = created;
  return k;
}

TYPED_TEST(StoreTest, ApiKeysCreateListAndRevoke) {
  Store& s = *this->store_;
  absl::StatusOr<std::vector<ApiKeyRow>> none = s.ListApiKeys();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  ApiKeyRow full = Key("bbbbbbbb", kT0);
  full.expires = kT0 + absl::Hours(24 * 90);
  full.quota_candidates_per_hour = 5'000'000'000;  // more than 32 bits
  full.quota_concurrent_streams = 4;
  full.quota_watches = 10;
  ASSERT_TRUE(s.CreateApiKey(full).ok());
  ASSERT_TRUE(s.CreateApiKey(Key("aaaaaaaa", kT0 + absl::Seconds(1))).ok());
  absl::Status dup = s.CreateApiKey(Key("bbbbbbbb", kT0 + absl::Seconds(2)));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.message(), HasSubstr("bbbbbbbb"));

  absl::StatusOr<std::vector<ApiKeyRow>> keys = s.ListApiKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  const ApiKeyRow& b = (*keys)[0];  // by creation, not by id
  EXPECT_EQ(b.id, "bbbbbbbb");
  EXPECT_EQ(b.name, "name of bbbbbbbb");
  EXPECT_EQ(b.hash, std::string(64, 'a'));
  EXPECT_EQ(b.scopes, "scan,watch:read");
  EXPECT_EQ(b.created, kT0);
  EXPECT_EQ(b.expires, kT0 + absl::Hours(24 * 90));
  EXPECT_FALSE(b.revoked.has_value());
  EXPECT_EQ(b.quota_candidates_per_hour, 5'000'000'000);
  EXPECT_EQ(b.quota_concurrent_streams, 4);
  EXPECT_EQ(b.quota_watches, 10);
  const ApiKeyRow& a = (*keys)[1];
  EXPECT_EQ(a.id, "aaaaaaaa");
  EXPECT_FALSE(a.expires.has_value());
  EXPECT_FALSE(a.quota_candidates_per_hour.has_value());
  EXPECT_FALSE(a.quota_concurrent_streams.has_value());
  EXPECT_FALSE(a.quota_watches.has_value());

  absl::StatusOr<ApiKeyRow> revoked = s.RevokeApiKey("aaaaaaaa", kT0 + absl::Hours(1));
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->id, "aaaaaaaa");
  EXPECT_EQ(revoked->revoked, kT0 + absl::Hours(1));
  absl::StatusOr<ApiKeyRow> again = s.RevokeApiKey("aaaaaaaa", kT0 + absl::Hours(2));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revoked, kT0 + absl::Hours(1)) << "a second revoke keeps the first time";
  absl::StatusOr<ApiKeyRow> missing = s.RevokeApiKey("zzzzzzzz", kT0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("zzzzzzzz"));

  keys = s.ListApiKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u) << "revoked keys are listed too";
  EXPECT_EQ((*keys)[1].revoked, kT0 + absl::Hours(1));
  EXPECT_FALSE((*keys)[0].revoked.has_value());
}

TYPED_TEST(StoreTest, WatchesKeepTheKeyThatCreatedThem) {
  Store& s = *this->store_;
  WatchRow owned = NewWatch("owned.example", kT0);
  owned.owner_key_id = "k1k1k1k1";
  absl::StatusOr<WatchRow> created = s.CreateWatch(owned);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->owner_key_id, "k1k1k1k1");
  WatchRow second = NewWatch("second.example", kT0);
  second.owner_key_id = "k1k1k1k1";
  ASSERT_TRUE(s.CreateWatch(second).ok());
  this->Create("nobody.example", kT0);  // no key: the server ran without authentication

  absl::StatusOr<WatchRow> got = s.GetWatch("owned.example");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->owner_key_id, "k1k1k1k1");
  absl::StatusOr<WatchRow> anonymous = s.GetWatch("nobody.example");
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->owner_key_id, "");
  EXPECT_EQ(this->engine_.Query("SELECT count(*) FROM watches WHERE owner_key_id IS NULL"), "1")
      << "no key is NULL, not ''";
  absl::StatusOr<std::vector<WatchRow>> list = s.ListWatches("", 10);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].owner_key_id, "k1k1k1k1");  // owned.example
  EXPECT_EQ((*list)[2].owner_key_id, "k1k1k1k1");  // second.example
  // Read back by the other calls that return a row too.
  absl::StatusOr<WatchRow> scheduled = s.ScheduleScan("owned.example", absl::InfinitePast());
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();
  EXPECT_EQ(scheduled->owner_key_id, "k1k1k1k1");
  absl::StatusOr<WatchRow> updated = s.UpdateWatch("owned.example", owned.settings, std::nullopt);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->owner_key_id, "k1k1k1k1");
  absl::StatusOr<std::optional<WatchRow>> claimed = s.ClaimDueWatch("scanner", kT0, kT0 + absl::Minutes(5));
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  EXPECT_EQ((*claimed)->domain, "owned.example");
  EXPECT_EQ((*claimed)->owner_key_id, "k1k1k1k1");

  absl::StatusOr<std::int64_t> n = s.CountWatchesOwnedBy("k1k1k1k1");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  n = s.CountWatchesOwnedBy("nokey000");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  ASSERT_TRUE(s.DeleteWatch("second.example").ok());
  EXPECT_EQ(*s.CountWatchesOwnedBy("k1k1k1k1"), 1);
}

// --- Opening, migrations ---------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, OpenStoreBySpec) {
  absl::StatusOr<std::unique_ptr<Store>> s = OpenStore(this->engine_.Spec());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->engine(), TypeParam::kName);
  EXPECT_TRUE((*s)->Ping().ok());
  this->Create("a.example", kT0);
  EXPECT_TRUE((*s)->GetWatch("a.example").ok());  // the same database
}

// A watch written as an older squatstreamd wrote it (this binary's CreateWatch writes owner_key_id, a column of
// version 3): NewWatch's settings, created at kT0. `engine`: the engine's name (its bytes literal).
std::string OldWatchInsert(const std::string& engine, const std::string& domain) {
  std::string hex;
  for (char c : NewWatch(domain, kT0).settings.SerializeAsString()) {
    absl::StrAppend(&hex, absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
  }
  const std::string bytes = engine == "sqlite" ? absl::StrCat("X'", hex, "'") : absl::StrCat("'\\x", hex, "'::bytea");
  const std::int64_t t0 = absl::ToUnixMillis(kT0);
  const std::string never = "-9223372036854775808";
  return absl::StrCat(
      "INSERT INTO watches (domain, domain_unicode, settings, created_ms, next_scan_ms, last_scan_ms, "
      "last_scan_outcome, scans, baseline_done, lease_owner, lease_until_ms) VALUES ('",
      domain, "', 'u-", domain, "', ", bytes, ", ", t0, ", ", t0, ", ", never, ", '', 0, FALSE, '', ", never, ")");
}

TYPED_TEST(StoreTest, AnOlderSchemaIsUpgradedAtOpen) {
  // A fresh database of its own at version 1 (this fixture's store is at 2 already).
  TypeParam engine;
  std::string error;
  ASSERT_TRUE(engine.Ready(&error)) << error;
  {
    absl::StatusOr<std::unique_ptr<Store>> v1 = engine.Open(/*migrate_to=*/1);
    ASSERT_TRUE(v1.ok()) << v1.status();
    ASSERT_EQ(engine.Exec(OldWatchInsert(TypeParam::kName, "kept.example")), "");
    EXPECT_FALSE((*v1)->CountDeliveries().ok());  // no outbox at version 1
  }
  absl::StatusOr<std::unique_ptr<Store>> s = engine.Open();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->GetWatch("kept.example").ok());
  absl::StatusOr<DeliveryCounts> counts = (*s)->CountDeliveries();
  EXPECT_TRUE(counts.ok()) << counts.status();
  EXPECT_NE(engine.Exec("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (2, 0)"), "")
      << "version 2 is recorded (once)";
}

TYPED_TEST(StoreTest, VersionTwoWithWatchesMigratesToThree) {
  TypeParam engine;
  std::string error;
  ASSERT_TRUE(engine.Ready(&error)) << error;
  {
    absl::StatusOr<std::unique_ptr<Store>> v2 = engine.Open(/*migrate_to=*/2);
    ASSERT_TRUE(v2.ok()) << v2.status();
    ASSERT_EQ(engine.Exec(OldWatchInsert(TypeParam::kName, "old.example")), "");
    ASSERT_EQ(engine.Exec(OldWatchInsert(TypeParam::kName, "older.example")), "");
    EXPECT_FALSE((*v2)->ListApiKeys().ok());  // no api_keys table at version 2
  }
  absl::StatusOr<std::unique_ptr<Store>> s = engine.Open();
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<WatchRow> old = (*s)->GetWatch("old.example");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->owner_key_id, "") << "a watch from before keys has no owner";
  EXPECT_EQ(old->settings.max_candidates(), 500u);
  EXPECT_EQ(old->created, kT0);
  EXPECT_EQ(engine.Query("SELECT count(*) FROM watches WHERE owner_key_id IS NULL"), "2");
  EXPECT_EQ(*(*s)->CountWatchesOwnedBy("anything"), 0);
  ASSERT_TRUE((*s)->CreateApiKey(Key("newkey00", kT0)).ok());
  absl::StatusOr<std::vector<ApiKeyRow>> keys = (*s)->ListApiKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_EQ(engine.Query("SELECT max(version) FROM schema_migrations"), "3");
}

TYPED_TEST(StoreTest, ANewerSchemaIsRefused) {
  this->store_.reset();
  ASSERT_EQ(this->engine_.Exec("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (99, 0)"), "");
  absl::StatusOr<std::unique_ptr<Store>> s = this->engine_.Open();
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(),
              HasSubstr("the store's schema is version 99, newer than this squatstreamd knows (3)"));
  EXPECT_THAT(s.status().message(), HasSubstr("--store"));
}

// --- SQLite's failures -----------------------------------------------------------------------------------------

// Runs `fn` as the unprivileged user nobody when we are root (root writes read-only files), in a child process;
// returns what it returns.
std::string AsUnprivileged(const std::function<std::string()>& fn) {
  if (geteuid() != 0) return fn();
  int p[2];
  if (pipe(p) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    std::string out = (setgid(65534) == 0 && setuid(65534) == 0) ? fn() : "setuid failed";
    (void)!write(p[1], out.data(), out.size());
    _exit(0);
  }
  close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(p[0]);
  waitpid(pid, nullptr, 0);
  return out;
}

TEST(SqliteStoreTest, AFileThisUserMayNotWriteIsRefusedAtOpen) {
  SqliteEngine engine;
  {
    absl::StatusOr<std::unique_ptr<Store>> s = engine.Open();
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->CreateWatch(NewWatch("a.example", kT0)).ok());
  }  // closed: the WAL checkpointed and removed
  ASSERT_EQ(chmod(engine.path().c_str(), 0444), 0);
  ASSERT_EQ(chmod(std::filesystem::path(engine.path()).parent_path().c_str(), 0555), 0);
  ASSERT_EQ(chmod(engine.dir().c_str(), 0755), 0);
  const std::string result = AsUnprivileged([&] {
    absl::StatusOr<std::unique_ptr<Store>> s = engine.Open();
    absl::Status st = s.ok() ? (*s)->CreateWatch(NewWatch("b.example", kT0)).status() : s.status();
    if (st.ok()) return std::string("a write succeeded");
    // Refused at open (SQLite would open it read-only): PERMISSION_DENIED, not a wait.
    if (st.code() != absl::StatusCode::kPermissionDenied) {
      return absl::StrCat("not PERMISSION_DENIED: ", st.ToString());
    }
    if (!absl::StrContains(st.message(), engine.path())) return absl::StrCat("no path: ", st.ToString());
    return absl::StrCat("ok ", st.message());
  });
  EXPECT_TRUE(absl::StartsWith(result, "ok ")) << result;
  // And a folder that cannot be made.
  const std::string nested = AsUnprivileged([&] {
    absl::StatusOr<std::unique_ptr<Store>> s =
        OpenSqliteStore(std::filesystem::path(engine.path()).parent_path() / "no" / "store.db");
    return s.status().code() == absl::StatusCode::kPermissionDenied ? std::string("ok") : s.status().ToString();
  });
  EXPECT_EQ(nested, "ok");
  chmod(std::filesystem::path(engine.path()).parent_path().c_str(), 0755);
}

TEST(SqliteStoreTest, ALockedDatabaseIsUnavailablePastTheBusyTimeout) {
  SqliteEngine engine;
  SqliteOptions options;
  options.busy_timeout = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<Store>> s = OpenSqliteStore(engine.path(), options);
  ASSERT_TRUE(s.ok()) << s.status();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(engine.path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::StatusOr<WatchRow> w = (*s)->CreateWatch(NewWatch("a.example", kT0));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable) << w.status();
  EXPECT_THAT(w.status().message(), HasSubstr("locked"));
  EXPECT_EQ((*s)->Ping().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE((*s)->ListWatches("", 10).ok());  // readers are not blocked (WAL)
  sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_TRUE((*s)->CreateWatch(NewWatch("a.example", kT0)).ok());
}

TEST(SqliteStoreTest, AFullDatabaseIsUnavailableAndKeepsWhatItHad) {
  SqliteEngine engine;
  ASSERT_TRUE(engine.Open().ok());
  SqliteOptions options;
  options.max_page_count = 40;  // a few pages over the empty schema
  absl::StatusOr<std::unique_ptr<Store>> s = OpenSqliteStore(engine.path(), options);
  ASSERT_TRUE(s.ok()) << s.status();
  absl::StatusOr<WatchRow> w = (*s)->CreateWatch(NewWatch("a.example", kT0));
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<ObservationRow> rows;
  for (int i = 0; i < 200; ++i) {
    ObservationRow o = Obs(absl::StrCat("c", i, ".example"), v1::DNS_VERDICT_REGISTERED, kT0);
    o.record = std::string(1500, 'r');
    rows.push_back(o);
  }
  ASSERT_TRUE((*s)->ClaimDueWatch("x", kT0, kT0 + absl::Minutes(1)).ok());
  ScanCommit commit;
  commit.watch_id = w->id;
  commit.lease_owner = "x";
  commit.scanned_at = kT0;
  commit.next_scan = kT0 + absl::Hours(1);
  commit.inserts = rows;
  absl::Status st = (*s)->CommitScan(commit);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(st.message(), HasSubstr("full"));
  EXPECT_THAT(st.message(), HasSubstr(engine.path()));
  EXPECT_TRUE((*s)->LoadObservations(w->id)->empty());
  EXPECT_EQ((*s)->GetWatch("a.example")->scans, 0u);
  commit.inserts.resize(2);
  EXPECT_TRUE((*s)->CommitScan(commit).ok());  // what fits still goes in
}

TEST(OpenStoreTest, AnUnknownEngineIsInvalid) {
  EXPECT_EQ(OpenStore("mysql://u:pw@h/db").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(OpenStore("mysql://u:pw@h/db").status().message(), Not(HasSubstr("pw")));
}

// --- PostgreSQL's failures -------------------------------------------------------------------------------------

TEST(PostgresStoreTest, AnUnreachableServerIsUnavailableWithoutThePassword) {
  // A loopback port where nothing listens (bound, never listening).
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = absl::StrCat(ntohs(a.sin_port));
  absl::StatusOr<std::unique_ptr<Store>> s =
      OpenStore(absl::StrCat("postgresql://squat:Sekr1t-pw@127.0.0.1:", port, "/squat"));
  close(fd);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));
  EXPECT_THAT(s.status().message(), Not(HasSubstr("Sekr1t")));
  s = OpenStore(absl::StrCat("host=127.0.0.1 port=", port, " dbname=squat password=Sekr1t-pw"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  EXPECT_THAT(s.status().message(), Not(HasSubstr("Sekr1t")));
}

TEST(PostgresStoreTest, AStoppedServerIsUnavailableAndTheSameStoreWorksWhenItIsBack) {
  std::string error;
  std::unique_ptr<testing::PostgresPeer> peer = testing::PostgresPeer::Start(&error);
  ASSERT_NE(peer, nullptr) << error;
  // A password in the DSN (trust authentication ignores it): never in a message.
  std::string dsn = peer->dsn();
  dsn.replace(dsn.find("postgres@"), 9, "postgres:Sekr1t-pw@");
  absl::StatusOr<std::unique_ptr<Store>> s = OpenStore(dsn);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->CreateWatch(NewWatch("a.example", kT0)).ok());

  ASSERT_TRUE(peer->Stop());
  absl::Status down = (*s)->Ping();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  down = (*s)->CreateWatch(NewWatch("b.example", kT0)).status();  // the next call: reconnecting fails
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  const std::string port = dsn.substr(dsn.rfind(':') + 1, dsn.rfind('/') - dsn.rfind(':') - 1);
  EXPECT_THAT(down.message(), HasSubstr(absl::StrCat("127.0.0.1:", port)));
  EXPECT_THAT(down.message(), Not(HasSubstr("Sekr1t")));

  ASSERT_TRUE(peer->Restart());
  // The first call after the restart may still meet the old, broken connection; within a few calls it is new.
  absl::Status up = down;
  for (int i = 0; i < 5 && !up.ok(); ++i) up = (*s)->Ping();
  EXPECT_TRUE(up.ok()) << up;
  EXPECT_TRUE((*s)->GetWatch("a.example").ok());
  EXPECT_TRUE((*s)->CreateWatch(NewWatch("b.example", kT0)).ok());
}

TEST(PostgresStoreTest, ReplicasMigratingAtOnceDoNotCollide) {
  PostgresEngine engine;
  std::string error;
  ASSERT_TRUE(engine.Ready(&error)) << error;
  std::vector<absl::Status> results(4);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < 4) std::this_thread::yield();
      results[i] = engine.Open().status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& r : results) EXPECT_TRUE(r.ok()) << r;
  EXPECT_EQ(engine.Exec("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (4, 0)"), "");
  EXPECT_THAT(engine.Exec("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (3, 0)"),
              HasSubstr("duplicate"));  // each version recorded once
}

}  // namespace
}  // namespace squatstream::store
