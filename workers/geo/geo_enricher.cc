#include "workers/geo/geo_enricher.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "asio/post.hpp"
#include "base/mutex.h"

namespace squatstream::workers::geo {

GeoMetrics::GeoMetrics(prometheus::Registry& registry) {
  auto& lookups = prometheus::BuildCounter()
                      .Name("squatstream_geo_lookups_total")
                      .Help(
                          "Addresses looked up in the geo databases, by result (found, not_found), and lookups "
                          "with no database loaded (no_database)")
                      .Register(registry);
  found = &lookups.Add({{"result", "found"}});
  not_found = &lookups.Add({{"result", "not_found"}});
  no_database = &lookups.Add({{"result", "no_database"}});
  auto& loads = prometheus::BuildCounter()
                    .Name("squatstream_geo_database_loads_total")
                    .Help("Loads of the geo database set (start-up, a changed file, SIGHUP), by result")
                    .Register(registry);
  loads_ok = &loads.Add({{"result", "ok"}});
  loads_failed = &loads.Add({{"result", "error"}});
  build_epoch = &prometheus::BuildGauge()
                     .Name("squatstream_geo_database_build_timestamp_seconds")
                     .Help("Build time of the oldest geo database file in use (0: none loaded)")
                     .Register(registry)
                     .Add({});
}

GeoEnricher::GeoEnricher(GeoCatalog* catalog, GeoMetrics* metrics) : catalog_(catalog), metrics_(metrics) {}

std::optional<LookupResult> GeoEnricher::TryLookupNow(const LookupInput& input) {
  if (std::optional<LookupResult> nothing = NeedAddresses(input)) return nothing;
  LookupResult result;
  const std::shared_ptr<const GeoDatabases> db = catalog_->current();
  if (db == nullptr) {
    metrics_->no_database->Increment();
    result.status = absl::FailedPreconditionError(
        absl::StrFormat("%s: no geo database loaded (%s)", input.domain_ascii, catalog_->error()));
    return result;
  }
  const v1::DnsResult* dns = DnsResultOf(input.record);
  v1::GeoResult* geo = result.value.mutable_geo();
  int located = 0;  // addresses with a location or an ASN (a new allocation may have only the latter)
  for (const std::string& ip : dns->addresses()) {
    if (geo->addresses_size() == kMaxAddresses) break;
    absl::StatusOr<v1::GeoLocation> where = db->Locate(ip);
    if (!where.ok()) continue;  // DNS's parser only yields addresses; nothing to report for others
    if (where->found() || where->asn() != 0) ++located;
    if (where->found()) {
      metrics_->found->Increment();
    } else {
      metrics_->not_found->Increment();
    }
    *geo->add_addresses() = *std::move(where);
  }
  if (located == 0) {
    result.value.clear_geo();
    result.status = absl::NotFoundError(
        absl::StrFormat("%s: no address in the geo database (%s)", input.domain_ascii, dns->addresses(0)));
    return result;
  }
  geo->set_attribution(catalog_->files().attribution);
  for (const v1::GeoLocation& first : geo->addresses()) {  // the summary: the first address with anything
    if (!first.found() && first.asn() == 0) continue;
    geo->set_ip(first.ip());
    geo->set_country_code(first.country_code());
    geo->set_city(first.city());
    geo->set_asn(first.asn());
    geo->set_latitude(first.latitude());
    geo->set_longitude(first.longitude());
    break;
  }
  return result;
}

void GeoEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot,
                         Callback done) {
  std::optional<LookupResult> result = TryLookupNow(input);  // always answers
  asio::post(executor,
             [result = *std::move(result), done = std::move(done)]() mutable { std::move(done)(std::move(result)); });
}

struct GeoWatcher::State : std::enable_shared_from_this<State> {
  GeoCatalog* catalog;
  GeoMetrics* metrics;
  asio::steady_timer timer;
  std::chrono::nanoseconds interval;
  Mutex mu;
  bool stopped = false;

  State(GeoCatalog* c, GeoMetrics* m, const asio::any_io_executor& executor, absl::Duration every)
      : catalog(c), metrics(m), timer(executor), interval(absl::ToChronoNanoseconds(every)) {}

  void Report(const absl::Status& status, bool changed) {
    if (status.ok() && !changed) return;
    if (status.ok()) {
      metrics->loads_ok->Increment();
      const auto db = catalog->current();
      metrics->build_epoch->Set(db == nullptr ? 0 : static_cast<double>(db->oldest_build_epoch()));
      std::fprintf(stderr, "squatstreamd: geo databases loaded: %s\n", db == nullptr ? "" : db->Describe().c_str());
    } else {
      metrics->loads_failed->Increment();
      std::fprintf(stderr, "squatstreamd: geo databases: %s\n", std::string(status.message()).c_str());
    }
  }

  void Check(bool force) {
    const std::uint64_t before = catalog->loads();
    const std::string error_before = catalog->error();
    const absl::Status status = force ? catalog->Reload() : catalog->ReloadIfChanged();
    const bool changed = catalog->loads() != before || catalog->error() != error_before;
    Report(status, changed || force);
  }

  void Arm() {
    MutexLock lock(mu);
    if (stopped || interval <= std::chrono::nanoseconds::zero()) return;
    timer.expires_after(interval);
    timer.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (ec) return;
      self->Check(false);
      self->Arm();
    });
  }
};

GeoWatcher::GeoWatcher(GeoCatalog* catalog, GeoMetrics* metrics, const asio::any_io_executor& executor,
                       absl::Duration interval)
    : state_(std::make_shared<State>(catalog, metrics, executor, interval)) {
  state_->Check(true);
  state_->Arm();
}

GeoWatcher::~GeoWatcher() { Stop(); }

void GeoWatcher::Reload() {
  asio::post(state_->timer.get_executor(), [state = state_] { state->Check(true); });
}

void GeoWatcher::Stop() {
  MutexLock lock(state_->mu);
  if (state_->stopped) return;
  state_->stopped = true;
  asio::post(state_->timer.get_executor(), [state = state_] { state->timer.cancel(); });
}

}  // namespace squatstream::workers::geo
