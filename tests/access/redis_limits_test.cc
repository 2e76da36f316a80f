// The Redis backend of the shared limits against a real redis-server on loopback (tests/peers/redis_server.h):
// GCRA's burst and retry_after, its rate over real periods, cost above the limit, three replicas sharing one
// limit, leased places (renewal, expiry), the cache, Redis killed mid-run (each replica's share, the fallback
// gauge) and started again (global again), a refused password (no secret in the message), and the flags' parsers.
#include "access/redis_limits.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "access/redis_client.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/peers/redis_server.h"
#include "tests/watch/wait_for.h"
#include "workers/net/shared_limits.h"

namespace squatstream::access {
namespace {

using squatstream::testing::RedisServer;
using squatstream::watch::testing::WaitFor;

std::unique_ptr<RedisClient> Client(const RedisServer& server, const std::string& password = "",
                                    RedisMetrics metrics = {}) {
  RedisOptions options;
  EXPECT_TRUE(ParseRedisAddress(server.address(), options).ok());
  options.password = password;
  // Generous (the default is 50 ms): a timeout on a loaded machine would put a replica in fallback mid-test. A
  // killed server is refused at once, not timed out.
  options.timeout = absl::Seconds(1);
  return std::make_unique<RedisClient>(options, metrics);
}

std::shared_ptr<RedisLimits> Replica(const RedisServer& server, const std::string& id, RedisMetrics metrics = {},
                                     int fallback_replicas = 0) {
  RedisLimitsOptions options;
  options.replica_id = id;
  options.fallback_replicas = fallback_replicas;
  return RedisLimits::Create(Client(server, "", metrics), options, workers::net::MakeLocalRateLimiter(),
                             workers::net::MakeLocalConcurrencyLimiter(), metrics);
}

class RedisLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = RedisServer::Start(&error);
    ASSERT_NE(server_, nullptr) << error;
  }
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisLimitsTest, BurstOfLimitThenRefusedWithRetryAfter) {
  auto limits = Replica(*server_, "r1");
  auto rate = limits->MakeRateLimiter();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rate->Take("burst", 5, absl::Seconds(1)).allowed) << i;
  const absl::Duration spent = absl::FromChrono(std::chrono::steady_clock::now() - start);
  workers::net::RateDecision refused = rate->Take("burst", 5, absl::Seconds(1));
  EXPECT_FALSE(refused.allowed);
  // One unit comes back every period/limit = 200 ms after the burst began.
  EXPECT_LE(refused.retry_after, absl::Milliseconds(200));
  EXPECT_GE(refused.retry_after, absl::Milliseconds(200) - spent - absl::Milliseconds(5));
  // A cost of 2 needs two emission intervals.
  workers::net::RateDecision two = rate->Take("burst", 5, absl::Seconds(1), 2);
  EXPECT_FALSE(two.allowed);
  EXPECT_GT(two.retry_after, refused.retry_after);
  EXPECT_FALSE(limits->falling_back());
}

TEST_F(RedisLimitsTest, CostAboveLimitNeverFitsAndTakesNothing) {
  auto limits = Replica(*server_, "r1");
  auto rate = limits->MakeRateLimiter();
  workers::net::RateDecision d = rate->Take("big", 3, absl::Seconds(1), 4);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::InfiniteDuration());
  EXPECT_TRUE(rate->Take("big", 3, absl::Seconds(1), 3).allowed);  // the whole budget was still there
}

TEST_F(RedisLimitsTest, NegativeCostGivesUnitsBack) {
  auto limits = Replica(*server_, "r1");
  auto rate = limits->MakeRateLimiter();
  EXPECT_TRUE(rate->Take("refund", 2, absl::Seconds(10), 2).allowed);
  EXPECT_FALSE(rate->Take("refund", 2, absl::Seconds(10)).allowed);
  EXPECT_TRUE(rate->Take("refund", 2, absl::Seconds(10), -1).allowed);
  EXPECT_TRUE(rate->Take("refund", 2, absl::Seconds(10)).allowed);
  EXPECT_FALSE(rate->Take("refund", 2, absl::Seconds(10)).allowed);
}

// Counts what `replicas` threads (one limiter object each) take of one limit of 10 per 200 ms in ~1 s of real
// time: at most the burst plus the rate over the time elapsed.
void ExpectRateHeld(const std::vector<std::shared_ptr<RedisLimits>>& replicas, const std::string& key) {
  constexpr int kLimit = 10;
  const absl::Duration period = absl::Milliseconds(200);
  std::atomic<int> taken{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(1000);
  std::vector<std::thread> threads;
  threads.reserve(replicas.size());
  for (const auto& replica : replicas) {
    threads.emplace_back([&, replica] {
      auto rate = replica->MakeRateLimiter();
      for (int i = 0; i < 20000 && std::chrono::steady_clock::now() < end; ++i) {
        if (rate->Take(key, kLimit, period).allowed) taken.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double periods = absl::FDivDuration(absl::FromChrono(std::chrono::steady_clock::now() - start), period);
  EXPECT_LE(taken.load(), kLimit + static_cast<int>(kLimit * periods) + 1);
  EXPECT_GE(taken.load(), static_cast<int>(kLimit * periods * 0.8));  // and the limit is reached, not starved
}

TEST_F(RedisLimitsTest, RateHeldOverRealPeriods) { ExpectRateHeld({Replica(*server_, "r1")}, "periods"); }

TEST_F(RedisLimitsTest, ThreeReplicasShareOneLimit) {
  ExpectRateHeld({Replica(*server_, "r1"), Replica(*server_, "r2"), Replica(*server_, "r3")}, "shared");
}

TEST_F(RedisLimitsTest, LeasedPlaces) {
  auto a = Replica(*server_, "r1");
  auto b = Replica(*server_, "r2");
  auto ca = a->MakeConcurrencyLimiter();
  auto cb = b->MakeConcurrencyLimiter();
  EXPECT_TRUE(ca->TryAcquire("places", 2, "h1", absl::Seconds(30)));
  EXPECT_TRUE(cb->TryAcquire("places", 2, "h2", absl::Seconds(30)));
  EXPECT_FALSE(cb->TryAcquire("places", 2, "h3", absl::Seconds(30)));
  EXPECT_TRUE(ca->TryAcquire("places", 2, "h1", absl::Seconds(30)));  // renewal
  ca->Release("places", "h1");
  ca->Release("places", "nobody");  // ignored
  EXPECT_TRUE(cb->TryAcquire("places", 2, "h3", absl::Seconds(30)));
  // A holder that never releases (its replica died) is freed when its lease ends.
  EXPECT_TRUE(ca->TryAcquire("lease", 1, "dead", absl::Milliseconds(300)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cb->TryAcquire("lease", 1, "alive", absl::Seconds(30)));
  EXPECT_TRUE(WaitFor([&] { return cb->TryAcquire("lease", 1, "alive", absl::Seconds(30)); }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
}

TEST_F(RedisLimitsTest, SharedCache) {
  auto a = Replica(*server_, "r1");
  auto b = Replica(*server_, "r2");
  auto put = a->MakeSharedCache();
  auto get = b->MakeSharedCache();
  EXPECT_EQ(get->Get("rdap:example.com"), std::nullopt);
  const std::string value("bytes\0with a zero", 17);
  put->Put("rdap:example.com", value, absl::Milliseconds(400));
  EXPECT_EQ(get->Get("rdap:example.com"), value);  // another replica reads it
  EXPECT_TRUE(WaitFor([&] { return !get->Get("rdap:example.com").has_value(); }, std::chrono::seconds(5)));
}

TEST_F(RedisLimitsTest, HeartbeatsCountReplicas) {
  auto a = Replica(*server_, "r1");
  auto b = Replica(*server_, "r2");
  auto c = Replica(*server_, "r3");
  EXPECT_TRUE(a->Heartbeat());
  EXPECT_TRUE(b->Heartbeat());
  EXPECT_TRUE(c->Start());
  EXPECT_EQ(c->replicas_seen(), 3);
  EXPECT_TRUE(a->Heartbeat());
  EXPECT_EQ(a->replicas_seen(), 3);
  c->Stop();  // leaves the set
  EXPECT_TRUE(a->Heartbeat());
  EXPECT_EQ(a->replicas_seen(), 2);
}

TEST_F(RedisLimitsTest, RedisKilledThenBack) {
  prometheus::Registry registry;
  const RedisMetrics metrics = RegisterRedisMetrics(registry);
  std::vector<std::shared_ptr<RedisLimits>> replicas = {Replica(*server_, "r1", metrics), Replica(*server_, "r2"),
                                                        Replica(*server_, "r3")};
  for (auto& r : replicas) ASSERT_TRUE(r->Heartbeat());
  for (auto& r : replicas) ASSERT_TRUE(r->Heartbeat());
  for (auto& r : replicas) EXPECT_EQ(r->replicas_seen(), 3);
  EXPECT_EQ(metrics.up->Value(), 1);
  EXPECT_EQ(metrics.fallback->Value(), 0);

  server_->Kill();
  // Each replica takes at most its share (9 / 3) of a limit whose period is long enough that nothing refills.
  int total = 0;
  int places = 0;
  for (auto& r : replicas) {
    auto rate = r->MakeRateLimiter();
    auto concurrency = r->MakeConcurrencyLimiter();
    int taken = 0;
    for (int i = 0; i < 20; ++i) taken += rate->Take("killed", 9, absl::Seconds(60)).allowed ? 1 : 0;
    EXPECT_EQ(taken, 3);
    int held = 0;
    for (int i = 0; i < 10; ++i) {
      held += concurrency->TryAcquire("killed", 6, "h" + std::to_string(i), absl::Seconds(60)) ? 1 : 0;
    }
    EXPECT_EQ(held, 2);
    total += taken;
    places += held;
    EXPECT_TRUE(r->falling_back());
    EXPECT_EQ(r->MakeSharedCache()->Get("anything"), std::nullopt);
  }
  EXPECT_LE(total, 9);
  EXPECT_LE(places, 6);
  EXPECT_EQ(metrics.fallback->Value(), 1);
  EXPECT_EQ(metrics.up->Value(), 0);
  EXPECT_GE(metrics.errors->Value(), 1);

  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  // Each replica asks Redis again once its backoff (1 s) passed: global again, the gauge back to 0.
  for (auto& r : replicas) {
    EXPECT_TRUE(WaitFor([&] { return r->Heartbeat() && !r->falling_back(); }, std::chrono::seconds(10)));
  }
  EXPECT_EQ(metrics.fallback->Value(), 0);
  EXPECT_EQ(metrics.up->Value(), 1);
  int after = 0;
  for (auto& r : replicas) {
    auto rate = r->MakeRateLimiter();
    for (int i = 0; i < 10; ++i) after += rate->Take("back", 9, absl::Seconds(60)).allowed ? 1 : 0;
  }
  EXPECT_EQ(after, 9);  // the whole limit, shared: the first replica took all of it
}

TEST_F(RedisLimitsTest, FallbackReplicasFlagWins) {
  auto r = Replica(*server_, "r1", {}, /*fallback_replicas=*/4);
  ASSERT_TRUE(r->Heartbeat());
  EXPECT_EQ(r->fallback_divisor(), 4);
  server_->Kill();
  auto rate = r->MakeRateLimiter();
  int taken = 0;
  for (int i = 0; i < 20; ++i) taken += rate->Take("flag", 8, absl::Seconds(60)).allowed ? 1 : 0;
  EXPECT_EQ(taken, 2);
  // Fewer units than replicas: one unit per n·period/limit, a burst of one.
  int small = 0;
  for (int i = 0; i < 5; ++i) small += rate->Take("small", 2, absl::Seconds(60)).allowed ? 1 : 0;
  EXPECT_EQ(small, 1);
  // A share of places below one: none on this replica while Redis is away.
  EXPECT_FALSE(r->MakeConcurrencyLimiter()->TryAcquire("few", 3, "h", absl::Seconds(10)));
}

TEST(RedisClientTest, PasswordRequiredRightAndWrong) {
  const std::string password = "s3cret-Redis-pass-5f2a";
  std::string error;
  auto server = RedisServer::Start(&error, password);
  ASSERT_NE(server, nullptr) << error;

  auto right = Client(*server, password);
  absl::StatusOr<RedisValue> pong = right->Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");

  const std::string wrong_password = "wrong-pass-9c1e";
  auto wrong = Client(*server, wrong_password);
  absl::StatusOr<RedisValue> refused = wrong->Command({"PING"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("--redis_password_file"), std::string::npos);
  EXPECT_EQ(refused.status().message().find(wrong_password), std::string::npos);
  EXPECT_EQ(refused.status().message().find(password), std::string::npos);
  EXPECT_FALSE(wrong->up());

  auto none = Client(*server);
  absl::StatusOr<RedisValue> noauth = none->Command({"PING"});
  ASSERT_FALSE(noauth.ok());
  EXPECT_EQ(noauth.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(noauth.status().message().find(password), std::string::npos);
}

TEST(RedisClientTest, ScriptLoadedAgainAfterRestart) {
  std::string error;
  auto server = RedisServer::Start(&error);
  ASSERT_NE(server, nullptr) << error;
  RedisOptions options;
  ASSERT_TRUE(ParseRedisAddress(server->address(), options).ok());
  options.retry_min = absl::Milliseconds(1);  // no wait after the restart
  options.retry_max = absl::Milliseconds(1);
  RedisClient client(options, {});
  const RedisScript script{"return tonumber(ARGV[1]) + 1"};
  absl::StatusOr<RedisValue> two = client.Eval(script, {}, {"1"});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->integer, 2);
  ASSERT_TRUE(server->Restart(&error)) << error;  // the new server knows no script: NOSCRIPT, then loaded
  absl::StatusOr<RedisValue> three;
  EXPECT_TRUE(WaitFor(
      [&] {
        three = client.Eval(script, {}, {"2"});
        return three.ok();
      },
      std::chrono::seconds(5)));
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->integer, 3);
}

TEST(RedisClientTest, UnreachableIsUnavailableAndCheapInBackoff) {
  RedisOptions options;
  ASSERT_TRUE(ParseRedisAddress("127.0.0.1:1", options).ok());
  RedisClient client(options, {});
  absl::StatusOr<RedisValue> first = client.Command({"PING"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(first.status().message().find("127.0.0.1:1"), std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(client.Command({"PING"}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

TEST(RedisClientTest, AddressesAndPasswordFiles) {
  RedisOptions options;
  EXPECT_TRUE(ParseRedisAddress("redis.internal:6380", options).ok());
  EXPECT_EQ(options.host, "redis.internal");
  EXPECT_EQ(options.port, 6380);
  EXPECT_TRUE(ParseRedisAddress("[::1]:6379", options).ok());
  EXPECT_EQ(options.host, "::1");
  for (const char* bad : {"", "redis", "redis:", ":6379", "redis:0", "redis:70000", "redis:x", "::1:6379", "[::1]"}) {
    absl::Status s = ParseRedisAddress(bad, options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("--redis_address"), std::string::npos) << bad;
  }
  absl::StatusOr<std::string> missing = ReadRedisPasswordFile("/nonexistent/redis-password");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string path = ::testing::TempDir() + "/redis-password";
  {
    std::ofstream out(path);
    out << "pass-from-file-77\n";
  }
  absl::StatusOr<std::string> read = ReadRedisPasswordFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "pass-from-file-77");
}

}  // namespace
}  // namespace squatstream::access
