#include "pipeline/stages.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace squatstream::pipeline {

absl::Status EnricherRegistry::Add(const workers::StageDef& stage, std::unique_ptr<workers::Enricher> enricher,
                                   StageMetrics metrics) {
  const v1::Enricher id = stage.id;
  if (enricher->id() != id) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "enricher %s registered as stage %s", workers::EnricherName(enricher->id()), workers::EnricherName(id)));
  }
  if (Find(id) != nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat("enricher %s registered twice", workers::EnricherName(id)));
  }
  for (v1::Enricher need : stage.needs) {
    if (Find(need) == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat("enricher %s needs %s, which is not registered before it",
                                                        workers::EnricherName(id), workers::EnricherName(need)));
    }
  }
  if (entries_.size() == kMaxStages) return absl::InvalidArgumentError("too many enrichers");
  entries_.push_back({&stage, std::move(enricher), metrics});
  return absl::OkStatus();
}

void EnricherRegistry::Shutdown() {
  if (std::exchange(shut_down_, true)) return;
  for (Entry& e : entries_) e.enricher->Shutdown();
}

void EnricherRegistry::Reload() {
  for (Entry& e : entries_) e.enricher->Reload();
}

std::vector<v1::Enricher> EnricherRegistry::ids() const {
  std::vector<v1::Enricher> out;
  for (const Entry& e : entries_) out.push_back(e.enricher->id());
  return out;
}

const EnricherRegistry::Entry* EnricherRegistry::Find(v1::Enricher id) const {
  for (const Entry& e : entries_) {
    if (e.enricher->id() == id) return &e;
  }
  return nullptr;
}

absl::Status EnricherRegistry::AddToPlan(v1::Enricher id, StagePlan* plan, std::vector<v1::Enricher>* planned) const {
  if (std::find(planned->begin(), planned->end(), id) != planned->end()) return absl::OkStatus();
  const Entry* entry = Find(id);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("enricher %s is not available on this server", workers::EnricherName(id)));
  }
  PlannedStage stage{entry->enricher.get(), &entry->metrics, entry->stage->skip, 0};
  for (v1::Enricher need : entry->stage->needs) {
    // Registration order guarantees the needs are acyclic, so this recursion ends.
    if (absl::Status s = AddToPlan(need, plan, planned); !s.ok()) return s;
    const auto at = std::find(planned->begin(), planned->end(), need) - planned->begin();
    stage.needs |= std::uint32_t{1} << at;
  }
  plan->push_back(stage);
  planned->push_back(id);
  return absl::OkStatus();
}

absl::StatusOr<StagePlan> EnricherRegistry::Plan(absl::Span<const v1::Enricher> selection) const {
  StagePlan plan;
  std::vector<v1::Enricher> planned;
  const std::vector<v1::Enricher> all = selection.empty() ? ids() : std::vector<v1::Enricher>();
  for (v1::Enricher id : selection.empty() ? absl::MakeConstSpan(all) : selection) {
    if (absl::Status s = AddToPlan(id, &plan, &planned); !s.ok()) return s;
  }
  return plan;
}

}  // namespace squatstream::pipeline
