// What every call shares: the executor, the enricher registry, the limits, the metrics and ClassifyDomain's cache.
#ifndef SQUATSTREAM_SERVICE_SERVICE_CONTEXT_H_
#define SQUATSTREAM_SERVICE_SERVICE_CONTEXT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "access/gatekeeper.h"
#include "pipeline/classifier_cache.h"
#include "pipeline/enrich_pipeline.h"
#include "pipeline/stages.h"
#include "pipeline/stream_drain.h"
#include "service/memory_budget.h"
#include "service/metrics.h"
#include "service/request.h"
#include "service/stream_registry.h"
#include "workers/executor.h"

namespace squatstream::service {

struct StreamLimits {
  RequestLimits request;
  pipeline::PipelineOptions pipeline;
  std::size_t max_batch_records = 1024;                                        // records per streamed message
  std::size_t max_batch_bytes = pipeline::StreamDrain::kDefaultMaxBatchBytes;  // and their bytes (past the first)
  int max_concurrent_streams = 64;                                             // more get RESOURCE_EXHAUSTED
  // A stream that sent nothing for this long sends its progress alone: a client's bar moves
  // with registered_only, and a client can tell a slow stream from a stalled one.
  std::chrono::steady_clock::duration progress_interval = std::chrono::seconds(1);
};

// Owned by the server; outlives every stream. Thread-safe: all members are const or atomic, or
// thread-safe themselves.
struct ServiceContext {
  workers::Executor* executor = nullptr;                  // I/O: lookups, timers, the streams' drains
  workers::Executor* cpu_executor = nullptr;              // CPU work: generation, ClassifyDomain's classifier builds
  const pipeline::EnricherRegistry* enrichers = nullptr;  // every stage the server runs
  StreamLimits limits;
  Metrics* metrics = nullptr;
  pipeline::ClassifierCache* classifier_cache = nullptr;  // ClassifyDomain's classifiers of recent targets
  std::atomic<int> active_streams{0};
  std::atomic<std::uint64_t> streams_admitted{0};  // streams that got a slot, ever (for idle memory release)
  StreamRegistry streams;                          // the streams in progress; draining on shutdown
  MemoryBudget* budget = nullptr;                  // what all streams together may hold; set by the server
  access::Gatekeeper* gatekeeper = nullptr;        // who may call, and their quotas; null: anyone, no quota
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_SERVICE_CONTEXT_H_
