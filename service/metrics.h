// Every Prometheus metric squatstreamd exports, registered once at start-up.
//
// Components receive references to the counters they update (never a Family::Add on a hot path). The gRPC
// server metrics use the names and labels of go-grpc-prometheus so that existing dashboards and alerts fit.
#ifndef SQUATSTREAM_SERVICE_METRICS_H_
#define SQUATSTREAM_SERVICE_METRICS_H_

#include <array>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace squatstream::service {

inline constexpr int kGrpcCodeCount = 17;  // OK .. UNAUTHENTICATED

// Metrics of one method (labels grpc_service, grpc_method, grpc_type).
struct GrpcMethodMetrics {
  prometheus::Counter* started = nullptr;
  std::array<prometheus::Counter*, kGrpcCodeCount> handled{};  // by grpc_code
  prometheus::Counter* msg_received = nullptr;
  prometheus::Counter* msg_sent = nullptr;
  prometheus::Histogram* handling_seconds = nullptr;
};

// Metrics of the enrichment pipeline.
struct PipelineMetrics {
  prometheus::Counter* permutations_generated = nullptr;
  prometheus::Counter* records_streamed = nullptr;
  prometheus::Counter* fanin_swaps = nullptr;
  prometheus::Histogram* batch_size = nullptr;
  prometheus::Histogram* time_to_first_batch_seconds = nullptr;
  std::array<prometheus::Histogram*, 4> enrichment_latency_seconds{};  // by EnricherKind (1..3)
  std::array<prometheus::Counter*, 4> enrichment_failures{};           // by EnricherKind (1..3)
  prometheus::Gauge* inflight_lookups = nullptr;
  prometheus::Gauge* fanin_buffer_depth = nullptr;
  prometheus::Gauge* active_streams = nullptr;
  prometheus::Gauge* fanin_capacity_records = nullptr;  // sum of the active streams' buffer bounds
  prometheus::Gauge* budget_slots = nullptr;            // the server-wide memory budget, set once at start-up
  prometheus::Gauge* budget_slots_granted = nullptr;    // of it, granted to the streams in progress
};

struct Metrics {
  GrpcMethodMetrics enrich_domain;
  GrpcMethodMetrics classify_domain;
  prometheus::Counter* classify_cache_hits = nullptr;    // ClassifyDomain calls whose target was cached
  prometheus::Counter* classify_cache_misses = nullptr;  // ... and those that generated its permutations
  PipelineMetrics pipeline;
};

// Registers every metric in `registry` and returns pointers into it; `registry` must outlive the result.
Metrics RegisterMetrics(prometheus::Registry& registry);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_METRICS_H_
