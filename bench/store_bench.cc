// The store's throughput, offline (no scan, no network): what a rescan of W watches of C candidates costs each
// engine, beside that engine's own ceiling on this machine in the same run.
//
//   ceiling     the same rows inserted with the engine's own tools, nothing of ours: SQLite, one prepared INSERT
//               stepped per row; PostgreSQL, one prepared INSERT per row sent in libpq's pipeline mode (binary
//               parameters, no round trip per row). Twice: a transaction per C rows (what a scan's commit is) and
//               one transaction for every row.
//   inserts     a first scan of each watch: ClaimDueWatch + CommitScan with C new observations.
//   rescan      a rescan where nothing changed, as the scheduler runs it: the store's part (ClaimDueWatch,
//               LoadObservations, CommitScan — which writes the watch's row and no observation) and the differ's
//               (watch::EvaluateScan of the scan's C records against the loaded observations), timed apart.
//   events      commits of 10 events each (a watch with a webhook: each event with its outbox row).
//   bytes/obs   SQLite: pages in use * page size / rows; PostgreSQL: pg_total_relation_size('observations') / rows
//               (heap, TOAST and indexes).
// Each row is what a scan writes: the differ's state of a real v1::Record (a baseline's EvaluateScan of it: DNS,
// registration, HTTP, TLS, SSH and SMTP fields for the 1 in 10 registered, so that the rescan of the same records
// finds nothing changed) and a ~1.5 KB record column (a real v1::Record's size), the record's bytes built to
// compress like one (names, addresses, hex digests, a page title).
//
// SQLite runs with the store's settings (WAL, synchronous=FULL); PostgreSQL is a throw-away cluster started by
// tests/peers/postgres.py --durable (fsync and synchronous_commit on: a commit costs what it costs in production),
// or --postgres_dsn's server. Prints one table; exits 1 when a store call fails.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "tests/store/postgres_peer.h"
#include "watch/differ.h"

ABSL_FLAG(int, watches, 1000, "watches");
ABSL_FLAG(int, candidates, 1000, "candidates per watch");
ABSL_FLAG(int, event_commits, 1000, "commits of 10 events each");
ABSL_FLAG(std::string, engines, "sqlite,postgresql", "engines to measure");
ABSL_FLAG(std::string, dir, "", "folder for the SQLite files (default: a temporary one, removed after)");
ABSL_FLAG(std::string, postgres_dsn, "",
          "a PostgreSQL server to use (a database `squatstream_bench*` is created and dropped there); default: a "
          "throw-away cluster of tests/peers/postgres.py --durable");

namespace squatstream::store {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr int kPipelineChunk = 256;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "store_bench: %s\n", what.c_str());
  std::exit(1);
}
void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

// The records a scan of watch `w` gives, the same at every scan: 1 in 10 registered (addresses, name servers, a
// mail exchanger, whois, an HTTP answer with its certificate, SSH and SMTP banners), the others NXDOMAIN.
std::vector<v1::Record> Records(int w, int candidates) {
  std::vector<v1::Record> out;
  out.reserve(static_cast<std::size_t>(candidates));
  for (int c = 0; c < candidates; ++c) {
    v1::Record& r = out.emplace_back();
    r.set_domain_ascii(absl::StrFormat("c%05d-w%04d.example", c, w));
    r.set_domain_unicode(r.domain_ascii());
    r.set_kind(static_cast<v1::PermutationKind>(1 + c % 20));
    r.set_input(absl::StrFormat("w%04d.example", w));
    v1::Enrichment* dns = r.add_enrichments();
    dns->set_enricher(v1::ENRICHER_DNS);
    dns->set_latency_micros(1000 + static_cast<std::uint32_t>(c));
    if (c % 10 != 0) {
      dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
      dns->mutable_dns()->set_soa_zone("example");
      continue;
    }
    v1::DnsResult* d = dns->mutable_dns();
    d->set_verdict(v1::DNS_VERDICT_REGISTERED);
    d->add_addresses(absl::StrFormat("192.0.%d.%d", w % 256, c % 256));
    d->add_addresses(absl::StrFormat("2001:db8::%x:%x", w, c));
    d->add_name_servers("ns1.registrar-servers.com.");
    d->add_name_servers("ns2.registrar-servers.com.");
    d->add_mail_exchangers(absl::StrCat("mx1.mail.", r.domain_ascii(), "."));
    v1::Enrichment* whois = r.add_enrichments();
    whois->set_enricher(v1::ENRICHER_WHOIS);
    whois->mutable_whois()->set_registered(true);
    whois->mutable_whois()->set_registrar("Example Registrar, LLC");
    whois->mutable_whois()->set_expires("2026-03-14T00:00:00Z");
    v1::Enrichment* banner = r.add_enrichments();
    banner->set_enricher(v1::ENRICHER_BANNER);
    v1::BannerResult* b = banner->mutable_banner();
    v1::HttpProbe* http = b->add_http();
    http->set_scheme("http");
    http->set_final_status(200);
    http->set_final_url(absl::StrCat("https://", r.domain_ascii(), "/login"));
    http->set_title("Sign in to your account");
    v1::Certificate* leaf = b->mutable_tls()->add_chain();
    leaf->set_issuer("CN=R3,O=Let's Encrypt,C=US");
    leaf->set_sha256(absl::StrFormat("%064x", static_cast<std::uint64_t>(w) * 1000003 + static_cast<std::uint64_t>(c)));
    b->mutable_ssh()->set_identification("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    b->mutable_smtp()->set_mx(absl::StrCat("mx1.mail.", r.domain_ascii()));
    b->mutable_smtp()->set_banner(absl::StrCat("220 mx1.mail.", r.domain_ascii(), " ESMTP Postfix (Debian/GNU)"));
  }
  return out;
}

// The rows of watch `w`: candidates, the differ's state of Records(w) and a ~1.5 KB record each.
std::vector<ObservationRow> Rows(int w, int candidates, std::mt19937_64& rng) {
  auto hex = [&](int n) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < n; ++i) out += kHex[rng() % 16];
    return out;
  };
  // The baseline's rows (the watch side's state, verdicts, times), in Records' order.
  WatchRow watch;
  watch.id = w + 1;
  watch.domain = absl::StrFormat("w%04d.example", w);
  watch::ScanInput baseline;
  baseline.watch = &watch;
  baseline.records = Records(w, candidates);
  baseline.now = kT0;
  std::vector<ObservationRow> rows = watch::EvaluateScan(std::move(baseline)).inserts;
  if (rows.size() != static_cast<std::size_t>(candidates)) Die("the baseline lost candidates");
  for (ObservationRow& o : rows) {
    // A record's worth: names, addresses, registrar, HTTP and TLS fields, digests (~1.5 KB).
    std::string r = absl::StrCat(o.candidate, "|", o.candidate, "|example.com|");
    for (int a = 0; a < 4; ++a)
      absl::StrAppend(&r, "192.0.", rng() % 256, ".", rng() % 256, "|2001:db8::", hex(4), "|");
    absl::StrAppend(&r, "ns1.registrar-servers.com|ns2.registrar-servers.com|mx1.mail.", o.candidate, "|");
    absl::StrAppend(&r, "Example Registrar, LLC|2026-0", 1 + rng() % 9, "-1", rng() % 10, "T00:00:00Z|");
    absl::StrAppend(&r, "https://", o.candidate, "/login?session=", hex(32), "|200|Sign in to your account|");
    absl::StrAppend(&r, "CN=R3,O=Let's Encrypt,C=US|", hex(64), "|", hex(64), "|SSH-2.0-OpenSSH_9.2p1 Debian|");
    absl::StrAppend(&r, "220 mx.", o.candidate, " ESMTP Postfix (Debian/GNU)|");
    while (r.size() < 1500) absl::StrAppend(&r, "<meta name=\"description\" content=\"", hex(48), "\">");
    r.resize(1500);
    o.record = std::move(r);
  }
  return rows;
}

struct Line {
  std::string engine, phase;
  double rows = 0, seconds = 0;
  std::string note;
};
std::vector<Line> lines;

void Report(const std::string& engine, const std::string& phase, double rows, double seconds,
            const std::string& note = "") {
  lines.push_back({engine, phase, rows, seconds, note});
  if (seconds == 0) {
    std::fprintf(stderr, "  %-10s %-44s %s\n", engine.c_str(), phase.c_str(), note.c_str());
    return;
  }
  std::fprintf(stderr, "  %-10s %-44s %10.0f rows %8.2f s %10.0f /s %s\n", engine.c_str(), phase.c_str(), rows, seconds,
               rows / seconds, note.c_str());
}

// --- The store's phases ---------------------------------------------------------------------------------------

struct StorePhases {
  double insert_rate = 0;
};

StorePhases RunStore(const std::string& engine, Store& s, int watches, int candidates, int event_commits,
                     const std::function<double()>& bytes_stored) {
  std::mt19937_64 rng(42);
  std::vector<WatchRow> ws;
  for (int w = 0; w < watches; ++w) {
    WatchRow row;
    row.domain = absl::StrFormat("w%04d.example", w);
    row.domain_unicode = row.domain;
    row.created = kT0;
    absl::StatusOr<WatchRow> created = s.CreateWatch(row);
    Check(created.status(), "CreateWatch");
    ws.push_back(*created);
  }
  auto scan = [&](int w, absl::Time at, absl::Time next, ScanCommit commit) {
    absl::StatusOr<std::optional<WatchRow>> c = s.ClaimDueWatch("bench", at, at + absl::Minutes(10));
    Check(c.status(), "ClaimDueWatch");
    if (!c->has_value() || (*c)->id != ws[static_cast<std::size_t>(w)].id) Die("claimed another watch than due");
    commit.watch_id = (*c)->id;
    commit.lease_owner = "bench";
    commit.scanned_at = at;
    commit.next_scan = next;
    commit.baseline_done = true;
    Check(s.CommitScan(commit), "CommitScan");
  };

  // First scans: every candidate new.
  double insert_seconds = 0;
  double state_bytes = 0;
  for (int w = 0; w < watches; ++w) {
    ScanCommit commit;
    commit.inserts = Rows(w, candidates, rng);  // built outside the clock
    for (const ObservationRow& o : commit.inserts) state_bytes += static_cast<double>(o.state.size());
    const auto start = std::chrono::steady_clock::now();
    // Due again in the same order at the rescan.
    scan(w, kT0 + absl::Seconds(w), kT0 + absl::Hours(1) + absl::Seconds(w), std::move(commit));
    insert_seconds += Seconds(start);
  }
  const double rows = static_cast<double>(watches) * candidates;
  Report(engine, "store: first scans (CommitScan inserts)", rows, insert_seconds);
  const double bytes = bytes_stored();
  Report(engine, "  bytes per observation after inserts", 0, 0,
         absl::StrFormat("%.0f B (state %.0f B on average)", bytes / rows, state_bytes / rows));

  // Rescans where nothing changed, as the scheduler runs them (watch/scheduler.cc): the store loads the
  // observations, the differ compares the scan's records with them, the store commits what it decided — here the
  // watch's row and nothing else.
  double store_seconds = 0, load_seconds = 0, commit_seconds = 0, differ_seconds = 0;
  for (int w = 0; w < watches; ++w) {
    std::vector<v1::Record> records = Records(w, candidates);  // the scan's result: outside the clock
    const absl::Time at = kT0 + absl::Hours(1) + absl::Seconds(w);
    auto t = std::chrono::steady_clock::now();
    absl::StatusOr<std::optional<WatchRow>> c = s.ClaimDueWatch("bench", at, at + absl::Minutes(10));
    Check(c.status(), "ClaimDueWatch");
    if (!c->has_value() || (*c)->id != ws[static_cast<std::size_t>(w)].id) Die("claimed another watch than due");
    const double claim = Seconds(t);
    t = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<ObservationRow>> previous = s.LoadObservations((*c)->id);
    Check(previous.status(), "LoadObservations");
    const double load = Seconds(t);
    t = std::chrono::steady_clock::now();
    watch::ScanInput input;
    input.watch = &**c;
    input.previous = *std::move(previous);
    input.records = std::move(records);
    input.confirmations = 2;
    input.now = at;
    input.lease_owner = "bench";
    input.next_scan = absl::InfiniteFuture();
    const ScanCommit commit = watch::EvaluateScan(std::move(input));
    differ_seconds += Seconds(t);
    if (!commit.inserts.empty() || !commit.updates.empty() || !commit.absent.empty() || !commit.events.empty()) {
      Die(
          absl::StrFormat("the differ found a change in a rescan of the same records (%d inserts, %d updates, "
                          "%d absent, %d events)",
                          commit.inserts.size(), commit.updates.size(), commit.absent.size(), commit.events.size()));
    }
    t = std::chrono::steady_clock::now();
    Check(s.CommitScan(commit), "CommitScan");
    const double commit_time = Seconds(t);
    load_seconds += load;
    commit_seconds += commit_time;
    store_seconds += claim + load + commit_time;
  }
  Report(engine, "rescan, nothing changed: store", rows, store_seconds,
         absl::StrFormat("claim+load+commit; load %.2f s, commit %.2f s", load_seconds, commit_seconds));
  Report(engine, "rescan, nothing changed: differ", rows, differ_seconds, "EvaluateScan");
  Report(engine, "rescan, nothing changed: store + differ", rows, store_seconds + differ_seconds);
  Report(engine, "  bytes per observation after the rescan", 0, 0, absl::StrFormat("%.0f B", bytes_stored() / rows));

  // Events: commits of 10 events each on watches with a webhook (each event with its outbox row).
  std::vector<WatchRow> hooked;
  for (int w = 0; w < std::min(event_commits, 100); ++w) {
    WatchRow row;
    row.domain = absl::StrFormat("hooked%04d.example", w);
    row.domain_unicode = row.domain;
    row.created = kT0 + absl::Hours(100);
    row.settings.set_webhook_url("https://hooks.example/in");
    absl::StatusOr<WatchRow> created = s.CreateWatch(row);
    Check(created.status(), "CreateWatch");
    hooked.push_back(*created);
  }
  double event_seconds = 0;
  for (int i = 0; i < event_commits; ++i) {
    const absl::Time at = kT0 + absl::Hours(200) + absl::Seconds(i);
    ScanCommit commit;
    for (int e = 0; e < 10; ++e) {
      v1::WatchEvent event;
      event.set_type(v1::EVENT_TYPE_CHANGED);
      event.set_candidate_ascii(absl::StrFormat("c%05d.example", e));
      auto* change = event.add_changes();
      change->set_field("addresses");
      change->set_before("192.0.2.1");
      change->set_after("192.0.2.2");
      event.mutable_record()->set_domain_ascii(event.candidate_ascii());
      commit.events.push_back(event);
    }
    const auto t = std::chrono::steady_clock::now();
    absl::StatusOr<std::optional<WatchRow>> c = s.ClaimDueWatch("bench", at, at + absl::Minutes(10));
    Check(c.status(), "ClaimDueWatch");
    if (!c->has_value()) Die("no watch due for the events phase");
    commit.watch_id = (*c)->id;
    commit.lease_owner = "bench";
    commit.scanned_at = at;
    commit.next_scan = at;
    Check(s.CommitScan(commit), "CommitScan (events)");
    event_seconds += Seconds(t);
  }
  Report(engine, "store: events (10 per commit, with outbox)", event_commits * 10.0, event_seconds,
         absl::StrFormat("%.0f commits/s", event_commits / event_seconds));
  absl::StatusOr<DeliveryCounts> counts = s.CountDeliveries();
  Check(counts.status(), "CountDeliveries");
  if (counts->pending != static_cast<std::uint64_t>(event_commits) * 10) Die("outbox rows missing");
  return {rows / insert_seconds};
}

// --- Ceilings ------------------------------------------------------------------------------------------------

constexpr char kCeilingInsert[] =
    "INSERT INTO observations (watch_id, candidate, candidate_unicode, kind, verdict, first_seen_ms, last_seen_ms, "
    "last_changed_ms, triage, triage_note, state, record) VALUES ";

// SQLite: one prepared INSERT stepped per row, a transaction per `batch` rows.
double SqliteCeiling(const std::string& path, int watches, int candidates, int batch, double* bytes_per_row) {
  {
    absl::StatusOr<std::unique_ptr<Store>> s = OpenSqliteStore(path);  // the same schema
    Check(s.status(), "open the ceiling's database");
    for (int w = 0; w < watches; ++w) {
      WatchRow row;
      row.domain = absl::StrFormat("w%04d.example", w);
      row.created = kT0;
      Check((*s)->CreateWatch(row).status(), "CreateWatch");
    }
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", nullptr, nullptr,
               nullptr);
  sqlite3_stmt* st = nullptr;
  const std::string sql = absl::StrCat(kCeilingInsert, "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, '', ?9, ?10)");
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db));
  std::mt19937_64 rng(42);
  double seconds = 0;
  int in_txn = 0;
  for (int w = 0; w < watches; ++w) {
    const std::vector<ObservationRow> rows = Rows(w, candidates, rng);
    const auto start = std::chrono::steady_clock::now();
    for (const ObservationRow& o : rows) {
      if (in_txn == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      sqlite3_bind_int64(st, 1, w + 1);
      sqlite3_bind_text(st, 2, o.candidate.data(), static_cast<int>(o.candidate.size()), SQLITE_STATIC);
      sqlite3_bind_text(st, 3, o.candidate_unicode.data(), static_cast<int>(o.candidate_unicode.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, o.kind);
      sqlite3_bind_int64(st, 5, o.verdict);
      sqlite3_bind_int64(st, 6, absl::ToUnixMillis(o.first_seen));
      sqlite3_bind_int64(st, 7, absl::ToUnixMillis(o.last_seen));
      sqlite3_bind_int64(st, 8, std::numeric_limits<std::int64_t>::min());
      sqlite3_bind_blob(st, 9, o.state.data(), static_cast<int>(o.state.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st, 10, o.record.data(), static_cast<int>(o.record.size()), SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) Die(sqlite3_errmsg(db));
      sqlite3_reset(st);
      if (++in_txn == batch) {
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db));
        in_txn = 0;
      }
    }
    seconds += Seconds(start);
  }
  const auto start = std::chrono::steady_clock::now();
  if (in_txn > 0 && sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) Die(sqlite3_errmsg(db));
  seconds += Seconds(start);
  sqlite3_finalize(st);
  if (bytes_per_row != nullptr) {
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, "
                       "pragma_freelist_count, pragma_page_size",
                       -1, &q, nullptr);
    sqlite3_step(q);
    *bytes_per_row = static_cast<double>(sqlite3_column_int64(q, 0)) / (static_cast<double>(watches) * candidates);
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return seconds;
}

PGconn* PgConnect(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) Die(absl::StrCat("postgresql: ", PQerrorMessage(c)));
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return c;
}
void PgExec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    Die(absl::StrCat("postgresql: ", sql.substr(0, 60), ": ", PQerrorMessage(c)));
  }
  PQclear(r);
}
double PgQueryNumber(const std::string& dsn, const std::string& sql) {
  PGconn* c = PgConnect(dsn);
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) Die(PQerrorMessage(c));
  const double v = std::atof(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return v;
}

// PostgreSQL: one prepared INSERT per row, sent in pipeline mode (binary parameters), a transaction per `batch`.
double PostgresCeiling(const std::string& dsn, int watches, int candidates, int batch, double* bytes_per_row) {
  {
    absl::StatusOr<std::unique_ptr<Store>> s = OpenPostgresStore(dsn);  // the same schema
    Check(s.status(), "open the ceiling's database");
    for (int w = 0; w < watches; ++w) {
      WatchRow row;
      row.domain = absl::StrFormat("w%04d.example", w);
      row.created = kT0;
      Check((*s)->CreateWatch(row).status(), "CreateWatch");
    }
  }
  PGconn* c = PgConnect(dsn);
  const std::string sql = absl::StrCat(kCeilingInsert, "($1, $2, $3, $4, $5, $6, $7, $8, 0, '', $9, $10)");
  PGresult* p = PQprepare(c, "ins", sql.c_str(), 0, nullptr);
  if (PQresultStatus(p) != PGRES_COMMAND_OK) Die(PQerrorMessage(c));
  PQclear(p);
  std::mt19937_64 rng(42);
  double seconds = 0;
  int in_txn = 0;
  std::vector<std::string> texts(8);
  for (int w = 0; w < watches; ++w) {
    const std::vector<ObservationRow> rows = Rows(w, candidates, rng);
    const auto start = std::chrono::steady_clock::now();
    std::size_t i = 0;
    while (i < rows.size()) {
      if (in_txn == 0) PgExec(c, "BEGIN");
      PQenterPipelineMode(c);
      const std::size_t end = std::min({rows.size(), i + kPipelineChunk, i + static_cast<std::size_t>(batch - in_txn)});
      const std::size_t n = end - i;
      for (; i < end; ++i) {
        const ObservationRow& o = rows[i];
        const std::string id = absl::StrCat(w + 1), kind = absl::StrCat(static_cast<int>(o.kind)),
                          verdict = absl::StrCat(static_cast<int>(o.verdict)),
                          first = absl::StrCat(absl::ToUnixMillis(o.first_seen)),
                          last = absl::StrCat(absl::ToUnixMillis(o.last_seen)),
                          never = absl::StrCat(std::numeric_limits<std::int64_t>::min());
        const char* values[] = {id.c_str(),     o.candidate.data(), o.candidate_unicode.data(),
                                kind.c_str(),   verdict.c_str(),    first.c_str(),
                                last.c_str(),   never.c_str(),      o.state.data(),
                                o.record.data()};
        const int lengths[] = {0,
                               static_cast<int>(o.candidate.size()),
                               static_cast<int>(o.candidate_unicode.size()),
                               0,
                               0,
                               0,
                               0,
                               0,
                               static_cast<int>(o.state.size()),
                               static_cast<int>(o.record.size())};
        const int formats[] = {0, 1, 1, 0, 0, 0, 0, 0, 1, 1};
        if (PQsendQueryPrepared(c, "ins", 10, values, lengths, formats, 1) != 1) Die(PQerrorMessage(c));
      }
      PQpipelineSync(c);
      std::size_t got = 0;
      for (;;) {
        PGresult* r = PQgetResult(c);
        if (r == nullptr) continue;
        const ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) break;
        if (st != PGRES_COMMAND_OK) Die(PQerrorMessage(c));
        ++got;
      }
      if (got != n) Die("pipeline lost results");
      PQexitPipelineMode(c);
      in_txn += static_cast<int>(n);
      if (in_txn == batch) {
        PgExec(c, "COMMIT");
        in_txn = 0;
      }
    }
    seconds += Seconds(start);
  }
  const auto start = std::chrono::steady_clock::now();
  if (in_txn > 0) PgExec(c, "COMMIT");
  seconds += Seconds(start);
  PQfinish(c);
  if (bytes_per_row != nullptr) {
    *bytes_per_row = PgQueryNumber(dsn, "SELECT pg_total_relation_size('observations')") /
                     (static_cast<double>(watches) * candidates);
  }
  return seconds;
}

void RunEngine(const std::string& engine, int watches, int candidates, int event_commits, const std::string& sqlite_dir,
               testing::PostgresPeer* peer, const std::string& pg_base) {
  const double rows = static_cast<double>(watches) * candidates;
  double bytes = 0;
  double ceiling_batch = 0, ceiling_one = 0;
  std::unique_ptr<Store> store;
  std::function<double()> bytes_stored;
  std::vector<std::string> dbs;
  std::function<std::string(const std::string&)> fresh;  // a fresh database's spec
  if (engine == "sqlite") {
    fresh = [&](const std::string& name) {
      std::string path = sqlite_dir + "/" + name + ".db";
      std::filesystem::remove(path);
      return path;
    };
  } else {
    fresh = [&](const std::string& name) {
      PGconn* c = PgConnect(pg_base + "postgres");
      PgExec(c, absl::StrCat("DROP DATABASE IF EXISTS squatstream_bench_", name));
      PgExec(c, absl::StrCat("CREATE DATABASE squatstream_bench_", name));
      PQfinish(c);
      dbs.push_back(name);
      return absl::StrCat(pg_base, "squatstream_bench_", name);
    };
  }
  auto drop = [&](const std::string& spec) {
    if (engine == "sqlite") {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(spec + suffix);
    }
  };
  auto ceiling = [&](const std::string& spec, int batch, double* bpr) {
    return engine == "sqlite" ? SqliteCeiling(spec, watches, candidates, batch, bpr)
                              : PostgresCeiling(spec, watches, candidates, batch, bpr);
  };
  {
    const std::string spec = fresh("ceiling_batch");
    ceiling_batch = ceiling(spec, candidates, &bytes);
    Report(engine, absl::StrFormat("ceiling: prepared inserts, txn per %d rows", candidates), rows, ceiling_batch,
           absl::StrFormat("%.0f B/row", bytes));
    drop(spec);
  }
  {
    const std::string spec = fresh("ceiling_one");
    ceiling_one = ceiling(spec, static_cast<int>(rows), nullptr);
    Report(engine, "ceiling: prepared inserts, one transaction", rows, ceiling_one);
    drop(spec);
  }
  const std::string spec = fresh("store");
  if (engine == "sqlite") {
    absl::StatusOr<std::unique_ptr<Store>> s = OpenSqliteStore(spec);
    Check(s.status(), "OpenSqliteStore");
    store = *std::move(s);
    bytes_stored = [spec] {
      sqlite3* db = nullptr;
      sqlite3_open(spec.c_str(), &db);
      sqlite3_stmt* q = nullptr;
      sqlite3_prepare_v2(db,
                         "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, "
                         "pragma_freelist_count, pragma_page_size",
                         -1, &q, nullptr);
      sqlite3_step(q);
      const double v = static_cast<double>(sqlite3_column_int64(q, 0));
      sqlite3_finalize(q);
      sqlite3_close(db);
      return v;
    };
  } else {
    absl::StatusOr<std::unique_ptr<Store>> s = OpenPostgresStore(spec);
    Check(s.status(), "OpenPostgresStore");
    store = *std::move(s);
    bytes_stored = [spec] { return PgQueryNumber(spec, "SELECT pg_total_relation_size('observations')"); };
  }
  const StorePhases phases = RunStore(engine, *store, watches, candidates, event_commits, bytes_stored);
  store.reset();
  drop(spec);
  const double best = rows / std::min(ceiling_batch, ceiling_one);
  std::fprintf(stderr, "  %-10s store inserts = %.0f%% of the ceiling (txn per scan), %.0f%% of the best ceiling\n",
               engine.c_str(), 100 * phases.insert_rate / (rows / ceiling_batch), 100 * phases.insert_rate / best);
  lines.push_back(
      {engine, "store inserts / ceiling (txn per scan)", 100 * phases.insert_rate / (rows / ceiling_batch), 1, "%"});
  lines.push_back({engine, "store inserts / best ceiling", 100 * phases.insert_rate / best, 1, "%"});
  if (engine == "postgresql") {
    PGconn* c = PgConnect(pg_base + "postgres");
    for (const std::string& name : dbs) PgExec(c, absl::StrCat("DROP DATABASE IF EXISTS squatstream_bench_", name));
    PQfinish(c);
  }
  (void)peer;
}

}  // namespace
}  // namespace squatstream::store

int main(int argc, char** argv) {
  using namespace squatstream::store;  // NOLINT(google-build-using-namespace): a benchmark's main
  absl::ParseCommandLine(argc, argv);
  const int watches = absl::GetFlag(FLAGS_watches);
  const int candidates = absl::GetFlag(FLAGS_candidates);
  const int event_commits = absl::GetFlag(FLAGS_event_commits);
  std::string dir = absl::GetFlag(FLAGS_dir);
  bool own_dir = false;
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/squatstream-store-bench-XXXXXX";  // a disk, not a tmpfs
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
    own_dir = true;
  }
  std::fprintf(stderr,
               "store_bench: %d watches x %d candidates, %d commits of 10 events; the differ's state, record 1500 B\n",
               watches, candidates, event_commits);
  const std::vector<std::string> engines = absl::StrSplit(absl::GetFlag(FLAGS_engines), ',');
  for (const std::string& engine : engines) {
    if (engine == "sqlite") {
      RunEngine(engine, watches, candidates, event_commits, dir, nullptr, "");
    } else if (engine == "postgresql") {
      std::unique_ptr<testing::PostgresPeer> peer;
      std::string dsn = absl::GetFlag(FLAGS_postgres_dsn);
      if (dsn.empty()) {
        std::string error;
        peer = testing::PostgresPeer::Start(&error, /*durable=*/true);
        if (peer == nullptr) Die(error);
        dsn = peer->dsn();
      }
      RunEngine(engine, watches, candidates, event_commits, dir, peer.get(), dsn.substr(0, dsn.rfind('/') + 1));
    } else {
      Die(absl::StrCat("unknown engine ", engine));
    }
  }
  if (own_dir) std::filesystem::remove_all(dir);
  std::printf("%-10s | %-44s | %10s | %8s | %10s | %s\n", "engine", "phase", "rows", "seconds", "per second", "note");
  for (const auto& l : lines) {
    if (l.seconds == 0) {
      std::printf("%-10s | %-44s | %10s | %8s | %10s | %s\n", l.engine.c_str(), l.phase.c_str(), "", "", "",
                  l.note.c_str());
    } else if (l.note == "%") {
      std::printf("%-10s | %-44s | %10s | %8s | %9.0f%% |\n", l.engine.c_str(), l.phase.c_str(), "", "", l.rows);
    } else {
      std::printf("%-10s | %-44s | %10.0f | %8.2f | %10.0f | %s\n", l.engine.c_str(), l.phase.c_str(), l.rows,
                  l.seconds, l.rows / l.seconds, l.note.c_str());
    }
  }
  return 0;
}
