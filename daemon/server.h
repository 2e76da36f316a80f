// Server: squatstreamd's whole process in one object — gRPC server (EnrichmentService, reflection,
// grpc.health.v1), the Prometheus exposer, the executor and the enricher registry (real or stub stages). main.cc only
// parses flags and waits for a signal; tests start the same object in-process on 127.0.0.1:0.
#ifndef SQUATSTREAM_DAEMON_SERVER_H_
#define SQUATSTREAM_DAEMON_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "service/service_context.h"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/banner/banner_enricher.h"
#include "workers/dns/resolver.h"
#include "workers/geo/geo_database.h"
#include "workers/registration/registration_enricher.h"
#include "workers/stub/stub_enricher.h"

namespace squatstream::daemon {

struct ServerOptions {
  std::string grpc_address = "0.0.0.0:50051";    // port 0 picks a free port
  std::string metrics_address = "0.0.0.0:9464";  // port 0 picks a free port
  int worker_threads = 2;                        // the I/O executor's
  int cpu_threads = 1;                      // the CPU executor's: generation and ClassifyDomain's classifier builds
  std::size_t classify_cache_targets = 32;  // ClassifyDomain targets whose permutations are kept; 0: none
  service::StreamLimits limits;
  std::size_t memory_budget_bytes = std::size_t{512} << 20;    // what all streams together may hold
  absl::Duration max_connection_age = absl::ZeroDuration();    // GOAWAY after this (rebalancing); 0: never
  absl::Duration max_connection_age_grace = absl::Minutes(2);  // streams may still run this long after it
  bool reflection = true;                                      // grpc.reflection.v1alpha
  workers::dns::ResolverOptions dns;                           // the real DNS stage's resolver
  workers::geo::GeoFiles geo;                                  // the real geo stage's databases
  absl::Duration geo_reload_check = absl::Seconds(30);         // how often their files are checked for a change
  // The real registration (whois) stage's, its address policy included.
  workers::registration::RegistrationOptions registration;
  workers::banner::BannerOptions banner;  // the real banner stage's (its policy: the registration's)
  // The enrichers that are simulated, and their stubs' settings (the others are real lookups).
  std::set<v1::Enricher> stub_enrichers = {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER};
  std::map<v1::Enricher, workers::StubConfig> stubs = {
      {v1::ENRICHER_DNS, {absl::Milliseconds(2), 0.0, 1.0}},  // every name exists (squatstreamd: 0.1)
      {v1::ENRICHER_GEO, {absl::Milliseconds(3), 0.01}},
      {v1::ENRICHER_WHOIS, {absl::Milliseconds(8), 0.05}},
      {v1::ENRICHER_BANNER, {absl::Milliseconds(5), 0.02}},
  };
};

class Server {
 public:
  // Starts serving. Returns an error (for a start-up failure message) when a port cannot be bound or the
  // options are out of range.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // Shutdown(zero grace) if not done yet

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }

  // Drains: reports NOT_SERVING (health Check and Watch), refuses new streams with UNAVAILABLE, lets streams
  // in progress finish for up to `grace`, cuts the rest with UNAVAILABLE "server shutting down", ends the
  // remaining calls (Watch) within 0.2 s, and stops the executor. Idempotent; blocks until done (about
  // `grace` at most, plus the ~0.2 s).
  void Shutdown(absl::Duration grace);

  // Opens the geo databases again (SIGHUP); streams keep the set they hold until their lookups end.
  void ReloadGeoDatabases();

  // Streams in progress now; for tests.
  int active_streams() const { return context_.active_streams.load(); }

  // Gives the heap's free memory back to the system (jemalloc's purge of every arena, or glibc's
  // malloc_trim in a program without jemalloc) when no stream is in progress, on
  // each of the first kReleasesAfterActivity calls after streams ran (a stream's slot is freed before its
  // memory is, and freeing a GB of records takes a while); else does nothing. Returns whether it released (each release
  // counts in squatstream_memory_releases_total, which tests wait on). A burst of streams leaves glibc's arenas holding
  // hundreds of MB that no later allocation may need (200 ghz streams of 500 candidates: 22 MB idle before, 159 MB
  // after, 27 MB after a trim). Call it periodically (main.cc does, every second); thread-safe.
  bool ReleaseMemoryIfIdle();

 private:
  struct Parts;
  Server();
  // Builds the enricher registry from the options into p.enrichers.
  static absl::Status RegisterEnrichers(const ServerOptions& options, Parts& p);

  std::unique_ptr<Parts> parts_;
  service::ServiceContext context_;
  Mutex release_mu_;
  std::uint64_t admitted_at_last_release_ ABSL_GUARDED_BY(release_mu_) = 0;
  static constexpr int kReleasesAfterActivity = 10;
  int releases_left_ ABSL_GUARDED_BY(release_mu_) = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_SERVER_H_
