// The cost of one global-limit decision (workers/net/shared_limits.h), in-process against Redis on loopback: one
// RateLimiter::Take (GCRA) and one ConcurrencyLimiter TryAcquire + Release, and a SharedCache Get, per call. The
// Redis runs go through access/redis_limits.h (EVALSHA of the Lua scripts, one connection guarded by a mutex)
// to a redis-server this program starts on a free loopback port (tests/peers/redis_server.h); Threads(2) shows
// the one connection shared by two callers. The in-process numbers are workers/net's MakeLocal* limiters.
// BM_Call*: what access/ costs one stream beside the unauthenticated path, in the same run — the Gatekeeper's
// Admit (the key's hash and lookup in a KeyBook of 100 keys over SQLite, the scope) and AdmitStream (a place
// among the key's streams and its cap reserved from the hourly quota), then the stream's end (the unused
// candidates given back, the place released): with --auth=none, and with a key over the in-process and the
// Redis limiters.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "access/gatekeeper.h"
#include "access/key_admin.h"
#include "access/key_book.h"
#include "access/redis_client.h"
#include "access/redis_limits.h"
#include "prometheus/registry.h"
#include "store/sqlite_store.h"
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

// The keys' store and book of the BM_Call* runs: 100 keys, the one asked in the middle of them.
struct KeysFixture {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<KeyBook> book;
  std::string authorization;
};
KeysFixture* made_keys = nullptr;  // for the cleanup in main: only when a BM_Call* run made them
KeysFixture& Keys() {
  static KeysFixture keys = [] {
    KeysFixture k;
    char dir[] = "/tmp/squatstream-limits-bench-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    k.dir = dir;
    k.store = *store::OpenSqliteStore(k.dir + "/keys.db");
    for (int i = 0; i < 100; ++i) {
      NewKeySpec spec;
      spec.name = "key-" + std::to_string(i);
      spec.scopes = "scan";
      spec.quota_candidates_per_hour = 1'000'000'000'000;
      absl::StatusOr<CreatedKey> created = CreateKey(*k.store, spec, absl::Now());
      if (!created.ok()) std::abort();
      if (i == 50) k.authorization = "Bearer " + created->key;
    }
    k.book = std::make_unique<KeyBook>(k.store.get());
    if (!k.book->Start().ok()) std::abort();
    return k;
  }();
  made_keys = &keys;
  return keys;
}

// One stream's access: admitted, its quotas taken, its end (500 candidates reserved, 300 looked up).
void OneCall(Gatekeeper& gatekeeper, const std::string& authorization) {
  absl::StatusOr<Caller> caller = gatekeeper.Admit(authorization, Scope::kScan, "EnrichDomain");
  if (!caller.ok()) std::abort();
  absl::StatusOr<std::unique_ptr<StreamQuota>> quota = gatekeeper.AdmitStream(*caller, 500);
  if (!quota.ok()) std::abort();
  if (*quota != nullptr) (*quota)->Settle(300);
}

void BM_CallAnonymous(benchmark::State& state) {
  prometheus::Registry registry;
  Gatekeeper gatekeeper(nullptr, QuotaDefaults{}, workers::net::MakeLocalRateLimiter(),
                        workers::net::MakeLocalConcurrencyLimiter(), "bench", registry);
  for (auto _ : state) OneCall(gatekeeper, "");
}
BENCHMARK(BM_CallAnonymous)->UseRealTime();

void BM_CallKeyLocalLimits(benchmark::State& state) {
  prometheus::Registry registry;
  Gatekeeper gatekeeper(Keys().book.get(), QuotaDefaults{}, workers::net::MakeLocalRateLimiter(),
                        workers::net::MakeLocalConcurrencyLimiter(), "bench", registry);
  for (auto _ : state) OneCall(gatekeeper, Keys().authorization);
}
BENCHMARK(BM_CallKeyLocalLimits)->UseRealTime();

void BM_CallKeyRedisLimits(benchmark::State& state) {
  const double errors_before = Metrics().errors->Value();
  prometheus::Registry registry;
  Gatekeeper gatekeeper(Keys().book.get(), QuotaDefaults{}, Limits()->MakeRateLimiter(),
                        Limits()->MakeConcurrencyLimiter(), "bench", registry);
  for (auto _ : state) OneCall(gatekeeper, Keys().authorization);
  CheckNoError(state, errors_before);
}
BENCHMARK(BM_CallKeyRedisLimits)->UseRealTime();

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
  if (made_keys != nullptr) {
    made_keys->book.reset();
    made_keys->store.reset();
    std::filesystem::remove_all(made_keys->dir);
  }
  return 0;
}
