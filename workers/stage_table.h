// The stage table: every lookup stage linked into the program (each registered by its own folder, see
// workers/stage.h), in dependency order. The server builds them from it (real or simulated), the flags read
// theirs through it, and a request that selects no stage gets all of them.
#ifndef SQUATSTREAM_WORKERS_STAGE_TABLE_H_
#define SQUATSTREAM_WORKERS_STAGE_TABLE_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "workers/stage.h"

namespace squatstream::workers {

// The registered stages, each after every stage it needs (ties in the API's id order). Computed once, on
// the first call (after static initialisation); thread-safe. A registration error (an id twice, a need no
// stage has, a cycle) is a programming error: it aborts with a message naming it.
absl::Span<const StageDef* const> StageTable();

// The entry of stage `id`; NOT_FOUND when no stage has it.
absl::StatusOr<const StageDef*> FindStage(v1::Enricher id);

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_STAGE_TABLE_H_
