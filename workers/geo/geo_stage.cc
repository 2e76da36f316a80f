#include "workers/geo/geo_stage.h"

#include <array>
#include <memory>
#include <utility>

#include "absl/flags/flag.h"
#include "asio/strand.hpp"
#include "workers/geo/geo_enricher.h"
#include "workers/stub/simulation.h"

ABSL_FLAG(std::vector<std::string>, geo_city_db, squatstream::workers::geo::GeoStageOptions{}.files.location,
          "Location databases (MaxMind-format: GeoLite2/GeoIP2 City or Country, or DB-IP Lite as the install script "
          "puts it here), tried in order per address.");
ABSL_FLAG(std::vector<std::string>, geo_asn_db, squatstream::workers::geo::GeoStageOptions{}.files.asn,
          "ASN databases (MaxMind-format, GeoLite2-ASN fields), tried in order per address.");
ABSL_FLAG(std::string, geo_attribution, squatstream::workers::geo::GeoStageOptions{}.files.attribution,
          "The credit the geo databases' licence asks for, on every geo result (DB-IP Lite: CC BY 4.0).");
ABSL_FLAG(absl::Duration, geo_reload_check, squatstream::workers::geo::GeoStageOptions{}.reload_check,
          "How often the geo database files are checked for a change (replaced files are loaded without dropping "
          "streams; SIGHUP reloads at once); 0: never.");
ABSL_FLAG(absl::Duration, stub_geo_latency, squatstream::workers::geo::GeoStage().stub_defaults.latency,
          "Mean latency of the stub geo stage.");
ABSL_FLAG(double, stub_geo_failure_rate, squatstream::workers::geo::GeoStage().stub_defaults.failure_rate,
          "Fraction of candidates whose stub geo lookup fails.");

namespace squatstream::workers::geo {
namespace {

// The real stage: the catalog of open databases, the watcher that reloads it, and the enricher that reads it.
class RealGeoStage final : public Enricher {
 public:
  RealGeoStage(asio::io_context& io, prometheus::Registry& registry, const GeoStageOptions& options)
      : metrics_(registry),
        catalog_(options.files),
        // Loads now (a missing file is logged and reported on each record, and picked up when it appears).
        watcher_(&catalog_, &metrics_, asio::make_strand(io), options.reload_check),
        enricher_(&catalog_, &metrics_) {}

  v1::Enricher id() const override { return enricher_.id(); }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override {
    enricher_.Lookup(input, std::move(executor), cancel, std::move(done));
  }
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override { return enricher_.TryLookupNow(input); }
  void Shutdown() override { watcher_.Stop(); }
  // Streams keep the set they hold until their lookups end.
  void Reload() override { watcher_.Reload(); }

 private:
  GeoMetrics metrics_;
  GeoCatalog catalog_;
  GeoWatcher watcher_;
  GeoEnricher enricher_;
};

absl::Status ReadFlags(StageOptions& options, StubConfig& stub) {
  GeoStageOptions& o = options.Get<GeoStageOptions>();
  o.files.location = absl::GetFlag(FLAGS_geo_city_db);
  o.files.asn = absl::GetFlag(FLAGS_geo_asn_db);
  o.files.attribution = absl::GetFlag(FLAGS_geo_attribution);
  o.reload_check = absl::GetFlag(FLAGS_geo_reload_check);
  stub = {absl::GetFlag(FLAGS_stub_geo_latency), absl::GetFlag(FLAGS_stub_geo_failure_rate)};
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Enricher>> Create(StageEnvironment& env) {
  return std::make_unique<RealGeoStage>(env.io, env.registry, env.options.Get<GeoStageOptions>());
}

struct Place {
  absl::string_view country;
  absl::string_view city;
  double latitude;
  double longitude;
};

constexpr std::array<Place, 12> kPlaces = {{
    {"US", "Ashburn", 39.04, -77.49},
    {"US", "San Jose", 37.34, -121.89},
    {"DE", "Frankfurt", 50.11, 8.68},
    {"NL", "Amsterdam", 52.37, 4.90},
    {"GB", "London", 51.51, -0.13},
    {"FR", "Paris", 48.86, 2.35},
    {"SG", "Singapore", 1.35, 103.82},
    {"JP", "Tokyo", 35.68, 139.69},
    {"RU", "Moscow", 55.76, 37.62},
    {"CN", "Hong Kong", 22.32, 114.17},
    {"BR", "São Paulo", -23.55, -46.63},
    {"CA", "Toronto", 43.65, -79.38},
}};

// DNS's first address in a made-up place, under an ASN of the documentation range (RFC 5398).
void Simulate(const LookupInput& input, std::uint64_t h, const StubConfig&, v1::Enrichment* out) {
  const Place& place = stub::Pick(kPlaces, h);
  v1::GeoResult* geo = out->mutable_geo();
  const v1::DnsResult* dns = DnsResultOf(input.record);
  geo->set_ip(dns != nullptr && dns->addresses_size() > 0 ? dns->addresses(0) : stub::DocAddress(h));
  geo->set_country_code(std::string(place.country));
  geo->set_city(std::string(place.city));
  geo->set_asn(static_cast<std::uint32_t>(64496 + (h >> 24) % 16));
  geo->set_latitude(place.latitude);
  geo->set_longitude(place.longitude);
}

}  // namespace

const StageDef& GeoStage() {
  static const StageDef kStage{
      .id = v1::ENRICHER_GEO,
      .needs = {v1::ENRICHER_DNS},
      .skip = NeedAddresses,
      .simulate = Simulate,
      .stub_defaults = {.latency = absl::Milliseconds(3), .failure_rate = 0.01},
      .read_flags = ReadFlags,
      .create = Create,
  };
  return kStage;
}

SQUATSTREAM_REGISTER_STAGE(GeoStage);

}  // namespace squatstream::workers::geo
