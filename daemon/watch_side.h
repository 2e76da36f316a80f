// WatchSide: the watch half of squatstreamd wired together — the store (opened at start, or again and again in
// the background while it cannot be reached), the scheduler whose scans run as streams of this server, the
// webhook deliverer, and the WatchManager that WatchService calls.
#ifndef SQUATSTREAM_DAEMON_WATCH_SIDE_H_
#define SQUATSTREAM_DAEMON_WATCH_SIDE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "service/service_context.h"
#include "service/watch_scan_runner.h"
#include "store/store.h"
#include "watch/deliverer.h"
#include "watch/scheduler.h"
#include "watch/watch_manager.h"
#include "watch/watch_metrics.h"
#include "workers/net/address_policy.h"
#include "workers/stage.h"

namespace squatstream::daemon {

struct WatchOptions {
  // Where watches are kept (store/store.h OpenStore: sqlite:PATH, postgresql://..., a libpq DSN); "" keeps
  // none (the watch API answers FAILED_PRECONDITION).
  std::string store;
  // `store` is squatstreamd's default (not asked for): when it cannot be opened the server starts without watches
  // (saying so) instead of refusing to start.
  bool store_is_default = false;
  absl::Duration min_interval = absl::Hours(1);
  int confirmations = 2;
  int max_concurrent_scans = 2;
  absl::Duration history_retention = absl::Hours(24 * 90);
  absl::Duration lease = absl::Seconds(60);
  absl::Duration poll = absl::Seconds(1);
  absl::Duration webhook_min_delay = absl::Seconds(1);  // the first retry's wait (doubling up to an hour)
  absl::Duration webhook_give_up_after = absl::Hours(24);
};

// The engine a store spec names ("sqlite", "postgresql"), for the metrics' label; "" for none.
std::string StoreEngine(const std::string& spec);

class WatchSide {
 public:
  // Opens the store and starts the scheduler and deliverer. An invalid spec or a schema newer than this binary
  // knows is an error (the server does not start); a store that cannot be reached now is opened again every few
  // seconds meanwhile, the watch API answering UNAVAILABLE. `health` gets the watch side's serving state.
  static absl::StatusOr<std::unique_ptr<WatchSide>> Start(const WatchOptions& options, service::ServiceContext& context,
                                                          const workers::net::AddressPolicy* policy,
                                                          workers::HostLookup host_lookup,
                                                          const watch::WatchMetrics& metrics,
                                                          std::function<void(bool)> health);
  ~WatchSide();  // Stop()

  // The manager, or UNAVAILABLE naming why the store cannot be used now.
  absl::StatusOr<watch::WatchManager*> manager();
  // Stops scans (their leases given back) and deliveries; idempotent. Before the executors stop.
  void Stop();

 private:
  WatchSide(const WatchOptions& options, service::ServiceContext& context, const workers::net::AddressPolicy* policy,
            workers::HostLookup host_lookup, const watch::WatchMetrics& metrics, std::function<void(bool)> health);
  // Builds the parts on an opened store.
  void Open(std::unique_ptr<store::Store> store) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RetryOpen();

  const WatchOptions options_;
  const workers::net::AddressPolicy* const policy_;
  workers::HostLookup host_lookup_;
  const watch::WatchMetrics& metrics_;
  std::function<void(bool)> health_;
  service::WatchScanRunner runner_;

  Mutex mu_;
  CondVar stop_cv_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status open_error_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<store::Store> store_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<watch::Scheduler> scheduler_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<watch::Deliverer> deliverer_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<watch::WatchManager> manager_ ABSL_GUARDED_BY(mu_);
  // The manager, once made (never unmade before the side is destroyed): what the scheduler's events callback
  // notifies without taking mu_ (it runs on a scan thread that Stop joins while holding no lock).
  std::atomic<watch::WatchManager*> manager_unlocked_{nullptr};
  std::thread opener_;  // while the store cannot be reached
};

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_WATCH_SIDE_H_
