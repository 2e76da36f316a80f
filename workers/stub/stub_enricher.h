// The stub enricher: any stage's simulated twin — deterministic made-up lookups with configurable latency
// and failure rate, for benchmarks and offline use, selected explicitly (squatstreamd --stub_enrichers).
//
// The value is the stage's own simulation (its StageDef::simulate, in its folder), a pure function of the
// candidate: the same candidate always gets the same verdict, address, registrar, banner — and the same
// simulated failure. Every result says `simulated`. Which names it skips is the stage's rule, applied by the
// pipeline as for the real stage. The latency is a timer on the caller's executor, so lookups occupy no
// thread while they wait.
#ifndef SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_
#define SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_

#include <optional>

#include "absl/time/time.h"
#include "workers/enricher.h"
#include "workers/stage.h"

namespace squatstream::workers {

class StubEnricher final : public Enricher {
 public:
  // `stage` (a table entry, static) must outlive the enricher.
  StubEnricher(const StageDef& stage, StubConfig config);

  v1::Enricher id() const override { return stage_.id; }
  // The simulations make a few short fields (a name of at most 253 bytes among them): at most this much.
  std::size_t MaxResultBytes() const override { return 512; }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  // Answers at once when the configured latency is zero.
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override;

  // The result this stub gives the input, without waiting. Thread-safe.
  LookupResult Compute(const LookupInput& input) const;
  // How long this stub makes the input's lookup take: 0.5x-1.5x the configured latency, fixed per candidate.
  absl::Duration LatencyOf(const LookupInput& input) const;

 private:
  const StageDef& stage_;
  const StubConfig config_;
};

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_
