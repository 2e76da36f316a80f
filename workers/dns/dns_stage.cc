#include "workers/dns/dns_stage.h"

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "workers/dns/dns_enricher.h"
#include "workers/dns/resolver.h"
#include "workers/stub/simulation.h"

ABSL_FLAG(std::vector<std::string>, dns_servers, {},
          "DNS servers the DNS stage asks, as host:port ([v6]:port) separated by commas; empty: /etc/resolv.conf's.");
ABSL_FLAG(absl::Duration, dns_timeout, absl::FromChrono(squatstream::workers::dns::ResolverOptions{}.timeout),
          "How long one DNS try waits for its answer.");
ABSL_FLAG(int, dns_tries, squatstream::workers::dns::ResolverOptions{}.tries,
          "Tries per DNS query before its answer is TIMEOUT (the candidate's verdict: unknown).");
ABSL_FLAG(std::string, dns_pacing, "adaptive",
          "How fast DNS queries go to each resolver address: adaptive (start at --dns_pace_start queries/s, raise "
          "the rate while the resolver answers promptly, halve it on bursts of timeouts, SERVFAIL or REFUSED, "
          "lower it when latency doubles; docs/STAGES.md) or fixed (at --dns_rate_limit, for the process).");
ABSL_FLAG(double, dns_rate_limit, squatstream::workers::dns::ResolverOptions{}.rate_limit_qps,
          "DNS queries sent per second, for the whole process: with --dns_pacing=adaptive the ceiling, with "
          "fixed the rate (set it with fixed: 100, the old default, is polite to any home or ISP resolver); 0: no "
          "limit.");
ABSL_FLAG(double, dns_pace_start, squatstream::workers::dns::PaceOptions{}.start_qps,
          "Adaptive pacing: the rate each resolver address starts at, in queries/s.");
ABSL_FLAG(double, dns_pace_floor, squatstream::workers::dns::PaceOptions{}.floor_qps,
          "Adaptive pacing: the rate never goes below this, in queries/s.");
ABSL_FLAG(int, dns_max_inflight, squatstream::workers::dns::ResolverOptions{}.max_inflight,
          "DNS queries sent and not yet answered, for the whole process.");
ABSL_FLAG(int, dns_cache_entries, static_cast<int>(squatstream::workers::dns::ResolverOptions{}.cache_entries),
          "DNS responses kept for their TTL (shared by all streams); 0: none.");
ABSL_FLAG(int, dns_cache_mb, static_cast<int>(squatstream::workers::dns::ResolverOptions{}.cache_bytes >> 20),
          "Most memory the DNS cache holds, in MiB (a zone's owner chooses how large its answers are); 0: no cache.");
ABSL_FLAG(absl::Duration, stub_dns_latency, squatstream::workers::dns::DnsStage().stub_defaults.latency,
          "Mean latency of the stub DNS stage.");
ABSL_FLAG(double, stub_dns_failure_rate, squatstream::workers::dns::DnsStage().stub_defaults.failure_rate,
          "Fraction of candidates whose stub DNS lookup fails.");
ABSL_FLAG(double, stub_dns_registered_rate, squatstream::workers::dns::DnsStage().stub_defaults.registered_rate,
          "Fraction of candidates the stub DNS stage says exist.");

namespace squatstream::workers::dns {
namespace {

// The real stage: the resolver (its sockets, cache and rate limit) and its metrics, owned here, and the
// enricher that asks it.
class RealDnsStage final : public Enricher {
 public:
  RealDnsStage(std::unique_ptr<ResolverMetrics> metrics, std::unique_ptr<Resolver> resolver)
      : metrics_(std::move(metrics)), resolver_(std::move(resolver)), enricher_(resolver_.get(), metrics_.get()) {}

  v1::Enricher id() const override { return enricher_.id(); }
  std::size_t MaxResultBytes() const override { return enricher_.MaxResultBytes(); }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override {
    enricher_.Lookup(input, std::move(executor), cancel, std::move(done));
  }
  // Drops what c-ares still has, so that the executor joins promptly.
  void Shutdown() override { resolver_->Shutdown(); }

  // Names to addresses through this resolver — its servers, cache and rate limit — A, then AAAA when there is
  // no A. The resolver must outlive the lookups (the server shuts the stages down before it destroys them).
  HostLookup HostLookups() {
    Resolver* resolver = resolver_.get();
    return [resolver](const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
      auto finish = std::make_shared<absl::AnyInvocable<void(std::vector<std::string>) &&>>(std::move(done));
      auto never = std::make_shared<bool>(false);
      auto collect = [](const QueryResult& r, RrType type) {
        std::vector<std::string> out;
        if (!r.response.ok()) return out;
        for (const ResourceRecord& rr : r.response->answers) {
          if (rr.type == static_cast<std::uint16_t>(type)) out.push_back(rr.value);
        }
        return out;
      };
      asio::post(resolver->strand(), [resolver, host, finish, never, collect] {
        // Follow-ups: a name a stage needs for a candidate already being looked at.
        resolver->Query(
            host, RrType::kA, never,
            [resolver, host, finish, never, collect](const QueryResult& a) {
              std::vector<std::string> v4 = collect(a, RrType::kA);
              if (!v4.empty()) {
                std::move (*finish)(std::move(v4));
                return;
              }
              resolver->Query(
                  host, RrType::kAaaa, never,
                  [finish, collect](const QueryResult& aaaa) { std::move (*finish)(collect(aaaa, RrType::kAaaa)); },
                  Resolver::Priority::kFollowUp);
            },
            Resolver::Priority::kFollowUp);
      });
    };
  }

 private:
  std::unique_ptr<ResolverMetrics> metrics_;
  std::unique_ptr<Resolver> resolver_;
  DnsEnricher enricher_;
};

absl::Status ReadFlags(StageOptions& options, StubConfig& stub) {
  ResolverOptions& o = options.Get<ResolverOptions>();
  o.servers = absl::GetFlag(FLAGS_dns_servers);
  o.timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_dns_timeout));
  o.tries = absl::GetFlag(FLAGS_dns_tries);
  o.rate_limit_qps = absl::GetFlag(FLAGS_dns_rate_limit);
  const std::string pacing = absl::GetFlag(FLAGS_dns_pacing);
  if (pacing == "adaptive") {
    o.pacing = ResolverOptions::Pacing::kAdaptive;
  } else if (pacing == "fixed") {
    o.pacing = ResolverOptions::Pacing::kFixed;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat("--dns_pacing=%s: must be adaptive or fixed", pacing));
  }
  o.pace.start_qps = absl::GetFlag(FLAGS_dns_pace_start);
  o.pace.floor_qps = absl::GetFlag(FLAGS_dns_pace_floor);
  if (!std::isfinite(o.rate_limit_qps) || !std::isfinite(o.pace.start_qps) || !std::isfinite(o.pace.floor_qps) ||
      !(o.rate_limit_qps >= 0) || !(o.pace.start_qps > 0) || !(o.pace.floor_qps > 0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--dns_rate_limit=%g, --dns_pace_start=%g, --dns_pace_floor=%g: finite numbers; the limit >= 0 (0: none), the "
        "start and floor rates > 0",
        o.rate_limit_qps, o.pace.start_qps, o.pace.floor_qps));
  }
  o.max_inflight = absl::GetFlag(FLAGS_dns_max_inflight);
  if (absl::GetFlag(FLAGS_dns_cache_entries) < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--dns_cache_entries=%d: must not be negative", absl::GetFlag(FLAGS_dns_cache_entries)));
  }
  o.cache_entries = static_cast<std::size_t>(absl::GetFlag(FLAGS_dns_cache_entries));
  if (absl::GetFlag(FLAGS_dns_cache_mb) < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--dns_cache_mb=%d: must not be negative", absl::GetFlag(FLAGS_dns_cache_mb)));
  }
  o.cache_bytes = static_cast<std::size_t>(absl::GetFlag(FLAGS_dns_cache_mb)) << 20;
  stub = {absl::GetFlag(FLAGS_stub_dns_latency), absl::GetFlag(FLAGS_stub_dns_failure_rate),
          absl::GetFlag(FLAGS_stub_dns_registered_rate)};
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Enricher>> Create(StageEnvironment& env) {
  auto metrics = std::make_unique<ResolverMetrics>(env.registry);
  absl::StatusOr<std::unique_ptr<Resolver>> resolver =
      Resolver::Create(env.io, env.options.Get<ResolverOptions>(), metrics.get());
  if (!resolver.ok()) return resolver.status();
  auto stage = std::make_unique<RealDnsStage>(std::move(metrics), *std::move(resolver));
  env.host_lookup = stage->HostLookups();
  return stage;
}

constexpr std::array<absl::string_view, 4> kNameServerHosts = {"parking.example", "dns.example.net",
                                                               "hosting.example.org", "registrar.example"};

// A name exists for `registered_rate` of the candidates: NS under .example, one documentation address.
void Simulate(const LookupInput& input, std::uint64_t h, const StubConfig& config, v1::Enrichment* out) {
  const absl::string_view domain = input.domain_ascii;
  v1::DnsResult* dns = out->mutable_dns();
  v1::DnsQuery* ns = dns->add_queries();
  ns->set_type("NS");
  if (stub::Unit(h ^ 0xd15) >= config.registered_rate) {
    dns->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
    ns->set_rcode("NXDOMAIN");
    const std::size_t dot = domain.find('.');
    dns->set_soa_zone(std::string(dot == absl::string_view::npos ? domain : domain.substr(dot + 1)));
    return;
  }
  dns->set_verdict(v1::DNS_VERDICT_REGISTERED);
  ns->set_rcode("NOERROR");
  const std::string server = absl::StrCat("ns", 1 + h % 4, ".", stub::Pick(kNameServerHosts, h >> 4));
  v1::DnsAnswer* nsa = ns->add_answers();
  nsa->set_value(server);
  nsa->set_ttl(86400);
  dns->add_name_servers(server);
  v1::DnsQuery* a = dns->add_queries();
  a->set_type("A");
  a->set_rcode("NOERROR");
  std::string ip = stub::DocAddress(h);
  v1::DnsAnswer* aa = a->add_answers();
  aa->set_value(ip);
  aa->set_ttl(300);
  dns->add_addresses(std::move(ip));
}

}  // namespace

const StageDef& DnsStage() {
  static const StageDef kStage{
      .id = v1::ENRICHER_DNS,
      .needs = {},
      .skip = nullptr,
      .simulate = Simulate,
      .stub_defaults = {.latency = absl::Milliseconds(2), .failure_rate = 0, .registered_rate = 0.1},
      .read_flags = ReadFlags,
      .create = Create,
  };
  return kStage;
}

SQUATSTREAM_REGISTER_STAGE(DnsStage);

}  // namespace squatstream::workers::dns
