#include "workers/registration/registration_stage.h"

#include <array>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"
#include "workers/net/shared_limits.h"
#include "workers/registration/registration_enricher.h"
#include "workers/stub/simulation.h"

namespace {
const squatstream::workers::registration::RegistrationOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, rdap_bootstrap_file, kDefaults.bootstrap_file,
          "IANA RDAP bootstrap (dns.json) to start from; empty: the snapshot built into squatstreamd.");
ABSL_FLAG(std::string, rdap_bootstrap_url, kDefaults.bootstrap_url,
          "Where the RDAP bootstrap is refreshed from (at start, then every --rdap_bootstrap_refresh); empty: never.");
ABSL_FLAG(absl::Duration, rdap_bootstrap_refresh, kDefaults.bootstrap_refresh,
          "How often the RDAP bootstrap is refreshed.");
ABSL_FLAG(bool, rdap_follow_related, kDefaults.follow_related,
          "Also ask the registrar's RDAP server (the registry's \"related\" link).");
ABSL_FLAG(std::string, whois_server, kDefaults.whois_server,
          "WHOIS server asked first for a TLD with no RDAP service (it refers to the TLD's); host[:port].");
ABSL_FLAG(absl::Duration, registration_deadline, kDefaults.deadline,
          "Longest a registration lookup may take, waiting for a registry's turn included; then the record gets "
          "DEADLINE_EXCEEDED on that enrichment.");
ABSL_FLAG(absl::Duration, registration_timeout, kDefaults.request_timeout,
          "Longest one RDAP or WHOIS request may take.");
ABSL_FLAG(double, registration_rate_limit, kDefaults.gate.rate_per_second,
          "Requests per second started to one registry server (RDAP host or WHOIS server).");
ABSL_FLAG(int, registration_max_per_server, kDefaults.gate.max_concurrent, "Requests to one registry server at once.");
ABSL_FLAG(int, registration_cache_entries, static_cast<int>(kDefaults.cache_entries),
          "Registered domains whose registration data is kept; 0: none.");
ABSL_FLAG(int, registration_cache_mb, static_cast<int>(kDefaults.cache_bytes >> 20),
          "Most memory the registration cache may hold (MiB).");
ABSL_FLAG(absl::Duration, registration_cache_ttl, kDefaults.cache_ttl, "How long registration data is kept.");
ABSL_FLAG(absl::Duration, registration_negative_ttl, kDefaults.negative_ttl,
          "How long a registry's \"not registered\" answer is kept.");
ABSL_FLAG(absl::Duration, stub_whois_latency,
          squatstream::workers::registration::RegistrationStage().stub_defaults.latency,
          "Mean latency of the stub whois stage.");
ABSL_FLAG(double, stub_whois_failure_rate,
          squatstream::workers::registration::RegistrationStage().stub_defaults.failure_rate,
          "Fraction of candidates whose stub whois lookup fails.");

namespace squatstream::workers::registration {
namespace {

absl::StatusOr<std::size_t> Count(const char* flag, int value) {
  if (value < 0) return absl::InvalidArgumentError(absl::StrFormat("--%s=%d: must not be negative", flag, value));
  return static_cast<std::size_t>(value);
}

absl::Status ReadFlags(StageOptions& options, StubConfig& stub) {
  RegistrationOptions& r = options.Get<RegistrationOptions>();
  r.bootstrap_file = absl::GetFlag(FLAGS_rdap_bootstrap_file);
  r.bootstrap_url = absl::GetFlag(FLAGS_rdap_bootstrap_url);
  r.bootstrap_refresh = absl::GetFlag(FLAGS_rdap_bootstrap_refresh);
  r.follow_related = absl::GetFlag(FLAGS_rdap_follow_related);
  r.whois_server = absl::GetFlag(FLAGS_whois_server);
  r.deadline = absl::GetFlag(FLAGS_registration_deadline);
  r.request_timeout = absl::GetFlag(FLAGS_registration_timeout);
  r.gate.rate_per_second = absl::GetFlag(FLAGS_registration_rate_limit);
  r.gate.max_concurrent = absl::GetFlag(FLAGS_registration_max_per_server);
  r.cache_ttl = absl::GetFlag(FLAGS_registration_cache_ttl);
  r.negative_ttl = absl::GetFlag(FLAGS_registration_negative_ttl);
  absl::StatusOr<std::size_t> entries =
      Count("registration_cache_entries", absl::GetFlag(FLAGS_registration_cache_entries));
  if (!entries.ok()) return entries.status();
  r.cache_entries = *entries;
  absl::StatusOr<std::size_t> mb = Count("registration_cache_mb", absl::GetFlag(FLAGS_registration_cache_mb));
  if (!mb.ok()) return mb.status();
  r.cache_bytes = *mb << 20;
  if (r.deadline <= absl::ZeroDuration() || r.request_timeout <= absl::ZeroDuration() || r.gate.rate_per_second <= 0 ||
      r.gate.max_concurrent < 1) {
    return absl::InvalidArgumentError(
        "--registration_deadline, --registration_timeout, --registration_rate_limit and "
        "--registration_max_per_server must be positive");
  }
  stub = {absl::GetFlag(FLAGS_stub_whois_latency), absl::GetFlag(FLAGS_stub_whois_failure_rate)};
  return absl::OkStatus();
}

// Every host the stage asks (RDAP hosts and links, WHOIS servers and referrals) is resolved through the DNS
// stage's resolver (`env.host_lookup`: c-ares with --dns_servers), never the system's. Empty when DNS is
// simulated: then only hosts given as address literals are asked (the others: FAILED_PRECONDITION).
absl::StatusOr<std::unique_ptr<Enricher>> Create(StageEnvironment& env) {
  static_assert(std::is_same_v<HostLookup, net::HostLookup>, "the DNS stage's lookups are what workers/net takes");
  RegistrationOptions options = env.options.Get<RegistrationOptions>();
  options.policy = env.options.Get<net::AddressPolicy>();
  options.shared = env.options.Get<net::SharedLimits>();
  auto metrics = std::make_unique<RegistrationMetrics>(env.registry);
  absl::StatusOr<std::unique_ptr<RegistrationEnricher>> enricher =
      RegistrationEnricher::Create(options, env.io.get_executor(), metrics.get(), env.host_lookup);
  if (!enricher.ok()) return enricher.status();
  return std::make_unique<OwningStage<RegistrationMetrics>>(std::move(metrics), *std::move(enricher));
}

constexpr std::array<absl::string_view, 8> kRegistrars = {"NameCheap, Inc.", "GoDaddy.com, LLC", "Tucows Domains Inc.",
                                                          "Gandi SAS",       "OVH SAS",          "Porkbun LLC",
                                                          "NameSilo, LLC",   "Dynadot Inc"};

// YYYY-MM-DD for a four-digit year (StrFormat cost more than the rest of a lookup; this runs per record).
std::string IsoDate(int year, int month, int day) {
  std::string out = "0000-00-00";
  for (int i = 3, y = year; i >= 0; --i, y /= 10) out[static_cast<std::size_t>(i)] = static_cast<char>('0' + y % 10);
  out[5] = static_cast<char>('0' + month / 10);
  out[6] = static_cast<char>('0' + month % 10);
  out[8] = static_cast<char>('0' + day / 10);
  out[9] = static_cast<char>('0' + day % 10);
  return out;
}

// Three names in four registered, with a registrar and dates.
void Simulate(const LookupInput&, std::uint64_t h, const StubConfig&, v1::Enrichment* out) {
  v1::WhoisResult* whois = out->mutable_whois();
  whois->set_registered((h % 4) != 0);
  if (!whois->registered()) return;
  const auto year = static_cast<int>(1996 + (h >> 8) % 30);
  const auto month = static_cast<int>(1 + (h >> 16) % 12);
  const auto day = static_cast<int>(1 + (h >> 24) % 28);
  whois->set_registrar(std::string(stub::Pick(kRegistrars, h >> 32)));
  whois->set_created(IsoDate(year, month, day));
  whois->set_expires(IsoDate(2027 + static_cast<int>((h >> 40) % 5), month, day));
}

}  // namespace

const StageDef& RegistrationStage() {
  static const StageDef kStage{
      .id = v1::ENRICHER_WHOIS,
      .needs = {v1::ENRICHER_DNS},
      .skip = NeedMayBeRegistered,
      .simulate = Simulate,
      .stub_defaults = {.latency = absl::Milliseconds(8), .failure_rate = 0.05},
      .read_flags = ReadFlags,
      .create = Create,
  };
  return kStage;
}

SQUATSTREAM_REGISTER_STAGE(RegistrationStage);

}  // namespace squatstream::workers::registration
