// The cost of one global-limit decision (workers/net/shared_limits.h), in-process against Redis on loopback: one
// RateLimiter::Take (GCRA) and one ConcurrencyLimiter TryAcquire + Release, and a SharedCache Get, per call. The
// Redis runs go through access/redis_limits.h (EVALSHA of the Lua scripts, one connection guarded by a mutex)
// to a redis-server this program starts on a free loopback port (tests/peers/redis_server.h); Threads(2) shows
// the one connection shared by two callers. The in-process numbers are workers/net's MakeLocal* limiters.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>

#include "access/redis_client.h"
#include "access/redis_limits.h"
#include "prometheus/registry.h"
#include "tests/peers/redis_server.h"
#include "workers/net/shared_limits.h"

namespace squatstream::access {
namespace {

std::unique_ptr<testing::RedisServer>& Server() {
  static std::unique_ptr<testing::RedisServer> server;
  return server;
}

std::shared_ptr<RedisLimits>& Limits() {
  static std::shared_ptr<RedisLimits> limits;
  return limits;
}

// Commands that failed (a timeout under load would put the client in its backoff, whose instant answers are not
// Redis's cost): reported per run, and a run with any is marked as an error.
prometheus::Registry& Registry() {
  static prometheus::Registry registry;
  return registry;
}
RedisMetrics& Metrics() {
  static RedisMetrics metrics = RegisterRedisMetrics(Registry());
  return metrics;
}

void CheckNoError(benchmark::State& state, double errors_before) {
  const double errors = Metrics().errors->Value() - errors_before;
  state.counters["redis_errors"] = errors;
  if (errors > 0) state.SkipWithError("some Redis commands failed: the numbers include the fallback's");
}

void BM_LocalTake(benchmark::State& state) {
  static const std::unique_ptr<workers::net::RateLimiter> limiter = workers::net::MakeLocalRateLimiter();
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter->Take("rdap:rdap.example", 1'000'000'000, absl::Seconds(1)));
  }
}
BENCHMARK(BM_LocalTake)->Threads(1)->Threads(2)->UseRealTime();

void BM_LocalAcquireRelease(benchmark::State& state) {
  static const std::unique_ptr<workers::net::ConcurrencyLimiter> limiter = workers::net::MakeLocalConcurrencyLimiter();
  const std::string holder = "holder-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter->TryAcquire("banner:192.0.2.1", 1000, holder, absl::Seconds(30)));
    limiter->Release("banner:192.0.2.1", holder);
  }
}
BENCHMARK(BM_LocalAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();

void BM_RedisTake(benchmark::State& state) {
  const double errors_before = Metrics().errors->Value();
  auto rate = Limits()->MakeRateLimiter();
  for (auto _ : state) {
    benchmark::DoNotOptimize(rate->Take("rdap:rdap.example", 1'000'000'000, absl::Seconds(1)));
  }
  if (state.thread_index() == 0) CheckNoError(state, errors_before);
}
BENCHMARK(BM_RedisTake)->Threads(1)->Threads(2)->UseRealTime();

void BM_RedisAcquireRelease(benchmark::State& state) {
  const double errors_before = Metrics().errors->Value();
  auto concurrency = Limits()->MakeConcurrencyLimiter();
  const std::string holder = "holder-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    benchmark::DoNotOptimize(concurrency->TryAcquire("banner:192.0.2.1", 1000, holder, absl::Seconds(30)));
    concurrency->Release("banner:192.0.2.1", holder);
  }
  if (state.thread_index() == 0) CheckNoError(state, errors_before);
}
BENCHMARK(BM_RedisAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();

void BM_RedisCacheGet(benchmark::State& state) {
  const double errors_before = Metrics().errors->Value();
  auto cache = Limits()->MakeSharedCache();
  cache->Put("rdap:example.com", std::string(1500, 'x'), absl::Minutes(5));  // a registration answer's size
  for (auto _ : state) benchmark::DoNotOptimize(cache->Get("rdap:example.com"));
  if (state.thread_index() == 0) CheckNoError(state, errors_before);
}
BENCHMARK(BM_RedisCacheGet)->Threads(1)->UseRealTime();

}  // namespace
}  // namespace squatstream::access

int main(int argc, char** argv) {
  using namespace squatstream::access;  // NOLINT(google-build-using-namespace): main only
  benchmark::Initialize(&argc, argv);
  std::string error;
  Server() = squatstream::testing::RedisServer::Start(&error);
  if (Server() == nullptr) {
    std::fprintf(stderr, "limits_bench: %s\n", error.c_str());
    return 1;
  }
  RedisOptions options;
  if (!ParseRedisAddress(Server()->address(), options).ok()) return 1;
  options.timeout = absl::Seconds(1);  // the 50-ms default can pass on 2 shared cores: measure Redis, not backoff
  Limits() = RedisLimits::Create(std::make_unique<RedisClient>(options, Metrics()), RedisLimitsOptions{},
                                 squatstream::workers::net::MakeLocalRateLimiter(),
                                 squatstream::workers::net::MakeLocalConcurrencyLimiter(), Metrics());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  Limits().reset();
  Server().reset();
  return 0;
}
