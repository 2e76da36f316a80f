#include "workers/banner/banner_stage.h"

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "workers/banner/banner_enricher.h"
#include "workers/net/address_policy.h"
#include "workers/stub/simulation.h"

namespace {
const squatstream::workers::banner::BannerOptions kDefaults;
}  // namespace

ABSL_FLAG(int, banner_http_port, kDefaults.http_port, "Port the banner stage asks HTTP on.");
ABSL_FLAG(int, banner_https_port, kDefaults.https_port, "Port the banner stage asks HTTPS on.");
ABSL_FLAG(int, banner_smtp_port, kDefaults.smtp_port, "Port the banner stage asks the first mail exchanger's SMTP on.");
ABSL_FLAG(int, banner_ssh_port, kDefaults.ssh_port, "Port the banner stage reads the SSH identification on.");
namespace {
// The probes BannerOptions turns on by default, by name.
std::vector<std::string> DefaultProbes() {
  std::vector<std::string> on;
  for (const auto& [name, enabled] : {std::pair<const char*, bool>{"http", kDefaults.http},
                                      {"smtp", kDefaults.smtp},
                                      {"ssh", kDefaults.ssh},
                                      {"similarity", kDefaults.similarity}}) {
    if (enabled) on.emplace_back(name);
  }
  return on;
}
}  // namespace

ABSL_FLAG(std::vector<std::string>, banner_probes, DefaultProbes(),
          "What the banner stage does: http (GET / over http and https, redirects, certificates), smtp (greeting, "
          "EHLO, MX check), ssh (identification line), similarity (compare with the input domain's page).");
ABSL_FLAG(absl::Duration, banner_connect_timeout, absl::FromChrono(kDefaults.connect_timeout),
          "Banner: TCP connect and TLS handshake.");
ABSL_FLAG(absl::Duration, banner_first_byte_timeout, absl::FromChrono(kDefaults.first_byte_timeout),
          "Banner: from the request (or the connection, for SMTP/SSH replies) to the first byte of the answer.");
ABSL_FLAG(absl::Duration, banner_request_timeout, absl::FromChrono(kDefaults.request_timeout),
          "Banner: one HTTP request, or one SMTP/SSH conversation, in all.");
ABSL_FLAG(absl::Duration, banner_deadline, kDefaults.deadline,
          "Banner: one candidate's lookup in all; probes still running then are cut (DEADLINE_EXCEEDED on them).");
ABSL_FLAG(int, banner_max_redirects, kDefaults.max_redirects, "Banner: redirects followed per probe.");
ABSL_FLAG(int, banner_max_body_kb, static_cast<int>(kDefaults.max_body_bytes >> 10),
          "Banner: bytes of a page read (KiB); the rest is not read.");
ABSL_FLAG(int, banner_max_connections, kDefaults.max_connections, "Banner: connections open at once, in all.");
ABSL_FLAG(int, banner_max_per_address, kDefaults.max_per_address, "Banner: connections open at once to one address.");
ABSL_FLAG(double, banner_smtp_rate_per_mx, kDefaults.smtp_rate_per_mx,
          "Banner: SMTP probes started per second to one mail exchanger, over every replica (with --redis_address; "
          "in this process otherwise); 0: no limit.");
ABSL_FLAG(std::string, banner_ca_file, kDefaults.ca_file,
          "Banner: PEM file of the roots certificates are verified against; empty: the system trust store.");
ABSL_FLAG(absl::Duration, stub_banner_latency, squatstream::workers::banner::BannerStage().stub_defaults.latency,
          "Mean latency of the stub banner stage.");
ABSL_FLAG(double, stub_banner_failure_rate, squatstream::workers::banner::BannerStage().stub_defaults.failure_rate,
          "Fraction of candidates whose stub banner lookup fails.");

namespace squatstream::workers::banner {
namespace {

absl::Status ReadFlags(StageOptions& options, StubConfig& stub) {
  BannerOptions& b = options.Get<BannerOptions>();
  b.http_port = absl::GetFlag(FLAGS_banner_http_port);
  b.https_port = absl::GetFlag(FLAGS_banner_https_port);
  b.smtp_port = absl::GetFlag(FLAGS_banner_smtp_port);
  b.ssh_port = absl::GetFlag(FLAGS_banner_ssh_port);
  for (int port : {b.http_port, b.https_port, b.smtp_port, b.ssh_port}) {
    if (port < 1 || port > 65535) return absl::InvalidArgumentError("--banner_*_port: a port is 1-65535");
  }
  b.http = b.smtp = b.ssh = b.similarity = false;
  for (const std::string& probe : absl::GetFlag(FLAGS_banner_probes)) {
    bool* on = probe == "http"         ? &b.http
               : probe == "smtp"       ? &b.smtp
               : probe == "ssh"        ? &b.ssh
               : probe == "similarity" ? &b.similarity
                                       : nullptr;
    if (on == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--banner_probes: unknown probe \"%s\" (http, smtp, ssh, similarity)", probe));
    }
    *on = true;
  }
  b.connect_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_banner_connect_timeout));
  b.first_byte_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_banner_first_byte_timeout));
  b.request_timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_banner_request_timeout));
  b.deadline = absl::GetFlag(FLAGS_banner_deadline);
  b.max_redirects = absl::GetFlag(FLAGS_banner_max_redirects);
  b.max_body_bytes = static_cast<std::size_t>(std::max(1, absl::GetFlag(FLAGS_banner_max_body_kb))) << 10;
  b.max_connections = absl::GetFlag(FLAGS_banner_max_connections);
  b.max_per_address = absl::GetFlag(FLAGS_banner_max_per_address);
  b.smtp_rate_per_mx = absl::GetFlag(FLAGS_banner_smtp_rate_per_mx);
  if (!(b.smtp_rate_per_mx >= 0) || b.smtp_rate_per_mx > 1e6) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--banner_smtp_rate_per_mx=%g: give probes per second to one mail exchanger, 0 (no limit) to 1e6",
        b.smtp_rate_per_mx));
  }
  b.ca_file = absl::GetFlag(FLAGS_banner_ca_file);
  if (b.connect_timeout.count() <= 0 || b.first_byte_timeout.count() <= 0 || b.request_timeout.count() <= 0 ||
      b.deadline <= absl::ZeroDuration() || b.max_redirects < 0 || b.max_connections < 1 || b.max_per_address < 1 ||
      absl::GetFlag(FLAGS_banner_max_body_kb) < 1) {
    return absl::InvalidArgumentError(
        "--banner_connect_timeout, --banner_first_byte_timeout, --banner_request_timeout, --banner_deadline, "
        "--banner_max_body_kb, --banner_max_connections and --banner_max_per_address must be positive "
        "(--banner_max_redirects at least 0)");
  }
  stub = {absl::GetFlag(FLAGS_stub_banner_latency), absl::GetFlag(FLAGS_stub_banner_failure_rate)};
  return absl::OkStatus();
}

// `env.host_lookup` may be empty (DNS is a stub): MX hosts, redirects to other hosts and the input domain are
// then not resolved — no other resolver (the system's, libcurl's) is asked in its place.
absl::StatusOr<std::unique_ptr<Enricher>> Create(StageEnvironment& env) {
  BannerOptions options = env.options.Get<BannerOptions>();
  options.policy = env.options.Get<net::AddressPolicy>();
  options.shared = env.options.Get<net::SharedLimits>();
  auto metrics = std::make_unique<BannerMetrics>(env.registry);
  absl::StatusOr<std::unique_ptr<BannerEnricher>> enricher =
      BannerEnricher::Create(options, env.io.get_executor(), env.host_lookup, metrics.get());
  if (!enricher.ok()) return enricher.status();
  return std::make_unique<OwningStage<BannerMetrics>>(std::move(metrics), *std::move(enricher));
}

constexpr std::array<std::uint32_t, 8> kHttpStatuses = {200, 200, 200, 301, 302, 403, 404, 0};
constexpr std::array<absl::string_view, 6> kServers = {
    "nginx/1.22.1", "Apache/2.4.57 (Debian)", "cloudflare", "Microsoft-IIS/10.0", "LiteSpeed", "openresty"};
constexpr std::array<absl::string_view, 6> kTitles = {"Domain for sale", "Welcome to nginx!", "Parked domain",
                                                      "Sign in",         "Coming soon",       "Index of /"};

// An HTTP status (0: no answer), a server and a title naming the candidate.
void Simulate(const LookupInput& input, std::uint64_t h, const StubConfig&, v1::Enrichment* out) {
  v1::BannerResult* banner = out->mutable_banner();
  banner->set_http_status(stub::Pick(kHttpStatuses, h));
  if (banner->http_status() == 0) return;
  banner->set_server(std::string(stub::Pick(kServers, h >> 8)));
  banner->set_title(absl::StrCat(stub::Pick(kTitles, h >> 16), " — ", input.domain_ascii));
}

}  // namespace

const StageDef& BannerStage() {
  static const StageDef kStage{
      .id = v1::ENRICHER_BANNER,
      .needs = {v1::ENRICHER_DNS},
      .skip = NeedAddressesOrMail,  // a name with mail exchangers only: the SMTP probe (when on) asks them
      .simulate = Simulate,
      .stub_defaults = {.latency = absl::Milliseconds(5), .failure_rate = 0.02},
      .read_flags = ReadFlags,
      .create = Create,
  };
  return kStage;
}

SQUATSTREAM_REGISTER_STAGE(BannerStage);

}  // namespace squatstream::workers::banner
