// The metrics the watch side updates: pointers into the registry service/metrics.cc filled at start-up (no
// Family::Add on a hot path). Any pointer may be null (tests): the code checks before updating.
#ifndef SQUATSTREAM_WATCH_WATCH_METRICS_H_
#define SQUATSTREAM_WATCH_WATCH_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace squatstream::watch {

struct WatchMetrics {
  prometheus::Gauge* watches = nullptr;             // watches in the store
  prometheus::Counter* scans_ok = nullptr;          // scans by outcome: committed
  prometheus::Counter* scans_failed = nullptr;      // the scan or its commit failed (tried again later)
  prometheus::Counter* scans_lost_lease = nullptr;  // another replica took the watch over
  prometheus::Counter* scans_deferred = nullptr;    // no stream slot for it now (tried again in seconds)
  prometheus::Gauge* scan_lag_seconds = nullptr;    // how late the last claimed scan started behind its schedule
  prometheus::Gauge* scans_running = nullptr;
  prometheus::Counter* events_baseline = nullptr;  // events written, by type
  prometheus::Counter* events_appeared = nullptr;
  prometheus::Counter* events_changed = nullptr;
  prometheus::Counter* events_gone = nullptr;
  prometheus::Counter* deliveries_ok = nullptr;  // webhook attempts by outcome
  prometheus::Counter* deliveries_retry = nullptr;
  prometheus::Counter* deliveries_dead = nullptr;
  prometheus::Gauge* outbox_pending = nullptr;  // deliveries not delivered yet
  prometheus::Gauge* outbox_dead = nullptr;
  prometheus::Gauge* outbox_oldest_seconds = nullptr;  // age of the oldest pending delivery
  prometheus::Gauge* store_up = nullptr;               // 1 when the store answered the last ping
  prometheus::Histogram* store_seconds = nullptr;      // store operation latency (label engine)
  prometheus::Counter* store_errors = nullptr;         // store operations that failed (label engine)
};

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_WATCH_METRICS_H_
