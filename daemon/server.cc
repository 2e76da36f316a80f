#include "daemon/server.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asio/post.hpp"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "permute/unicode.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "service/enrichment_service.h"
#include "service/metrics.h"
#include "workers/dns/dns_enricher.h"
#include "workers/dns/resolver.h"
#include "workers/enricher.h"
#include "workers/geo/geo_enricher.h"

// jemalloc's control call, present when the program links jemalloc (squatstreamd does, see
// daemon/CMakeLists.txt; tests that start the Server in-process do not): weak, so null without it.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace squatstream::daemon {
namespace {

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

// The banner stage's name lookups (MX hosts, redirect targets, the input domain) through the DNS stage's
// resolver — the servers, cache and rate limit DNS uses — A, then AAAA when there is no A. Empty: DNS is a
// stub (the banner stage then leaves names to libcurl and skips MX hosts).
workers::banner::HostResolver BannerHostResolver(workers::dns::Resolver* resolver) {
  if (resolver == nullptr) return nullptr;
  return [resolver](const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
    auto finish = std::make_shared<absl::AnyInvocable<void(std::vector<std::string>) &&>>(std::move(done));
    auto never = std::make_shared<bool>(false);
    auto collect = [](const workers::dns::QueryResult& r, workers::dns::RrType type) {
      std::vector<std::string> out;
      if (!r.response.ok()) return out;
      for (const workers::dns::ResourceRecord& rr : r.response->answers) {
        if (rr.type == static_cast<std::uint16_t>(type)) out.push_back(rr.value);
      }
      return out;
    };
    asio::post(resolver->strand(), [resolver, host, finish, never, collect] {
      resolver->Query(host, workers::dns::RrType::kA, never,
                      [resolver, host, finish, never, collect](workers::dns::QueryResult a) {
                        std::vector<std::string> v4 = collect(a, workers::dns::RrType::kA);
                        if (!v4.empty()) {
                          std::move (*finish)(std::move(v4));
                          return;
                        }
                        resolver->Query(host, workers::dns::RrType::kAaaa, never,
                                        [finish, collect](workers::dns::QueryResult aaaa) {
                                          std::move (*finish)(collect(aaaa, workers::dns::RrType::kAaaa));
                                        });
                      });
    });
  };
}

int ClampedMillis(absl::Duration d) {
  return static_cast<int>(std::min<std::int64_t>(absl::ToInt64Milliseconds(d), std::numeric_limits<int>::max()));
}

}  // namespace

struct Server::Parts {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  service::Metrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<workers::Executor> executor;
  std::unique_ptr<workers::Executor> cpu_executor;
  std::unique_ptr<workers::dns::ResolverMetrics> dns_metrics;
  std::unique_ptr<workers::dns::Resolver> resolver;  // the real DNS stage's; null when DNS is a stub
  std::unique_ptr<workers::geo::GeoMetrics> geo_metrics;
  std::unique_ptr<workers::geo::GeoCatalog> geo_catalog;  // the real geo stage's; null when geo is a stub
  std::unique_ptr<workers::geo::GeoWatcher> geo_watcher;
  std::unique_ptr<workers::registration::RegistrationMetrics> registration_metrics;
  workers::registration::RegistrationEnricher* registration = nullptr;  // the real one, owned by `enrichers`
  std::unique_ptr<workers::banner::BannerMetrics> banner_metrics;
  workers::banner::BannerEnricher* banner = nullptr;  // the real one, owned by `enrichers`
  pipeline::EnricherRegistry enrichers;
  std::unique_ptr<pipeline::ClassifierCache> classifier_cache;
  std::unique_ptr<MemoryBudget> budget;
  std::unique_ptr<service::EnrichmentService> service;
  std::unique_ptr<grpc::Server> server;
  Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;
};

// The registry: one line per enricher, in dependency order (a stage after those it needs).
absl::Status Server::RegisterEnrichers(const ServerOptions& options, Parts& p) {
  for (v1::Enricher id : {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER}) {
    std::unique_ptr<workers::Enricher> enricher;
    if (options.stub_enrichers.count(id) != 0) {
      const auto config = options.stubs.find(id);
      enricher = std::make_unique<workers::StubEnricher>(
          id, config == options.stubs.end() ? workers::StubConfig{} : config->second);
    } else if (id == v1::ENRICHER_DNS) {
      p.dns_metrics = std::make_unique<workers::dns::ResolverMetrics>(*p.registry);
      absl::StatusOr<std::unique_ptr<workers::dns::Resolver>> resolver =
          workers::dns::Resolver::Create(p.executor->context(), options.dns, p.dns_metrics.get());
      if (!resolver.ok()) return resolver.status();
      p.resolver = *std::move(resolver);
      enricher = std::make_unique<workers::dns::DnsEnricher>(p.resolver.get(), p.dns_metrics.get());
    } else if (id == v1::ENRICHER_GEO) {
      p.geo_metrics = std::make_unique<workers::geo::GeoMetrics>(*p.registry);
      p.geo_catalog = std::make_unique<workers::geo::GeoCatalog>(options.geo);
      // Loads now (a missing file is logged and reported on each record, and picked up when it appears).
      p.geo_watcher = std::make_unique<workers::geo::GeoWatcher>(
          p.geo_catalog.get(), p.geo_metrics.get(), asio::make_strand(p.executor->context()), options.geo_reload_check);
      enricher = std::make_unique<workers::geo::GeoEnricher>(p.geo_catalog.get(), p.geo_metrics.get());
    } else if (id == v1::ENRICHER_WHOIS) {
      p.registration_metrics = std::make_unique<workers::registration::RegistrationMetrics>(*p.registry);
      absl::StatusOr<std::unique_ptr<workers::registration::RegistrationEnricher>> registration =
          workers::registration::RegistrationEnricher::Create(
              options.registration, p.executor->context().get_executor(), p.registration_metrics.get());
      if (!registration.ok()) return registration.status();
      p.registration = registration->get();
      enricher = *std::move(registration);
    } else {
      p.banner_metrics = std::make_unique<workers::banner::BannerMetrics>(*p.registry);
      absl::StatusOr<std::unique_ptr<workers::banner::BannerEnricher>> banner =
          workers::banner::BannerEnricher::Create(options.banner, p.executor->context().get_executor(),
                                                  BannerHostResolver(p.resolver.get()), p.banner_metrics.get());
      if (!banner.ok()) return banner.status();
      p.banner = banner->get();
      enricher = *std::move(banner);
    }
    if (absl::Status s =
            p.enrichers.Add(std::move(enricher), service::AddStageMetrics(p.metrics, workers::EnricherName(id)));
        !s.ok()) {
      return s;
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
  permute::PreloadTables();  // so that the first stream does not pay for them
  const StreamLimits& l = options.limits;
  if (options.worker_threads < 1 || options.cpu_threads < 1 || l.max_batch_records < 1 ||
      l.max_concurrent_streams < 1 || l.pipeline.buffer_capacity < 1 || l.pipeline.max_inflight_lookups < 1 ||
      l.request.max_candidates < 1 || l.request.default_max_candidates < 1 ||
      l.request.default_max_candidates > l.request.max_candidates) {
    return absl::InvalidArgumentError(
        "worker threads, batch size, stream limit, fan-in capacity, in-flight limit and candidate limits must "
        "be at least 1, and the default candidate cap at most the candidate limit");
  }
  // Every admitted stream must be able to hold a typical (default-cap) request: the budget keeps that much
  // for each stream that could still arrive.
  const std::size_t typical_bytes =
      MemoryBudget::TypicalNeed(l.request.default_max_candidates) * MemoryBudget::kBytesPerSlot;
  if (l.max_concurrent_streams >= 1 &&
      options.memory_budget_bytes / static_cast<std::size_t>(l.max_concurrent_streams) < typical_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a memory budget of %d MiB is too small for %d concurrent streams of %d candidates (each needs %.1f MiB): "
        "raise it to at least %d MiB, or lower the stream limit or the default candidate cap",
        options.memory_budget_bytes >> 20, l.max_concurrent_streams, l.request.default_max_candidates,
        static_cast<double>(typical_bytes) / (1 << 20),
        (static_cast<std::size_t>(l.max_concurrent_streams) * typical_bytes >> 20) + 1));
  }
  if (l.pipeline.batch_window < std::chrono::steady_clock::duration::zero() ||
      l.pipeline.batch_window > std::chrono::seconds(1)) {
    return absl::InvalidArgumentError("the batch window must lie in [0, 1s]");
  }
  for (const auto& [id, c] : options.stubs) {
    if (c.failure_rate < 0 || c.failure_rate > 1 || c.registered_rate < 0 || c.registered_rate > 1 ||
        c.latency < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("stub rates must lie in [0, 1] and latencies be non-negative");
    }
  }

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

  p.executor = std::make_unique<workers::Executor>(options.worker_threads);
  if (absl::Status st = RegisterEnrichers(options, p); !st.ok()) return st;
  p.cpu_executor = std::make_unique<workers::Executor>(options.cpu_threads);
  s->context_.executor = p.executor.get();
  s->context_.cpu_executor = p.cpu_executor.get();
  s->context_.enrichers = &p.enrichers;
  s->context_.limits = options.limits;
  s->context_.metrics = &p.metrics;
  p.budget = std::make_unique<MemoryBudget>(
      options.memory_budget_bytes, static_cast<std::size_t>(options.limits.max_concurrent_streams),
      options.limits.request.default_max_candidates, p.metrics.pipeline.budget_slots_granted);
  s->context_.budget = p.budget.get();
  p.metrics.pipeline.budget_slots->Set(static_cast<double>(p.budget->slots()));
  p.classifier_cache = std::make_unique<pipeline::ClassifierCache>(options.classify_cache_targets);
  s->context_.classifier_cache = p.classifier_cache.get();
  p.service = std::make_unique<service::EnrichmentService>(s->context_);

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
  builder.AddListeningPort(options.grpc_address, grpc::InsecureServerCredentials(), &s->grpc_port_);
  builder.RegisterService(p.service.get());
  p.server = builder.BuildAndStart();
  if (p.server == nullptr || s->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrFormat("cannot serve gRPC on %s", options.grpc_address));
  }
  p.server->GetHealthCheckService()->SetServingStatus(true);
  return s;
}

void Server::ReloadGeoDatabases() {
  if (parts_->geo_watcher != nullptr) parts_->geo_watcher->Reload();
}

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
    p.server->GetHealthCheckService()->SetServingStatus(false);
    context_.streams.SetDraining();
    while (context_.active_streams.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    context_.streams.CutAll(absl::UnavailableError("server shutting down"));
    p.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    p.server->Wait();
  }
  // Every stream ended and cancelled its lookups: the resolver drops what c-ares still has, the executor
  // then joins promptly, and the resolver's sockets and timers go before the context they were made on.
  // The CPU executor first: a generation task still queued posts its chunk to its (cancelled) pipeline's
  // strand, which the I/O executor then runs out.
  if (p.resolver != nullptr) p.resolver->Shutdown();
  if (p.geo_watcher != nullptr) p.geo_watcher->Stop();
  if (p.registration != nullptr) p.registration->Shutdown();  // its HTTP thread joined; timers cancelled
  if (p.banner != nullptr) p.banner->Shutdown();              // its HTTP thread joined
  if (p.cpu_executor != nullptr) p.cpu_executor->Join();
  if (p.executor != nullptr) p.executor->Join();
  p.cpu_executor.reset();
  p.resolver.reset();
  // The I/O executor's io_context stays until the Parts go: the stages' timers and strands (geo watcher,
  // registration) are destroyed before it, in member order.
  // The exposer keeps serving /metrics until the Server is destroyed: its web server (civetweb) takes up to
  // 2 s to stop (its listener polls in 2 s quanta), which squatstreamd does not wait for (main.cc).
}

}  // namespace squatstream::daemon
