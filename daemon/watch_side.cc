#include "daemon/watch_side.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace squatstream::daemon {
namespace {

// Slots a watch scan leaves free for interactive streams: a quarter of them (at least one, unless there is only one).
int KeepFree(int max_streams) { return std::min(std::max(1, max_streams / 4), max_streams - 1); }

}  // namespace

std::string StoreEngine(const std::string& spec) {
  if (spec.empty()) return "";
  if (absl::StartsWith(spec, "sqlite:")) return "sqlite";
  return "postgresql";
}

WatchSide::WatchSide(const WatchOptions& options, service::ServiceContext& context,
                     const workers::net::AddressPolicy* policy, workers::HostLookup host_lookup,
                     const watch::WatchMetrics& metrics, std::function<void(bool)> health)
    : options_(options),
      policy_(policy),
      host_lookup_(std::move(host_lookup)),
      metrics_(metrics),
      health_(std::move(health)),
      runner_(context, KeepFree(context.limits.max_concurrent_streams)) {}

absl::StatusOr<std::unique_ptr<WatchSide>> WatchSide::Start(
    const WatchOptions& options, service::ServiceContext& context, const workers::net::AddressPolicy* policy,
    workers::HostLookup host_lookup, const watch::WatchMetrics& metrics, std::function<void(bool)> health) {
  std::unique_ptr<WatchSide> side(
      new WatchSide(options, context, policy, std::move(host_lookup), metrics, std::move(health)));
  absl::StatusOr<std::unique_ptr<store::Store>> opened = store::OpenStore(options.store);
  // Only a store that cannot be reached now is waited for (PostgreSQL starting, a network blip, SQLite locked by
  // a process still stopping); a spec that does not parse, a schema newer than this binary, or an SQLite file this
  // user may not write is a configuration error: the server does not start (or, the default store, has no watches).
  if (!opened.ok() && opened.status().code() != absl::StatusCode::kUnavailable) {
    return absl::Status(opened.status().code(), absl::StrFormat("--store: %s", opened.status().message()));
  }
  MutexLock lock(side->mu_);
  if (opened.ok()) {
    side->Open(*std::move(opened));
  } else {
    // Not reachable now (PostgreSQL starting, a network blip): the rest of the server serves meanwhile.
    std::fprintf(stderr, "squatstreamd: the store cannot be opened yet (%s); trying again every 5 s\n",
                 std::string(opened.status().message()).c_str());
    side->open_error_ = opened.status();
    if (side->health_) side->health_(false);
    side->opener_ = std::thread([s = side.get()] { s->RetryOpen(); });
  }
  return side;
}

void WatchSide::RetryOpen() {
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stopped_) return;
      stop_cv_.WaitFor(mu_, std::chrono::seconds(5));
      if (stopped_) return;
    }
    absl::StatusOr<std::unique_ptr<store::Store>> opened = store::OpenStore(options_.store);
    MutexLock lock(mu_);
    if (stopped_) return;
    if (opened.ok()) {
      Open(*std::move(opened));
      std::fprintf(stderr, "squatstreamd: the store is open\n");
      return;
    }
    if (opened.status() != open_error_) {
      std::fprintf(stderr, "squatstreamd: the store still cannot be opened (%s)\n",
                   std::string(opened.status().message()).c_str());
    }
    open_error_ = opened.status();
  }
}

void WatchSide::Open(std::unique_ptr<store::Store> store) {
  store_ = std::move(store);
  open_error_ = absl::OkStatus();
  const std::string owner = watch::Scheduler::MakeOwner();

  watch::DelivererOptions delivery;
  delivery.owner = owner;
  delivery.min_delay = options_.webhook_min_delay;
  delivery.give_up_after = options_.webhook_give_up_after;
  delivery.policy = policy_;
  delivery.lookup = host_lookup_;
  delivery.lease = options_.lease;
  deliverer_ = std::make_unique<watch::Deliverer>(*store_, delivery, metrics_);

  watch::SchedulerOptions scheduling;
  scheduling.owner = owner;
  scheduling.max_concurrent_scans = options_.max_concurrent_scans;
  scheduling.confirmations = options_.confirmations;
  scheduling.lease = options_.lease;
  scheduling.poll = options_.poll;
  scheduling.history_retention = options_.history_retention;
  scheduling.store_health = health_;
  watch::Deliverer* deliverer = deliverer_.get();
  scheduling.events_written = [this, deliverer] {
    deliverer->Wake();
    // The manager exists by the time a scan commits (it is made below, before the scheduler starts).
    if (watch::WatchManager* m = manager_unlocked_.load(); m != nullptr) m->NotifyEvents();
  };
  scheduler_ = std::make_unique<watch::Scheduler>(*store_, runner_, std::move(scheduling), metrics_);

  watch::WatchManagerOptions managing;
  managing.min_interval = options_.min_interval;
  managing.webhook_policy = policy_;
  manager_ = std::make_unique<watch::WatchManager>(*store_, scheduler_.get(), managing);
  manager_unlocked_ = manager_.get();
  deliverer_->Start();
  scheduler_->Start();
}

absl::StatusOr<watch::WatchManager*> WatchSide::manager() {
  MutexLock lock(mu_);
  if (manager_ != nullptr) return manager_.get();
  if (stopped_) return absl::UnavailableError("server shutting down");
  // The cause stays in the server's log: a store's message may name hosts a client has no business knowing.
  return absl::UnavailableError("the watch store cannot be reached yet (the server's log says why); retry later");
}

void WatchSide::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_cv_.NotifyAll();
  }
  if (opener_.joinable()) opener_.join();
  // Outside the lock: stopping joins threads that may call manager() (and the events callback).
  watch::Scheduler* s = nullptr;
  watch::Deliverer* d = nullptr;
  {
    MutexLock lock(mu_);
    s = scheduler_.get();
    d = deliverer_.get();
  }
  if (s != nullptr) s->Stop();
  if (d != nullptr) d->Stop();
}

WatchSide::~WatchSide() { Stop(); }

}  // namespace squatstream::daemon
