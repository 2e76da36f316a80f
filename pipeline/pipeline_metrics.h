// The metrics the pipeline updates: pointers into a prometheus::Registry that the daemon filled at start-up
// (service/metrics.h registers them), so no Family::Add runs on a hot path.
#ifndef SQUATSTREAM_PIPELINE_PIPELINE_METRICS_H_
#define SQUATSTREAM_PIPELINE_PIPELINE_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace squatstream::pipeline {

// One enricher's (label enricher="dns", ...).
struct StageMetrics {
  prometheus::Histogram* latency_seconds = nullptr;  // lookups that ran (skips and cancellations excluded)
  prometheus::Counter* failures = nullptr;           // lookups that ended with an error (skips, cancellations excluded)
  prometheus::Counter* skipped = nullptr;            // nothing to look up: a stage it needs found nothing
};

struct PipelineMetrics {
  prometheus::Counter* permutations_generated = nullptr;
  prometheus::Counter* records_streamed = nullptr;
  prometheus::Counter* records_filtered = nullptr;  // dropped by registered_only
  prometheus::Counter* batches_drained = nullptr;   // fan-in drains that took at least one record
  prometheus::Counter* late_merges = nullptr;       // Generator::late_merges of every ended generator
  prometheus::Histogram* batch_size = nullptr;
  prometheus::Histogram* time_to_first_batch_seconds = nullptr;
  prometheus::Gauge* inflight_lookups = nullptr;
  prometheus::Gauge* fanin_buffer_depth = nullptr;
  prometheus::Gauge* active_streams = nullptr;
  prometheus::Gauge* fanin_buffer_bytes = nullptr;    // what the records held are charged, summed
  prometheus::Gauge* fanin_capacity_bytes = nullptr;  // sum of the active streams' buffer bounds
  prometheus::Gauge* budget_slots = nullptr;          // the server-wide memory budget, set once at start-up
  prometheus::Gauge* budget_slots_granted = nullptr;  // of it, granted to the streams in progress
  prometheus::Gauge* budget_holders = nullptr;        // streams holding a grant
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_PIPELINE_PIPELINE_METRICS_H_
