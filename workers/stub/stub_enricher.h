// Stub enrichers: deterministic simulated lookups with configurable latency and failure rate — for
// benchmarks and for offline use, selected explicitly (squatstreamd --stub_enrichers).
//
// The result is a pure function of (enricher, candidate): the same candidate always gets the same
// verdict, address, registrar, banner — and the same simulated failure. Values are plausible but never real
// (every result says `simulated`): IPv4 addresses from the documentation ranges (RFC 5737), ASNs from the
// documentation range (RFC 5398), name servers under .example. Like the real stages, geo and banner need
// DNS's addresses and whois a name DNS did not find absent. The latency is a timer on the caller's
// executor, so lookups occupy no thread while they wait.
#ifndef SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_
#define SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_

#include <optional>

#include "absl/time/time.h"
#include "workers/enricher.h"

namespace squatstream::workers {

struct StubConfig {
  // Mean simulated latency; each lookup takes between 0.5x and 1.5x of it, fixed per candidate.
  absl::Duration latency = absl::ZeroDuration();
  // Fraction of candidates, in [0, 1], whose lookup fails with UNAVAILABLE.
  double failure_rate = 0;
  // DNS only: fraction of candidates, in [0, 1], that exist (the rest get NXDOMAIN).
  double registered_rate = 1;
};

class StubEnricher final : public Enricher {
 public:
  StubEnricher(v1::Enricher id, StubConfig config);

  v1::Enricher id() const override { return id_; }
  absl::Span<const v1::Enricher> needs() const override;  // DNS for every stage but DNS
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  // Answers at once when there is nothing to look up, or the result's latency is zero.
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override;

  // The result and latency this stub gives the input, without waiting (and without the skip check).
  // Thread-safe.
  LookupResult Compute(const LookupInput& input) const;

 private:
  std::optional<LookupResult> Skip(const LookupInput& input) const;

  const v1::Enricher id_;
  const StubConfig config_;
};

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_STUB_STUB_ENRICHER_H_
