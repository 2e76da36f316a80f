// Scheduler: rescans each watch when it is due, on `max_concurrent_scans` threads of its own, through a
// ScanRunner (the server's pipeline), and commits what the Differ makes of each scan in one transaction.
//
// Across replicas sharing a PostgreSQL store the due scans are shared through leases (Store::ClaimDueWatch: FOR
// UPDATE SKIP LOCKED): a scan runs on exactly one replica; its lease is renewed while it runs (every third of
// the lease), so that a replica killed mid-scan leaves a lease that expires and another replica takes the watch
// over within the lease time. A scan whose lease was lost is cancelled and its commit refused by the store.
// A scan that fails (no slot now, the store or the resolver unreachable) gives its lease back and is tried again
// later; nothing half-scanned is committed. Housekeeping on one more thread: lease renewal, a ping of the store
// (its health), the gauges, and the retention of old events.
#ifndef SQUATSTREAM_WATCH_SCHEDULER_H_
#define SQUATSTREAM_WATCH_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "store/store.h"
#include "watch/scan_runner.h"
#include "watch/watch_metrics.h"

namespace squatstream::watch {

struct SchedulerOptions {
  std::string owner;             // this replica's name in the leases (host:pid:random)
  int max_concurrent_scans = 2;  // scan threads
  int confirmations = 2;         // --watch_confirmations
  absl::Duration lease = absl::Seconds(60);
  absl::Duration poll = absl::Seconds(1);                 // how often due watches are looked for, and the store pinged
  absl::Duration retry_after_failure = absl::Minutes(5);  // at most; a watch's interval if shorter
  absl::Duration retry_when_busy = absl::Seconds(10);     // the server had no slot for the scan
  absl::Duration history_retention = absl::Hours(24 * 90);
  // Called after a commit wrote events (wakes the deliverer and the StreamEvents followers). Any thread.
  std::function<void()> events_written;
  // Called when the store's health changes (true: answering), and once at start. Any thread.
  std::function<void(bool)> store_health;
};

class Scheduler {
 public:
  // `store`, `runner` and `metrics` outlive the scheduler.
  Scheduler(store::Store& store, ScanRunner& runner, SchedulerOptions options, const WatchMetrics& metrics);
  ~Scheduler();  // Stop()

  void Start();
  // A watch may have become due (created, ScanWatchNow): look now instead of at the next poll.
  void Wake();
  // Cancels the running scans (their leases given back, due at once for another replica), joins the threads.
  // Idempotent.
  void Stop();

  // A new name for this replica's leases: "<host>:<pid>:<random>".
  static std::string MakeOwner();

 private:
  void ScanLoop();
  void HousekeepingLoop();
  // Claims and runs one due scan; false when none was due (or the store failed).
  bool RunOneScan();
  void SetHealth(bool up);
  // Waits up to `timeout` unless woken or stopping.
  void WaitWake(absl::Duration timeout);

  store::Store& store_;
  ScanRunner& runner_;
  const SchedulerOptions options_;
  const WatchMetrics& metrics_;

  Mutex mu_;
  CondVar wake_cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
  // The scans running on this replica, by watch id: their stop flags (set when the lease is lost or on Stop).
  absl::flat_hash_map<std::int64_t, std::shared_ptr<std::atomic<bool>>> running_ ABSL_GUARDED_BY(mu_);
  int health_ ABSL_GUARDED_BY(mu_) = -1;  // -1 unknown, 0 down, 1 up
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_SCHEDULER_H_
