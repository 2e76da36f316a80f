// Stub enrichers: deterministic simulated lookups with configurable latency and failure rate.
//
// The result is a pure function of (enricher kind, candidate): the same candidate always gets the same
// address, registrar, banner — and the same simulated failure. Values are plausible but never real: IPv4
// addresses from the documentation ranges (RFC 5737) and ASNs from the documentation range (RFC 5398).
// The latency is a timer on the caller's executor, so lookups occupy no thread while they wait.
#ifndef SQUATSTREAM_WORKERS_STUB_ENRICHER_H_
#define SQUATSTREAM_WORKERS_STUB_ENRICHER_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "workers/enricher.h"

namespace squatstream::workers {

struct StubConfig {
  // Mean simulated latency; each lookup takes between 0.5x and 1.5x of it, fixed per candidate.
  absl::Duration latency = absl::ZeroDuration();
  // Fraction of candidates, in [0, 1], whose lookup fails with UNAVAILABLE.
  double failure_rate = 0;
};

class StubEnricher final : public Enricher {
 public:
  StubEnricher(EnricherKind kind, StubConfig config);

  EnricherKind kind() const override { return kind_; }
  void Lookup(absl::string_view domain_ascii, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  // Answers at once when the result's latency is zero (a stub configured with zero latency).
  std::optional<LookupResult> TryLookupNow(absl::string_view domain_ascii) override;

  // The result and latency this stub gives `domain_ascii`, without waiting. Thread-safe.
  LookupResult Compute(absl::string_view domain_ascii) const;

 private:
  const EnricherKind kind_;
  const StubConfig config_;
};

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_STUB_ENRICHER_H_
