#include "daemon/server.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/post.hpp"
#include "daemon/tls.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "permute/unicode.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "service/access_service.h"
#include "service/enrichment_service.h"
#include "service/metrics.h"
#include "service/watch_service.h"
#include "workers/enricher.h"
#include "workers/stage_table.h"
#include "workers/stub/stub_enricher.h"

// jemalloc's control call, present when the program links jemalloc (squatstreamd does, see
// daemon/CMakeLists.txt; tests that start the Server in-process do not): weak, so null without it.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace squatstream::daemon {
namespace {

// Why a listener could not take `address` (HOST:PORT, [V6]:PORT), tried again with a plain socket so that
// the message names the cause gRPC only logs: ": the address is in use (another squatstreamd? ... with
// --grpc_address)", `flag` naming the listener's flag. "" when the address cannot be parsed here or binds now.
std::string WhyNotBindable(const std::string& address, const char* flag) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) return "";
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage); inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    return "";  // a name: gRPC resolves it; its own log says why
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  const int result = bind(fd, reinterpret_cast<const sockaddr*>(&storage), length);
  const int error = errno;
  close(fd);
  if (result == 0) return "";
  if (error == EADDRINUSE) {
    return absl::StrFormat(
        ": the address is in use (another squatstreamd? stop it, or choose another port "
        "with --%s)",
        flag);
  }
  return absl::StrFormat(": %s", std::strerror(error));
}

constexpr char kWatchServiceName[] = "squatstream.v1.WatchService";

using service::MemoryBudget;
using service::StreamLimits;

// Reflection on or off for one server. Linking gRPC's reflection library registers its plugin for every
// server the process builds (a static initializer), so this option removes it, or adds it if absent.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool on) : on_(on) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    grpc::reflection::ProtoServerReflectionPlugin reference;
    const std::string name = reference.name();
    auto it = std::remove_if(plugins->begin(), plugins->end(), [&](const auto& p) { return p->name() == name; });
    plugins->erase(it, plugins->end());
    if (on_) plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }

 private:
  bool on_;
};

// What the health listener (ServerOptions::health_address) answers to any method but grpc.health.v1's:
// UNIMPLEMENTED naming the port's purpose. Also what lets that server start: gRPC refuses a server whose only
// service is its default health service (no completion queue it polls), and a generic callback service is one.
class HealthOnlyFallback : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* /*context*/) override {
    class Refusal : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port (--health_address) serves grpc.health.v1 only: call the gRPC port "
                            "(--grpc_address) for anything else"));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal;
  }
};

int ClampedMillis(absl::Duration d) {
  return static_cast<int>(std::min<std::int64_t>(absl::ToInt64Milliseconds(d), std::numeric_limits<int>::max()));
}

}  // namespace

struct Server::Parts {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  service::Metrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  // Declared before everything that asks them, so destroyed after: the limits (the stages and the quotas ask
  // them), then who may call (every handler asks its Gatekeeper).
  std::unique_ptr<LimitsSide> limits;
  std::unique_ptr<AccessSide> access;
  std::unique_ptr<workers::Executor> executor;
  std::unique_ptr<workers::Executor> cpu_executor;
  // Every stage (destroyed before the executor: their timers, strands and sockets live on its io_context).
  pipeline::EnricherRegistry enrichers;
  std::unique_ptr<pipeline::ClassifierCache> classifier_cache;
  std::unique_ptr<MemoryBudget> budget;
  std::unique_ptr<service::EnrichmentService> service;
  // The watch side's series, in a registry of their own that the exposer serves only once the watch side started
  // (a server without watches exports none: no store_up of 0 to alert on).
  std::shared_ptr<prometheus::Registry> watch_registry = std::make_shared<prometheus::Registry>();
  watch::WatchMetrics watch_metrics;
  workers::net::AddressPolicy webhook_policy;  // the stages' policy (--dial_allow_cidrs), for the webhooks
  workers::HostLookup host_lookup;  // the DNS stage's resolver, for the webhooks' hosts (none when simulated)
  std::unique_ptr<WatchSide> watch;
  std::unique_ptr<service::WatchService> watch_service;
  std::unique_ptr<service::AccessService> access_service;
  std::unique_ptr<grpc::Server> server;
  // The plaintext health-only listener (ServerOptions::health_address) and its answer to other methods; null
  // without one.
  HealthOnlyFallback health_fallback;
  std::unique_ptr<grpc::Server> health_server;
  // The watch side's health, reported from its threads: kept here until the server exists, then set on it.
  Mutex health_mu;
  bool watch_up ABSL_GUARDED_BY(health_mu) = true;
  bool serving ABSL_GUARDED_BY(health_mu) = false;
  Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;

  // The one place serving statuses are set: on the main server's health service and on the health listener's
  // alike, so that a probe on either reads the same. `name` null: every service (gRPC's
  // SetServingStatus(bool): the overall status and each named one); else that service only. Called once both
  // servers exist (Start), then under health_mu (the watch side's reports, the drain).
  void SetServingStatus(const char* name, bool up) {
    for (grpc::Server* s : {server.get(), health_server.get()}) {
      if (s == nullptr) continue;
      grpc::HealthCheckServiceInterface* health = s->GetHealthCheckService();
      if (name == nullptr) {
        health->SetServingStatus(up);
      } else {
        health->SetServingStatus(name, up);
      }
    }
  }
};

// Every stage of the table, in its order (a stage after those it needs, which may provide it services
// through the environment): its simulated twin when the options say so, else the real stage.
absl::Status Server::RegisterEnrichers(const ServerOptions& options, Parts& p) {
  workers::StageEnvironment env{p.executor->context(), *p.registry, options.stages};
  for (const workers::StageDef* stage : workers::StageTable()) {
    std::unique_ptr<workers::Enricher> enricher;
    if (options.stub_enrichers.count(stage->id) != 0) {
      const auto config = options.stubs.find(stage->id);
      enricher = std::make_unique<workers::StubEnricher>(
          *stage, config == options.stubs.end() ? stage->stub_defaults : config->second);
    } else {
      absl::StatusOr<std::unique_ptr<workers::Enricher>> real = stage->create(env);
      if (!real.ok()) {
        return absl::Status(real.status().code(), absl::StrFormat("the %s stage: %s", workers::EnricherName(stage->id),
                                                                  real.status().message()));
      }
      enricher = *std::move(real);
    }
    if (env.host_lookup && !p.host_lookup) p.host_lookup = env.host_lookup;
    if (absl::Status s = p.enrichers.Add(*stage, std::move(enricher),
                                         service::AddStageMetrics(p.metrics, workers::EnricherName(stage->id)));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

ServerOptions SimulatedServerOptions() {
  ServerOptions o;
  for (const workers::StageDef* stage : workers::StageTable()) o.stub_enrichers.insert(stage->id);
  return o;
}

absl::Status ServerOptions::Validate() const {
  const StreamLimits& l = limits;
  if (l.max_batch_bytes < (std::size_t{64} << 10) || l.max_batch_bytes > (std::size_t{3} << 20)) {
    return absl::InvalidArgumentError(
        "--max_batch_bytes must be between 65536 and 3145728 (under gRPC's default 4 MiB limit)");
  }
  if (worker_threads < 1 || cpu_threads < 1 || l.max_batch_records < 1 || l.max_concurrent_streams < 1 ||
      l.pipeline.buffer_capacity < 1 || l.pipeline.max_inflight_lookups < 1 || l.request.max_candidates < 1 ||
      l.request.default_max_candidates < 1 || l.request.default_max_candidates > l.request.max_candidates) {
    return absl::InvalidArgumentError(
        "--worker_threads, --cpu_threads, --max_batch_records, --max_concurrent_streams, --fanin_capacity, "
        "--max_inflight_lookups, --max_candidates and --default_max_candidates must be at least 1, and "
        "--default_max_candidates at most --max_candidates");
  }
  // Every admitted stream must be able to hold a typical (default-cap) request: the budget keeps that much
  // for each stream that could still arrive.
  const std::size_t typical_bytes =
      MemoryBudget::TypicalNeed(l.request.default_max_candidates) * MemoryBudget::kBytesPerSlot;
  if (memory_budget_bytes / static_cast<std::size_t>(l.max_concurrent_streams) < typical_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--memory_budget_mb=%d is too small for --max_concurrent_streams=%d streams of --default_max_candidates=%d "
        "(each needs %.1f MiB): raise it to at least %d, or lower the stream limit or the default candidate cap",
        memory_budget_bytes >> 20, l.max_concurrent_streams, l.request.default_max_candidates,
        static_cast<double>(typical_bytes) / (1 << 20),
        (static_cast<std::size_t>(l.max_concurrent_streams) * typical_bytes >> 20) + 1));
  }
  if (l.pipeline.batch_window < std::chrono::steady_clock::duration::zero() ||
      l.pipeline.batch_window > std::chrono::seconds(1)) {
    return absl::InvalidArgumentError("--batch_window must lie in [0, 1s]");
  }
  if (max_connection_age < absl::ZeroDuration() || max_connection_age_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--max_connection_age and --max_connection_age_grace must not be negative");
  }
  if (!watch.store.empty()) {
    const int max_streams = l.max_concurrent_streams;
    if (watch.confirmations < 1 || watch.max_concurrent_scans < 1 || watch.min_interval <= absl::ZeroDuration() ||
        watch.lease < absl::Seconds(3) || watch.history_retention <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          "--watch_confirmations and --watch_max_concurrent_scans must be at least 1, --watch_min_interval and "
          "--history_retention positive, --watch_lease at least 3s");
    }
    if (watch.max_concurrent_scans >= max_streams) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--watch_max_concurrent_scans=%d must be under --max_concurrent_streams=%d (interactive streams keep "
          "slots of their own)",
          watch.max_concurrent_scans, max_streams));
    }
  }
  for (const auto& [id, c] : stubs) {
    if (c.failure_rate < 0 || c.failure_rate > 1 || c.registered_rate < 0 || c.registered_rate > 1 ||
        c.latency < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--stub_%s_failure_rate and --stub_%s_registered_rate must lie in [0, 1], --stub_%s_latency not be negative",
          workers::EnricherName(id), workers::EnricherName(id), workers::EnricherName(id)));
    }
  }
  for (v1::Enricher id : stub_enrichers) {
    if (!workers::FindStage(id).ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--stub_enrichers: no stage %s to simulate", workers::EnricherName(id)));
    }
  }
  return absl::OkStatus();
}

Server::Server() : parts_(std::make_unique<Parts>()) {}

Server::~Server() {
  Shutdown(absl::ZeroDuration());
  parts_->exposer.reset();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) return valid;
  // The TLS files are checked before anything starts: a bad one stops the start with a line naming its flag.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeServerCredentials();
  if (!credentials.ok()) return credentials.status();
  if (const std::string warning = ExposureWarning(options.grpc_address, TlsEnabled(), options.access.api_keys);
      !warning.empty()) {
    std::fprintf(stderr, "squatstreamd: %s\n", warning.c_str());
  }
  permute::PreloadTables();  // so that the first stream does not pay for them

  std::unique_ptr<Server> s(new Server());
  Parts& p = *s->parts_;
  p.metrics = service::RegisterMetrics(*p.registry);
  try {
    p.exposer = std::make_unique<prometheus::Exposer>(options.metrics_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrFormat("cannot serve metrics on %s: %s", options.metrics_address, e.what()));
  }
  p.exposer->RegisterCollectable(p.registry);
  s->metrics_port_ = p.exposer->GetListeningPorts().empty() ? 0 : p.exposer->GetListeningPorts().front();

  // The limits every replica shares (Redis), or this process's; then who may call: the stages and the quotas
  // ask them.
  absl::StatusOr<std::unique_ptr<LimitsSide>> limits = LimitsSide::Start(options.shared_limits, *p.registry);
  if (!limits.ok()) return limits.status();
  p.limits = *std::move(limits);
  absl::StatusOr<std::unique_ptr<AccessSide>> access = AccessSide::Start(
      options.access, options.watch.store, p.limits->rate_limiter(), p.limits->concurrency_limiter(), *p.registry);
  if (!access.ok()) return access.status();
  p.access = *std::move(access);

  p.executor = std::make_unique<workers::Executor>(options.worker_threads);
  {
    // The stages ask the shared limiters with Redis (a registry's rate and places, a mail exchanger's rate, an
    // address's connections, the registration answers); without it, their own bookkeeping.
    ServerOptions staged = options;
    staged.stages.Get<workers::net::SharedLimits>() = p.limits->stage_limits();
    if (absl::Status st = RegisterEnrichers(staged, p); !st.ok()) return st;
  }
  p.cpu_executor = std::make_unique<workers::Executor>(options.cpu_threads);
  s->context_.executor = p.executor.get();
  s->context_.cpu_executor = p.cpu_executor.get();
  s->context_.enrichers = &p.enrichers;
  s->context_.limits = options.limits;
  s->context_.metrics = &p.metrics;
  s->context_.gatekeeper = &p.access->gatekeeper();
  p.budget = std::make_unique<MemoryBudget>(options.memory_budget_bytes,
                                            static_cast<std::size_t>(options.limits.max_concurrent_streams),
                                            options.limits.request.default_max_candidates,
                                            p.metrics.pipeline.budget_slots_granted, p.metrics.pipeline.budget_holders);
  s->context_.budget = p.budget.get();
  p.metrics.pipeline.budget_slots->Set(static_cast<double>(p.budget->slots()));
  p.classifier_cache = std::make_unique<pipeline::ClassifierCache>(options.classify_cache_targets);
  s->context_.classifier_cache = p.classifier_cache.get();
  p.service = std::make_unique<service::EnrichmentService>(s->context_);
  if (!options.watch.store.empty()) {
    p.watch_metrics = service::RegisterWatchMetrics(*p.watch_registry, StoreEngine(options.watch.store));
    p.webhook_policy = options.stages.Get<workers::net::AddressPolicy>();
    absl::StatusOr<std::unique_ptr<WatchSide>> side =
        WatchSide::Start(options.watch, s->context_, &p.webhook_policy, p.host_lookup, p.watch_metrics, [&p](bool up) {
          MutexLock lock(p.health_mu);
          p.watch_up = up;
          if (p.serving) p.SetServingStatus(kWatchServiceName, up);
        });
    if (side.ok()) {
      p.watch = *std::move(side);
      p.exposer->RegisterCollectable(p.watch_registry);
    } else if (options.watch.store_is_default && side.status().code() == absl::StatusCode::kPermissionDenied) {
      // The default store where this user may not write (not root: /var/lib): the scans serve, watches are off
      // and say how to turn them on. A store asked for by name that cannot be opened stops the start.
      std::fprintf(stderr,
                   "squatstreamd: watches are off: the default store cannot be opened (%s); give "
                   "--store=sqlite:PATH (or --store=none to keep none)\n",
                   std::string(side.status().message()).c_str());
    } else {
      return side.status();
    }
  }
  p.access_service = std::make_unique<service::AccessService>(s->context_, p.access->store(), p.access->key_book());
  p.watch_service =
      std::make_unique<service::WatchService>(s->context_, [&p]() -> absl::StatusOr<watch::WatchManager*> {
        if (p.watch == nullptr) {
          return absl::FailedPreconditionError(
              "this server keeps no watches: start squatstreamd with a --store it can write (its log says why not)");
        }
        return p.watch->manager();
      });

  // Linking the health proto's descriptor lets reflection describe grpc.health.v1.Health, so grpcurl can
  // call Health/Check; the service itself is gRPC's default health service.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  if (options.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ClampedMillis(options.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, ClampedMillis(options.max_connection_age_grace));
  }
  // No SO_REUSEPORT (gRPC sets it by default): a second server on a taken port would start and the kernel
  // would split the connections between the two, so that a forgotten server answers part of the requests.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.grpc_address, *credentials, &s->grpc_port_);
  builder.RegisterService(p.service.get());
  builder.RegisterService(p.watch_service.get());
  builder.RegisterService(p.access_service.get());
  p.server = builder.BuildAndStart();
  if (p.server == nullptr || s->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrFormat("cannot serve gRPC on %s%s", options.grpc_address,
                                                  WhyNotBindable(options.grpc_address, "grpc_address")));
  }
  if (!options.health_address.empty()) {
    // Plaintext, for probes that cannot speak TLS: gRPC's default health service alone (enabled above for every
    // server this process builds), reflection taken out, no other service.
    grpc::ServerBuilder health;
    health.SetOption(std::make_unique<ReflectionOption>(false));
    health.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    health.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(), &s->health_port_);
    health.RegisterCallbackGenericService(&p.health_fallback);
    p.health_server = health.BuildAndStart();
    if (p.health_server == nullptr || s->health_port_ == 0) {
      return absl::UnavailableError(absl::StrFormat("cannot serve health checks on %s%s", options.health_address,
                                                    WhyNotBindable(options.health_address, "health_address")));
    }
  }
  p.SetServingStatus(nullptr, true);
  {
    MutexLock lock(p.health_mu);
    p.serving = true;
    p.SetServingStatus(kWatchServiceName, p.watch != nullptr && p.watch_up);
  }
  return s;
}

void Server::Reload() { parts_->enrichers.Reload(); }

bool Server::ReleaseMemoryIfIdle() {
  MutexLock lock(release_mu_);
  const std::uint64_t admitted = context_.streams_admitted.load();
  if (context_.active_streams.load() != 0) return false;
  if (admitted != admitted_at_last_release_) {
    admitted_at_last_release_ = admitted;
    releases_left_ = kReleasesAfterActivity;
  }
  if (releases_left_ == 0) return false;
  --releases_left_;
  if (mallctl != nullptr) {
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // MALLCTL_ARENAS_ALL: every arena's free pages
  } else {
    malloc_trim(0);
  }
  parts_->metrics.memory_releases->Increment();
  return true;
}

void Server::Shutdown(absl::Duration grace) {
  Parts& p = *parts_;
  MutexLock lock(p.shutdown_mu);
  if (p.shut_down) return;
  p.shut_down = true;
  if (p.server != nullptr) {
    // The drain: NOT_SERVING first (Check answers it and Watch streams see it, while the listener still
    // accepts health checks), new streams refused, running ones given the grace period; those still
    // running then are cut with UNAVAILABLE "server shutting down"; then gRPC's own shutdown, with a short
    // deadline, ends what is left (Health/Watch streams) instead of letting them hold the process.
    const absl::Time deadline = absl::Now() + grace;
    {
      MutexLock health(p.health_mu);
      p.serving = false;                   // the watch side's reports no longer change it
      p.SetServingStatus(nullptr, false);  // the health listener's too: probes see the drain
    }
    // The watch side before the drain: its running scans are cancelled and their leases given back (due at once,
    // for another replica), the deliverer stops; none claims a scan that the drain would then refuse.
    if (p.watch != nullptr) p.watch->Stop();
    context_.streams.SetDraining();
    while (context_.active_streams.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    context_.streams.CutAll(absl::UnavailableError("server shutting down"));
    p.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    p.server->Wait();
    // The health listener answered NOT_SERVING through the drain; it goes with the main server.
    if (p.health_server != nullptr) {
      p.health_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
      p.health_server->Wait();
    }
  }
  // Every stream ended and cancelled its lookups: each stage ends what it runs beside them (the resolver
  // drops what c-ares still has, clients join their threads, timers are cancelled), so the executor then
  // joins promptly. The CPU executor first: a generation task still queued posts its chunk to its
  // (cancelled) pipeline's strand, which the I/O executor then runs out.
  if (p.watch != nullptr) p.watch->Stop();  // (a server that failed to start after its watch side did)
  p.enrichers.Shutdown();
  if (p.cpu_executor != nullptr) p.cpu_executor->Join();
  if (p.executor != nullptr) p.executor->Join();
  p.cpu_executor.reset();
  // The heartbeat of the shared limits last: this replica leaves the replicas' set once nothing asks.
  if (p.limits != nullptr) p.limits->Stop();
  // The I/O executor's io_context stays until the Parts go: the stages' sockets, timers and strands are
  // destroyed before it, in member order.
  // The exposer keeps serving /metrics until the Server is destroyed: its web server (civetweb) takes up to
  // 2 s to stop (its listener polls in 2 s quanta), which squatstreamd does not wait for (main.cc).
}

}  // namespace squatstream::daemon
