// The enricher registry: every lookup stage the server runs, built once at start-up (daemon/), and the
// plan of stages for one stream's selection.
#ifndef SQUATSTREAM_PIPELINE_STAGES_H_
#define SQUATSTREAM_PIPELINE_STAGES_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "pipeline/pipeline_metrics.h"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/enricher.h"
#include "workers/stage.h"

namespace squatstream::pipeline {

// One stage of a stream's plan.
struct PlannedStage {
  workers::Enricher* enricher = nullptr;
  const StageMetrics* metrics = nullptr;
  workers::SkipRule skip = nullptr;  // the stage's (its table entry's); null: never skipped
  std::uint32_t needs = 0;           // bit i: waits for stage i of the plan
};
using StagePlan = std::vector<PlannedStage>;

// Plans hold at most this many stages (a bit per stage).
inline constexpr std::size_t kMaxStages = 32;

class EnricherRegistry {
 public:
  // Registers `enricher` — the real stage or its simulated twin — as `stage` (its table entry, static: needs,
  // skip rule) with its metrics. The stages it needs must be registered first (so the registry has no cycle);
  // INVALID_ARGUMENT otherwise, for an id registered twice, or for an enricher that is not `stage`'s.
  // Start-up only.
  absl::Status Add(const workers::StageDef& stage, std::unique_ptr<workers::Enricher> enricher, StageMetrics metrics);

  // The registered enrichers' ids, in registration order.
  std::vector<v1::Enricher> ids() const;

  // The stages to run for `selection` (empty: every registered stage): each selected enricher and, before
  // it, what it needs (transitively), each once; otherwise in selection order. INVALID_ARGUMENT naming an
  // enricher not registered.
  absl::StatusOr<StagePlan> Plan(absl::Span<const v1::Enricher> selection) const;

  // Every stage's Shutdown, in registration order, once (later calls do nothing). A stage that uses an
  // earlier one's services (the banner stage's host lookups through the DNS stage's resolver) may find them
  // ended: a lookup asked then is dropped, never run on a dangling client (the stages are destroyed only
  // after the executor joined). Start-up and shutdown only.
  void Shutdown();
  // Every stage's Reload (SIGHUP). Thread-safe as the stages' are.
  void Reload();

 private:
  struct Entry {
    const workers::StageDef* stage;
    std::unique_ptr<workers::Enricher> enricher;
    StageMetrics metrics;
  };
  const Entry* Find(v1::Enricher id) const;
  absl::Status AddToPlan(v1::Enricher id, StagePlan* plan, std::vector<v1::Enricher>* planned) const;

  std::vector<Entry> entries_;
  bool shut_down_ = false;
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_PIPELINE_STAGES_H_
