// The in-process backends of workers/net/shared_limits.h on a clock the test moves: GCRA's burst, its rate
// and its retry_after, costs, the refusals that never fit, leased places (renewal, release, expiry), and
// many threads on one key taking exactly the budget.
#include "workers/net/shared_limits.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "gtest/gtest.h"

namespace squatstream::workers::net {
namespace {

class FakeClock {
 public:
  absl::Time Now() {
    MutexLock lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    MutexLock lock(mu_);
    now_ += d;
  }

 private:
  Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'800'000'000);
};

TEST(LocalRateLimiterTest, BurstOfLimitThenOneEveryInterval) {
  FakeClock clock;
  auto limiter = MakeLocalRateLimiter([&] { return clock.Now(); });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter->Take("registry:a", 3, absl::Seconds(1)).allowed) << i;
  RateDecision refused = limiter->Take("registry:a", 3, absl::Seconds(1));
  EXPECT_FALSE(refused.allowed);
  // 3 per second: the next unit fits one third of a second after the first was taken (rounded up to a ns).
  EXPECT_EQ(refused.retry_after, absl::Nanoseconds(333'333'334));
  clock.Advance(refused.retry_after - absl::Nanoseconds(1));
  EXPECT_FALSE(limiter->Take("registry:a", 3, absl::Seconds(1)).allowed);
  clock.Advance(absl::Nanoseconds(1));
  EXPECT_TRUE(limiter->Take("registry:a", 3, absl::Seconds(1)).allowed);
  EXPECT_FALSE(limiter->Take("registry:a", 3, absl::Seconds(1)).allowed);
  // Another key has its own budget.
  EXPECT_TRUE(limiter->Take("registry:b", 3, absl::Seconds(1)).allowed);
}

TEST(LocalRateLimiterTest, NeverMoreThanTheLimitInAnyWindow) {
  FakeClock clock;
  auto limiter = MakeLocalRateLimiter([&] { return clock.Now(); });
  // One per 1/7 s (a burst of one, as the registry gate asks), tried every 10 ms for 20 s: every 1-s
  // window [t, t+1s) holds at most 7.
  std::vector<absl::Time> taken;
  for (int i = 0; i < 2000; ++i) {
    if (limiter->Take("k", 1, absl::Seconds(1) / 7).allowed) taken.push_back(clock.Now());
    clock.Advance(absl::Milliseconds(10));
  }
  ASSERT_GT(taken.size(), 7u * 19);
  // With a burst of `limit` (7 per 1 s), a window may hold the burst and the next units as they come.
  auto bursty = MakeLocalRateLimiter([&] { return clock.Now(); });
  int first_second = 0;
  for (int i = 0; i < 100; ++i) {
    if (bursty->Take("k", 7, absl::Seconds(1)).allowed) ++first_second;
    clock.Advance(absl::Milliseconds(10));
  }
  EXPECT_EQ(first_second, 7 + 6);
  for (std::size_t i = 0; i + 7 < taken.size(); ++i) {
    EXPECT_GE(taken[i + 7] - taken[i], absl::Seconds(1)) << i;
  }
}

TEST(LocalRateLimiterTest, CostsTakeSeveralUnitsOrNone) {
  FakeClock clock;
  auto limiter = MakeLocalRateLimiter([&] { return clock.Now(); });
  EXPECT_TRUE(limiter->Take("q", 10, absl::Hours(1), 6).allowed);
  RateDecision refused = limiter->Take("q", 10, absl::Hours(1), 5);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, absl::Minutes(6));                // one unit is 6 min; one more unit has to come back
  EXPECT_TRUE(limiter->Take("q", 10, absl::Hours(1), 4).allowed);  // the refusal took nothing
  EXPECT_TRUE(limiter->Take("q", 10, absl::Hours(1), 0).allowed);
}

TEST(LocalRateLimiterTest, WhatNeverFitsIsRefusedForever) {
  auto limiter = MakeLocalRateLimiter();
  for (RateDecision d : {limiter->Take("k", 2, absl::Seconds(1), 3), limiter->Take("k", 0, absl::Seconds(1)),
                         limiter->Take("k", -1, absl::Seconds(1)), limiter->Take("k", 2, absl::ZeroDuration())}) {
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after, absl::InfiniteDuration());
  }
}

TEST(LocalRateLimiterTest, ManyKeysArePrunedAndKeepTheirRules) {
  FakeClock clock;
  auto limiter = MakeLocalRateLimiter([&] { return clock.Now(); });
  for (int i = 0; i < 10'000; ++i)
    ASSERT_TRUE(limiter->Take("banner:" + std::to_string(i), 1, absl::Seconds(1)).allowed);
  EXPECT_FALSE(limiter->Take("banner:9999", 1, absl::Seconds(1)).allowed);
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter->Take("banner:9999", 1, absl::Seconds(1)).allowed);
}

TEST(LocalRateLimiterTest, ThreadsOnOneKeyTakeExactlyTheBurst) {
  auto limiter = MakeLocalRateLimiter();
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter->Take("shared", 100, absl::Hours(1)).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 100);
}

TEST(LocalConcurrencyLimiterTest, PlacesLeasesRenewalAndRelease) {
  FakeClock clock;
  auto limiter = MakeLocalConcurrencyLimiter([&] { return clock.Now(); });
  EXPECT_TRUE(limiter->TryAcquire("registry:a", 2, "r1", absl::Seconds(10)));
  EXPECT_TRUE(limiter->TryAcquire("registry:a", 2, "r2", absl::Seconds(10)));
  EXPECT_FALSE(limiter->TryAcquire("registry:a", 2, "r3", absl::Seconds(10)));
  EXPECT_TRUE(limiter->TryAcquire("registry:b", 2, "r3", absl::Seconds(10)));  // its own places
  limiter->Release("registry:a", "r1");
  limiter->Release("registry:a", "nobody");  // ignored
  limiter->Release("nothing", "r1");         // ignored
  EXPECT_TRUE(limiter->TryAcquire("registry:a", 2, "r3", absl::Seconds(10)));
  EXPECT_FALSE(limiter->TryAcquire("registry:a", 2, "r4", absl::Seconds(10)));
  // r2 renews its lease at 8 s; r3's ends at 10 s and its place is free again.
  clock.Advance(absl::Seconds(8));
  EXPECT_TRUE(limiter->TryAcquire("registry:a", 2, "r2", absl::Seconds(10)));
  clock.Advance(absl::Seconds(2));
  EXPECT_TRUE(limiter->TryAcquire("registry:a", 2, "r4", absl::Seconds(10)));
  EXPECT_FALSE(limiter->TryAcquire("registry:a", 2, "r5", absl::Seconds(10)));
  EXPECT_FALSE(limiter->TryAcquire("registry:a", 0, "r6", absl::Seconds(10)));
}

TEST(LocalConcurrencyLimiterTest, ThreadsNeverHoldMoreThanTheLimit) {
  auto limiter = MakeLocalConcurrencyLimiter();
  std::atomic<int> holding{0};
  std::atomic<int> most{0};
  std::atomic<int> acquired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::string holder = std::to_string(t) + ":" + std::to_string(i);
        if (!limiter->TryAcquire("k", 3, holder, absl::Minutes(1))) continue;
        acquired.fetch_add(1);
        const int now = holding.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        holding.fetch_sub(1);
        limiter->Release("k", holder);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GT(acquired.load(), 0);
}

TEST(UniqueHolderTest, NeverTheSameTwice) {
  const std::string a = UniqueHolder();
  const std::string b = UniqueHolder();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, 17), b.substr(0, 17));  // the same replica id
}

}  // namespace
}  // namespace squatstream::workers::net
