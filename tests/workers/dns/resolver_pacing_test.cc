// Adaptive pacing against a real peer (paced_dns.py on loopback) whose behaviour the test changes while the
// resolver runs: it backs off when the resolver drops, refuses or fails, recovers when it heals, never goes
// past the ceiling, and asks every name again that a busy resolver turned away.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "asio/post.hpp"
#include "prometheus/registry.h"
#include "tests/workers/dns/dns_peers.h"
#include "workers/dns/resolver.h"
#include "workers/executor.h"

namespace squatstream::workers::dns {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// paced_dns.py: its mode set through a control file, its per-second counts read from another.
class PacedDns {
 public:
  static std::unique_ptr<PacedDns> Start() {
    auto s = std::unique_ptr<PacedDns>(new PacedDns());
    char dir_template[] = "/tmp/squatstream-paced-XXXXXX";
    s->dir_ = mkdtemp(dir_template);
    s->control_ = s->dir_ + "/mode";
    s->port_ = testing::SpawnAndReadPort({"/usr/bin/python3", SQUATSTREAM_PACED_DNS, s->control_}, s->dir_ + "/out",
                                         &s->pid_, std::chrono::seconds(10));
    if (s->port_ == 0) {
      std::fprintf(stderr, "paced DNS did not start: %s\n", testing::ReadFile(s->dir_ + "/out.err").c_str());
      return nullptr;
    }
    return s;
  }
  ~PacedDns() {
    testing::Stop(pid_);
    std::system(("rm -rf " + dir_).c_str());
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

  // Written whole, then renamed into place: the peer never reads half a mode.
  void SetMode(const std::string& mode) {
    const std::string tmp = control_ + ".new";
    std::ofstream(tmp) << mode << "\n";
    std::rename(tmp.c_str(), control_.c_str());
  }

  struct Second {
    std::int64_t at;
    int received, answered;
  };
  std::vector<Second> Seconds() const {
    std::vector<Second> out;
    std::istringstream in(testing::ReadFile(control_ + ".counts"));
    Second s{};
    while (in >> s.at >> s.received >> s.answered) out.push_back(s);
    return out;
  }

 private:
  PacedDns() = default;
  std::string dir_, control_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class ResolverPacingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    peer_ = PacedDns::Start();
    ASSERT_NE(peer_, nullptr);
  }
  void TearDown() override {
    if (resolver_ == nullptr) return;
    asio::post(resolver_->strand(), [c = cancelled_] { *c = true; });
    resolver_->Shutdown();
    executor_->Join();
  }

  ResolverOptions Options() const {
    ResolverOptions o;
    o.servers = {peer_->server()};
    o.timeout = milliseconds(250);
    o.tries = 2;
    o.max_inflight = 512;
    return o;
  }

  void Start(const ResolverOptions& o) {
    metrics_ = std::make_unique<ResolverMetrics>(registry_);
    executor_ = std::make_unique<Executor>(2);
    absl::StatusOr<std::unique_ptr<Resolver>> r = Resolver::Create(executor_->context(), o, metrics_.get());
    ASSERT_TRUE(r.ok()) << r.status();
    resolver_ = *std::move(r);
  }

  // Asks NS of `n` names no one asked before; each result's rcode is counted in rcodes_.
  void Ask(int n) {
    const int base = asked_;
    asked_ += n;
    asio::post(resolver_->strand(), [this, base, n] {
      for (int i = base; i < base + n; ++i) {
        resolver_->Query("n" + std::to_string(i) + ".pacing.test", RrType::kNs, cancelled_,
                         [this](const QueryResult& r) {
                           std::lock_guard<std::mutex> lock(mu_);
                           ++rcodes_[r.RcodeText()];
                           ++answered_;
                         });
      }
    });
  }

  int Answered() {
    std::lock_guard<std::mutex> lock(mu_);
    return answered_;
  }
  std::map<std::string, int> Rcodes() {
    std::lock_guard<std::mutex> lock(mu_);
    return rcodes_;
  }

  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        std::map<std::string, std::string> have;
        for (const auto& l : m.label) have[l.name] = l.value;
        bool match = true;
        for (const auto& [k, v] : labels) match = match && have[k] == v;
        if (match) return family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
    return -1;
  }
  double Rate() { return Metric("squatstream_dns_pace_qps", {{"server", peer_->server()}}); }
  double Backoffs(const std::string& reason) {
    return Metric("squatstream_dns_pace_backoffs_total", {{"server", peer_->server()}, {"reason", reason}});
  }
  bool InState(const std::string& state) {
    return Metric("squatstream_dns_pace_state", {{"server", peer_->server()}, {"state", state}}) == 1;
  }

  // Polls `ready` every 10 ms for at most `limit`: the state the test waits for, not a guess of its time.
  static bool WaitFor(const std::function<bool()>& ready, std::chrono::steady_clock::duration limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  std::unique_ptr<PacedDns> peer_;
  prometheus::Registry registry_;
  std::unique_ptr<ResolverMetrics> metrics_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Resolver> resolver_;
  std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
  std::mutex mu_;
  std::map<std::string, int> rcodes_;
  int answered_ = 0;
  int asked_ = 0;
};

// The resolver drops, refuses or fails everything for a while: the rate goes down at once, for that reason,
// and back up once it heals.
class BackoffAndRecovery : public ResolverPacingTest,
                           public ::testing::WithParamInterface<std::pair<const char*, const char*>> {};

TEST_P(BackoffAndRecovery, BacksOffWhenTheResolverTurnsQueriesAwayAndRecoversWhenItHeals) {
  const char* const mode = GetParam().first;
  const char* const reason = GetParam().second;
  Start(Options());
  Ask(60000);  // more than the test can get through: queries always wait for the rate
  // Slow start's rise (a bound on the wait: sanitizer builds sharing two cores rise slower).
  ASSERT_TRUE(WaitFor([&] { return Rate() >= 800; }, seconds(20))) << "slow start reached " << Rate();
  const double before = Rate();
  peer_->SetMode(mode);
  ASSERT_TRUE(WaitFor([&] { return Backoffs(reason) >= 1; }, seconds(20)));
  ASSERT_TRUE(WaitFor([&] { return Rate() <= before / 4; }, seconds(20))) << Rate();
  EXPECT_TRUE(InState("backoff"));
  const double low = Rate();
  peer_->SetMode("ok");
  ASSERT_TRUE(WaitFor([&] { return Rate() >= std::max(2 * low, before / 2); }, seconds(40)))
      << "from " << low << " to " << Rate();
  EXPECT_FALSE(InState("backoff"));
}

INSTANTIATE_TEST_SUITE_P(Modes, BackoffAndRecovery,
                         ::testing::Values(std::make_pair("drop", "timeout"), std::make_pair("refuse", "refused"),
                                           std::make_pair("servfail", "servfail")),
                         [](const auto& p) { return std::string(p.param.first); });

TEST_F(ResolverPacingTest, NeverSendsMoreThanTheCeiling) {
  ResolverOptions o = Options();
  o.rate_limit_qps = 400;
  Start(o);
  Ask(1800);
  ASSERT_TRUE(WaitFor([&] { return InState("ceiling"); }, seconds(30)));
  EXPECT_EQ(Rate(), 400);
  ASSERT_TRUE(WaitFor([&] { return Answered() == 1800; }, seconds(60))) << Answered();
  ASSERT_TRUE(WaitFor([&] { return peer_->Seconds().size() >= 4; }, seconds(5)));
  // Each whole second the peer counted: at most the ceiling and its 50 ms burst.
  for (const PacedDns::Second& s : peer_->Seconds()) EXPECT_LE(s.received, 400 + 20) << "second " << s.at;
  EXPECT_EQ(Rcodes()["NXDOMAIN"], 1800);
}

TEST_F(ResolverPacingTest, FixedPacingKeepsItsRate) {
  ResolverOptions o = Options();
  o.pacing = ResolverOptions::Pacing::kFixed;
  o.rate_limit_qps = 300;
  Start(o);
  EXPECT_TRUE(InState("fixed"));
  EXPECT_EQ(Rate(), 300);
  peer_->SetMode("drop");
  Ask(300);
  ASSERT_TRUE(WaitFor([&] { return Answered() == 300; }, seconds(30)));
  EXPECT_EQ(Backoffs("timeout"), 0);
  EXPECT_EQ(Rate(), 300);
  EXPECT_EQ(Rcodes()["TIMEOUT"], 300);
}

// A resolver that answers 300 queries/s and drops the rest (unbound's ip-ratelimit does so): the names it
// turned away are asked again at the lower rate, so every one gets its answer.
TEST_F(ResolverPacingTest, ARateLimitingResolverStillAnswersEveryName) {
  peer_->SetMode("limit 300");
  ResolverOptions o = Options();
  // A limiter that counts per second drops the whole tail of a second: a name's tries land in different
  // seconds (as with the default 2.5 s timeout), three of them (with the default two, 0-3% of the names ended unknown
  // in runs here).
  o.tries = 3;
  o.timeout = milliseconds(1200);
  Start(o);
  Ask(1500);
  ASSERT_TRUE(WaitFor([&] { return Answered() == 1500; }, seconds(60))) << Answered();
  EXPECT_GE(Backoffs("timeout"), 1);
  const std::map<std::string, int> rcodes = Rcodes();
  EXPECT_EQ(rcodes.count("TIMEOUT") ? rcodes.at("TIMEOUT") : 0, 0);
  EXPECT_EQ(rcodes.at("NXDOMAIN"), 1500);
}

// Two resolver addresses, one of which starts dropping: it is paced down on its own while the other goes on
// rising, and the names it dropped are asked again of the other — every name answered.
TEST_F(ResolverPacingTest, EachAddressIsPacedOnItsOwnAndTriesAgainGoToTheOther) {
  auto second = PacedDns::Start();
  ASSERT_NE(second, nullptr);
  ResolverOptions o = Options();
  o.servers = {peer_->server(), second->server()};
  Start(o);
  EXPECT_THAT(resolver_->servers(), ::testing::ElementsAre(peer_->server(), second->server()));
  const auto rate_of = [&](const PacedDns& p) { return Metric("squatstream_dns_pace_qps", {{"server", p.server()}}); };
  Ask(4000);
  // Both answering, then the second drops everything.
  ASSERT_TRUE(WaitFor([&] { return Answered() >= 400; }, seconds(30))) << Answered();
  second->SetMode("drop");
  ASSERT_TRUE(WaitFor([&] { return Answered() == 4000; }, seconds(60))) << Answered();
  EXPECT_GE(Metric("squatstream_dns_pace_backoffs_total", {{"server", second->server()}, {"reason", "timeout"}}), 1);
  EXPECT_GE(rate_of(*peer_), rate_of(*second));
  EXPECT_EQ(Rcodes()["NXDOMAIN"], 4000);
}

TEST_F(ResolverPacingTest, LatencyDoublingBacksOff) {
  peer_->SetMode("delay 5");
  ResolverOptions o = Options();
  o.timeout = milliseconds(1000);
  Start(o);
  Ask(60000);
  ASSERT_TRUE(WaitFor([&] { return Rate() >= 400; }, seconds(30))) << Rate();
  peer_->SetMode("delay 80");
  ASSERT_TRUE(WaitFor([&] { return Backoffs("latency") >= 1; }, seconds(30)));
}

}  // namespace
}  // namespace squatstream::workers::dns
