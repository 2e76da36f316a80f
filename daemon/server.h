// Server: squatstreamd's whole process in one object — gRPC server (EnrichmentService, reflection,
// grpc.health.v1; optionally a plaintext health-only listener for probes), the Prometheus exposer, the executors and
// the enricher registry (every stage of the stage table, real or simulated). main.cc only parses flags and waits for a
// signal; tests start the same object in-process on 127.0.0.1:0.
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
#include "daemon/access_side.h"
#include "daemon/limits_side.h"
#include "daemon/watch_side.h"
#include "service/service_context.h"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/stage.h"

namespace squatstream::daemon {

// Everything a Server is started with. The defaults are squatstreamd's: its flags take their defaults from
// here (daemon/flags.cc), so a test or benchmark that changes nothing runs what the daemon runs — every stage
// real — and says which stages it simulates (stub_enrichers).
struct ServerOptions {
  // Loopback by default: a laptop's server is not open to its network unless asked (the container image and
  // the Kubernetes manifests set 0.0.0.0). Port 0 picks a free port; a taken port is an error (no SO_REUSEPORT).
  std::string grpc_address = "127.0.0.1:50051";
  std::string metrics_address = "127.0.0.1:9464";
  // A second listener, always plaintext, carrying grpc.health.v1 only (no reflection, no other service): for
  // probes that cannot speak TLS (the kubelet's `grpc:` probes) when grpc_address has TLS. Its statuses are the
  // main server's at every moment (SERVING, NOT_SERVING from the drain's start); it starts after the main
  // server and stops with it. "" (the default): none. Port 0 picks a free port; a taken port is an error.
  std::string health_address;
  int worker_threads = 2;                   // the I/O executor's
  int cpu_threads = 1;                      // the CPU executor's: generation and ClassifyDomain's classifier builds
  std::size_t classify_cache_targets = 32;  // ClassifyDomain targets whose permutations are kept; 0: none
  service::StreamLimits limits;
  std::size_t memory_budget_bytes = std::size_t{512} << 20;    // what all streams together may hold
  absl::Duration max_connection_age = absl::Minutes(5);        // GOAWAY after this (rebalancing); 0: never
  absl::Duration max_connection_age_grace = absl::Minutes(2);  // streams may still run this long after it
  bool reflection = true;                                      // grpc.reflection.v1alpha
  // Every stage's own settings, each of its own type (workers::dns::ResolverOptions, ...), and the
  // addresses stages may dial (workers::net::AddressPolicy).
  workers::StageOptions stages;
  // The stages that are simulated (their twins, workers/stub), and their twins' settings; a stage absent
  // from `stubs` gets its table entry's defaults.
  std::set<v1::Enricher> stub_enrichers;
  std::map<v1::Enricher, workers::StubConfig> stubs;
  // The watch side (its store, scheduler and deliverer); its store "" keeps none, as tests that start a server
  // in-process do unless they test watches. squatstreamd's --store defaults to kDefaultStore.
  WatchOptions watch;
  // Who may call and how much (--auth, --quota_*): the keys live in `watch.store`.
  AccessOptions access;
  // Where the limits shared by every replica are kept (--redis_*): in this process without Redis.
  LimitsOptions shared_limits;

  // Checks the settings that are the server's (threads, limits, the budget against the streams it must
  // hold, stub rates); INVALID_ARGUMENT naming the fault. Start calls it; so do the flags.
  absl::Status Validate() const;
};

// squatstreamd's store when --store is not given.
inline constexpr char kDefaultStore[] = "sqlite:/var/lib/squatstream/squatstream.db";

// Every stage simulated, with the twins' default settings: what tests and benchmarks that need no real peer
// start.
ServerOptions SimulatedServerOptions();

class Server {
 public:
  // Starts serving. Returns an error (for a start-up failure message) when a port cannot be bound or the
  // options are out of range.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();  // Shutdown(zero grace) if not done yet

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  int health_port() const { return health_port_; }  // the health listener's (health_address); 0: none

  // Drains: reports NOT_SERVING (health Check and Watch), refuses new streams with UNAVAILABLE, lets streams
  // in progress finish for up to `grace`, cuts the rest with UNAVAILABLE "server shutting down", ends the
  // remaining calls (Watch) within 0.2 s, and stops the executor. Idempotent; blocks until done (about
  // `grace` at most, plus the ~0.2 s).
  void Shutdown(absl::Duration grace);

  // SIGHUP: each stage reads its files again (the geo databases); streams keep what they hold until their
  // lookups end.
  void Reload();

  // Streams in progress now; for tests.
  int active_streams() const { return context_.active_streams.load(); }

  // Gives the heap's free memory back to the system (jemalloc's purge of every arena, or glibc's
  // malloc_trim in a program without jemalloc) when no stream is in progress, on
  // each of the first kReleasesAfterActivity calls after streams ran (a stream's slot is freed before its
  // memory is, and freeing a GB of records takes a while); else does nothing. Returns whether it released (each release
  // counts in squatstream_memory_releases_total, which tests wait on). A burst of streams leaves the allocator holding
  // memory that no later allocation may need (docs/BENCHMARKS.md). Call it periodically (main.cc does, every second);
  // thread-safe.
  bool ReleaseMemoryIfIdle();

 private:
  struct Parts;
  Server();
  // Builds every stage of the table, real or simulated, into p.enrichers.
  static absl::Status RegisterEnrichers(const ServerOptions& options, Parts& p);

  std::unique_ptr<Parts> parts_;
  service::ServiceContext context_;
  Mutex release_mu_;
  std::uint64_t admitted_at_last_release_ ABSL_GUARDED_BY(release_mu_) = 0;
  static constexpr int kReleasesAfterActivity = 10;
  int releases_left_ ABSL_GUARDED_BY(release_mu_) = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  int health_port_ = 0;
};

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_SERVER_H_
