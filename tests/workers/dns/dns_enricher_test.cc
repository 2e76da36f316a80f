// The DNS stage against real name servers on loopback: nsd for the verdicts and the cache, the scripted
// server for SERVFAIL, REFUSED and truncation, a silent port for timeouts, cancellation and the rate limit.
#include "workers/dns/dns_enricher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/workers/dns/dns_peers.h"
#include "tests/workers/dns/fixture_zones.h"
#include "workers/executor.h"

namespace squatstream::workers::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Answers(const v1::DnsResult& d, const std::string& type) {
  std::vector<std::string> out;
  for (const v1::DnsQuery& q : d.queries()) {
    if (q.type() != type) continue;
    for (const v1::DnsAnswer& a : q.answers()) out.push_back(a.value());
  }
  return out;
}

std::string Rcode(const v1::DnsResult& d, const std::string& type) {
  for (const v1::DnsQuery& q : d.queries()) {
    if (q.type() == type) return q.rcode();
  }
  return "(not asked)";
}

double QueriesSent(prometheus::Registry& registry) {
  double total = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "squatstream_dns_queries_total") continue;
    for (const auto& m : family.metric) total += m.counter.value;
  }
  return total;
}

class DnsStageTest : public ::testing::Test {
 protected:
  // As squatstreamd does (daemon/main.cc): c-ares writes TCP queries with writev, and the scripted server
  // closes its TCP connections after an answer.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  void TearDown() override { Stop(); }

  void StartStage(const ResolverOptions& options) {
    metrics_ = std::make_unique<ResolverMetrics>(registry_);
    executor_ = std::make_unique<Executor>(2);
    absl::StatusOr<std::unique_ptr<Resolver>> r = Resolver::Create(executor_->context(), options, metrics_.get());
    ASSERT_TRUE(r.ok()) << r.status();
    resolver_ = *std::move(r);
    stage_ = std::make_unique<DnsEnricher>(resolver_.get(), metrics_.get());
  }

  void Stop() {
    if (resolver_ == nullptr) return;
    resolver_->Shutdown();
    executor_->Join();
    stage_.reset();
    resolver_.reset();
    executor_.reset();
  }

  static ResolverOptions Options(const std::string& server) {
    ResolverOptions o;
    o.servers = {server};
    o.timeout = std::chrono::milliseconds(300);
    o.tries = 1;
    o.pacing = ResolverOptions::Pacing::kFixed;  // the pacing's own tests: resolver_pacing_test.cc
    o.rate_limit_qps = 0;
    o.max_inflight = 1000;
    return o;
  }

  // Starts lookups of `names` on one strand (as a pipeline does); results arrive in `results`.
  struct Batch {
    std::mutex mu;
    std::vector<LookupResult> results;
    std::vector<int> calls;  // per name: how many times `done` ran
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    std::promise<void> all_done;
    std::size_t remaining = 0;
  };
  std::shared_ptr<Batch> StartLookups(const std::vector<std::string>& names,
                                      asio::strand<asio::io_context::executor_type>& strand) {
    auto batch = std::make_shared<Batch>();
    batch->results.resize(names.size());
    batch->calls.resize(names.size());
    batch->remaining = names.size();
    for (std::size_t i = 0; i < names.size(); ++i)
      batch->signals.push_back(std::make_unique<asio::cancellation_signal>());
    std::promise<void> started;
    asio::post(strand, [&, batch] {
      for (std::size_t i = 0; i < names.size(); ++i) {
        v1::Record record;
        stage_->Lookup({names[i], record}, strand, batch->signals[i]->slot(), [batch, i](LookupResult r) {
          std::lock_guard<std::mutex> lock(batch->mu);
          batch->results[i] = std::move(r);
          if (++batch->calls[i] == 1 && --batch->remaining == 0) batch->all_done.set_value();
        });
      }
      started.set_value();
    });
    started.get_future().wait();
    return batch;
  }

  std::vector<LookupResult> LookupAll(const std::vector<std::string>& names) {
    auto strand = asio::make_strand(executor_->context());
    auto batch = StartLookups(names, strand);
    EXPECT_EQ(batch->all_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
    std::lock_guard<std::mutex> lock(batch->mu);
    for (int c : batch->calls) EXPECT_EQ(c, 1);
    return batch->results;
  }

  v1::DnsResult LookupOne(const std::string& name) {
    std::vector<LookupResult> r = LookupAll({name});
    EXPECT_TRUE(r[0].status.ok()) << name << ": " << r[0].status;
    EXPECT_FALSE(r[0].value.simulated());
    return r[0].value.dns();
  }

  prometheus::Registry registry_;
  std::unique_ptr<ResolverMetrics> metrics_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<DnsEnricher> stage_;
};

TEST_F(DnsStageTest, VerdictsAndRecordsFromAnAuthoritativeServer) {
  auto nsd = testing::Nsd::Start(testing::FixtureZones());
  ASSERT_NE(nsd, nullptr);
  StartStage(Options(nsd->server()));

  v1::DnsResult full = LookupOne("exampel.com");
  EXPECT_EQ(full.verdict(), v1::DNS_VERDICT_REGISTERED);
  std::vector<std::string> types;
  for (const v1::DnsQuery& q : full.queries()) types.push_back(q.type());
  EXPECT_THAT(types, ElementsAre("NS", "A", "AAAA", "MX", "CNAME", "TXT"));                // NS first, then in parallel
  EXPECT_THAT(full.addresses(), ElementsAre("192.0.2.10", "2001:db8::10"));                // A, then AAAA
  EXPECT_THAT(full.mail_exchangers(), ElementsAre("mx1.exampel.com", "mx2.exampel.com"));  // by preference
  EXPECT_THAT(full.name_servers(), ElementsAre("ns1.exampel.com"));
  EXPECT_THAT(Answers(full, "TXT"), ElementsAre("v=spf1 -all"));
  EXPECT_EQ(full.queries(1).answers(0).ttl(), 300u);
  EXPECT_EQ(Rcode(full, "CNAME"), "NOERROR");

  v1::DnsResult only_mx = LookupOne("exmple.com");
  EXPECT_EQ(only_mx.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(only_mx.mail_exchangers(), ElementsAre("mail.exmple.com"));
  EXPECT_TRUE(only_mx.addresses().empty());

  v1::DnsResult only_ns = LookupOne("examplr.com");  // a referral: the delegation is the answer
  EXPECT_EQ(only_ns.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(only_ns.name_servers(), ElementsAre("ns1.elsewhere.test"));

  v1::DnsResult only_aaaa = LookupOne("exanple.com");
  EXPECT_EQ(only_aaaa.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(only_aaaa.addresses(), ElementsAre("2001:db8::1"));

  v1::DnsResult cname = LookupOne("wxample.com");
  EXPECT_EQ(cname.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(Answers(cname, "CNAME"), ElementsAre("exampel.com"));

  v1::DnsResult absent = LookupOne("nothere.com");
  EXPECT_EQ(absent.verdict(), v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_EQ(absent.soa_zone(), "com");
  EXPECT_EQ(absent.queries_size(), 1);  // NXDOMAIN on NS: nothing more asked
  EXPECT_EQ(Rcode(absent, "NS"), "NXDOMAIN");

  v1::DnsResult wild = LookupOne("example.net");
  EXPECT_EQ(wild.verdict(), v1::DNS_VERDICT_WILDCARD);
  EXPECT_EQ(wild.wildcard_zone(), "net");
  EXPECT_THAT(wild.addresses(), ElementsAre("198.51.100.1"));

  v1::DnsResult refused = LookupOne("example.org");  // a zone this server does not serve
  EXPECT_EQ(refused.verdict(), v1::DNS_VERDICT_UNKNOWN);
  EXPECT_EQ(Rcode(refused, "NS"), "REFUSED");
}

TEST_F(DnsStageTest, ServfailAndRefusedAreUnknownNeverRegistered) {
  for (const char* mode : {"servfail", "refused"}) {
    auto peer = testing::ScriptedDns::Start(SQUATSTREAM_SCRIPTED_DNS, mode);
    ASSERT_NE(peer, nullptr);
    StartStage(Options(peer->server()));
    v1::DnsResult d = LookupOne("exampel.com");
    EXPECT_EQ(d.verdict(), v1::DNS_VERDICT_UNKNOWN) << mode;
    EXPECT_EQ(Rcode(d, "NS"), std::string(mode) == "servfail" ? "SERVFAIL" : "REFUSED");
    Stop();
  }
}

TEST_F(DnsStageTest, ATruncatedAnswerIsAskedAgainOverTcp) {
  auto peer = testing::ScriptedDns::Start(SQUATSTREAM_SCRIPTED_DNS, "truncate");
  ASSERT_NE(peer, nullptr);
  StartStage(Options(peer->server()));
  v1::DnsResult d = LookupOne("trunc.example");  // UDP answers carry nothing: these came over TCP
  EXPECT_EQ(d.verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(d.name_servers(), ElementsAre("ns1.trunc.test"));
  EXPECT_THAT(d.addresses(), ElementsAre("192.0.2.50"));
}

TEST_F(DnsStageTest, NoAnswerIsUnknownWithinTheDeadline) {
  testing::SilentServer silent;
  ResolverOptions o = Options(silent.server());
  o.timeout = std::chrono::milliseconds(200);
  o.tries = 2;
  StartStage(o);
  const auto start = std::chrono::steady_clock::now();
  v1::DnsResult d = LookupOne("exampel.com");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(d.verdict(), v1::DNS_VERDICT_UNKNOWN);
  EXPECT_EQ(Rcode(d, "NS"), "TIMEOUT");
  EXPECT_GE(took, std::chrono::milliseconds(350));   // two tries of 200 ms (c-ares may shorten the first)
  EXPECT_LT(took, std::chrono::milliseconds(2000));  // and not much more
  EXPECT_EQ(silent.received(), 2);
}

// Cancelling ends every lookup at once with CANCELLED; queries still queued are never sent.
TEST_F(DnsStageTest, CancelEndsLookupsWithin50msAndSendsNothingMore) {
  testing::SilentServer silent;
  ResolverOptions o = Options(silent.server());
  o.timeout = std::chrono::seconds(10);
  o.max_inflight = 10;
  StartStage(o);
  std::vector<std::string> names;
  names.reserve(200);
  for (int i = 0; i < 200; ++i) names.push_back("c" + std::to_string(i) + ".com");
  auto strand = asio::make_strand(executor_->context());
  auto batch = StartLookups(names, strand);
  for (int i = 0; i < 100 && silent.received() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(silent.received(), 10);  // the in-flight cap holds the other 190 back
  const auto cancelled_at = std::chrono::steady_clock::now();
  asio::post(strand, [batch] {
    for (auto& s : batch->signals) s->emit(asio::cancellation_type::all);
  });
  ASSERT_EQ(batch->all_done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(50));
  {
    std::lock_guard<std::mutex> lock(batch->mu);
    for (std::size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(batch->calls[i], 1);
      EXPECT_EQ(batch->results[i].status.code(), absl::StatusCode::kCancelled);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(silent.received(), 10);  // nothing sent after the cancel
}

TEST_F(DnsStageTest, TheRateLimitHoldsOverTenSeconds) {
  testing::SilentServer silent;
  ResolverOptions o = Options(silent.server());
  o.rate_limit_qps = 40;
  o.timeout = std::chrono::milliseconds(50);
  StartStage(o);
  std::vector<std::string> names;
  names.reserve(1000);
  for (int i = 0; i < 1000; ++i) names.push_back("r" + std::to_string(i) + ".com");
  auto strand = asio::make_strand(executor_->context());
  const auto start = std::chrono::steady_clock::now();
  auto batch = StartLookups(names, strand);
  std::this_thread::sleep_until(start + std::chrono::seconds(10));
  const int sent = silent.received();
  EXPECT_GE(sent, 380) << "40 queries/s for 10 s";
  EXPECT_LE(sent, 420);
  asio::post(strand, [batch] {
    for (auto& s : batch->signals) s->emit(asio::cancellation_type::all);
  });
  EXPECT_EQ(batch->all_done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST_F(DnsStageTest, TheCacheAnswersARepeatWithoutNewQueries) {
  auto nsd = testing::Nsd::Start(testing::FixtureZones());
  ASSERT_NE(nsd, nullptr);
  StartStage(Options(nsd->server()));
  const std::vector<std::string> names = {"exampel.com", "exmple.com", "nothere.com", "absent2.com", "example.net"};
  std::vector<LookupResult> first = LookupAll(names);
  const double sent = QueriesSent(registry_);
  ASSERT_GT(sent, 10);
  std::vector<LookupResult> second = LookupAll(names);
  EXPECT_EQ(QueriesSent(registry_), sent);  // every answer, NXDOMAIN included (SOA minimum), from the cache
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(second[i].value.dns().SerializeAsString(), first[i].value.dns().SerializeAsString()) << names[i];
  }
}

TEST_F(DnsStageTest, AServerThatDiesMidwayLeavesEveryLookupAnswered) {
  auto nsd = testing::Nsd::Start(testing::FixtureZones());
  ASSERT_NE(nsd, nullptr);
  ResolverOptions o = Options(nsd->server());
  o.rate_limit_qps = 300;
  o.timeout = std::chrono::milliseconds(200);
  StartStage(o);
  std::vector<std::string> names;
  names.reserve(300);
  for (int i = 0; i < 300; ++i) names.push_back("d" + std::to_string(i) + ".com");
  auto strand = asio::make_strand(executor_->context());
  auto batch = StartLookups(names, strand);
  // Midway: once a third of the lookups have their answers (the rate limit spreads the 300 names over about a
  // second) — the state the test is about, waited for rather than guessed at with a sleep.
  const auto answered = [&] {
    std::lock_guard<std::mutex> lock(batch->mu);
    return names.size() - batch->remaining;
  };
  for (int i = 0; i < 5000 && answered() < 100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GE(answered(), 100u);
  ASSERT_LT(answered(), 250u) << "most lookups ended before the server died: nothing was midway";
  nsd->Kill();
  ASSERT_EQ(batch->all_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  std::lock_guard<std::mutex> lock(batch->mu);
  // After the kill a query is refused (ICMP port unreachable: the resolver cannot be asked — a failed lookup
  // saying so) or unanswered (TIMEOUT: verdict unknown), never a verdict about the name.
  int unregistered = 0, unknown = 0, unreachable = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(batch->calls[i], 1);
    const LookupResult& r = batch->results[i];
    if (!r.status.ok()) {
      EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable) << r.status;
      EXPECT_THAT(std::string(r.status.message()), ::testing::HasSubstr("the DNS resolver could not be asked"));
      ++unreachable;
      continue;
    }
    const v1::DnsVerdict v = r.value.dns().verdict();
    unregistered += v == v1::DNS_VERDICT_UNREGISTERED;
    unknown += v == v1::DNS_VERDICT_UNKNOWN;
  }
  EXPECT_EQ(unregistered + unknown + unreachable, 300);
  EXPECT_GT(unregistered, 50);           // answered before the kill
  EXPECT_GT(unknown + unreachable, 50);  // no answer after it
}

// A resolver nobody listens on (a closed loopback port: every query refused) fails each lookup with UNAVAILABLE
// saying the resolver could not be asked — not a verdict "unknown" with an empty message on every name.
TEST_F(DnsStageTest, AResolverThatCannotBeAskedFailsTheLookupSayingSo) {
  // A port that was free a moment ago: bound, read, closed.
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t length = sizeof a;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length), 0);
  close(fd);
  ResolverOptions o = Options("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  // The refusal comes at once — unless the kernel's ICMP rate limit swallowed it (other tests flooding closed
  // ports): that try times out, and the lookup still says the resolver refused (Resolver keeps why an earlier
  // try could not be sent).
  o.timeout = std::chrono::seconds(1);
  StartStage(o);
  const std::vector<std::string> names = {"a.com", "b.com", "c.com"};
  auto strand = asio::make_strand(executor_->context());
  auto batch = StartLookups(names, strand);
  ASSERT_EQ(batch->all_done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::lock_guard<std::mutex> lock(batch->mu);
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(batch->results[i].status.code(), absl::StatusCode::kUnavailable) << names[i];
    EXPECT_THAT(std::string(batch->results[i].status.message()),
                ::testing::HasSubstr("the DNS resolver could not be asked"));
  }
}

TEST(DnsMessage, RefusesWhatIsNotAResponse) {
  EXPECT_FALSE(ParseDnsMessage({}).ok());
  const std::uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
  EXPECT_FALSE(ParseDnsMessage(query).ok());  // QR clear
  // A response whose answer's name points at itself (a compression loop).
  const std::uint8_t loop[] = {0x12, 0x34, 0x81, 0x80, 0, 0, 0, 1,  0, 0, 0, 0, 0xc0, 12,
                               0,    1,    0,    1,    0, 0, 0, 60, 0, 4, 1, 2, 3,    4};
  EXPECT_FALSE(ParseDnsMessage(loop).ok());
  // A well-formed NXDOMAIN with no records.
  const std::uint8_t nx[] = {0x12, 0x34, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0};
  absl::StatusOr<DnsMessage> m = ParseDnsMessage(nx);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rcode, kNxDomain);
  EXPECT_FALSE(m->CacheTtl().has_value());  // no SOA: nothing says how long
  // A TXT record whose bytes are not UTF-8 (the zone's owner chooses them): escaped as dig does, so the
  // value fits the API's string field; a TTL with the top bit set is zero (RFC 2181).
  const std::uint8_t txt[] = {0x12, 0x34, 0x81, 0x80, 0,    0,    0,    1, 0, 0, 0,   0,    0,    0,
                              16,   0,    1,    0xff, 0xff, 0xff, 0xff, 0, 5, 4, 'a', 0xff, '\\', '"'};
  m = ParseDnsMessage(txt);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].value, "a\\255\\092\"");
  EXPECT_EQ(m->answers[0].ttl, 0u);
}

}  // namespace
}  // namespace squatstream::workers::dns
