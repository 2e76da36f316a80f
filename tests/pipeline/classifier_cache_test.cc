#include "pipeline/classifier_cache.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "permute/domain.h"

namespace squatstream::pipeline {
namespace {

permute::ParsedDomain Parse(const std::string& name) {
  absl::StatusOr<permute::ParsedDomain> d = permute::ParseDomain(name);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

TEST(ClassifierCache, KeepsTheMostRecentlyUsedTargets) {
  ClassifierCache cache(2);
  bool hit = true;
  auto a = cache.Get(Parse("bank.com"), &hit);
  EXPECT_FALSE(hit);
  EXPECT_THAT(a->Classify("bamk.com"), ::testing::Contains(permute::Kind::kReplacement));
  EXPECT_EQ(cache.Get(Parse("BANK.com"), &hit), a);  // the same target, spelt otherwise: the same classifier
  EXPECT_TRUE(hit);
  cache.Get(Parse("shop.net"), &hit);
  EXPECT_FALSE(hit);
  cache.Get(Parse("bank.com"), &hit);  // bank.com is now the most recently used ...
  EXPECT_TRUE(hit);
  cache.Get(Parse("mail.org"), &hit);  // ... so shop.net goes
  EXPECT_FALSE(hit);
  EXPECT_EQ(cache.size(), 2u);
  cache.Get(Parse("bank.com"), &hit);
  EXPECT_TRUE(hit);
  cache.Get(Parse("shop.net"), &hit);
  EXPECT_FALSE(hit);
}

TEST(ClassifierCache, CapacityZeroKeepsNothing) {
  ClassifierCache cache(0);
  bool hit = true;
  auto first = cache.Get(Parse("bank.com"), &hit);
  EXPECT_FALSE(hit);
  auto second = cache.Get(Parse("bank.com"), &hit);
  EXPECT_FALSE(hit);
  EXPECT_NE(first, second);
  EXPECT_EQ(first->size(), second->size());
  EXPECT_EQ(cache.size(), 0u);
}

// Threads asking about a few targets at once: every answer right, never more than the capacity held.
TEST(ClassifierCache, ManyThreadsAFewTargets) {
  ClassifierCache cache(2);
  const std::vector<std::string> targets = {"bank.com", "shop.net", "mail.org"};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(6);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        const std::string& target = targets[static_cast<std::size_t>(t + i) % targets.size()];
        bool hit = false;
        auto c = cache.Get(Parse(target), &hit);
        // Omission of the first letter is always a permutation; the target itself never is.
        if (c->Classify(target.substr(1)).empty() || !c->Classify(target).empty()) ++wrong;
        if (cache.size() > 2) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace squatstream::pipeline
