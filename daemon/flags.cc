#include "daemon/flags.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
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
#include "absl/strings/strip.h"
#include "access/gatekeeper.h"
#include "base/flag_usage.h"
#include "daemon/limits_side.h"
#include "workers/enricher.h"
#include "workers/net/address_policy.h"
#include "workers/stage_table.h"

namespace {
// The defaults are ServerOptions' (one source): the flags show and apply what a Server gets by default.
const squatstream::daemon::ServerOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, grpc_address, kDefaults.grpc_address,
          "Address the gRPC server listens on (port 0: any free port).");
ABSL_FLAG(std::string, metrics_address, kDefaults.metrics_address, "Address of the Prometheus /metrics endpoint.");
ABSL_FLAG(std::string, health_address, kDefaults.health_address,
          "Address of a second, plaintext listener serving grpc.health.v1 only (no reflection, no other service), "
          "its statuses the gRPC server's: for probes that cannot speak TLS (the kubelet's grpc: probes) when "
          "--tls_cert_file is set. Empty: none.");
ABSL_FLAG(int, worker_threads, kDefaults.worker_threads,
          "Threads running the I/O executor (lookups, timers, the streams' writes).");
ABSL_FLAG(int, cpu_threads, kDefaults.cpu_threads,
          "Threads running the CPU executor (candidate generation, ClassifyDomain's builds).");
ABSL_FLAG(int, classify_cache_targets, static_cast<int>(kDefaults.classify_cache_targets),
          "ClassifyDomain targets whose permutations are kept for later calls (roughly 0.5-2.5 MB each); 0: none.");
ABSL_FLAG(int, max_concurrent_streams, kDefaults.limits.max_concurrent_streams,
          "Streams served at once; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_batch_records, static_cast<int>(kDefaults.limits.max_batch_records),
          "Most records packed into one streamed message.");
ABSL_FLAG(int, max_batch_bytes, static_cast<int>(kDefaults.limits.max_batch_bytes),
          "Most bytes of records packed into one streamed message (beyond its first record); keep it well under "
          "the clients' message limit (4 MiB by default in gRPC).");
ABSL_FLAG(int, max_inflight_lookups, static_cast<int>(kDefaults.limits.pipeline.max_inflight_lookups),
          "Most enrichment lookups in flight per stream.");
ABSL_FLAG(int, fanin_capacity, static_cast<int>(kDefaults.limits.pipeline.buffer_capacity),
          "Bound of each stream's fan-in buffer, in memory-budget slots of 1.5 KiB: a record held takes what its "
          "bytes need (one slot, most), a candidate in flight what its record may grow to (its stages' bounds).");
ABSL_FLAG(absl::Duration, batch_window, absl::FromChrono(kDefaults.limits.pipeline.batch_window),
          "While lookups are pending, records held go out after at most this long (or when a batch is full); 0: "
          "at once, one message per record when lookups trickle in.");
ABSL_FLAG(int, memory_budget_mb, static_cast<int>(kDefaults.memory_budget_bytes >> 20),
          "What all streams together may hold (records buffered and candidates in flight), in MiB; a stream is "
          "granted its share when it starts, and refused with RESOURCE_EXHAUSTED when none is left. Size it "
          "at about half the container's memory limit.");
ABSL_FLAG(int, default_max_candidates, static_cast<int>(kDefaults.limits.request.default_max_candidates),
          "Candidate cap of a request that sets none.");
ABSL_FLAG(int, max_candidates, static_cast<int>(kDefaults.limits.request.max_candidates),
          "Largest candidate cap a request may ask for.");
ABSL_FLAG(absl::Duration, shutdown_grace, squatstream::daemon::DaemonOptions{}.shutdown_grace,
          "On SIGTERM/SIGINT: NOT_SERVING at once, new streams refused; how long streams in progress may run "
          "before they end with UNAVAILABLE \"server shutting down\".");
ABSL_FLAG(absl::Duration, max_connection_age, kDefaults.max_connection_age,
          "A client connection older than this is asked to reconnect (GOAWAY), so clients spread over pods the "
          "autoscaler adds; 0: never.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, kDefaults.max_connection_age_grace,
          "How long streams on such a connection may still run before it is closed; keep it at least the drain "
          "(--shutdown_grace) so that no stream is cut sooner than a drain would cut it.");
ABSL_FLAG(bool, reflection, kDefaults.reflection,
          "Serve gRPC server reflection (grpcurl needs it without the .proto files).");
ABSL_FLAG(std::vector<std::string>, dial_allow_cidrs, {},
          "Address ranges the service may dial although they are private, loopback, link-local or otherwise "
          "refused by default (registries' links and referrals name any host), e.g. 10.20.0.0/16; empty: none.");
ABSL_FLAG(std::vector<std::string>, stub_enrichers, {},
          "Enrichers that are simulated (deterministic made-up results, each marked simulated), for benchmarks and "
          "offline use: stages by name (ENRICHER_<NAME> in the API, lower case: dns, geo, whois, banner ...), or "
          "\"all\" or \"none\". The rest are real lookups. Each stage's own flags, and its twin's "
          "(--stub_<name>_*), are listed under the stage's name in --help.");
ABSL_FLAG(std::string, store, squatstream::daemon::kDefaultStore,
          "Where watches, their history and the webhook outbox are kept: sqlite:PATH (the embedded default; one "
          "replica), postgresql://USER@HOST:PORT/DB (or a libpq key=value DSN) for several replicas sharing them; "
          "\"none\" keeps no watches.");
ABSL_FLAG(std::string, store_file, "",
          "A file holding the --store value (a PostgreSQL DSN with its password, e.g. mounted from a Kubernetes "
          "Secret); overrides --store.");
ABSL_FLAG(absl::Duration, watch_min_interval, squatstream::daemon::WatchOptions{}.min_interval,
          "The shortest interval a watch may be rescanned at.");
ABSL_FLAG(int, watch_confirmations, squatstream::daemon::WatchOptions{}.confirmations,
          "Consecutive scans that must agree before a change becomes an event (1: at once).");
ABSL_FLAG(int, watch_max_concurrent_scans, squatstream::daemon::WatchOptions{}.max_concurrent_scans,
          "Watch scans this replica runs at once (each a stream of the server; interactive streams keep a quarter "
          "of --max_concurrent_streams).");
ABSL_FLAG(absl::Duration, history_retention, squatstream::daemon::WatchOptions{}.history_retention,
          "How long watch events are kept (those whose webhook delivery has ended).");
ABSL_FLAG(absl::Duration, watch_lease, squatstream::daemon::WatchOptions{}.lease,
          "How long a replica's claim on a running scan lasts without renewal: a replica that dies mid-scan is "
          "replaced by another within it.");
ABSL_FLAG(absl::Duration, webhook_min_delay, squatstream::daemon::WatchOptions{}.webhook_min_delay,
          "The wait before a failed webhook delivery's first retry (doubling, at most 1h).");
ABSL_FLAG(absl::Duration, webhook_give_up_after, squatstream::daemon::WatchOptions{}.webhook_give_up_after,
          "How long a webhook delivery is retried before it is marked dead.");

ABSL_FLAG(std::string, auth, "none",
          "Who may call: \"none\" (anyone who reaches the port) or \"api_key\" (each call carries "
          "'authorization: Bearer <key>' made by `squatstreamd keys create`; the keys live in --store). Health "
          "checks and reflection stay open.");
ABSL_FLAG(std::int64_t, quota_candidates_per_hour, squatstream::access::QuotaDefaults{}.candidates_per_hour,
          "With --auth=api_key: candidates a key may look up per hour, unless the key names its own (a stream "
          "reserves its cap at its start and gives back what it did not look up). Given to `squatstreamd keys "
          "create`: the new key's own.");
ABSL_FLAG(std::int64_t, quota_concurrent_streams, squatstream::access::QuotaDefaults{}.concurrent_streams,
          "With --auth=api_key: streams a key may hold open at once, unless the key names its own (`keys create`: "
          "the new key's own).");
ABSL_FLAG(std::int64_t, quota_watches, squatstream::access::QuotaDefaults{}.watches,
          "With --auth=api_key: watches a key may create, unless the key names its own (`keys create`: the new "
          "key's own).");

namespace squatstream::daemon {
namespace {

// squatstreamd's flags: this file's and each stage's (its `<name>_stage.cc`). The ones --help lists and
// environment variables may set.
bool IsDaemonFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "daemon/flags.cc") || absl::EndsWith(file, "daemon/tls.cc") ||
         absl::EndsWith(file, "daemon/limits_side.cc") || absl::EndsWith(file, "_stage.cc");
}

absl::Status ApplyEnvironment() {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!IsDaemonFlagFile(flag->Filename())) continue;
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

// --help: the flags an operator sets first, then the server's limits and the process, then each stage's (and its
// simulated twin's) under the stage's name, taken from its file (workers/<folder>/<folder>_stage.cc).
base::UsageSpec DaemonUsage() {
  base::UsageSpec spec;
  spec.program = "squatstreamd";
  spec.synopsis =
      "Usage: squatstreamd [flags]\n"
      "\n"
      "Streams enriched typo-squatting permutations of a domain over gRPC (the squatstream CLI is its client).\n"
      "\n"
      "Examples:\n"
      "  squatstreamd                                  # 127.0.0.1:50051, real lookups\n"
      "  squatstreamd --stub_enrichers=all             # simulated lookups, offline\n"
      "  squatstreamd --dns_servers=127.0.0.1:5353 --grpc_address=127.0.0.1:50061\n";
  spec.groups = {
      {"Common flags",
       {"grpc_address", "metrics_address", "health_address", "dns_servers", "stub_enrichers", "max_candidates",
        "default_max_candidates", "dns_pacing", "dns_rate_limit", "geo_city_db", "geo_asn_db", "reflection"}},
      {"Streams and limits",
       {"max_concurrent_streams", "max_inflight_lookups", "memory_budget_mb", "max_batch_records", "max_batch_bytes",
        "batch_window", "fanin_capacity", "classify_cache_targets"}},
      {"Watches",
       {"store", "store_file", "watch_min_interval", "watch_confirmations", "watch_max_concurrent_scans",
        "history_retention", "watch_lease", "webhook_min_delay", "webhook_give_up_after"}},
      {"Access: TLS, API keys, quotas",
       {"tls_cert_file", "tls_key_file", "tls_client_ca_file", "tls_reload_interval", "auth",
        "quota_candidates_per_hour", "quota_concurrent_streams", "quota_watches"}},
      {"Limits shared by every replica (Redis)",
       {"redis_address", "redis_password_file", "redis_timeout", "redis_fallback_replicas"}},
      {"Process and connections",
       {"worker_threads", "cpu_threads", "shutdown_grace", "max_connection_age", "max_connection_age_grace",
        "dial_allow_cidrs"}},
  };
  spec.owns = IsDaemonFlagFile;
  spec.group_of = [](absl::string_view file) -> std::string {
    if (!absl::EndsWith(file, "_stage.cc")) return "";
    absl::string_view name = absl::StripSuffix(file, "_stage.cc");
    name = name.substr(name.rfind('/') + 1);
    return absl::StrCat("The ", name, " stage (and its simulated twin, --stub_*)");
  };
  spec.epilogue =
      "Every flag can also be set by SQUATSTREAM_<FLAG>, e.g. SQUATSTREAM_GRPC_ADDRESS=127.0.0.1:50051; flags may\n"
      "be spelled with dashes (--grpc-address). --helpfull lists every flag with its source file.\n";
  return spec;
}

}  // namespace

absl::Status ApplyDaemonEnvironment() { return ApplyEnvironment(); }

absl::StatusOr<StoreFlags> ReadStoreFlags(int argc, char** argv) {
  StoreFlags out;
  out.spec = absl::GetFlag(FLAGS_store);
  if (const std::string file = absl::GetFlag(FLAGS_store_file); !file.empty()) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::InvalidArgumentError(absl::StrFormat("--store_file=%s: cannot be read", file));
    out.spec = std::string(absl::StripAsciiWhitespace(text.str()));
    if (out.spec.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--store_file=%s is empty (it should hold a store: sqlite:PATH, postgresql://..., or \"none\")", file));
    }
  }
  // Not asked for: neither the flag nor its environment variable set (nor --store_file).
  out.named = std::getenv("SQUATSTREAM_STORE") != nullptr || !absl::GetFlag(FLAGS_store_file).empty();
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = absl::StripPrefix(absl::StripPrefix(argv[i], "-"), "-");
    if (arg == "store" || absl::StartsWith(arg, "store=")) out.named = true;
  }
  if (out.spec == "none") out.spec.clear();
  return out;
}

absl::StatusOr<DaemonOptions> ParseDaemonFlags(int argc, char** argv) {
  // --helpshort lists squatstreamd's flags (absl's default looks for a file named after the program: none
  // matched); --help (grouped) and --version are base/flag_usage's.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = IsDaemonFlagFile;
  usage.contains_helpshort_flags = IsDaemonFlagFile;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "squatstreamd: streams enriched typo-squatting permutations of a domain over gRPC.\n"
      "Every flag can also be set by SQUATSTREAM_<FLAG>, e.g. SQUATSTREAM_GRPC_ADDRESS=127.0.0.1:50051.");
  if (absl::Status s = ApplyEnvironment(); !s.ok()) return s;
  // -h/--help/--version print and exit 0; an unknown flag (with the closest) or a bad value: a line, exit 2.
  const std::vector<std::string> rest = base::ParseCommandLineOrExit(argc, argv, DaemonUsage());
  if (rest.size() > 1) {
    return absl::InvalidArgumentError(absl::StrFormat("unexpected argument \"%s\" (see --help)", rest[1]));
  }
  DaemonOptions o;
  ServerOptions& s = o.server;
  s.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  s.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  s.health_address = absl::GetFlag(FLAGS_health_address);
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
                             CountFlag{FLAGS_max_batch_bytes, &s.limits.max_batch_bytes},
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
  s.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  s.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  s.reflection = absl::GetFlag(FLAGS_reflection);
  absl::StatusOr<workers::net::AddressPolicy> policy =
      workers::net::AddressPolicy::WithAllowed(absl::GetFlag(FLAGS_dial_allow_cidrs));
  if (!policy.ok()) return absl::InvalidArgumentError(absl::StrCat("--dial_allow_cidrs: ", policy.status().message()));
  s.stages.Get<workers::net::AddressPolicy>() = *std::move(policy);

  // Each stage reads its own flags (and its twin's).
  s.stub_enrichers.clear();
  for (const workers::StageDef* stage : workers::StageTable()) {
    if (absl::Status st = stage->read_flags(s.stages, s.stubs[stage->id]); !st.ok()) return st;
  }
  for (const std::string& name : absl::GetFlag(FLAGS_stub_enrichers)) {
    if (name == "none") continue;
    if (name == "all") {
      for (const workers::StageDef* stage : workers::StageTable()) s.stub_enrichers.insert(stage->id);
      continue;
    }
    absl::StatusOr<v1::Enricher> id = workers::ParseEnricherName(name);
    if (!id.ok() || !workers::FindStage(*id).ok()) {
      return absl::InvalidArgumentError(absl::StrFormat("--stub_enrichers: unknown stage \"%s\"", name));
    }
    s.stub_enrichers.insert(*id);
  }
  WatchOptions& w = s.watch;
  absl::StatusOr<StoreFlags> store = ReadStoreFlags(argc, argv);
  if (!store.ok()) return store.status();
  w.store = store->spec;
  w.store_is_default = !store->named;
  w.min_interval = absl::GetFlag(FLAGS_watch_min_interval);
  w.confirmations = absl::GetFlag(FLAGS_watch_confirmations);
  w.max_concurrent_scans = absl::GetFlag(FLAGS_watch_max_concurrent_scans);
  w.history_retention = absl::GetFlag(FLAGS_history_retention);
  w.lease = absl::GetFlag(FLAGS_watch_lease);
  w.webhook_min_delay = absl::GetFlag(FLAGS_webhook_min_delay);
  w.webhook_give_up_after = absl::GetFlag(FLAGS_webhook_give_up_after);
  // The keys verbs' own flags are registered in this binary too: on the server they would be ignored.
  for (const char* name : {"name", "scopes", "expires_in", "format"}) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--%s is a flag of `squatstreamd keys` (e.g. squatstreamd keys create --%s=...), not of the server", name,
          name));
    }
  }
  const std::string auth = absl::GetFlag(FLAGS_auth);
  if (auth != "none" && auth != "api_key") {
    return absl::InvalidArgumentError(absl::StrFormat("--auth=%s: give none or api_key", auth));
  }
  s.access.api_keys = auth == "api_key";
  for (const auto& [flag, out, name] :
       {std::tuple{&FLAGS_quota_candidates_per_hour, &s.access.quotas.candidates_per_hour, "quota_candidates_per_hour"},
        std::tuple{&FLAGS_quota_concurrent_streams, &s.access.quotas.concurrent_streams, "quota_concurrent_streams"},
        std::tuple{&FLAGS_quota_watches, &s.access.quotas.watches, "quota_watches"}}) {
    *out = absl::GetFlag(*flag);
    if (*out < 1) return absl::InvalidArgumentError(absl::StrFormat("--%s=%d: give 1 or more", name, *out));
  }
  if (s.access.api_keys && (w.store.empty() || w.store == "none")) {
    return absl::InvalidArgumentError(
        "--auth=api_key needs a store for the keys: give --store=sqlite:PATH or --store=postgresql://...");
  }
  s.shared_limits = LimitsOptionsFromFlags();
  o.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (absl::Status valid = s.Validate(); !valid.ok()) return valid;
  return o;
}

}  // namespace squatstream::daemon
