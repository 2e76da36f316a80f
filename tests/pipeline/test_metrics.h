// Pipeline metrics for tests: every pointer set, into a registry the fixture owns.
#ifndef SQUATSTREAM_TESTS_PIPELINE_TEST_METRICS_H_
#define SQUATSTREAM_TESTS_PIPELINE_TEST_METRICS_H_

#include <string>

#include "pipeline/pipeline_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace squatstream::pipeline {

struct TestMetrics {
  prometheus::Registry registry;
  PipelineMetrics pipeline;

  TestMetrics() {
    auto counter = [&](const char* name) { return &prometheus::BuildCounter().Name(name).Register(registry).Add({}); };
    auto gauge = [&](const char* name) { return &prometheus::BuildGauge().Name(name).Register(registry).Add({}); };
    auto histogram = [&](const char* name) {
      return &prometheus::BuildHistogram().Name(name).Register(registry).Add(
          {}, prometheus::Histogram::BucketBoundaries{1});
    };
    pipeline.permutations_generated = counter("generated");
    pipeline.records_streamed = counter("streamed");
    pipeline.records_filtered = counter("filtered");
    pipeline.batches_drained = counter("batches_drained");
    pipeline.late_merges = counter("late_merges");
    pipeline.batch_size = histogram("batch");
    pipeline.time_to_first_batch_seconds = histogram("first");
    pipeline.inflight_lookups = gauge("inflight");
    pipeline.fanin_buffer_depth = gauge("depth");
    pipeline.active_streams = gauge("active");
    pipeline.fanin_buffer_bytes = gauge("bytes");
    pipeline.fanin_capacity_bytes = gauge("capacity");
    pipeline.budget_slots = gauge("slots");
    pipeline.budget_slots_granted = gauge("granted");
    pipeline.budget_holders = gauge("holders");
  }

  StageMetrics Stage(const std::string& name) {
    return {&prometheus::BuildHistogram()
                 .Name(name + "_latency")
                 .Register(registry)
                 .Add({}, prometheus::Histogram::BucketBoundaries{1}),
            &prometheus::BuildCounter().Name(name + "_failures").Register(registry).Add({}),
            &prometheus::BuildCounter().Name(name + "_skipped").Register(registry).Add({})};
  }
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_TESTS_PIPELINE_TEST_METRICS_H_
