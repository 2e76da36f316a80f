// The Enricher interface: one asynchronous lookup about one candidate domain.
//
// Implementations: the stub enrichers (stub_enricher.h) now; real network enrichers (DNS via c-ares, whois,
// banner grabs) later, on the same interface. Results are plain structs: this layer knows nothing of gRPC.
#ifndef SQUATSTREAM_WORKERS_ENRICHER_H_
#define SQUATSTREAM_WORKERS_ENRICHER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/cancellation_signal.hpp"

namespace squatstream::workers {

// Values match squatstream.v1.Enricher so the service can convert with a cast.
enum class EnricherKind : std::uint8_t { kGeo = 1, kWhois = 2, kBanner = 3 };

// Lower-case name: "geo", "whois", "banner".
absl::string_view EnricherName(EnricherKind kind);
// Parses a name as EnricherName prints it; INVALID_ARGUMENT for an unknown one.
absl::StatusOr<EnricherKind> ParseEnricherName(absl::string_view name);

struct GeoInfo {
  std::string ip;
  std::string country_code;
  std::string city;
  std::uint32_t asn = 0;
  double latitude = 0;
  double longitude = 0;
};

struct WhoisInfo {
  bool registered = false;
  std::string registrar;
  std::string created;  // YYYY-MM-DD
  std::string expires;  // YYYY-MM-DD
};

struct BannerInfo {
  std::uint32_t http_status = 0;
  std::string server;
  std::string title;
};

using EnrichmentValue = std::variant<GeoInfo, WhoisInfo, BannerInfo>;

struct LookupResult {
  absl::Status status;    // OK, CANCELLED when cancelled, or the lookup's failure
  EnrichmentValue value;  // meaningful only when status is OK
  absl::Duration latency;
};

class Enricher {
 public:
  using Callback = absl::AnyInvocable<void(LookupResult) &&>;

  virtual ~Enricher() = default;

  virtual EnricherKind kind() const = 0;

  // Starts a lookup about `domain_ascii`. Calls `done` exactly once, through `executor` and never inline
  // from Lookup itself. If `cancel` is emitted before the lookup ends, `done` follows promptly with
  // CANCELLED. The caller must emit `cancel` from `executor`'s context (a strand), which is also where
  // `done` runs, so the two never race. Thread-safe: one enricher serves every stream.
  virtual void Lookup(absl::string_view domain_ascii, asio::any_io_executor executor, asio::cancellation_slot cancel,
                      Callback done) = 0;

  // The result about `domain_ascii` when it is known without waiting (a zero-latency stub), else nullopt
  // and the caller uses Lookup. Saves a lookup that has nothing to wait for its trip through the executor.
  // Thread-safe.
  virtual std::optional<LookupResult> TryLookupNow(absl::string_view /*domain_ascii*/) { return std::nullopt; }
};

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_ENRICHER_H_
