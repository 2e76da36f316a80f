// ScanRunner: how the watch side has a domain scanned — the same pipeline, stages, limits and politeness as an
// EnrichDomain stream (service/watch_scan_runner.h runs it in the server; tests give a fake).
#ifndef SQUATSTREAM_WATCH_SCAN_RUNNER_H_
#define SQUATSTREAM_WATCH_SCAN_RUNNER_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "squatstream/v1/squatstream.pb.h"
#include "squatstream/v1/watch.pb.h"

namespace squatstream::watch {

class ScanRunner {
 public:
  virtual ~ScanRunner() = default;
  // Scans `domain` (ASCII form) with `settings`' kinds, stages and cap, every candidate (not registered only),
  // and returns every record — a complete scan — or why it could not run or was cut (RESOURCE_EXHAUSTED when
  // the server has no slot for it now, UNAVAILABLE when it shuts down, CANCELLED once `stop` was set). Blocks
  // the calling thread (a scheduler thread) until the scan ends; thread-safe.
  virtual absl::StatusOr<std::vector<v1::Record>> Scan(const std::string& domain, const v1::WatchSettings& settings,
                                                       const std::atomic<bool>& stop) = 0;
};

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_SCAN_RUNNER_H_
