// Every Prometheus metric squatstreamd exports, registered once at start-up.
//
// Components receive references to the counters they update (never a Family::Add on a hot path). The gRPC
// server metrics use the names and labels of go-grpc-prometheus so that existing dashboards and alerts fit.
#ifndef SQUATSTREAM_SERVICE_METRICS_H_
#define SQUATSTREAM_SERVICE_METRICS_H_

#include <array>
#include <string>

#include "pipeline/pipeline_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "watch/watch_metrics.h"

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

// squatstream.v1.WatchService's methods.
struct WatchServiceMetrics {
  GrpcMethodMetrics create_watch, get_watch, list_watches, update_watch, delete_watch, scan_watch_now,
      list_observations, stream_events, annotate;
};

// squatstream.v1.AccessService's methods.
struct AccessServiceMetrics {
  GrpcMethodMetrics create_api_key, list_api_keys, revoke_api_key;
};

struct Metrics {
  GrpcMethodMetrics enrich_domain;
  GrpcMethodMetrics classify_domain;
  WatchServiceMetrics watch_service;
  AccessServiceMetrics access_service;
  prometheus::Counter* classify_cache_hits = nullptr;    // ClassifyDomain calls whose target was cached
  prometheus::Counter* classify_cache_misses = nullptr;  // ... and those that generated its permutations
  pipeline::PipelineMetrics pipeline;
  prometheus::Counter* memory_releases = nullptr;  // the idle releases of free heap memory to the system
  // Per-enricher families (label enricher); AddStageMetrics adds an enricher's series.
  prometheus::Family<prometheus::Histogram>* enrichment_latency_seconds = nullptr;
  prometheus::Family<prometheus::Counter>* enrichment_failures = nullptr;
  prometheus::Family<prometheus::Counter>* enrichment_skipped = nullptr;
};

// Registers every metric in `registry` and returns pointers into it; `registry` must outlive the result.
Metrics RegisterMetrics(prometheus::Registry& registry);

// The watch side's series; `engine` ("sqlite", "postgresql") labels the store's (start-up only).
watch::WatchMetrics RegisterWatchMetrics(prometheus::Registry& registry, const std::string& engine);

// The series of one enricher, labelled enricher="<name>" (start-up only).
pipeline::StageMetrics AddStageMetrics(Metrics& metrics, const std::string& enricher_name);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_METRICS_H_
