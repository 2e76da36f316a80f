#include "service/memory_budget.h"

#include <vector>

#include "gtest/gtest.h"

namespace squatstream::service {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// Up to the stream limit, typical streams (the default cap) are always admitted, however many big ones came
// first; the slots granted never exceed the budget; a big stream that does not fit is refused, and fits
// again once others gave theirs back.
TEST(MemoryBudget, TypicalStreamsAlwaysFitAndTheTotalNeverExceedsTheBudget) {
  MemoryBudget budget(512 * kMiB, 64, 10000);
  const std::size_t typical_generation = MemoryBudget::GenerationSlots(10000);
  const std::size_t big_generation = MemoryBudget::GenerationSlots(25000);
  std::vector<std::size_t> granted;
  std::size_t total = 0;
  int big_admitted = 0;
  for (int i = 0; i < 10; ++i) {  // big streams first, while they fit
    const MemoryBudget::Grant g = budget.Take(big_generation, 16384);
    if (g.buffer == 0) break;
    ++big_admitted;
    granted.push_back(g.total);
    total += g.total;
  }
  EXPECT_GE(big_admitted, 1);
  EXPECT_EQ(budget.Take(big_generation, 16384).buffer, 0u);  // no room left beyond the reserves
  for (int i = big_admitted; i < 64; ++i) {
    const MemoryBudget::Grant g = budget.Take(typical_generation, 10000);
    ASSERT_GE(g.buffer, MemoryBudget::kMinGrant) << "stream " << i;
    granted.push_back(g.total);
    total += g.total;
  }
  EXPECT_LE(total, budget.slots());
  EXPECT_EQ(budget.Take(1, 1).buffer, 0u);  // the stream limit
  for (std::size_t g : granted) budget.Release(g);
  EXPECT_GT(budget.Take(big_generation, 16384).buffer, 0u);
}

}  // namespace
}  // namespace squatstream::service
