#include "watch/scheduler.h"

#include <unistd.h>

#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/str_format.h"
#include "watch/differ.h"

namespace squatstream::watch {
namespace {

template <typename T>
void Inc(T* metric, double by = 1) {
  if (metric != nullptr) metric->Increment(by);
}
void Set(prometheus::Gauge* gauge, double value) {
  if (gauge != nullptr) gauge->Set(value);
}

absl::StatusCode CodeOf(const absl::Status& s) { return s.code(); }
template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& s) {
  return s.status().code();
}

// Times a store call into the latency histogram and counts its failure. ABORTED (a lease lost, or a scan that
// ended as its renewal ran) and NOT_FOUND (a watch deleted meanwhile) are the store answering, not failing: they
// are not counted, so that the store errors' alert means the store.
template <typename F>
auto Timed(const WatchMetrics& metrics, F&& call) {
  const auto started = std::chrono::steady_clock::now();
  auto result = call();
  if (metrics.store_seconds != nullptr) {
    metrics.store_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (const absl::StatusCode code = CodeOf(result);
      code != absl::StatusCode::kOk && code != absl::StatusCode::kAborted && code != absl::StatusCode::kNotFound) {
    Inc(metrics.store_errors);
  }
  return result;
}

absl::Duration IntervalOf(const v1::WatchSettings& settings) {
  return absl::Seconds(static_cast<std::int64_t>(settings.interval_seconds()));
}

}  // namespace

Scheduler::Scheduler(store::Store& store, ScanRunner& runner, SchedulerOptions options, const WatchMetrics& metrics)
    : store_(store), runner_(runner), options_(std::move(options)), metrics_(metrics) {}

Scheduler::~Scheduler() { Stop(); }

std::string Scheduler::MakeOwner() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return absl::StrFormat("%s:%d:%08x", host, static_cast<int>(getpid()), random());
}

void Scheduler::Start() {
  if (started_) return;
  started_ = true;
  for (int i = 0; i < options_.max_concurrent_scans; ++i) threads_.emplace_back([this] { ScanLoop(); });
  threads_.emplace_back([this] { HousekeepingLoop(); });
}

void Scheduler::Wake() {
  MutexLock lock(mu_);
  ++wakes_;
  wake_cv_.NotifyAll();
}

void Scheduler::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, stop] : running_) stop->store(true);
    wake_cv_.NotifyAll();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Scheduler::WaitWake(absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  MutexLock lock(mu_);
  const std::uint64_t seen = wakes_;
  while (!stopping_ && wakes_ == seen && std::chrono::steady_clock::now() < deadline) {
    wake_cv_.WaitFor(mu_, deadline - std::chrono::steady_clock::now());
  }
}

// Called from the housekeeping thread only: reports from several threads could reach the callback out of order
// (a stale "down" arriving after "up") and leave it believing the opposite of health_.
void Scheduler::SetHealth(bool up) {
  {
    MutexLock lock(mu_);
    if (health_ == static_cast<int>(up)) return;
    health_ = static_cast<int>(up);
  }
  Set(metrics_.store_up, up ? 1 : 0);
  if (options_.store_health) options_.store_health(up);
}

void Scheduler::ScanLoop() {
  for (;;) {
    // The wake count is read before looking for a due watch: a Wake() while the claim runs (a watch created just
    // after the claim found none due) then ends the wait below at once instead of being missed for a poll.
    std::uint64_t seen = 0;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      seen = wakes_;
    }
    if (RunOneScan()) continue;
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(options_.poll);
    MutexLock lock(mu_);
    while (!stopping_ && wakes_ == seen && std::chrono::steady_clock::now() < deadline) {
      wake_cv_.WaitFor(mu_, deadline - std::chrono::steady_clock::now());
    }
  }
}

bool Scheduler::RunOneScan() {
  const absl::Time now = absl::Now();
  absl::StatusOr<std::optional<store::WatchRow>> claimed =
      Timed(metrics_, [&] { return store_.ClaimDueWatch(options_.owner, now, now + options_.lease); });
  // A failed claim is not reported as the store's health here: the housekeeping thread's ping says it (one
  // reporter, see SetHealth); this thread waits a poll and tries again.
  if (!claimed.ok() || !claimed->has_value()) return false;
  const store::WatchRow watch = **std::move(claimed);
  // Late behind the schedule: the interval after the last scan (or the creation), or an earlier asked-for time —
  // not next_scan alone, which each deferral or failure moves on.
  const absl::Time due =
      std::min(watch.next_scan,
               watch.last_scan == absl::InfinitePast() ? watch.created : watch.last_scan + IntervalOf(watch.settings));
  Set(metrics_.scan_lag_seconds, absl::ToDoubleSeconds(std::max(absl::ZeroDuration(), now - due)));

  auto stop = std::make_shared<std::atomic<bool>>(false);
  {
    MutexLock lock(mu_);
    // Our own lease, taken again after it expired while the store could not be reached: another of this
    // replica's threads is scanning it still (the leases are per replica) — leave it to that one.
    if (running_.contains(watch.id)) return false;
    if (stopping_) stop->store(true);
    running_[watch.id] = stop;
  }
  if (metrics_.scans_running != nullptr) metrics_.scans_running->Increment();
  absl::StatusOr<std::vector<v1::Record>> records = runner_.Scan(watch.domain, watch.settings, *stop);
  if (metrics_.scans_running != nullptr) metrics_.scans_running->Decrement();

  const absl::Time ended = absl::Now();
  const absl::Duration interval = IntervalOf(watch.settings);
  bool lost = stop->load();
  absl::Status outcome = records.status();
  // A complete scan is committed even when `stop` was set as it ended: the store refuses the commit (ABORTED)
  // when the lease was lost, and keeps it when the lease is still ours (Stop racing the scan's end).
  if (records.ok()) {
    absl::StatusOr<std::vector<store::ObservationRow>> previous =
        Timed(metrics_, [&] { return store_.LoadObservations(watch.id); });
    if (previous.ok()) {
      ScanInput input;
      input.watch = &watch;
      input.previous = *std::move(previous);
      input.records = *std::move(records);
      input.confirmations = options_.confirmations;
      input.now = ended;
      input.lease_owner = options_.owner;
      input.next_scan = std::max(now, watch.next_scan) + interval;
      store::ScanCommit commit = EvaluateScan(std::move(input));
      commit.claimed_next_scan = watch.next_scan;  // a ScanWatchNow during the scan is kept
      std::size_t counts[5] = {};
      for (const v1::WatchEvent& e : commit.events) ++counts[static_cast<std::size_t>(e.type()) % 5];
      outcome = Timed(metrics_, [&] { return store_.CommitScan(commit); });
      if (outcome.ok()) {
        Inc(metrics_.scans_ok);
        Inc(metrics_.events_baseline, static_cast<double>(counts[v1::EVENT_TYPE_BASELINE]));
        Inc(metrics_.events_appeared, static_cast<double>(counts[v1::EVENT_TYPE_APPEARED]));
        Inc(metrics_.events_changed, static_cast<double>(counts[v1::EVENT_TYPE_CHANGED]));
        Inc(metrics_.events_gone, static_cast<double>(counts[v1::EVENT_TYPE_GONE]));
        if (!commit.events.empty() && options_.events_written) options_.events_written();
      } else if (outcome.code() == absl::StatusCode::kAborted) {
        lost = true;
      }
    } else {
      outcome = previous.status();
    }
  }
  // Out of running_ only once the lease is given back (below): until then another of our threads must not take
  // the watch again (the leases are per replica, and a release by this thread would end that one's).
  const auto done = [&](bool scanned) {
    MutexLock lock(mu_);
    running_.erase(watch.id);
    return scanned;
  };
  if (outcome.ok()) return done(true);
  if (lost || outcome.code() == absl::StatusCode::kAborted) {
    bool stopping = false;
    {
      MutexLock lock(mu_);
      stopping = stopping_;
    }
    if (!stopping) {
      Inc(metrics_.scans_lost_lease);
      return done(true);  // another replica holds it now
    }
    // Shutting down: give the lease back, due at once, so that another replica (or our next start) scans it.
    (void)Timed(metrics_, [&] {
      return store_.ReleaseLease(watch.id, options_.owner, watch.next_scan, "interrupted: the server stopped");
    });
    return done(true);
  }
  absl::Time next = ended + std::min(interval, options_.retry_after_failure);
  std::string why = absl::StrFormat("failed: %s", outcome.message());
  if (outcome.code() == absl::StatusCode::kResourceExhausted) {
    next = ended + options_.retry_when_busy;
    why = absl::StrFormat("deferred: %s", outcome.message());
    Inc(metrics_.scans_deferred);
  } else {
    Inc(metrics_.scans_failed);
  }
  (void)Timed(metrics_, [&] { return store_.ReleaseLease(watch.id, options_.owner, next, why); });
  return done(false);
}

void Scheduler::HousekeepingLoop() {
  absl::Time last_gauges = absl::InfinitePast();
  absl::Time last_prune = absl::InfinitePast();
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    const absl::Time now = absl::Now();
    // Leases of the scans running here: renewed every poll (well within a third of the lease).
    std::vector<std::pair<std::int64_t, std::shared_ptr<std::atomic<bool>>>> running;
    {
      MutexLock lock(mu_);
      running.assign(running_.begin(), running_.end());
    }
    for (const auto& [id, stop] : running) {
      const std::int64_t watch_id = id;  // a structured binding is not captured by clang 14's lambdas
      absl::Status renewed =
          Timed(metrics_, [&] { return store_.RenewLease(watch_id, options_.owner, now + options_.lease); });
      // Another replica took it over, or it was deleted (or the scan ended meanwhile: its flag is then unused).
      if (renewed.code() == absl::StatusCode::kAborted) stop->store(true);
    }
    const absl::Status ping = Timed(metrics_, [&] { return store_.Ping(); });
    SetHealth(ping.ok());
    if (ping.ok() && now - last_gauges >= absl::Seconds(60)) {  // paging every watch: not too often
      last_gauges = now;
      // (The outbox's gauges are the deliverer's.)
      std::uint64_t watches = 0;
      std::string after;
      for (;;) {
        absl::StatusOr<std::vector<store::WatchRow>> page = store_.ListWatches(after, 1000);
        if (!page.ok() || page->empty()) break;
        watches += page->size();
        after = page->back().domain;
        if (page->size() < 1000) break;
      }
      Set(metrics_.watches, static_cast<double>(watches));
    }
    if (ping.ok() && now - last_prune >= absl::Hours(1)) {
      last_prune = now;
      (void)Timed(metrics_, [&] { return store_.PruneEvents(now - options_.history_retention); });
    }
    WaitWake(std::min(options_.poll, options_.lease / 3));
  }
}

}  // namespace squatstream::watch
