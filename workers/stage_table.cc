#include "workers/stage_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_format.h"

namespace squatstream::workers {
namespace {

// What the static initialisers registered, in no particular order (link order).
// Each is a function returning the entry, so that the entry itself (a function-local static) is made only
// when the table is first read, after every static initialiser ran.
std::vector<const StageDef& (*)()>& Registered() {
  static auto* registered = new std::vector<const StageDef& (*)()>();
  return *registered;
}

[[noreturn]] void Abort(const std::string& why) {
  std::fprintf(stderr, "squatstream: stage table: %s\n", why.c_str());
  std::abort();
}

std::vector<const StageDef*> Ordered() {
  std::vector<const StageDef*> left;
  for (auto get : Registered()) left.push_back(&get());
  std::sort(left.begin(), left.end(), [](const StageDef* a, const StageDef* b) { return a->id < b->id; });
  for (std::size_t i = 1; i < left.size(); ++i) {
    if (left[i]->id == left[i - 1]->id) Abort(absl::StrFormat("stage %s registered twice", EnricherName(left[i]->id)));
  }
  for (const StageDef* stage : left) {
    for (v1::Enricher need : stage->needs) {
      if (std::none_of(left.begin(), left.end(), [&](const StageDef* s) { return s->id == need; })) {
        Abort(absl::StrFormat("stage %s needs %s, which no linked stage is", EnricherName(stage->id),
                              EnricherName(need)));
      }
    }
  }
  // Kahn's algorithm, taking the lowest id whose needs are all placed.
  std::vector<const StageDef*> out;
  while (!left.empty()) {
    auto ready = std::find_if(left.begin(), left.end(), [&](const StageDef* stage) {
      return std::all_of(stage->needs.begin(), stage->needs.end(), [&](v1::Enricher need) {
        return std::any_of(out.begin(), out.end(), [&](const StageDef* s) { return s->id == need; });
      });
    });
    if (ready == left.end()) Abort(absl::StrFormat("the needs of stage %s form a cycle", EnricherName(left[0]->id)));
    out.push_back(*ready);
    left.erase(ready);
  }
  return out;
}

bool& TableBuilt() {
  static bool built = false;
  return built;
}

}  // namespace

StageRegistration::StageRegistration(const StageDef& (*stage)()) {
  // Registrations run in static initialisation, before main() reads the table; one after it would be lost.
  if (TableBuilt()) Abort("a stage registered after the table was read");
  Registered().push_back(stage);
}

absl::Span<const StageDef* const> StageTable() {
  static const auto* table = [] {
    TableBuilt() = true;
    return new std::vector<const StageDef*>(Ordered());
  }();
  return *table;
}

absl::StatusOr<const StageDef*> FindStage(v1::Enricher id) {
  for (const StageDef* stage : StageTable()) {
    if (stage->id == id) return stage;
  }
  return absl::NotFoundError(absl::StrFormat("no stage %s", EnricherName(id)));
}

}  // namespace squatstream::workers
