// The registration stage against real peers on loopback (registry_peers.py: RDAP per RFC 9083 over HTTP,
// WHOIS per RFC 3912), and its parsers on their own.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "asio/cancellation_signal.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/workers/dns/dns_peers.h"
#include "tests/workers/dns_record.h"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"
#include "workers/net/shared_limits.h"
#include "workers/registration/registration_enricher.h"
#include "workers/registration/registration_parsers.h"
#include "workers/registration/server_gate.h"

namespace squatstream::workers::registration {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace peers = ::squatstream::workers::dns::testing;

// --- Parsers -------------------------------------------------------------------------------------------

// A registry's turns are shared between streams: stream 1 queues ten requests for one server (one at a
// time), stream 2 one; stream 2's goes within the next two turns — after the one stream 1 had running and at
// most one more — not eleventh. With one stream id for both (the gate before streams took turns) it goes last.
std::vector<int> GrantOrder(std::uint64_t second_stream) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  ServerGate gate(strand, GateOptions{.rate_per_second = 1e6, .max_concurrent = 1});
  std::vector<int> order;
  asio::post(strand, [&] {
    auto go = [&](int who) {
      return [&, who](bool) {
        order.push_back(who);
        asio::post(strand, [&] { gate.Release("rdap.example", GateOutcome::kOk, std::chrono::seconds(0)); });
      };
    };
    for (int i = 0; i < 10; ++i) gate.Acquire("rdap.example", 1, std::make_shared<bool>(false), go(1));
    gate.Acquire("rdap.example", second_stream, std::make_shared<bool>(false), go(2));
  });
  io.run_for(std::chrono::seconds(10));
  return order;
}

TEST(ServerGateTest, StreamsTakeTurnsAtARegistry) {
  const std::vector<int> fair = GrantOrder(2);
  ASSERT_EQ(fair.size(), 11u);
  EXPECT_LE(std::find(fair.begin(), fair.end(), 2) - fair.begin(), 2);
  const std::vector<int> one_stream = GrantOrder(1);
  ASSERT_EQ(one_stream.size(), 11u);
  EXPECT_EQ(one_stream.back(), 2);
}

// Two gates (two replicas) on shared limiters: 20 requests per second and one at a time to the server over
// both, each request holding its place for 10 ms; every request is granted, in turn, and none early.
TEST(ServerGateTest, SharedLimitersHoldAcrossGates) {
  asio::io_context io;
  std::shared_ptr<net::RateLimiter> rate = net::MakeLocalRateLimiter();
  std::shared_ptr<net::ConcurrencyLimiter> places = net::MakeLocalConcurrencyLimiter();
  const GateOptions options{.rate_per_second = 20, .max_concurrent = 1};
  auto strand_a = asio::make_strand(io);
  auto strand_b = asio::make_strand(io);
  ServerGate a(strand_a, options, rate, places);
  ServerGate b(strand_b, options, rate, places);
  Mutex mu;
  std::vector<std::chrono::steady_clock::time_point> granted;
  int in_flight = 0;
  int most = 0;
  auto ask = [&](ServerGate& gate, asio::strand<asio::io_context::executor_type>& strand) {
    for (int i = 0; i < 10; ++i) {
      gate.Acquire("rdap.example", 1, std::make_shared<bool>(false), [&](bool) {
        {
          MutexLock lock(mu);
          granted.push_back(std::chrono::steady_clock::now());
          most = std::max(most, ++in_flight);
        }
        auto timer = std::make_shared<asio::steady_timer>(strand, std::chrono::milliseconds(10));
        timer->async_wait([&, timer](std::error_code) {
          {
            MutexLock lock(mu);
            --in_flight;
          }
          gate.Release("rdap.example", GateOutcome::kOk, std::chrono::seconds(0));
        });
      });
    }
  };
  asio::post(strand_a, [&] { ask(a, strand_a); });
  asio::post(strand_b, [&] { ask(b, strand_b); });
  std::thread second([&] { io.run_for(std::chrono::seconds(5)); });
  io.run_for(std::chrono::seconds(5));
  second.join();
  MutexLock lock(mu);
  ASSERT_EQ(granted.size(), 20u);
  EXPECT_EQ(most, 1);
  std::sort(granted.begin(), granted.end());
  for (std::size_t i = 1; i < granted.size(); ++i) {
    EXPECT_GE(granted[i] - granted[i - 1], std::chrono::milliseconds(49)) << i;
  }
}

TEST(RdapBootstrapTest, LongestSuffixWinsAndHttpsFirst) {
  absl::StatusOr<RdapBootstrap> b = ParseRdapBootstrap(R"({"publication":"2026-01-30T00:00:01Z","services":[
      [["com","net"],["http://plain.example/rdap","https://rdap.example/com/v1/"]],
      [["uk"],["https://uk.example/"]], [["co.uk"],["https://co-uk.example/"]], [[""],["ftp://x/"]]]})");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->publication, "2026-01-30T00:00:01Z");
  EXPECT_THAT(b->BasesFor("EXAMPLE.COM"), ElementsAre("https://rdap.example/com/v1/", "http://plain.example/rdap/"));
  EXPECT_THAT(b->BasesFor("example.co.uk"), ElementsAre("https://co-uk.example/"));
  EXPECT_THAT(b->BasesFor("example.org.uk"), ElementsAre("https://uk.example/"));
  EXPECT_TRUE(b->BasesFor("example.de").empty());
  EXPECT_FALSE(ParseRdapBootstrap("[]").ok());
  EXPECT_FALSE(ParseRdapBootstrap(R"({"services":[]})").ok());
}

TEST(RdapBootstrapTest, TheCommittedSnapshotKnowsTheBigRegistries) {
  absl::StatusOr<RdapBootstrap> b = ParseRdapBootstrap(BootstrapSnapshot());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GT(b->bases.size(), 1000u);
  EXPECT_THAT(b->BasesFor("example.com").front(), HasSubstr("verisign"));
  EXPECT_FALSE(b->BasesFor("example.org").empty());
}

TEST(RdapDomainTest, ErrorsAndWrongObjectsAreNamed) {
  EXPECT_EQ(ParseRdapDomain(R"({"errorCode":404,"title":"Not Found"})").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(ParseRdapDomain("{\"objectClassName\": \"domain\", ").status().message()),
              HasSubstr("not JSON"));
  EXPECT_THAT(std::string(ParseRdapDomain(R"({"objectClassName":"entity","handle":"X"})").status().message()),
              HasSubstr("not \"domain\""));
  EXPECT_THAT(std::string(ParseRdapDomain(R"({"objectClassName":"domain"})").status().message()),
              HasSubstr("without ldhName"));
  EXPECT_FALSE(ParseRdapDomain("[1,2]").ok());
  // Wrong types where lists and objects belong are skipped, not fatal.
  absl::StatusOr<RdapDomain> odd = ParseRdapDomain(
      R"({"ldhName":"x.example","events":{"a":1},"status":"active","entities":[1,{"roles":"registrar"}],"links":[7]})");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_TRUE(odd->result.registered());
}

TEST(NormalizeDateTest, CommonRegistryFormats) {
  EXPECT_EQ(NormalizeDate("2018-05-06T07:08:09Z"), "2018-05-06T07:08:09Z");
  EXPECT_EQ(NormalizeDate(" 2018-05-06 07:08:09 "), "2018-05-06T07:08:09");
  EXPECT_EQ(NormalizeDate("14-Aug-2003"), "2003-08-14");
  EXPECT_EQ(NormalizeDate("2003.08.14"), "2003-08-14");
  EXPECT_EQ(NormalizeDate("2003/08/14"), "2003-08-14");
  EXPECT_EQ(NormalizeDate("14.08.2003"), "2003-08-14");
  EXPECT_EQ(NormalizeDate("20030814"), "2003-08-14");
  EXPECT_EQ(NormalizeDate("before 1995"), "before 1995");
}

TEST(WhoisParserTest, NotFoundDropsTheFootersFields) {
  const WhoisAnswer a = ParseWhois(
      "No match for \"NOPE.COM\".\r\n>>> Last update of whois database: 2026 <<<\r\n"
      "Registrar: Footer Registrar\r\n");
  EXPECT_TRUE(a.not_found);
  EXPECT_FALSE(a.result.registered());
  EXPECT_TRUE(a.result.registrar().empty());
}

// --- Against the peers ---------------------------------------------------------------------------------

struct Peers {
  int http = 0, iana = 0, tld = 0, registrar = 0;
};

class RegistrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char path_template[] = "/tmp/squatstream-registry-XXXXXX";
    const int fd = mkstemp(path_template);
    close(fd);
    out_ = path_template;
    std::vector<std::string> argv = {"/usr/bin/python3", SQUATSTREAM_REGISTRY_PEERS, "--until-signal"};
    if (!hosts_zone_.empty()) argv.insert(argv.end(), {"--hosts-zone", hosts_zone_});
    pid_ = peers::Spawn(argv, out_);
    for (int i = 0; i < 400 && peers_.http == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      google::protobuf::Struct ports;
      const std::string line = peers::ReadFile(out_);
      if (!absl::StrContains(line, '\n')) continue;
      if (!google::protobuf::util::JsonStringToMessage(line, &ports).ok()) continue;
      auto port = [&](const char* k) { return static_cast<int>(ports.fields().at(k).number_value()); };
      peers_ = {port("http_port"), port("whois_iana_port"), port("whois_tld_port"), port("whois_registrar_port")};
    }
    ASSERT_NE(peers_.http, 0) << "registry_peers.py did not start: " << peers::ReadFile(out_ + ".err");
    bootstrap_ = out_ + ".bootstrap.json";
    const std::string rdap_host = hosts_zone_.empty() ? "127.0.0.1" : "rdap." + hosts_zone_;
    std::ofstream(bootstrap_) << R"({"publication":"2026-11-27T00:00:00Z","services":[[["example"],["http://)"
                              << rdap_host << ":" << peers_.http << R"(/registry/"]]]})";
  }
  static void TearDownTestSuite() {
    peers::Stop(pid_);
    for (const std::string& f : {out_, out_ + ".err", bootstrap_}) std::remove(f.c_str());
  }

  void SetUp() override {
    work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
    runner_ = std::thread([this] { io_.run(); });
    Post("/reset");
  }
  void TearDown() override {
    if (enricher_ != nullptr) enricher_->Shutdown();
    if (other_ != nullptr) other_->Shutdown();
    work_.reset();
    if (runner_.joinable()) runner_.join();
    enricher_.reset();
    other_.reset();
  }

  RegistrationOptions Options() const {
    RegistrationOptions o;
    o.bootstrap_file = bootstrap_;
    o.bootstrap_url = "";
    o.whois_server = "127.0.0.1:" + std::to_string(peers_.iana);
    o.deadline = absl::Seconds(10);
    o.request_timeout = absl::Seconds(5);
    o.gate.rate_per_second = 100;
    o.gate.max_concurrent = 4;
    o.max_rdap_bytes = std::size_t{1} << 20;
    o.policy = *net::AddressPolicy::WithAllowed({"127.0.0.0/8"});  // the peers; refused by default
    return o;
  }
  void Start(const RegistrationOptions& options, net::HostLookup lookup = nullptr) {
    absl::StatusOr<std::unique_ptr<RegistrationEnricher>> e =
        RegistrationEnricher::Create(options, io_.get_executor(), &metrics_, std::move(lookup));
    ASSERT_TRUE(e.ok()) << e.status();
    enricher_ = *std::move(e);
  }

  static v1::Record RecordFor(const std::string& name, v1::DnsVerdict verdict) {
    v1::Record record = squatstream::testing::RecordAfterDns(name, verdict);
    if (verdict == v1::DNS_VERDICT_WILDCARD) record.mutable_enrichments(0)->mutable_dns()->set_wildcard_zone("example");
    return record;
  }

  // Starts a lookup; the future has its result.
  std::future<LookupResult> Ask(const std::string& name, v1::DnsVerdict verdict = v1::DNS_VERDICT_REGISTERED) {
    auto promise = std::make_shared<std::promise<LookupResult>>();
    std::future<LookupResult> future = promise->get_future();
    const v1::Record record = RecordFor(name, verdict);
    enricher_->Lookup(LookupInput{name, record}, io_.get_executor(), asio::cancellation_slot(),
                      [promise](LookupResult r) { promise->set_value(std::move(r)); });
    return future;
  }
  LookupResult Lookup(const std::string& name, v1::DnsVerdict verdict = v1::DNS_VERDICT_REGISTERED) {
    std::future<LookupResult> f = Ask(name, verdict);
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << name << ": no result within 30 s";
      return LookupResult{absl::DeadlineExceededError("the test gave up"), {}, {}};
    }
    return f.get();
  }

  static std::string Curl(const std::string& method, const std::string& path) {
    std::string out;
    const std::string cmd = "curl -s -X " + method + " http://127.0.0.1:" + std::to_string(peers_.http) + path;
    FILE* pipe = popen(cmd.c_str(), "r");
    char buf[4096];
    while (pipe != nullptr && std::fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
    if (pipe != nullptr) pclose(pipe);
    return out;
  }
  static void Post(const std::string& path) { Curl("POST", path); }
  static google::protobuf::Struct Stats() {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(Curl("GET", "/stats"), &s).ok());
    return s;
  }
  static int Hits(const google::protobuf::Struct& stats, const std::string& path) {
    const auto& hits = stats.fields().at("hits").struct_value().fields();
    auto it = hits.find(path);
    return it == hits.end() ? 0 : static_cast<int>(it->second.number_value());
  }

  static inline std::string out_, bootstrap_;
  static inline std::string hosts_zone_;  // the peers name themselves under it (--hosts-zone); "": 127.0.0.1
  static inline pid_t pid_ = -1;
  static inline Peers peers_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread runner_;
  prometheus::Registry registry_;
  RegistrationMetrics metrics_{registry_};
  std::unique_ptr<RegistrationEnricher> other_;  // a second replica, when a test starts one
  std::unique_ptr<RegistrationEnricher> enricher_;
};

TEST_F(RegistrationTest, RdapGivesEveryFieldAndTheRegistrarsLinkAddsTheAbuseContact) {
  Start(Options());
  const LookupResult r = Lookup("www.full.example");
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::WhoisResult& w = r.value.whois();
  EXPECT_TRUE(w.registered());
  EXPECT_EQ(w.registered_domain(), "full.example");
  EXPECT_EQ(w.source(), "rdap");
  EXPECT_EQ(w.registrar(), "Example Registrar, Inc.");
  EXPECT_EQ(w.registrar_iana_id(), "9999");
  EXPECT_EQ(w.created(), "2019-03-04T10:00:00Z");
  EXPECT_EQ(w.expires(), "2027-03-04T10:00:00Z");
  EXPECT_EQ(w.updated(), "2025-01-02T03:04:05Z");
  EXPECT_THAT(w.statuses(), ElementsAre("client transfer prohibited", "server delete prohibited", "active"));
  EXPECT_THAT(w.name_servers(), ElementsAre("ns1.full.example", "ns2.full.example"));
  EXPECT_EQ(w.abuse_email(), "abuse@registrar.example");  // only in the registrar's answer
  EXPECT_EQ(w.abuse_phone(), "+1.5555550100");
  const std::string base = "http://127.0.0.1:" + std::to_string(peers_.http);
  EXPECT_THAT(w.servers(),
              ElementsAre(base + "/registry/domain/full.example", base + "/registrar/domain/full.example"));
  EXPECT_FALSE(w.cached());
}

TEST_F(RegistrationTest, RedirectsAreFollowedAndNotFoundIsAnAnswer) {
  Start(Options());
  const LookupResult redirected = Lookup("redirect.example");
  ASSERT_TRUE(redirected.status.ok()) << redirected.status;
  EXPECT_EQ(redirected.value.whois().registrar(), "Redirected Registrar");
  EXPECT_EQ(redirected.value.whois().created(), "2020-01-01T00:00:00Z");
  const LookupResult missing = Lookup("missing.example");
  ASSERT_TRUE(missing.status.ok()) << missing.status;
  EXPECT_FALSE(missing.value.whois().registered());
  EXPECT_EQ(missing.value.whois().source(), "rdap");
}

TEST_F(RegistrationTest, HttpTooManyRequestsWaitsForRetryAfterThenAsksAgain) {
  Start(Options());
  const LookupResult r = Lookup("busy.example");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.value.whois().registrar(), "Patient Registrar");
  const google::protobuf::Struct stats = Stats();
  EXPECT_EQ(Hits(stats, "/registry/domain/busy.example"), 2);
  const auto& times = stats.fields().at("times").struct_value().fields().at("/registry/domain/busy.example");
  ASSERT_EQ(times.list_value().values_size(), 2);
  // Retry-After: 1 — the second request came no sooner (the server's own clock).
  EXPECT_GE(times.list_value().values(1).number_value() - times.list_value().values(0).number_value(), 0.95);
}

TEST_F(RegistrationTest, FaultsEndTheLookupWithAStatusWithinTheDeadline) {
  RegistrationOptions o = Options();
  o.deadline = absl::Seconds(2);
  Start(o);
  std::future<LookupResult> slow = Ask("slow.example");
  std::future<LookupResult> malformed = Ask("malformed.example");
  std::future<LookupResult> huge = Ask("huge.example");
  std::future<LookupResult> chunked = Ask("huge-chunked.example");
  std::future<LookupResult> hang = Ask("hang.whois");
  std::future<LookupResult> flood = Ask("flood.whois");
  for (auto* f : {&slow, &malformed, &huge, &chunked, &hang, &flood}) {
    ASSERT_EQ(f->wait_for(std::chrono::seconds(6)), std::future_status::ready);  // deadline 2 s, and a margin
  }
  const LookupResult s = slow.get();
  EXPECT_EQ(s.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.status.message(), HasSubstr("slow.example: no registration data within 2s"));
  const LookupResult m = malformed.get();
  EXPECT_EQ(m.status.code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(m.status.message(), HasSubstr("malformed RDAP answer"));
  for (auto* f : {&huge, &chunked}) {
    const LookupResult h = f->get();
    EXPECT_EQ(h.status.code(), absl::StatusCode::kResourceExhausted) << h.status;
    EXPECT_THAT(h.status.message(), HasSubstr("body over 1048576 bytes"));
  }
  EXPECT_EQ(hang.get().status.code(), absl::StatusCode::kDeadlineExceeded);
  // A flood is cut at the byte cap (64 KiB, read in well under the deadline: without the cap the read would
  // run into it); what came is kept, bounded.
  const LookupResult fl = flood.get();
  ASSERT_TRUE(fl.status.ok()) << fl.status;
  EXPECT_FALSE(fl.value.whois().raw_text().empty());
  EXPECT_LE(fl.value.whois().raw_text().size(), 4u << 10);
}

TEST_F(RegistrationTest, WhoisFollowsIanaThenTheRegistryThenTheRegistrar) {
  Start(Options());
  const LookupResult r = Lookup("full.whois");
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::WhoisResult& w = r.value.whois();
  EXPECT_TRUE(w.registered());
  EXPECT_EQ(w.source(), "whois");
  EXPECT_EQ(w.registrar(), "Whois Registrar LLC");
  EXPECT_EQ(w.registrar_iana_id(), "1234");
  EXPECT_EQ(w.created(), "2018-05-06T07:08:09Z");
  EXPECT_EQ(w.expires(), "2028-05-06T07:08:09Z");
  EXPECT_EQ(w.updated(), "2025-02-03T04:05:06Z");
  EXPECT_THAT(w.statuses(), ElementsAre("clientTransferProhibited"));
  EXPECT_THAT(w.name_servers(), ElementsAre("ns1.full.whois", "ns2.full.whois"));
  EXPECT_EQ(w.abuse_email(), "abuse@whois-registrar.example");
  EXPECT_EQ(w.abuse_phone(), "+1.5555550199");
  EXPECT_THAT(w.raw_text(), HasSubstr("Registry Expiry Date"));
  EXPECT_THAT(w.servers(), ElementsAre("whois://127.0.0.1:" + std::to_string(peers_.iana),
                                       "whois://127.0.0.1:" + std::to_string(peers_.tld),
                                       "whois://127.0.0.1:" + std::to_string(peers_.registrar)));
  // IANA is asked once per TLD: the next .whois name starts at the TLD's server.
  const LookupResult ru = Lookup("ru-style.whois");
  ASSERT_TRUE(ru.status.ok()) << ru.status;
  EXPECT_EQ(ru.value.whois().servers_size(), 1);
  EXPECT_EQ(ru.value.whois().registrar(), "RU-STYLE-REG");
  EXPECT_EQ(ru.value.whois().created(), "2010-11-12T13:14:15Z");
  EXPECT_EQ(ru.value.whois().expires(), "2026-11-12T21:00:00Z");
  EXPECT_THAT(ru.value.whois().statuses(), ElementsAre("REGISTERED", "DELEGATED", "VERIFIED"));
  const LookupResult nominet = Lookup("dotted-date.whois");
  ASSERT_TRUE(nominet.status.ok()) << nominet.status;
  EXPECT_EQ(nominet.value.whois().registrar(), "Example UK Registrar Ltd [Tag = EXAMPLE]");
  EXPECT_EQ(nominet.value.whois().created(), "2003-08-14");
  EXPECT_EQ(nominet.value.whois().expires(), "2027-08-14");
  const LookupResult none = Lookup("nomatch.whois");
  ASSERT_TRUE(none.status.ok()) << none.status;
  EXPECT_FALSE(none.value.whois().registered());
}

TEST_F(RegistrationTest, NamesDnsSaysDoNotExistAreNotAsked) {
  Start(Options());
  const v1::Record unregistered = RecordFor("bulk-nx.example", v1::DNS_VERDICT_UNREGISTERED);
  std::optional<LookupResult> skipped = enricher_->TryLookupNow(LookupInput{"bulk-nx.example", unregistered});
  ASSERT_TRUE(skipped.has_value());
  EXPECT_EQ(skipped->status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(skipped->status.message(), HasSubstr("not asked: not registered"));
  const v1::Record wildcard = RecordFor("bulk-wild.example", v1::DNS_VERDICT_WILDCARD);
  skipped = enricher_->TryLookupNow(LookupInput{"bulk-wild.example", wildcard});
  ASSERT_TRUE(skipped.has_value());
  EXPECT_THAT(skipped->status.message(), HasSubstr("wildcard"));
  // UNKNOWN (DNS could not tell) is asked.
  EXPECT_TRUE(Lookup("bulk-unknown.example", v1::DNS_VERDICT_UNKNOWN).status.ok());
  EXPECT_EQ(Hits(Stats(), "/registry/domain/bulk-nx.example"), 0);
}

// 2,000 registered names through a registry allowing 200 requests/s and 3 at once: the server never sees
// more than that; a second pass is answered from the cache without a request; candidates under the same
// registered domain share one request.
TEST_F(RegistrationTest, RateAndConcurrencyHoldAndTheSecondPassIsCached) {
  RegistrationOptions o = Options();
  o.gate.rate_per_second = 200;
  o.gate.max_concurrent = 3;
  o.deadline = absl::Seconds(30);
  Start(o);
  constexpr int kNames = 2000;
  constexpr int kJoined = 20;
  std::vector<std::future<LookupResult>> pending;
  pending.reserve(kNames + kJoined);
  for (int i = 0; i < kNames; ++i) pending.push_back(Ask(absl::StrFormat("bulk%04d.example", i)));
  for (int i = 0; i < kJoined; ++i) pending.push_back(Ask(absl::StrFormat("w%d.bulk0000.example", i)));  // joined
  int ok = 0;
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    const LookupResult r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status;
    ok += r.status.ok() && r.value.whois().registrar() == "Bulk Registrar";
  }
  EXPECT_EQ(ok, kNames + kJoined);
  const google::protobuf::Struct stats = Stats();
  // The peer counts a request as done only once its answer is flushed, so the next one may arrive first:
  // one more than the cap is what a gate holding the cap can show; an ungated client shows dozens.
  EXPECT_LE(stats.fields().at("max_concurrent").number_value(), 3 + 1);
  std::vector<double> times;
  for (const auto& [path, list] : stats.fields().at("times").struct_value().fields()) {
    for (const auto& t : list.list_value().values()) times.push_back(t.number_value());
  }
  ASSERT_EQ(times.size(), static_cast<std::size_t>(kNames));  // one request per registered domain
  std::sort(times.begin(), times.end());
  // In any one second, at most a second's worth of tokens plus the bucket (200): 400, with slack for the
  // server's clock reading arrival a little after the client sent.
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; i < times.size(); ++i) {
    while (times[i] - times[j] > 1.0) ++j;
    most = std::max(most, i - j + 1);
  }
  EXPECT_LE(most, 410u);
  EXPECT_GE(times.back() - times.front(), (kNames - 200) / 200.0 - 0.5);  // the rate held overall
  // The second pass: answered now, from the cache.
  for (int i = 0; i < kNames; i += 97) {
    const std::string name = absl::StrFormat("bulk%04d.example", i);
    const v1::Record record = RecordFor(name, v1::DNS_VERDICT_REGISTERED);
    std::optional<LookupResult> now = enricher_->TryLookupNow(LookupInput{name, record});
    ASSERT_TRUE(now.has_value()) << name;
    EXPECT_TRUE(now->value.whois().cached());
  }
  EXPECT_EQ(Hits(Stats(), "/registry/domain/bulk0000.example"), 1);
}

// A SharedCache in memory, standing in for access/'s Redis one: what was put, with its TTL.
class MemoryCache final : public net::SharedCache {
 public:
  std::optional<std::string> Get(std::string_view key) override {
    MutexLock lock(mu_);
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return std::nullopt;
    return it->second.first;
  }
  void Put(std::string_view key, std::string_view value, absl::Duration ttl) override {
    MutexLock lock(mu_);
    values_[std::string(key)] = {std::string(value), ttl};
  }
  std::optional<absl::Duration> TtlOf(const std::string& key) {
    MutexLock lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second.second;
  }

 private:
  Mutex mu_;
  std::map<std::string, std::pair<std::string, absl::Duration>> values_ ABSL_GUARDED_BY(mu_);
};

// Registration answers go to the shared cache with the in-process cache's TTLs; another replica (a second
// enricher) answers the same names from it, counted as cache hits, without asking the registry.
TEST_F(RegistrationTest, AnotherReplicaIsAnsweredFromTheSharedCache) {
  auto cache = std::make_shared<MemoryCache>();
  RegistrationOptions o = Options();
  o.cache_ttl = absl::Hours(5);
  o.negative_ttl = absl::Minutes(7);
  o.shared.cache = cache;
  Start(o);
  ASSERT_TRUE(Lookup("redirect.example").status.ok());
  ASSERT_TRUE(Lookup("missing.example").status.ok());
  EXPECT_EQ(cache->TtlOf("registration:redirect.example"), absl::Hours(5));
  EXPECT_EQ(cache->TtlOf("registration:missing.example"), absl::Minutes(7));
  const int asked = Hits(Stats(), "/registry/domain/missing.example");
  EXPECT_EQ(asked, 1);

  absl::StatusOr<std::unique_ptr<RegistrationEnricher>> other =
      RegistrationEnricher::Create(o, io_.get_executor(), &metrics_, nullptr);
  ASSERT_TRUE(other.ok()) << other.status();
  other_ = *std::move(other);
  const double hits_before = metrics_.cache_hits->Value();
  for (const std::string name : {"redirect.example", "missing.example"}) {
    auto promise = std::make_shared<std::promise<LookupResult>>();
    std::future<LookupResult> f = promise->get_future();
    other_->Lookup(LookupInput{name, RecordFor(name, v1::DNS_VERDICT_REGISTERED)}, io_.get_executor(),
                   asio::cancellation_slot(), [promise](LookupResult r) { promise->set_value(std::move(r)); });
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready) << name;
    const LookupResult r = f.get();
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_TRUE(r.value.whois().cached()) << name;
    EXPECT_EQ(r.value.whois().registered(), name == "redirect.example");
  }
  EXPECT_EQ(metrics_.cache_hits->Value(), hits_before + 2);
  EXPECT_EQ(Hits(Stats(), "/registry/domain/missing.example"), asked);
  // And the second replica's own cache has them now: answered without a round trip.
  EXPECT_TRUE(
      other_->TryLookupNow(LookupInput{"missing.example", RecordFor("missing.example", v1::DNS_VERDICT_REGISTERED)})
          .has_value());
}

// A lookup no one waits for any more (its stream cancelled) stops asking: requests still queued for the
// registry's turn are never sent; and at shutdown nothing is left for the executor to wait on.
TEST_F(RegistrationTest, CancelledLookupsStopAskingAndShutdownIsPrompt) {
  RegistrationOptions o = Options();
  o.gate.rate_per_second = 0.2;  // one request now, the next one five seconds later
  o.gate.max_concurrent = 1;
  Start(o);
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
  std::vector<std::future<LookupResult>> pending;
  for (int i = 0; i < 6; ++i) {
    signals.push_back(std::make_unique<asio::cancellation_signal>());
    auto promise = std::make_shared<std::promise<LookupResult>>();
    pending.push_back(promise->get_future());
    const std::string name = absl::StrFormat("bulk-cancel%d.example", i);
    const v1::Record record = RecordFor(name, v1::DNS_VERDICT_REGISTERED);
    enricher_->Lookup(LookupInput{name, record}, io_.get_executor(), signals.back()->slot(),
                      [promise](LookupResult r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i < 200 && Hits(Stats(), "/registry/domain/bulk-cancel0.example") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling for the first request
  }
  asio::post(io_, [&] {
    for (auto& s : signals) s->emit(asio::cancellation_type::terminal);  // from the executor, as the contract says
  });
  int cancelled = 0;
  for (auto& f : pending) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    cancelled += f.get().status.code() == absl::StatusCode::kCancelled;
  }
  EXPECT_GE(cancelled, 5);                                       // the first may have been answered before the cancel
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));  // the next turn, were they still queued
  int sent = 0;
  for (int i = 0; i < 6; ++i) sent += Hits(Stats(), absl::StrFormat("/registry/domain/bulk-cancel%d.example", i));
  EXPECT_EQ(sent, 1);

  // Shutdown with lookups queued behind a slow rate: they end CANCELLED and the executor's run returns at
  // once, not after the queue would have drained.
  std::vector<std::future<LookupResult>> queued;
  queued.reserve(7);
  for (int i = 0; i < 6; ++i) queued.push_back(Ask(absl::StrFormat("bulk-shutdown%d.example", i)));
  queued.push_back(Ask("hang.whois"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto stopping = std::chrono::steady_clock::now();
  enricher_->Shutdown();
  work_.reset();
  runner_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(2));
  for (auto& f : queued) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(1)), std::future_status::ready);
    const LookupResult r = f.get();
    if (!r.status.ok()) {
      EXPECT_EQ(r.status.code(), absl::StatusCode::kCancelled) << r.status;
    }
  }
  runner_ = std::thread([] {});  // TearDown joins it
}

// The cache holds at most --registration_cache_mb: older entries make room for new ones.
TEST_F(RegistrationTest, TheCacheStaysWithinItsByteCap) {
  RegistrationOptions o = Options();
  o.cache_bytes = 4096;
  Start(o);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Lookup(absl::StrFormat("bulk-cap%02d.example", i)).status.ok());
  int cached = 0;
  for (int i = 0; i < 12; ++i) {
    const std::string name = absl::StrFormat("bulk-cap%02d.example", i);
    const v1::Record record = RecordFor(name, v1::DNS_VERDICT_REGISTERED);
    cached += enricher_->TryLookupNow(LookupInput{name, record}).has_value();
  }
  EXPECT_GE(cached, 1);
  EXPECT_LT(cached, 12);
  EXPECT_TRUE(
      enricher_
          ->TryLookupNow(LookupInput{"bulk-cap11.example", RecordFor("bulk-cap11.example", v1::DNS_VERDICT_REGISTERED)})
          .has_value());  // the newest stays
}

// By default nothing private is dialled: a registry, its "related" link or a WHOIS referral naming a
// loopback or private address gets PERMISSION_DENIED saying which range, and no connection.
TEST_F(RegistrationTest, ThePolicyRefusesPrivateAddressesByDefault) {
  RegistrationOptions o = Options();
  o.policy = net::AddressPolicy();
  Start(o);
  const LookupResult rdap = Lookup("bulk-private.example");
  EXPECT_EQ(rdap.status.code(), absl::StatusCode::kPermissionDenied) << rdap.status;
  EXPECT_THAT(rdap.status.message(), HasSubstr("127.0.0.1 is loopback (127.0.0.0/8): not dialled"));
  const LookupResult whois = Lookup("full.whois");
  EXPECT_EQ(whois.status.code(), absl::StatusCode::kPermissionDenied) << whois.status;
  EXPECT_EQ(Hits(Stats(), "/registry/domain/bulk-private.example"), 0);
}

TEST_F(RegistrationTest, AnUnreachableRegistryIsUnavailableAndBackedOff) {
  RegistrationOptions o = Options();
  const int closed = peers::FreePort();
  std::ofstream(bootstrap_ + ".closed") << R"({"services":[[["example"],["http://127.0.0.1:)" << closed << R"(/"]]]})";
  o.bootstrap_file = bootstrap_ + ".closed";
  Start(o);
  const auto started = std::chrono::steady_clock::now();
  const LookupResult first = Lookup("bulk-a.example");
  EXPECT_EQ(first.status.code(), absl::StatusCode::kUnavailable);
  const LookupResult second = Lookup("bulk-b.example");  // waits out the 1 s backoff after a refusal
  EXPECT_EQ(second.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  std::remove((bootstrap_ + ".closed").c_str());
}

// --- Registries named by host names ---------------------------------------------------------------------
// The same peers calling themselves by names under peers.test (registry_peers.py --hosts-zone): the bootstrap's
// RDAP base, the registry's "related" link, IANA's referral to the TLD's WHOIS server and the TLD's to the
// registrar's. Every one is resolved through the lookup the stage is given (the DNS stage's, in squatstreamd)
// and nothing else: ctest runs these in tests/e2e/tools/resolver_trap.py, whose system resolver logs every
// question and fails the test on one; /etc/hosts there knows none of these names. Outside it they are
// skipped, so that a regression could never send the names to the machine's resolver.
class RegistrationNamedHostsTest : public RegistrationTest {
 protected:
  static void SetUpTestSuite() {
    hosts_zone_ = "peers.test";
    RegistrationTest::SetUpTestSuite();
  }
  static void TearDownTestSuite() {
    RegistrationTest::TearDownTestSuite();
    hosts_zone_.clear();
  }
  void SetUp() override {
    const char* mark = std::getenv("SQUATSTREAM_RESOLVER_TRAP");
    if (mark == nullptr || std::string(mark) != "1") {
      GTEST_SKIP() << "names hosts: run in tests/e2e/tools/resolver_trap.py (ctest does)";
    }
    RegistrationTest::SetUp();
  }

  RegistrationOptions NamedOptions() const {
    RegistrationOptions o = Options();
    o.whois_server = "whois-iana.peers.test:" + std::to_string(peers_.iana);
    return o;
  }
  // Every peers.test name the peers use, at 127.0.0.1 (where they listen); the names asked, in order.
  net::HostLookup Names() {
    return [this](const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
      {
        MutexLock lock(mu_);
        asked_.push_back(host);
      }
      std::vector<std::string> found;
      if (absl::EndsWith(host, ".peers.test")) found = {"127.0.0.1"};
      // As the DNS stage's lookups do: the answer comes later, from another thread (its strand).
      asio::post(io_, [done = std::move(done), found = std::move(found)]() mutable { std::move(done)(found); });
    };
  }
  std::vector<std::string> Asked() {
    MutexLock lock(mu_);
    return asked_;
  }

  Mutex mu_;  // Guards asked_ (the stage's strand and the test's thread).
  std::vector<std::string> asked_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RegistrationNamedHostsTest, RdapBaseAndRelatedLinkAreResolvedThroughTheLookup) {
  Start(NamedOptions(), Names());
  const LookupResult r = Lookup("www.full.example");
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::WhoisResult& w = r.value.whois();
  EXPECT_EQ(w.registrar(), "Example Registrar, Inc.");
  EXPECT_EQ(w.abuse_email(), "abuse@registrar.example");  // the registrar's answer, by its related link's name
  const std::string port = std::to_string(peers_.http);
  EXPECT_THAT(w.servers(), ElementsAre("http://rdap.peers.test:" + port + "/registry/domain/full.example",
                                       "http://rdap-registrar.peers.test:" + port + "/registrar/domain/full.example"));
  // A redirect to the same host (a relative Location) dials the address already found: no second question.
  const LookupResult moved = Lookup("redirect.example");
  ASSERT_TRUE(moved.status.ok()) << moved.status;
  EXPECT_EQ(moved.value.whois().registrar(), "Redirected Registrar");
  EXPECT_THAT(Asked(), ElementsAre("rdap.peers.test", "rdap-registrar.peers.test", "rdap.peers.test"));
}

TEST_F(RegistrationNamedHostsTest, WhoisServerAndReferralsAreResolvedThroughTheLookup) {
  Start(NamedOptions(), Names());
  const LookupResult r = Lookup("full.whois");
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::WhoisResult& w = r.value.whois();
  EXPECT_EQ(w.registrar(), "Whois Registrar LLC");
  EXPECT_EQ(w.abuse_email(), "abuse@whois-registrar.example");
  EXPECT_THAT(w.servers(), ElementsAre("whois://whois-iana.peers.test:" + std::to_string(peers_.iana),
                                       "whois://whois-tld.peers.test:" + std::to_string(peers_.tld),
                                       "whois://whois-registrar.peers.test:" + std::to_string(peers_.registrar)));
  EXPECT_THAT(Asked(), ElementsAre("whois-iana.peers.test", "whois-tld.peers.test", "whois-registrar.peers.test"));
}

// With no lookup (the DNS stage simulated), named registries are not asked at all: FAILED_PRECONDITION
// saying so, nothing resolved by another resolver, nothing dialled.
TEST_F(RegistrationNamedHostsTest, WithoutALookupNamedRegistriesAreNotAsked) {
  Start(NamedOptions());
  const LookupResult rdap = Lookup("www.full.example");
  EXPECT_EQ(rdap.status.code(), absl::StatusCode::kFailedPrecondition) << rdap.status;
  EXPECT_THAT(rdap.status.message(), HasSubstr("rdap.peers.test is not resolved"));
  const LookupResult whois = Lookup("full.whois");
  EXPECT_EQ(whois.status.code(), absl::StatusCode::kFailedPrecondition) << whois.status;
  EXPECT_THAT(whois.status.message(), HasSubstr("whois-iana.peers.test is not resolved"));
  const google::protobuf::Struct stats = Stats();
  EXPECT_EQ(Hits(stats, "/registry/domain/full.example"), 0);
  EXPECT_TRUE(stats.fields().at("whois_hits").struct_value().fields().at("iana").struct_value().fields().empty());
}

}  // namespace
}  // namespace squatstream::workers::registration
