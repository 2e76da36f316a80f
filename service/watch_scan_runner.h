// WatchScanRunner: a watch's scan as a stream of the server's own — admitted like an EnrichDomain stream (a slot,
// a share of the memory budget, the drain's registry) but leaving `keep_free` slots to interactive streams, run by
// the same pipeline, drained by a StreamDrain whose transport collects the records instead of writing them.
#ifndef SQUATSTREAM_SERVICE_WATCH_SCAN_RUNNER_H_
#define SQUATSTREAM_SERVICE_WATCH_SCAN_RUNNER_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "service/service_context.h"
#include "watch/scan_runner.h"

namespace squatstream::service {

class WatchScanRunner final : public watch::ScanRunner {
 public:
  // `context` outlives the runner. A scan is refused (RESOURCE_EXHAUSTED) unless `keep_free` slots stay free for
  // interactive streams after it takes its own.
  WatchScanRunner(ServiceContext& context, int keep_free) : context_(context), keep_free_(keep_free) {}

  absl::StatusOr<std::vector<v1::Record>> Scan(const std::string& domain, const v1::WatchSettings& settings,
                                               const std::atomic<bool>& stop) override;

 private:
  ServiceContext& context_;
  const int keep_free_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_WATCH_SCAN_RUNNER_H_
