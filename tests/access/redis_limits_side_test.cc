// daemon/limits_side.h: which backend the flags choose, the flags refused (and only those: Redis down at start is a
// start in fallback, said in one line), the metrics registered, the heartbeat thread stopped; against a real
// redis-server on loopback (tests/peers/redis_server.h) that requires a password.
#include <fstream>
#include <memory>
#include <string>

#include "daemon/limits_side.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/peers/redis_server.h"
#include "tests/watch/wait_for.h"

namespace squatstream::daemon {
namespace {

using squatstream::watch::testing::WaitFor;

// The value of the one gauge named `name` in `registry`; -1 when there is none.
double Gauge(prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == name && !family.metric.empty()) return family.metric[0].gauge.value;
  }
  return -1;
}

std::string WriteFile(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path);
  out << contents;
  return path;
}

TEST(LimitsSideTest, WithoutRedisTheLimitsAreInProcess) {
  prometheus::Registry registry;
  absl::StatusOr<std::unique_ptr<LimitsSide>> side = LimitsSide::Start(LimitsOptions{}, registry);
  ASSERT_TRUE(side.ok()) << side.status();
  EXPECT_FALSE((*side)->global());
  EXPECT_EQ((*side)->shared_cache(), nullptr);
  EXPECT_TRUE((*side)->rate_limiter()->Take("k", 1, absl::Seconds(60), 1).allowed);
  EXPECT_FALSE((*side)->rate_limiter()->Take("k", 1, absl::Seconds(60), 1).allowed);
  EXPECT_TRUE((*side)->concurrency_limiter()->TryAcquire("k", 1, "h", absl::Seconds(10)));
  EXPECT_EQ(Gauge(registry, "squatstream_global_limits_fallback"), -1);  // no Redis, no Redis metrics
  EXPECT_EQ((*side)->stage_limits().rate, nullptr);                      // the stages keep their own bookkeeping
}

TEST(LimitsSideTest, BadFlagsStopTheStart) {
  prometheus::Registry registry;
  const std::string password_file = WriteFile("side-password", "side-secret-31d7\n");
  struct Case {
    LimitsOptions options;
    std::string names;
  };
  std::vector<Case> cases(6);
  cases[0].options.redis_address = "redis";
  cases[0].names = "--redis_address";
  cases[1].options.redis_address = "127.0.0.1:99999";
  cases[1].names = "--redis_address";
  cases[2].options.redis_address = "127.0.0.1:6379";
  cases[2].options.redis_password_file = "/nonexistent/redis-password";
  cases[2].names = "--redis_password_file";
  cases[3].options.redis_password_file = password_file;
  cases[3].names = "--redis_password_file";
  cases[4].options.redis_address = "127.0.0.1:6379";
  cases[4].options.redis_timeout = absl::ZeroDuration();
  cases[4].names = "--redis_timeout";
  cases[5].options.redis_address = "127.0.0.1:6379";
  cases[5].options.redis_fallback_replicas = -1;
  cases[5].names = "--redis_fallback_replicas";
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<LimitsSide>> side = LimitsSide::Start(c.options, registry);
    ASSERT_FALSE(side.ok()) << c.names;
    EXPECT_EQ(side.status().code(), absl::StatusCode::kInvalidArgument) << c.names;
    EXPECT_NE(side.status().message().find(c.names), std::string::npos) << side.status();
    EXPECT_EQ(side.status().message().find("side-secret-31d7"), std::string::npos) << side.status();
  }
}

TEST(LimitsSideTest, RedisDownAtStartIsAStartInFallback) {
  std::string error;
  auto server = testing::RedisServer::Start(&error);  // for a free port: stopped at once, nothing listens there
  ASSERT_NE(server, nullptr) << error;
  const std::string address = server->address();
  server->Kill();
  prometheus::Registry registry;
  LimitsOptions options;
  options.redis_address = address;
  options.redis_fallback_replicas = 3;
  ::testing::internal::CaptureStderr();
  absl::StatusOr<std::unique_ptr<LimitsSide>> side = LimitsSide::Start(options, registry);
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(side.ok()) << side.status();
  EXPECT_TRUE((*side)->global());
  EXPECT_NE(said.find("global limits start in fallback"), std::string::npos) << said;
  EXPECT_NE(said.find(address), std::string::npos) << said;
  EXPECT_EQ(Gauge(registry, "squatstream_global_limits_fallback"), 1);
  EXPECT_EQ(Gauge(registry, "squatstream_redis_up"), 0);
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += (*side)->rate_limiter()->Take("k", 9, absl::Seconds(60), 1).allowed ? 1 : 0;
  EXPECT_EQ(taken, 3);  // 9 / --redis_fallback_replicas
  EXPECT_EQ((*side)->shared_cache()->Get("k"), std::nullopt);
  (*side)->Stop();
  (*side)->Stop();  // idempotent
}

TEST(LimitsSideTest, RedisWithPassword) {
  const std::string password = "side-redis-pass-8b0e";
  std::string error;
  auto server = testing::RedisServer::Start(&error, password);
  ASSERT_NE(server, nullptr) << error;
  prometheus::Registry registry;
  LimitsOptions options;
  options.redis_address = server->address();
  options.redis_password_file = WriteFile("redis-password", password + "\n");
  ::testing::internal::CaptureStderr();
  absl::StatusOr<std::unique_ptr<LimitsSide>> side = LimitsSide::Start(options, registry);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(side.ok()) << side.status();
  EXPECT_EQ(Gauge(registry, "squatstream_redis_up"), 1);
  EXPECT_EQ(Gauge(registry, "squatstream_global_limits_fallback"), 0);
  EXPECT_TRUE((*side)->rate_limiter()->Take("k", 1, absl::Seconds(60), 1).allowed);
  EXPECT_FALSE((*side)->rate_limiter()->Take("k", 1, absl::Seconds(60), 1).allowed);
  (*side)->shared_cache()->Put("k", "v", absl::Seconds(10));
  EXPECT_EQ((*side)->shared_cache()->Get("k"), "v");
  const workers::net::SharedLimits stages = (*side)->stage_limits();
  EXPECT_EQ(stages.rate, (*side)->rate_limiter());
  EXPECT_EQ(stages.concurrency, (*side)->concurrency_limiter());
  EXPECT_EQ(stages.cache, (*side)->shared_cache());

  // A wrong password: the start goes on in fallback; the line names the file, never a password.
  const std::string wrong = "side-wrong-pass-44aa";
  options.redis_password_file = WriteFile("wrong-password", wrong + "\n");
  prometheus::Registry other;
  ::testing::internal::CaptureStderr();
  absl::StatusOr<std::unique_ptr<LimitsSide>> refused = LimitsSide::Start(options, other);
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_NE(said.find("--redis_password_file"), std::string::npos) << said;
  EXPECT_EQ(said.find(wrong), std::string::npos) << said;
  EXPECT_EQ(said.find(password), std::string::npos) << said;
  EXPECT_EQ(Gauge(other, "squatstream_global_limits_fallback"), 1);
}

}  // namespace
}  // namespace squatstream::daemon
