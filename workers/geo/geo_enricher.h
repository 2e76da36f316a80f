// The geo stage: where each of the candidate's addresses (from the DNS stage) is — country, city,
// continent, coordinates, ASN and AS organisation — from the catalog's memory-mapped databases. A lookup is
// a few microseconds and never waits, so it answers in TryLookupNow, without a trip through the executor.
//
// Outcome: OK when some address is located (each address's own `found` says which); NOT_FOUND when DNS
// found no address or no database holds any of them; FAILED_PRECONDITION when no database is loaded (the
// message names the file and why).
#ifndef SQUATSTREAM_WORKERS_GEO_GEO_ENRICHER_H_
#define SQUATSTREAM_WORKERS_GEO_GEO_ENRICHER_H_

#include <memory>

#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "workers/enricher.h"
#include "workers/geo/geo_database.h"

namespace squatstream::workers::geo {

struct GeoMetrics {
  explicit GeoMetrics(prometheus::Registry& registry);
  prometheus::Counter* found;        // addresses located
  prometheus::Counter* not_found;    // addresses no database holds
  prometheus::Counter* no_database;  // lookups with no database loaded
  prometheus::Counter* loads_ok;
  prometheus::Counter* loads_failed;
  prometheus::Gauge* build_epoch;  // the oldest loaded file's build time (staleness)
};

class GeoEnricher final : public Enricher {
 public:
  static constexpr int kMaxAddresses = 16;  // addresses located per candidate (DNS's A then AAAA order)

  // `catalog` and `metrics` must outlive the enricher.
  GeoEnricher(GeoCatalog* catalog, GeoMetrics* metrics);

  v1::Enricher id() const override { return v1::ENRICHER_GEO; }
  // kMaxAddresses locations, each a few short database strings.
  std::size_t MaxResultBytes() const override { return std::size_t{8} << 10; }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override;

 private:
  GeoCatalog* const catalog_;
  GeoMetrics* const metrics_;
};

// Loads the catalog now (logging what it loaded or why not), then checks the files every `interval` on
// `executor` and reloads a changed set; Reload() also on request (SIGHUP). Stop() before the executor ends.
class GeoWatcher {
 public:
  GeoWatcher(GeoCatalog* catalog, GeoMetrics* metrics, const asio::any_io_executor& executor, absl::Duration interval);
  ~GeoWatcher();
  void Reload();  // thread-safe
  void Stop();    // thread-safe; idempotent

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace squatstream::workers::geo

#endif  // SQUATSTREAM_WORKERS_GEO_GEO_ENRICHER_H_
