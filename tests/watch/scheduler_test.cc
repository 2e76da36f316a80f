// The scheduler against a real store (SQLite in a temporary folder; two Store objects on one file stand for two
// replicas) and a fake ScanRunner returning hand-built records: a due watch scanned once and committed, a watch
// not due left alone, Wake, a failed and a deferred scan, a lease kept by renewal through a long scan, Stop in
// the middle of a scan, two schedulers sharing ten watches, the store's health. Every wait is on a state with a
// deadline; the only waits on the clock are those whose subject is time passing (a lease outliving its term).
#include "watch/scheduler.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "store/store.h"
#include "tests/watch/wait_for.h"

namespace squatstream::watch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using testing::WaitFor;

v1::Record MakeRecord(const std::string& name, v1::DnsVerdict verdict, const std::string& address = "") {
  v1::Record r;
  r.set_domain_ascii(name);
  r.set_domain_unicode(name);
  r.set_kind(v1::PERMUTATION_KIND_ADDITION);
  r.set_input("example.com");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_dns()->set_verdict(verdict);
  if (!address.empty()) dns->mutable_dns()->add_addresses(address);
  return r;
}

// Returns `records` for every domain (or `failure`), counting calls by domain. With `block` set, a scan waits
// until Release() or its stop flag, and a stopped scan returns CANCELLED (as the server's runner does).
class FakeRunner : public ScanRunner {
 public:
  absl::StatusOr<std::vector<v1::Record>> Scan(const std::string& domain, const v1::WatchSettings&,
                                               const std::atomic<bool>& stop) override {
    MutexLock lock(mu_);
    ++calls_[domain];
    ++running_;
    bool stopped = false;
    while (block_ && !released_) {
      if (stop.load()) {
        stopped = true;
        break;
      }
      cv_.WaitFor(mu_, std::chrono::milliseconds(5));  // the stop flag is an atomic, not a notification
    }
    if (!stopped && work_ > std::chrono::milliseconds(0)) {
      cv_.WaitFor(mu_, work_);  // a scan takes a little while (spurious wake-ups only shorten it)
    }
    --running_;
    if (stopped || stop.load()) {
      saw_stop_ = true;
      return absl::CancelledError("the scan was stopped");
    }
    if (!failure_.ok()) return failure_;
    return records_;
  }

  void SetFailure(absl::Status s) {
    MutexLock lock(mu_);
    failure_ = std::move(s);
  }
  void Block() {
    MutexLock lock(mu_);
    block_ = true;
  }
  void Release() {
    MutexLock lock(mu_);
    released_ = true;
  }
  void SetWork(std::chrono::milliseconds work) {
    MutexLock lock(mu_);
    work_ = work;
  }
  int Calls(const std::string& domain) {
    MutexLock lock(mu_);
    auto it = calls_.find(domain);
    return it == calls_.end() ? 0 : it->second;
  }
  int TotalCalls() {
    MutexLock lock(mu_);
    int n = 0;
    for (const auto& [domain, c] : calls_) n += c;
    return n;
  }
  int Running() {
    MutexLock lock(mu_);
    return running_;
  }
  bool SawStop() {
    MutexLock lock(mu_);
    return saw_stop_;
  }

 private:
  // One lock over the fake's state: the scans run on the scheduler's threads, the test reads and steers.
  Mutex mu_;
  CondVar cv_;
  const std::vector<v1::Record> records_ = {MakeRecord("example1.com", v1::DNS_VERDICT_REGISTERED, "192.0.2.1"),
                                            MakeRecord("example2.com", v1::DNS_VERDICT_UNREGISTERED),
                                            MakeRecord("examplea.com", v1::DNS_VERDICT_REGISTERED, "192.0.2.2")};
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  bool block_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds work_ ABSL_GUARDED_BY(mu_){0};
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool saw_stop_ ABSL_GUARDED_BY(mu_) = false;
};

// A store that forwards to a real one, counts the claims (and the time each asked about), and can be made to
// fail every call UNAVAILABLE, as an unreachable engine does.
class SwitchableStore : public store::Store {
 public:
  explicit SwitchableStore(store::Store& inner) : inner_(inner) {}

  void SetDown(bool down) { down_ = down; }
  int claims() const { return claims_; }
  absl::Time last_claim_at() {
    MutexLock lock(mu_);
    return last_claim_at_;
  }

  std::string engine() const override { return inner_.engine(); }
  absl::Status Ping() override { return down_ ? Down() : inner_.Ping(); }
  absl::StatusOr<store::WatchRow> CreateWatch(const store::WatchRow& w) override {
    if (down_) return Down();
    return inner_.CreateWatch(w);
  }
  absl::StatusOr<store::WatchRow> GetWatch(const std::string& d) override {
    if (down_) return Down();
    return inner_.GetWatch(d);
  }
  absl::StatusOr<std::vector<store::WatchRow>> ListWatches(const std::string& a, int l) override {
    if (down_) return Down();
    return inner_.ListWatches(a, l);
  }
  absl::StatusOr<store::WatchRow> UpdateWatch(const std::string& d, const v1::WatchSettings& s,
                                              std::optional<absl::Time> n) override {
    if (down_) return Down();
    return inner_.UpdateWatch(d, s, n);
  }
  absl::Status DeleteWatch(const std::string& d) override { return down_ ? Down() : inner_.DeleteWatch(d); }
  absl::StatusOr<store::WatchRow> ScheduleScan(const std::string& d, absl::Time w) override {
    if (down_) return Down();
    return inner_.ScheduleScan(d, w);
  }
  absl::StatusOr<std::optional<store::WatchRow>> ClaimDueWatch(const std::string& o, absl::Time now,
                                                               absl::Time until) override {
    absl::StatusOr<std::optional<store::WatchRow>> r =
        down_ ? absl::StatusOr<std::optional<store::WatchRow>>(Down()) : inner_.ClaimDueWatch(o, now, until);
    {
      MutexLock lock(mu_);
      last_claim_at_ = std::max(last_claim_at_, now);
    }
    ++claims_;
    return r;
  }
  absl::Status RenewLease(std::int64_t id, const std::string& o, absl::Time u) override {
    return down_ ? Down() : inner_.RenewLease(id, o, u);
  }
  absl::Status ReleaseLease(std::int64_t id, const std::string& o, absl::Time n, const std::string& w) override {
    return down_ ? Down() : inner_.ReleaseLease(id, o, n, w);
  }
  absl::StatusOr<std::vector<store::ObservationRow>> LoadObservations(std::int64_t id) override {
    if (down_) return Down();
    return inner_.LoadObservations(id);
  }
  absl::StatusOr<std::vector<store::ObservationRow>> ListObservations(std::int64_t id,
                                                                      const store::ObservationFilter& f,
                                                                      const std::string& a, int l) override {
    if (down_) return Down();
    return inner_.ListObservations(id, f, a, l);
  }
  absl::Status CommitScan(const store::ScanCommit& c) override { return down_ ? Down() : inner_.CommitScan(c); }
  absl::StatusOr<store::ObservationRow> Annotate(std::int64_t id, const std::string& c, v1::Triage t,
                                                 const std::string& n) override {
    if (down_) return Down();
    return inner_.Annotate(id, c, t, n);
  }
  absl::StatusOr<std::vector<v1::WatchEvent>> ListEvents(std::int64_t id, std::uint64_t a, int l) override {
    if (down_) return Down();
    return inner_.ListEvents(id, a, l);
  }
  absl::StatusOr<std::vector<store::DeliveryRow>> ClaimDeliveries(const std::string& o, absl::Time n, absl::Time u,
                                                                  int l) override {
    if (down_) return Down();
    return inner_.ClaimDeliveries(o, n, u, l);
  }
  absl::Status MarkDelivered(std::int64_t id, const std::string& o, absl::Time a) override {
    return down_ ? Down() : inner_.MarkDelivered(id, o, a);
  }
  absl::Status RetryDelivery(std::int64_t id, const std::string& o, absl::Time n, const std::string& e) override {
    return down_ ? Down() : inner_.RetryDelivery(id, o, n, e);
  }
  absl::Status MarkDead(std::int64_t id, const std::string& o, const std::string& e) override {
    return down_ ? Down() : inner_.MarkDead(id, o, e);
  }
  absl::StatusOr<store::DeliveryCounts> CountDeliveries() override {
    if (down_) return Down();
    return inner_.CountDeliveries();
  }
  absl::StatusOr<std::uint64_t> LastEventId() override {
    if (down_) return Down();
    return inner_.LastEventId();
  }
  absl::StatusOr<std::uint64_t> PruneEvents(absl::Time b) override {
    if (down_) return Down();
    return inner_.PruneEvents(b);
  }

 private:
  absl::Status Down() const {
    return down_ ? absl::UnavailableError("sqlite: the store is down (test)") : absl::OkStatus();
  }
  store::Store& inner_;
  std::atomic<bool> down_{false};
  std::atomic<int> claims_{0};
  Mutex mu_;
  absl::Time last_claim_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/squatstream_scheduler_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = Open();
    ASSERT_NE(store_, nullptr);
    auto& scans = prometheus::BuildCounter().Name("scans_total").Help("scans").Register(registry_);
    full_metrics_.scans_ok = &scans.Add({{"outcome", "ok"}});
    full_metrics_.scans_failed = &scans.Add({{"outcome", "failed"}});
    full_metrics_.scans_lost_lease = &scans.Add({{"outcome", "lost_lease"}});
    auto& events = prometheus::BuildCounter().Name("events_total").Help("events").Register(registry_);
    full_metrics_.events_baseline = &events.Add({{"type", "baseline"}});
    full_metrics_.events_appeared = &events.Add({{"type", "appeared"}});
    full_metrics_.events_changed = &events.Add({{"type", "changed"}});
    full_metrics_.events_gone = &events.Add({{"type", "gone"}});
    full_metrics_.store_errors =
        &prometheus::BuildCounter().Name("store_errors_total").Help("errors").Register(registry_).Add({});
    auto& gauges = prometheus::BuildGauge().Name("watch_gauges").Help("gauges").Register(registry_);
    full_metrics_.watches = &gauges.Add({{"g", "watches"}});
    full_metrics_.scans_running = &gauges.Add({{"g", "running"}});
    full_metrics_.scan_lag_seconds = &gauges.Add({{"g", "lag"}});
    full_metrics_.store_up = &gauges.Add({{"g", "store_up"}});
    full_metrics_.outbox_pending = &gauges.Add({{"g", "pending"}});
    full_metrics_.outbox_dead = &gauges.Add({{"g", "dead"}});
    full_metrics_.outbox_oldest_seconds = &gauges.Add({{"g", "oldest"}});
    full_metrics_.store_seconds = &prometheus::BuildHistogram()
                                       .Name("store_seconds")
                                       .Help("latency")
                                       .Register(registry_)
                                       .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.01, 0.1, 1});
  }
  void TearDown() override {
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // Another connection to the same file: another replica's store.
  std::unique_ptr<store::Store> Open() {
    absl::StatusOr<std::unique_ptr<store::Store>> s = store::OpenStore("sqlite:" + dir_ + "/watch.db");
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  store::WatchRow CreateWatch(const std::string& domain, std::uint64_t interval_seconds = 3600) {
    store::WatchRow w;
    w.domain = w.domain_unicode = domain;
    w.settings.set_interval_seconds(interval_seconds);
    absl::StatusOr<store::WatchRow> created = store_->CreateWatch(w);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : w;
  }
  store::WatchRow Get(const std::string& domain) {
    absl::StatusOr<store::WatchRow> w = store_->GetWatch(domain);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *w : store::WatchRow();
  }

  SchedulerOptions Options(const std::string& owner) {
    SchedulerOptions o;
    o.owner = owner;
    o.max_concurrent_scans = 2;
    o.poll = absl::Milliseconds(50);
    o.lease = absl::Seconds(10);
    o.events_written = [this] { ++events_written_; };
    return o;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  prometheus::Registry registry_;
  WatchMetrics full_metrics_;
  const WatchMetrics no_metrics_{};  // every pointer null
  std::atomic<int> events_written_{0};
};

TEST_F(SchedulerTest, ScansADueWatchOnceAndCommitsItsBaseline) {
  const store::WatchRow created = CreateWatch("example.com");
  FakeRunner runner;
  Scheduler scheduler(*store_, runner, Options("a"), no_metrics_);  // every metric null: nothing updated
  const absl::Time started = absl::Now();
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return Get("example.com").scans == 1; }));
  scheduler.Stop();

  const store::WatchRow w = Get("example.com");
  EXPECT_TRUE(w.baseline_done);
  EXPECT_EQ(w.last_scan_outcome, "ok");
  EXPECT_EQ(w.observed, 3u);
  EXPECT_EQ(w.registered, 2u);
  EXPECT_GE(w.last_scan, started - absl::Seconds(1));
  // The next scan: an interval after the claim (its schedule was `created`, which had passed).
  EXPECT_GE(w.next_scan, started + absl::Minutes(59));
  EXPECT_LE(w.next_scan, absl::Now() + absl::Hours(1));
  EXPECT_EQ(runner.Calls("example.com"), 1);

  absl::StatusOr<std::vector<v1::WatchEvent>> events = store_->ListEvents(created.id, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type(), v1::EVENT_TYPE_BASELINE);
  EXPECT_EQ((*events)[0].baseline().candidates(), 3u);
  EXPECT_EQ((*events)[0].baseline().registered(), 2u);
  EXPECT_EQ(events_written_.load(), 1);
}

TEST_F(SchedulerTest, MetricsFollowACommittedScan) {
  CreateWatch("example.com");
  FakeRunner runner;
  Scheduler scheduler(*store_, runner, Options("a"), full_metrics_);
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return full_metrics_.scans_ok->Value() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return full_metrics_.store_up->Value() == 1 && full_metrics_.watches->Value() == 1; }));
  scheduler.Stop();
  EXPECT_EQ(full_metrics_.events_baseline->Value(), 1);
  EXPECT_EQ(full_metrics_.events_appeared->Value(), 0);
  EXPECT_EQ(full_metrics_.scans_failed->Value(), 0);
  EXPECT_EQ(full_metrics_.scans_running->Value(), 0);
  EXPECT_EQ(full_metrics_.store_errors->Value(), 0);
}

TEST_F(SchedulerTest, LeavesAWatchThatIsNotDue) {
  CreateWatch("later.com");
  ASSERT_TRUE(store_->ScheduleScan("later.com", absl::Now() + absl::Hours(1)).ok());
  CreateWatch("now.com");
  FakeRunner runner;
  SwitchableStore counted(*store_);
  Scheduler scheduler(counted, runner, Options("a"), no_metrics_);
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return Get("now.com").scans == 1; }));
  // Several more looks for due watches (a poll each) after the due one: the other is still not taken.
  const int claims = counted.claims();
  ASSERT_TRUE(WaitFor([&] { return counted.claims() >= claims + 6; }));
  scheduler.Stop();
  EXPECT_EQ(runner.Calls("later.com"), 0);
  EXPECT_EQ(Get("later.com").scans, 0u);
}

TEST_F(SchedulerTest, WakeScansANewlyDueWatchWithoutWaitingForThePoll) {
  FakeRunner runner;
  SwitchableStore counted(*store_);
  SchedulerOptions options = Options("a");
  options.poll = absl::Hours(1);  // only a Wake can end the scan threads' wait within the test
  Scheduler scheduler(counted, runner, options, no_metrics_);
  scheduler.Start();
  // Both scan threads found nothing due and wait their poll.
  ASSERT_TRUE(WaitFor([&] { return counted.claims() >= 2; }));
  CreateWatch("example.com");
  scheduler.Wake();
  EXPECT_TRUE(WaitFor([&] { return Get("example.com").scans == 1; }, std::chrono::seconds(10)));
  scheduler.Stop();
}

TEST_F(SchedulerTest, AFailedScanGivesItsLeaseBackAndIsTriedAgainLater) {
  CreateWatch("hourly.com", 3600);
  CreateWatch("often.com", 120);  // an interval shorter than retry_after_failure: retried after the interval
  FakeRunner runner;
  runner.SetFailure(absl::UnavailableError("the resolver did not answer"));
  SchedulerOptions options = Options("a");
  options.retry_after_failure = absl::Minutes(5);
  Scheduler scheduler(*store_, runner, options, full_metrics_);
  const absl::Time started = absl::Now();
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return full_metrics_.scans_failed->Value() == 2; }));
  scheduler.Stop();
  const absl::Time ended = absl::Now();

  for (const auto& [domain, retry] : {std::pair<std::string, absl::Duration>{"hourly.com", absl::Minutes(5)},
                                      std::pair<std::string, absl::Duration>{"often.com", absl::Minutes(2)}}) {
    SCOPED_TRACE(domain);
    const store::WatchRow w = Get(domain);
    EXPECT_EQ(w.last_scan_outcome, "failed: the resolver did not answer");
    EXPECT_EQ(w.scans, 0u);
    EXPECT_FALSE(w.baseline_done);
    EXPECT_EQ(w.last_scan, absl::InfinitePast());
    EXPECT_GE(w.next_scan, started + retry - absl::Seconds(1));
    EXPECT_LE(w.next_scan, ended + retry + absl::Seconds(1));
    EXPECT_EQ(runner.Calls(domain), 1);
  }
  EXPECT_EQ(full_metrics_.scans_ok->Value(), 0);
  // The leases were given back: another owner claims each once it is due again, not before.
  absl::StatusOr<std::optional<store::WatchRow>> none = store_->ClaimDueWatch("b", ended, ended + absl::Minutes(1));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  const absl::Time later = ended + absl::Minutes(6);
  absl::StatusOr<std::optional<store::WatchRow>> first = store_->ClaimDueWatch("b", later, later + absl::Minutes(1));
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->domain, "often.com");
  absl::StatusOr<std::optional<store::WatchRow>> second = store_->ClaimDueWatch("b", later, later + absl::Minutes(1));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->domain, "hourly.com");
}

TEST_F(SchedulerTest, AScanWithNoSlotIsDeferred) {
  CreateWatch("example.com");
  FakeRunner runner;
  runner.SetFailure(absl::ResourceExhaustedError("no slot for a watch scan now"));
  SchedulerOptions options = Options("a");
  options.retry_when_busy = absl::Seconds(30);
  Scheduler scheduler(*store_, runner, options, full_metrics_);
  const absl::Time started = absl::Now();
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(Get("example.com").last_scan_outcome, "deferred: "); }));
  scheduler.Stop();
  const store::WatchRow w = Get("example.com");
  EXPECT_EQ(w.last_scan_outcome, "deferred: no slot for a watch scan now");
  EXPECT_GE(w.next_scan, started + absl::Seconds(29));
  EXPECT_LE(w.next_scan, absl::Now() + absl::Seconds(30));
  EXPECT_EQ(w.scans, 0u);
  EXPECT_EQ(full_metrics_.scans_failed->Value(), 0);  // not a failure: the server was busy
  EXPECT_EQ(runner.Calls("example.com"), 1);
}

TEST_F(SchedulerTest, AScanLongerThanItsLeaseKeepsItThroughRenewals) {
  CreateWatch("example.com");
  FakeRunner runner_a;
  runner_a.Block();
  SchedulerOptions options_a = Options("a");
  options_a.lease = absl::Milliseconds(600);  // renewed every 50 ms (the poll)
  Scheduler a(*store_, runner_a, options_a, no_metrics_);
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return runner_a.Running() == 1; }));
  const absl::Time claimed_by_then = absl::Now();

  std::unique_ptr<store::Store> store_b = Open();
  ASSERT_NE(store_b, nullptr);
  SwitchableStore counted_b(*store_b);
  FakeRunner runner_b;
  SchedulerOptions options_b = Options("b");
  options_b.lease = absl::Milliseconds(600);
  Scheduler b(counted_b, runner_b, options_b, no_metrics_);
  b.Start();
  // B keeps looking for due watches well past the first lease's term (three of them): a's renewals keep it.
  ASSERT_TRUE(WaitFor([&] { return counted_b.last_claim_at() > claimed_by_then + absl::Milliseconds(1800); }));
  EXPECT_EQ(runner_b.Calls("example.com"), 0);

  runner_a.Release();
  ASSERT_TRUE(WaitFor([&] { return Get("example.com").scans == 1; }));
  a.Stop();
  b.Stop();
  EXPECT_EQ(Get("example.com").last_scan_outcome, "ok");
  EXPECT_EQ(runner_a.Calls("example.com"), 1);
  EXPECT_EQ(runner_b.Calls("example.com"), 0);
}

TEST_F(SchedulerTest, StopDuringAScanGivesTheLeaseBackDue) {
  CreateWatch("example.com");
  FakeRunner runner_a;
  runner_a.Block();  // never released: only the stop flag ends it
  auto a = std::make_unique<Scheduler>(*store_, runner_a, Options("a"), full_metrics_);
  a->Start();
  ASSERT_TRUE(WaitFor([&] { return runner_a.Running() == 1; }));
  a->Stop();  // returns: the runner saw its stop flag
  EXPECT_TRUE(runner_a.SawStop());
  const absl::Time stopped = absl::Now();
  store::WatchRow w = Get("example.com");
  EXPECT_EQ(w.scans, 0u);
  EXPECT_THAT(w.last_scan_outcome, HasSubstr("interrupted"));
  EXPECT_LE(w.next_scan, stopped);  // due at once
  EXPECT_EQ(full_metrics_.scans_lost_lease->Value(), 0);
  EXPECT_EQ(full_metrics_.scans_failed->Value(), 0);
  a->Stop();  // idempotent
  a.reset();

  // Another replica takes it at once (the lease was given back, not left to expire: 10 s).
  std::unique_ptr<store::Store> store_b = Open();
  ASSERT_NE(store_b, nullptr);
  FakeRunner runner_b;
  Scheduler b(*store_b, runner_b, Options("b"), no_metrics_);
  b.Start();
  ASSERT_TRUE(WaitFor([&] { return Get("example.com").scans == 1; }, std::chrono::seconds(5)));
  b.Stop();
  EXPECT_EQ(runner_b.Calls("example.com"), 1);
}

TEST_F(SchedulerTest, ADeletedWatchsScanIsCancelled) {
  CreateWatch("example.com");
  FakeRunner runner;
  runner.Block();
  Scheduler scheduler(*store_, runner, Options("a"), full_metrics_);
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return runner.Running() == 1; }));
  ASSERT_TRUE(store_->DeleteWatch("example.com").ok());
  // The next renewal finds no lease (ABORTED): the scan's stop flag is set, and nothing is committed.
  ASSERT_TRUE(WaitFor([&] { return full_metrics_.scans_lost_lease->Value() == 1; }));
  EXPECT_TRUE(runner.SawStop());
  scheduler.Stop();
  EXPECT_EQ(full_metrics_.scans_ok->Value(), 0);
  EXPECT_EQ(full_metrics_.store_errors->Value(), 0);  // a lease lost is the store's answer, not its failure
  EXPECT_EQ(store_->GetWatch("example.com").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, TwoSchedulersOnOneStoreScanEachWatchOnce) {
  std::vector<std::string> domains;
  for (int i = 0; i < 10; ++i) {
    domains.push_back(absl::StrCat("watched", i, ".com"));
    CreateWatch(domains.back());
  }
  std::unique_ptr<store::Store> store_b = Open();
  ASSERT_NE(store_b, nullptr);
  FakeRunner runner;  // shared: it counts every scan of either replica
  runner.SetWork(std::chrono::milliseconds(30));
  Scheduler a(*store_, runner, Options("a"), no_metrics_);
  Scheduler b(*store_b, runner, Options("b"), no_metrics_);
  a.Start();
  b.Start();
  ASSERT_TRUE(WaitFor([&] {
    for (const std::string& d : domains) {
      if (Get(d).scans != 1) return false;
    }
    return true;
  }));
  a.Stop();
  b.Stop();
  for (const std::string& d : domains) {
    EXPECT_EQ(runner.Calls(d), 1) << d;
    EXPECT_EQ(Get(d).last_scan_outcome, "ok") << d;
  }
  EXPECT_EQ(runner.TotalCalls(), 10);
  absl::StatusOr<std::vector<v1::WatchEvent>> events = store_->ListEvents(0, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 10u);  // one baseline each
}

TEST_F(SchedulerTest, StoreHealthFollowsTheStore) {
  SwitchableStore flaky(*store_);
  Mutex mu;
  std::vector<bool> reports;
  SchedulerOptions options = Options("a");
  options.store_health = [&](bool up) {
    MutexLock lock(mu);
    reports.push_back(up);
  };
  auto reported = [&] {
    MutexLock lock(mu);
    return reports;
  };
  FakeRunner runner;
  Scheduler scheduler(flaky, runner, options, full_metrics_);
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] { return reported().size() == 1; }));
  EXPECT_THAT(reported(), ElementsAre(true));
  EXPECT_EQ(full_metrics_.store_up->Value(), 1);

  flaky.SetDown(true);
  ASSERT_TRUE(WaitFor([&] { return reported().size() == 2; }));
  EXPECT_EQ(full_metrics_.store_up->Value(), 0);
  // A watch created meanwhile (another replica's store answers) is scanned once the store is back.
  CreateWatch("example.com");
  const int claims = flaky.claims();
  ASSERT_TRUE(WaitFor([&] { return flaky.claims() >= claims + 4; }));  // claims failing, nothing crashing
  EXPECT_EQ(runner.Calls("example.com"), 0);
  EXPECT_GT(full_metrics_.store_errors->Value(), 0);

  flaky.SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return reported().size() == 3; }));
  ASSERT_TRUE(WaitFor([&] { return Get("example.com").scans == 1; }));
  scheduler.Stop();
  EXPECT_THAT(reported(), ElementsAre(true, false, true));
  EXPECT_EQ(full_metrics_.store_up->Value(), 1);
}

TEST_F(SchedulerTest, MakeOwnerNamesThisProcess) {
  const std::string owner = Scheduler::MakeOwner();
  EXPECT_THAT(owner, HasSubstr(absl::StrCat(":", getpid(), ":")));
  EXPECT_NE(owner, Scheduler::MakeOwner());
}

TEST_F(SchedulerTest, StopWithoutStartAndTwiceIsFine) {
  FakeRunner runner;
  Scheduler scheduler(*store_, runner, Options("a"), no_metrics_);
  scheduler.Stop();
  scheduler.Stop();
}

}  // namespace
}  // namespace squatstream::watch
