// The real server in-process on 127.0.0.1:0, called through a real gRPC stub, its /metrics scraped over
// HTTP. Waiting is by bounded polling of observable state, never by sleeping for a guessed time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asio/connect.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/read.hpp"
#include "asio/write.hpp"
#include "daemon/server.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "permute/permutations.h"
#include "service/memory_budget.h"
#include "squatstream/v1/squatstream.grpc.pb.h"
#include "tests/workers/dns/dns_peers.h"
#include "tests/workers/dns/fixture_zones.h"
#include "workers/dns/resolver.h"
#include "workers/net/address_policy.h"
#include "workers/registration/registration_enricher.h"

namespace squatstream {
namespace {

using ::testing::HasSubstr;

std::string HttpGet(int port, const std::string& path) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)});
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(socket, asio::buffer(request));
  std::string response;
  asio::error_code ec;
  asio::read(socket, asio::dynamic_buffer(response), ec);  // HTTP/1.0: the server closes at the end
  return response;
}

// The value of the first sample line that starts with `series`: a metric name, or a name with the leading
// part of its labels (written as the exposition prints them, labels sorted).
double Metric(const std::string& scrape, const std::string& series) {
  std::size_t pos = 0;
  while ((pos = scrape.find(series, pos)) != std::string::npos) {
    const std::size_t after = pos + series.size();
    if ((pos == 0 || scrape[pos - 1] == '\n') && after < scrape.size() &&
        (scrape[after] == ' ' || scrape[after] == '{' || scrape[after] == '}' || scrape[after] == ',')) {
      const std::size_t end = scrape.find('\n', after);
      const std::string line = scrape.substr(pos, end - pos);
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    pos = after;
  }
  ADD_FAILURE() << "no series " << series;
  return -1;
}

const std::string kMethod =
    "grpc_method=\"EnrichDomain\",grpc_service=\"squatstream.v1.EnrichmentService\",grpc_type=\"server_stream\"";

template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval, not a wait for a guess
  }
  return true;
}

class EnrichDomainTest : public ::testing::Test {
 protected:
  void StartServer(daemon::ServerOptions options) {
    options.grpc_address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    auto server = daemon::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials());
    stub_ = v1::EnrichmentService::NewStub(channel_);
  }

  // Every stage simulated, as the tests' own defaults: every name exists (so every stage runs), the twins'
  // latencies of a few milliseconds.
  static daemon::ServerOptions Simulated() {
    daemon::ServerOptions o = daemon::SimulatedServerOptions();
    o.stubs[v1::ENRICHER_DNS] = {absl::Milliseconds(2), 0.0, 1.0};
    o.stubs[v1::ENRICHER_GEO] = {absl::Milliseconds(3), 0.01};
    o.stubs[v1::ENRICHER_WHOIS] = {absl::Milliseconds(8), 0.05};
    o.stubs[v1::ENRICHER_BANNER] = {absl::Milliseconds(5), 0.02};
    return o;
  }

  static daemon::ServerOptions FastOptions() {
    daemon::ServerOptions o = Simulated();
    o.stubs[v1::ENRICHER_DNS] = {absl::Microseconds(100), 0, 1};  // every name exists: every stage runs
    o.stubs[v1::ENRICHER_GEO] = {absl::Microseconds(200), 0.1};
    o.stubs[v1::ENRICHER_WHOIS] = {absl::Microseconds(500), 0.1};
    o.stubs[v1::ENRICHER_BANNER] = {absl::Microseconds(300), 0.1};
    return o;
  }

  struct StreamResult {
    grpc::Status status;
    std::vector<v1::Record> records;
    int messages = 0;
    // Of them, those carrying records: the server's batches. The rest carry progress alone (the end of a
    // filtered stream, or the once-a-second progress of a stream with nothing to send meanwhile).
    int batches = 0;
    int largest_message = 0;  // records in the largest message
    v1::Progress last_progress;
  };

  StreamResult Stream(const v1::EnrichDomainRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->EnrichDomain(&context, request);
    StreamResult result;
    v1::EnrichDomainResponse response;
    while (reader->Read(&response)) {
      ++result.messages;
      result.batches += response.records_size() > 0 ? 1 : 0;
      result.largest_message = std::max(result.largest_message, response.records_size());
      for (const v1::Record& r : response.records()) result.records.push_back(r);
      result.last_progress = response.progress();
    }
    result.status = reader->Finish();
    return result;
  }

  StreamResult Stream(const std::string& domain) {
    v1::EnrichDomainRequest request;
    request.set_domain(domain);
    return Stream(request);
  }

  std::string Scrape() { return HttpGet(server_->metrics_port(), "/metrics"); }

  std::unique_ptr<daemon::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EnrichmentService::Stub> stub_;
};

void ExpectEveryRecordComplete(const std::vector<v1::Record>& records) {
  for (const v1::Record& r : records) {
    ASSERT_EQ(r.enrichments_size(), 4) << r.domain_ascii();
    const v1::Enricher expected[] = {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER};
    for (int i = 0; i < 4; ++i) {
      const v1::Enrichment& e = r.enrichments(i);
      EXPECT_EQ(e.enricher(), expected[i]);
      ASSERT_TRUE(e.has_status());
      if (e.status().code() == 0) {
        EXPECT_NE(e.result_case(), v1::Enrichment::RESULT_NOT_SET) << r.domain_ascii();
      } else {
        EXPECT_EQ(e.result_case(), v1::Enrichment::RESULT_NOT_SET);
        EXPECT_THAT(e.status().message(), HasSubstr(r.domain_ascii()));
      }
    }
  }
}

TEST_F(EnrichDomainTest, StreamsEveryCandidateOnceFullyEnrichedAndMetricsAgree) {
  StartServer(FastOptions());
  StreamResult result = Stream("example.com");
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();

  auto parsed = permute::ParseDomain("example.com");
  ASSERT_TRUE(parsed.ok());
  std::vector<permute::Candidate> expected = permute::GenerateAll(*parsed, {.kinds = {}, .max_candidates = 10000});
  ASSERT_EQ(result.records.size(), expected.size());
  // Each record names its first kind, every kind that produced it, and its input.
  std::map<std::string, std::vector<int>> want, got;
  for (const auto& c : expected) {
    std::vector<int>& kinds = want[c.ascii];
    kinds.push_back(static_cast<int>(c.kind));
    for (permute::Kind k : c.kinds.ToVector()) kinds.push_back(static_cast<int>(k));
  }
  for (const auto& r : result.records) {
    std::vector<int> kinds = {r.kind()};
    kinds.insert(kinds.end(), r.kinds().begin(), r.kinds().end());
    EXPECT_TRUE(got.emplace(r.domain_ascii(), kinds).second) << "sent twice: " << r.domain_ascii();
    EXPECT_EQ(r.input(), "example.com");
  }
  EXPECT_EQ(got, want);
  ExpectEveryRecordComplete(result.records);
  EXPECT_EQ(result.last_progress.sent(), expected.size());
  EXPECT_EQ(result.last_progress.generated(), expected.size());
  EXPECT_EQ(result.last_progress.enriched(), expected.size());

  const std::string scrape = Scrape();
  EXPECT_EQ(Metric(scrape, "grpc_server_started_total{" + kMethod), 1);
  EXPECT_EQ(Metric(scrape, "grpc_server_handled_total{grpc_code=\"OK\"," + kMethod), 1);
  EXPECT_EQ(Metric(scrape, "grpc_server_msg_sent_total{" + kMethod), result.messages);
  EXPECT_EQ(Metric(scrape, "grpc_server_handling_seconds_count{" + kMethod), 1);
  EXPECT_EQ(Metric(scrape, "squatstream_records_streamed_total"), static_cast<double>(expected.size()));
  EXPECT_EQ(Metric(scrape, "squatstream_permutations_generated_total"), static_cast<double>(expected.size()));
  EXPECT_EQ(Metric(scrape, "squatstream_fanin_batches_drained_total"), result.batches);
  EXPECT_EQ(Metric(scrape, "squatstream_permutations_late_merges_total"), 0);  // exported, and no kind missed one
  EXPECT_EQ(Metric(scrape, "squatstream_batch_size_records_count"), result.batches);
  EXPECT_EQ(Metric(scrape, "squatstream_batch_size_records_sum"), static_cast<double>(expected.size()));
  EXPECT_EQ(Metric(scrape, "squatstream_enrichment_latency_seconds_count{enricher=\"geo\"}"),
            static_cast<double>(expected.size()));
  EXPECT_EQ(Metric(scrape, "squatstream_time_to_first_batch_seconds_count"), 1);
  EXPECT_EQ(Metric(scrape, "squatstream_inflight_lookups"), 0);
  EXPECT_EQ(Metric(scrape, "squatstream_active_streams"), 0);
  EXPECT_EQ(Metric(scrape, "squatstream_fanin_buffer_depth"), 0);
  EXPECT_EQ(Metric(scrape, "squatstream_fanin_buffer_bytes"), 0);
}

// Zero-latency stubs answer inside the pipeline (TryLookupNow) instead of through the executor: the records
// must be the ones the waiting path gives (the stubs are deterministic), only faster; metrics still count
// every lookup, none stays in flight.
TEST_F(EnrichDomainTest, ZeroLatencyStubsGiveTheSameRecordsAsWaitingOnes) {
  auto collect = [this](const daemon::ServerOptions& options) {
    StartServer(options);
    StreamResult result = Stream("paypal.com");
    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    std::map<std::string, std::string> by_name;  // domain -> record without latencies
    for (v1::Record& r : result.records) {
      for (v1::Enrichment& e : *r.mutable_enrichments()) e.clear_latency_micros();
      by_name.emplace(r.domain_ascii(), r.SerializeAsString());
    }
    EXPECT_EQ(by_name.size(), result.records.size());
    return by_name;
  };
  const auto waiting = collect(FastOptions());
  daemon::ServerOptions zero = FastOptions();
  for (auto& [id, stub] : zero.stubs) stub.latency = absl::ZeroDuration();
  const auto immediate = collect(zero);
  ASSERT_GT(waiting.size(), 1000u);
  EXPECT_TRUE(waiting == immediate);
  const std::string scrape = Scrape();
  EXPECT_EQ(Metric(scrape, "squatstream_enrichment_latency_seconds_count{enricher=\"whois\"}"),
            static_cast<double>(immediate.size()));
  EXPECT_EQ(Metric(scrape, "squatstream_inflight_lookups"), 0);
  EXPECT_GT(Metric(scrape, "squatstream_enrichment_failures_total{enricher=\"banner\"}"), 0);  // 10% fail
}

// After the first batch the reactor waits for a full batch, unless the pipeline flushes because nothing
// more is coming right away: records whose lookups finish one by one must still go out as they finish, not
// all at the end of the stream.
TEST_F(EnrichDomainTest, RecordsOfSlowLookupsGoOutAsTheyFinish) {
  daemon::ServerOptions o = Simulated();
  o.stubs[v1::ENRICHER_BANNER] = {absl::Milliseconds(60), 0};  // each lookup 30-90 ms, fixed per candidate
  StartServer(o);
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  request.add_enrichers(v1::ENRICHER_BANNER);
  request.set_max_candidates(30);
  StreamResult result = Stream(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.records.size(), 30u);
  // Without flushes: the first record, then the other 29 when the stream closes (2 messages).
  EXPECT_GE(result.messages, 4);
}

TEST_F(EnrichDomainTest, SubdomainLabelsArePermutedOnRequest) {
  StartServer(FastOptions());
  v1::EnrichDomainRequest request;
  request.set_domain("login.example.com");
  request.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  request.add_enrichers(v1::ENRICHER_GEO);
  std::set<std::string> plain, with_subdomains;
  for (const v1::Record& r : Stream(request).records) plain.insert(r.domain_ascii());
  request.set_permute_subdomains(true);
  for (const v1::Record& r : Stream(request).records) with_subdomains.insert(r.domain_ascii());
  EXPECT_THAT(plain, ::testing::Contains("login.exmple.com"));
  EXPECT_THAT(plain, ::testing::Not(::testing::Contains("logn.example.com")));
  EXPECT_THAT(with_subdomains, ::testing::IsSupersetOf(plain));
  EXPECT_THAT(with_subdomains, ::testing::IsSupersetOf({"logn.example.com", "ogin.example.com"}));
}

TEST_F(EnrichDomainTest, SelectionCapAndBatchSizeAreHonoured) {
  daemon::ServerOptions o = FastOptions();
  o.limits.max_batch_records = 5;
  o.limits.pipeline.buffer_capacity = 8;  // backpressure: far fewer slots than candidates
  StartServer(o);
  v1::EnrichDomainRequest request;
  request.set_domain("bücher.de");
  request.add_kinds(v1::PERMUTATION_KIND_ADDITION);
  request.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  request.add_enrichers(v1::ENRICHER_BANNER);
  request.set_max_candidates(30);
  StreamResult result = Stream(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.records.size(), 30u);
  std::set<std::string> unique;
  for (const v1::Record& r : result.records) {
    unique.insert(r.domain_ascii());
    EXPECT_TRUE(r.kind() == v1::PERMUTATION_KIND_ADDITION || r.kind() == v1::PERMUTATION_KIND_OMISSION);
    ASSERT_EQ(r.enrichments_size(), 2);  // banner needs DNS: DNS first, then banner
    EXPECT_EQ(r.enrichments(0).enricher(), v1::ENRICHER_DNS);
    EXPECT_EQ(r.enrichments(1).enricher(), v1::ENRICHER_BANNER);
  }
  EXPECT_EQ(unique.size(), 30u);
  EXPECT_GE(result.messages, 6);  // 30 records, at most 5 per message
  EXPECT_LE(result.largest_message, 5);
  // The server's batch-size histogram saw the same messages, each of them at most 8 (its bucket above 5).
  const std::string scrape = Scrape();
  EXPECT_EQ(Metric(scrape, "squatstream_batch_size_records_count"), result.batches);
  EXPECT_EQ(Metric(scrape, "squatstream_batch_size_records_bucket{le=\"8\"}"), result.batches);
}

// registered_only streams the names DNS found; progress still counts every candidate, and a stream whose
// last candidates were all filtered ends with a message of progress alone.
TEST_F(EnrichDomainTest, RegisteredOnlyStreamsFoundNamesAndProgressCountsAll) {
  for (double rate : {0.2, 0.0}) {
    daemon::ServerOptions o = FastOptions();
    o.stubs[v1::ENRICHER_DNS] = {absl::Microseconds(100), 0, rate};
    StartServer(o);
    v1::EnrichDomainRequest request;
    request.set_domain("example.com");
    request.add_enrichers(v1::ENRICHER_GEO);
    request.set_max_candidates(1000);
    request.set_registered_only(true);
    StreamResult result = Stream(request);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    for (const v1::Record& r : result.records) {
      ASSERT_EQ(r.enrichments_size(), 2);
      EXPECT_EQ(r.enrichments(0).dns().verdict(), v1::DNS_VERDICT_REGISTERED);
      EXPECT_EQ(r.enrichments(1).enricher(), v1::ENRICHER_GEO);
    }
    if (rate > 0) {
      EXPECT_GT(result.records.size(), 120u);  // about 200
      EXPECT_LT(result.records.size(), 280u);
    } else {
      EXPECT_TRUE(result.records.empty());
      EXPECT_EQ(result.batches, 0);  // the progress alone: at the end (and each second before, on a slow machine)
      EXPECT_GE(result.messages, 1);
    }
    EXPECT_EQ(result.last_progress.generated(), 1000u);
    EXPECT_EQ(result.last_progress.enriched(), 1000u);
    EXPECT_EQ(result.last_progress.sent(), result.records.size());
    EXPECT_EQ(Metric(Scrape(), "squatstream_records_filtered_total"),
              1000.0 - static_cast<double>(result.records.size()));
  }
}

// The real DNS stage end to end, against nsd serving the fixture: which look-alikes of example.com exist.
// The kinds are those that keep the .com suffix, so that every candidate is in a zone nsd serves (the
// others would be REFUSED, hence UNKNOWN, which registered_only keeps).
TEST_F(EnrichDomainTest, RealDnsFindsTheRegisteredLookAlikes) {
  auto nsd = workers::dns::testing::Nsd::Start(workers::dns::testing::FixtureZones());
  ASSERT_NE(nsd, nullptr);
  daemon::ServerOptions o = FastOptions();
  o.stub_enrichers = {v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER};
  auto& dns = o.stages.Get<workers::dns::ResolverOptions>();
  dns.servers = {nsd->server()};
  dns.rate_limit_qps = 0;
  dns.timeout = std::chrono::milliseconds(500);
  StartServer(o);
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  for (v1::PermutationKind k :
       {v1::PERMUTATION_KIND_OMISSION, v1::PERMUTATION_KIND_TRANSPOSITION, v1::PERMUTATION_KIND_REPLACEMENT}) {
    request.add_kinds(k);
  }
  request.add_enrichers(v1::ENRICHER_GEO);
  request.set_registered_only(true);
  StreamResult result = Stream(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::map<std::string, const v1::Record*> by_name;
  for (const v1::Record& r : result.records) {
    EXPECT_TRUE(by_name.emplace(r.domain_ascii(), &r).second) << "sent twice: " << r.domain_ascii();
  }
  std::vector<std::string> names;
  names.reserve(by_name.size());
  for (const auto& [name, r] : by_name) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre("exampel.com", "examplr.com", "exanple.com", "exmple.com", "wxample.com"));
  const v1::Record& full = *by_name["exampel.com"];
  ASSERT_EQ(full.enrichments_size(), 2);
  EXPECT_FALSE(full.enrichments(0).simulated());
  EXPECT_EQ(full.enrichments(0).dns().verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_EQ(full.enrichments(1).geo().ip(), "192.0.2.10");  // the stub geo stage got DNS's real address
  EXPECT_EQ(by_name["exmple.com"]->enrichments(1).status().code(), static_cast<int>(absl::StatusCode::kNotFound));
  // Every candidate was looked up and counted; the metrics saw the verdicts.
  EXPECT_GT(result.last_progress.generated(), 40u);
  EXPECT_EQ(result.last_progress.enriched(), result.last_progress.generated());
  const std::string scrape = Scrape();
  EXPECT_EQ(Metric(scrape, "squatstream_dns_verdicts_total{verdict=\"registered\"}"), 5);
  EXPECT_EQ(Metric(scrape, "squatstream_dns_verdicts_total{verdict=\"unregistered\"}"),
            static_cast<double>(result.last_progress.generated()) - 5);
  EXPECT_EQ(Metric(scrape, "squatstream_records_filtered_total"),
            static_cast<double>(result.last_progress.generated()) - 5);
}

TEST_F(EnrichDomainTest, SeveralDomainsInOneStreamEachRecordNamingItsInput) {
  StartServer(FastOptions());
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  request.add_domains("bücher.de");
  request.add_domains("paypal.com");
  request.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  request.add_kinds(v1::PERMUTATION_KIND_TLD_SWAP);
  request.add_enrichers(v1::ENRICHER_GEO);
  StreamResult result = Stream(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::map<std::string, std::set<std::string>> by_input;
  for (const v1::Record& r : result.records) {
    EXPECT_TRUE(by_input[r.input()].insert(r.domain_ascii()).second) << "sent twice: " << r.domain_ascii();
  }
  for (const std::string input : {"example.com", "bücher.de", "paypal.com"}) {
    absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain(input);
    ASSERT_TRUE(parsed.ok());
    std::set<std::string> want;
    for (const permute::Candidate& c :
         permute::GenerateAll(*parsed, {.kinds = {permute::Kind::kOmission, permute::Kind::kTldSwap}})) {
      want.insert(c.ascii);
    }
    EXPECT_EQ(by_input[parsed->ascii], want) << input;
  }
  EXPECT_EQ(by_input.size(), 3u);

  v1::EnrichDomainRequest bad;
  bad.set_domain("example.com");
  bad.add_domains("localhost");
  StreamResult refused = Stream(bad);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("domains[0]: domain \"localhost\" has no top-level domain"));
  EXPECT_TRUE(refused.records.empty());
}

// Every message's counters are consistent: generated >= enriched >= sent. (The stream's first record used to
// be handed over before its generation pass was counted: a first message said generated 0, enriched 2.)
TEST_F(EnrichDomainTest, ProgressNeverSaysMoreEnrichedThanGenerated) {
  daemon::ServerOptions options = Simulated();
  for (auto& [id, stub] : options.stubs) stub = {absl::ZeroDuration(), 0, 1};  // records at once, mid-pass
  StartServer(options);
  v1::EnrichDomainRequest request;
  request.add_domains("example.com");
  request.add_domains("bücher.de");
  request.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->EnrichDomain(&context, request);
    v1::EnrichDomainResponse response;
    while (reader->Read(&response)) {
      const v1::Progress& p = response.progress();
      EXPECT_GE(p.generated(), p.enriched()) << "stream " << i << ": " << p.ShortDebugString();
      EXPECT_GE(p.enriched(), p.sent()) << "stream " << i << ": " << p.ShortDebugString();
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
}

// A reader that stops reading: its buffer fills to the bound, and the depth gauge shows the records it holds
// while it holds them (it used to show the depth at the stream's last drain, which a stalled stream never
// reaches again), then returns to 0 once the client goes.
TEST_F(EnrichDomainTest, DepthGaugeShowsWhatAStalledReaderHolds) {
  daemon::ServerOptions options = Simulated();
  for (auto& [id, stub] : options.stubs) stub = {absl::ZeroDuration(), 0, 1};
  options.limits.pipeline.buffer_capacity = 2000;
  StartServer(options);
  grpc::ClientContext context;
  v1::EnrichDomainRequest request;
  request.set_domain("internationalbusinessmachines.com");
  request.set_max_candidates(22000);  // far more than the client's flow-control window and the buffer hold
  auto reader = stub_->EnrichDomain(&context, request);  // never read
  EXPECT_TRUE(Eventually([&] { return Metric(Scrape(), "squatstream_fanin_buffer_depth") >= 1900; }))
      << Metric(Scrape(), "squatstream_fanin_buffer_depth");
  // The buffer's 2,000 slots hold records by their bytes: each is over 200 bytes here (a 30-odd character name
  // twice and four enrichments), charged 64 more.
  EXPECT_LE(Metric(Scrape(), "squatstream_fanin_buffer_depth"), 2000.0 * 1536 / (200 + 64));
  context.TryCancel();
  EXPECT_TRUE(Eventually([&] {
    const std::string m = Scrape();
    return Metric(m, "squatstream_fanin_buffer_depth") == 0 && Metric(m, "squatstream_active_streams") == 0;
  }));
}

// Records whose lookups finish one by one still travel in batches: with the batch window (20 ms by default)
// a stream of slow lookups sends many records per message; with a zero window, about one. Same stream, same
// run, both ways.
TEST_F(EnrichDomainTest, TricklingLookupsStillMakeBatches) {
  auto records_per_message = [&](std::chrono::milliseconds window) {
    daemon::ServerOptions options = Simulated();
    for (auto& [id, stub] : options.stubs) stub = {absl::ZeroDuration(), 0, 1};
    options.stubs[v1::ENRICHER_WHOIS] = {absl::Milliseconds(200),
                                         0};  // each 100-300 ms: records finish spread over time
    options.limits.pipeline.batch_window = window;
    StartServer(options);
    v1::EnrichDomainRequest request;
    request.set_domain("example.com");
    StreamResult result = Stream(request);
    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.records.size(), result.last_progress.generated());
    server_.reset();
    return static_cast<double>(result.records.size()) / std::max(1, result.batches);
  };
  const double unbatched = records_per_message(std::chrono::milliseconds(0));
  const double batched = records_per_message(std::chrono::milliseconds(20));
  EXPECT_GE(batched, 20) << "unbatched: " << unbatched;
  EXPECT_GE(batched, 5 * unbatched) << "unbatched: " << unbatched;
}

// The memory budget charges a stream one Generator (they run one at a time, each bounded), whatever its cap
// and number of domains, and takes that share back once generation ended while the stream goes on. (A
// 32-domain stream was charged 32 domains' generation — more than one stream may hold, so refused — and a
// stream's generation stayed charged, while its kinds' names were held, until its client had read all.)
TEST_F(EnrichDomainTest, BudgetChargesOneGeneratorAndTakesItBackWhenGenerationEnds) {
  daemon::ServerOptions options = Simulated();
  for (auto& [id, stub] : options.stubs) stub = {absl::ZeroDuration(), 0, 1};
  options.stubs[v1::ENRICHER_WHOIS] = {absl::Seconds(10), 0};  // 5-15 s: the streams stay open meanwhile
  options.limits.pipeline.max_inflight_lookups = 100000;       // every candidate in flight: generation ends
  StartServer(options);
  using service::MemoryBudget;
  auto charged = [&] { return Metric(Scrape(), "squatstream_memory_budget_slots_granted"); };

  // 8,000 candidates, all within the buffer (each reserves two slots in flight: four stages' bounds), generation
  // ends while the stream waits for its lookups, and the running Generator's share goes back.
  absl::StatusOr<permute::ParsedDomain> ibm = permute::ParseDomain("internationalbusinessmachines.com");
  ASSERT_TRUE(ibm.ok());
  const MemoryBudget::Generation one = MemoryBudget::GenerationSlots(
      permute::kDefaultMaxHeldBytes, permute::Generator(*ibm, {.kinds = {}, .max_candidates = 8000}).HeldBytes());
  grpc::ClientContext big_context;
  v1::EnrichDomainRequest big;
  big.set_domain("internationalbusinessmachines.com");
  big.set_max_candidates(8000);
  auto big_reader = stub_->EnrichDomain(&big_context, big);
  const auto buffer = [&] {
    return Metric(Scrape(), "squatstream_fanin_capacity_bytes") / MemoryBudget::kBytesPerSlot;
  };
  EXPECT_TRUE(Eventually([&] { return charged() == static_cast<double>(one.kept) + buffer(); }))
      << charged() << " slots charged; at the start: " << static_cast<double>(one.total()) + buffer()
      << ", after generation " << static_cast<double>(one.kept) + buffer();
  EXPECT_EQ(Metric(Scrape(), "squatstream_active_streams"), 1);

  // Two streams of 32 domains each, never read: each charged one Generator, both admitted.
  v1::EnrichDomainRequest many;
  for (int i = 0; i < 32; ++i) many.add_domains("internationalbusinessmachines" + std::to_string(i) + ".com");
  many.set_max_candidates(100000);
  grpc::ClientContext first_context, second_context;
  auto first = stub_->EnrichDomain(&first_context, many);
  auto second = stub_->EnrichDomain(&second_context, many);
  EXPECT_TRUE(Eventually([&] { return Metric(Scrape(), "squatstream_active_streams") == 3; }));
  EXPECT_EQ(Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"ResourceExhausted\"," + kMethod), 0);

  for (grpc::ClientContext* c : {&big_context, &first_context, &second_context}) c->TryCancel();
  EXPECT_TRUE(Eventually([&] { return charged() == 0 && Metric(Scrape(), "squatstream_active_streams") == 0; }));
}

// A client that keeps exactly the server's limit of streams open, each starting the next as soon as the
// last one's status arrives, is never refused: a stream's slot is free before its status reaches the client.
TEST_F(EnrichDomainTest, AClientKeepingTheLimitOfStreamsOpenIsNeverRefused) {
  daemon::ServerOptions options = FastOptions();
  options.limits.max_concurrent_streams = 4;
  StartServer(options);
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  request.set_max_candidates(20);
  std::atomic<int> refused{0}, ok{0};
  std::vector<std::thread> clients;
  clients.reserve(static_cast<std::size_t>(options.limits.max_concurrent_streams));
  for (int c = 0; c < options.limits.max_concurrent_streams; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        const grpc::Status status = Stream(request).status;
        (status.ok() ? ok : refused).fetch_add(1);
        if (!status.ok() && status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ADD_FAILURE() << status.error_message();
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(ok.load(), 4 * 40);
}

TEST_F(EnrichDomainTest, BadInputIsInvalidArgumentAndTheServerKeepsServing) {
  StartServer(FastOptions());
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {std::string(300, 'a') + ".com", "at most 253"},
      {std::string(70, 'a') + ".com", "at most 63"},
      {"exa$mple.com", "no hostname may hold"},
      {"bad\xff.com", "not valid UTF-8"},
      {"10.0.0.1", "IP address"},
      {"localhost", "no top-level domain"},
      {std::string(1 << 20, 'x'), "at most 253"},  // a huge request
  };
  for (const auto& [domain, fault] : cases) {
    StreamResult result = Stream(domain);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << fault;
    EXPECT_THAT(result.status.error_message(), HasSubstr(fault));
    EXPECT_TRUE(result.records.empty());
  }
  v1::EnrichDomainRequest unknown_kind;
  unknown_kind.set_domain("example.com");
  unknown_kind.add_kinds(static_cast<v1::PermutationKind>(42));
  EXPECT_EQ(Stream(unknown_kind).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::EnrichDomainRequest too_many;
  too_many.set_domain("example.com");
  too_many.set_max_candidates(1000000);
  StreamResult refused = Stream(too_many);  // the client's fault: not counted as the server's capacity
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("max_candidates 1000000 exceeds this server's limit"));

  EXPECT_TRUE(Stream("example.org").status.ok());  // still serving
  EXPECT_EQ(Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"InvalidArgument\"," + kMethod), 10);
  EXPECT_EQ(Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"ResourceExhausted\"," + kMethod), 0);
}

TEST_F(EnrichDomainTest, ClassifyDomainSaysByWhichKinds) {
  StartServer(FastOptions());
  grpc::ClientContext context;
  v1::ClassifyDomainRequest request;
  request.set_target("Example.com");
  request.set_candidate("examplee.com");
  v1::ClassifyDomainResponse response;
  ASSERT_TRUE(stub_->ClassifyDomain(&context, request, &response).ok());
  EXPECT_TRUE(response.is_twist());
  EXPECT_THAT(response.kinds(), ::testing::ElementsAre(v1::PERMUTATION_KIND_ADDITION, v1::PERMUTATION_KIND_REPETITION));
  EXPECT_EQ(response.target_ascii(), "example.com");

  grpc::ClientContext unrelated_context;
  request.set_candidate("google.com");
  ASSERT_TRUE(stub_->ClassifyDomain(&unrelated_context, request, &response).ok());
  EXPECT_FALSE(response.is_twist());
  EXPECT_EQ(response.kinds_size(), 0);

  grpc::ClientContext bad_context;
  request.set_candidate("exa_mple.com");
  grpc::Status bad = stub_->ClassifyDomain(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("candidate: domain contains '_'"));
  // An address is refused as EnrichDomain refuses it (it was classified, as no twist).
  grpc::ClientContext address_context;
  request.set_candidate("192.0.2.1");
  grpc::Status address = stub_->ClassifyDomain(&address_context, request, &response);
  EXPECT_EQ(address.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(address.error_message(), HasSubstr("candidate: \"192.0.2.1\" is an IP address"));
  const std::string scrape = Scrape();
  const std::string method =
      "grpc_method=\"ClassifyDomain\",grpc_service=\"squatstream.v1.EnrichmentService\",grpc_type=\"unary\"";
  EXPECT_EQ(Metric(scrape, "grpc_server_handled_total{grpc_code=\"OK\"," + method), 2);
  EXPECT_EQ(Metric(scrape, "grpc_server_handled_total{grpc_code=\"InvalidArgument\"," + method), 2);
  // The first call generated example.com's permutations; the second (the target in another spelling) found
  // them cached; the refused one never got that far.
  EXPECT_EQ(Metric(scrape, "squatstream_classify_cache_lookups_total{result=\"miss\"}"), 1);
  EXPECT_EQ(Metric(scrape, "squatstream_classify_cache_lookups_total{result=\"hit\"}"), 1);
}

// --max_connection_age: the server sends GOAWAY to a connection older than the age, so the client's channel
// reconnects (to whichever pod a balancer picks); a stream running then still ends OK within the grace.
TEST_F(EnrichDomainTest, OldConnectionsAreAskedToReconnectWithoutCuttingTheirStreams) {
  daemon::ServerOptions o = Simulated();
  o.stubs[v1::ENRICHER_DNS] = {absl::Milliseconds(1), 0, 1};
  o.stubs[v1::ENRICHER_GEO] = {absl::Milliseconds(400), 0};  // a stream of ~1 s: longer than the age
  o.max_connection_age = absl::Milliseconds(300);
  o.max_connection_age_grace = absl::Seconds(10);
  StartServer(o);
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  request.set_max_candidates(50);
  request.add_enrichers(v1::ENRICHER_GEO);
  StreamResult result = Stream(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.records.size(), 50u);
  // After the age, the connection is gone: the channel leaves READY (IDLE until the next call).
  EXPECT_TRUE(Eventually([&] { return channel_->GetState(false) != GRPC_CHANNEL_READY; }));
  grpc::ClientContext context;
  v1::ClassifyDomainRequest classify;
  classify.set_target("example.com");
  classify.set_candidate("examp1e.com");
  v1::ClassifyDomainResponse response;
  EXPECT_TRUE(stub_->ClassifyDomain(&context, classify, &response).ok());  // and reconnects
}

// --reflection=false (prod): the reflection service is not there, the API is.
TEST_F(EnrichDomainTest, ReflectionCanBeTurnedOff) {
  auto reflection_answers = [this] {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(3));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(3)) {
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  };
  daemon::ServerOptions o = FastOptions();
  StartServer(o);
  EXPECT_TRUE(reflection_answers().ok());  // an empty request stream: answered OK
  server_.reset();
  o.reflection = false;
  StartServer(o);
  EXPECT_EQ(reflection_answers().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(Stream("example.org").status.ok());
}

// Lookups that would take a minute keep the stream busy; cancelling or a passed deadline must end all of
// its work promptly: in-flight lookups back to 0, no active stream.
class SlowLookupsTest : public EnrichDomainTest {
 protected:
  void SetUp() override {
    daemon::ServerOptions o = Simulated();
    o.stubs[v1::ENRICHER_GEO] = {absl::ZeroDuration(), 0};
    o.stubs[v1::ENRICHER_WHOIS] = {absl::Seconds(60), 0};
    o.stubs[v1::ENRICHER_BANNER] = {absl::ZeroDuration(), 0};
    o.limits.max_concurrent_streams = 1;
    StartServer(o);
  }
  bool WorkDrained() {
    const std::string s = Scrape();
    return Metric(s, "squatstream_inflight_lookups") == 0 && Metric(s, "squatstream_active_streams") == 0 &&
           server_->active_streams() == 0;
  }
};

TEST_F(SlowLookupsTest, CancelMidStreamStopsAllWork) {
  grpc::ClientContext context;
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  auto reader = stub_->EnrichDomain(&context, request);
  ASSERT_TRUE(Eventually([&] { return Metric(Scrape(), "squatstream_inflight_lookups") > 100; }));

  // The only stream slot is taken: a second stream is refused.
  grpc::ClientContext second_context;
  auto second = stub_->EnrichDomain(&second_context, request);
  v1::EnrichDomainResponse ignored;
  while (second->Read(&ignored)) {
  }
  grpc::Status refused = second->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("concurrent streams"));

  context.TryCancel();
  while (reader->Read(&ignored)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return WorkDrained(); }));
  EXPECT_TRUE(
      Eventually([&] { return Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"Canceled\"," + kMethod) == 1; }));
}

TEST_F(SlowLookupsTest, ShortDeadlineStopsAllWork) {
  constexpr int kStreams = 8;
  for (int i = 0; i < kStreams; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    v1::EnrichDomainRequest request;
    request.set_domain("example.com");
    auto reader = stub_->EnrichDomain(&context, request);
    v1::EnrichDomainResponse ignored;
    while (reader->Read(&ignored)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(Eventually([&] { return WorkDrained(); }));
  }
  // The client's own deadline timer usually resets the stream a little before the server's copy of the
  // deadline passes; the server still counts each of these streams as DeadlineExceeded, none as Canceled.
  EXPECT_TRUE(Eventually([&] {
    return Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"DeadlineExceeded\"," + kMethod) == kStreams;
  }));
  EXPECT_EQ(Metric(Scrape(), "grpc_server_handled_total{grpc_code=\"Canceled\"," + kMethod), 0);
}

// The real registration stage, its lookups waiting on a registry that accepts connections and never answers
// (and more queued behind its rate limit): a shutdown ends them at once — the HTTP thread joined, the queue
// dropped — instead of waiting out their 30 s timeouts.
TEST_F(EnrichDomainTest, ShutdownEndsRegistrationLookupsWaitingOnASilentRegistry) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener, 64), 0);  // the kernel completes the handshakes; nothing ever reads or answers
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  char path[] = "/tmp/squatstream-bootstrap-XXXXXX";
  close(mkstemp(path));
  std::ofstream(path) << R"({"services":[[["com"],["http://127.0.0.1:)" << ntohs(a.sin_port) << R"(/"]]]})";

  daemon::ServerOptions o = FastOptions();
  o.stub_enrichers = {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_BANNER};
  auto& registration = o.stages.Get<workers::registration::RegistrationOptions>();
  registration.bootstrap_file = path;
  registration.bootstrap_url = "";
  registration.deadline = absl::Seconds(30);
  registration.request_timeout = absl::Seconds(30);
  registration.gate.rate_per_second = 2;  // most lookups wait their turn
  o.stages.Get<workers::net::AddressPolicy>() = *workers::net::AddressPolicy::WithAllowed({"127.0.0.0/8"});
  StartServer(o);
  std::thread client([&] {
    v1::EnrichDomainRequest request;
    request.set_domain("example.com");
    request.set_max_candidates(40);
    request.add_enrichers(v1::ENRICHER_WHOIS);
    const StreamResult result = Stream(request);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  });
  ASSERT_TRUE(Eventually([&] { return Metric(Scrape(), "squatstream_registration_waiting_requests") > 0; }));
  const auto started = std::chrono::steady_clock::now();
  server_->Shutdown(absl::ZeroDuration());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  client.join();
  close(listener);
  std::remove(path);
}

TEST_F(EnrichDomainTest, ShutdownWithAStreamInProgressCancelsItAfterTheGrace) {
  daemon::ServerOptions o = Simulated();
  o.stubs[v1::ENRICHER_WHOIS] = {absl::Seconds(60), 0};
  StartServer(o);
  grpc::ClientContext context;
  v1::EnrichDomainRequest request;
  request.set_domain("example.com");
  auto reader = stub_->EnrichDomain(&context, request);
  ASSERT_TRUE(Eventually([&] { return server_->active_streams() == 1; }));
  server_->Shutdown(absl::Milliseconds(100));  // returns only once every stream ended and workers stopped
  EXPECT_EQ(server_->active_streams(), 0);
  v1::EnrichDomainResponse ignored;
  while (reader->Read(&ignored)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "server shutting down");
}

}  // namespace
}  // namespace squatstream
