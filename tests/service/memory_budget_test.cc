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
  const std::size_t typical_generation =
      MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, MemoryBudget::kBytesPerDomain).total();
  const std::size_t big_generation =
      MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, 32 * MemoryBudget::kBytesPerDomain).total();
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

// A stream whose generation ended gives back its running Generator's share while it goes on (its client may
// read slowly for minutes): another stream that did not fit before fits then.
TEST(MemoryBudget, AGenerationThatEndedGivesItsShareBackWhileTheStreamGoesOn) {
  const MemoryBudget::Generation generation =
      MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, MemoryBudget::kBytesPerDomain);
  // Room for three typical streams' reserves, and a big buffer's worth more.
  const std::size_t reserve = MemoryBudget::TypicalNeed(10000);
  MemoryBudget budget((3 * reserve + 8192) * MemoryBudget::kBytesPerSlot, 3, 10000);
  const MemoryBudget::Grant big = budget.Take(generation.total(), 16384);
  ASSERT_EQ(big.buffer, 8192u + MemoryBudget::kMinGrant);  // what is left beyond two reserves
  const MemoryBudget::Grant second = budget.Take(generation.total(), 16384);
  ASSERT_EQ(second.buffer, MemoryBudget::kMinGrant);
  EXPECT_EQ(budget.Take(generation.total(), 16384).buffer, MemoryBudget::kMinGrant);  // the last reserve
  budget.Release(second.total);
  budget.Return(big.total, generation.running);  // the big one's generation ended
  const MemoryBudget::Grant more = budget.Take(generation.total(), 16384);
  EXPECT_EQ(more.buffer, generation.running + MemoryBudget::kMinGrant);
  budget.Release(big.total - generation.running);
  budget.Release(more.total);
}

// A stream that gave its generation's share back stays charged its reserve: when it ends, its place is one a
// typical stream must find room in again. (Charged only what it held, the share it gave back went to other
// streams' buffers, and once it ended the next typical stream was refused below the stream limit: 360 of 600
// ghz streams at 200 of 256.)
TEST(MemoryBudget, AStreamThatGaveItsGenerationBackStillLeavesItsReserveWhenItEnds) {
  const MemoryBudget::Generation generation =
      MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, MemoryBudget::kBytesPerDomain);
  const std::size_t reserve = MemoryBudget::TypicalNeed(10000);
  MemoryBudget budget(3 * reserve * MemoryBudget::kBytesPerSlot, 3, 10000);
  const MemoryBudget::Grant first = budget.Take(generation.total(), 500);
  ASSERT_EQ(first.total, reserve);
  budget.Return(first.total, generation.running);  // its generation ended; it goes on
  const MemoryBudget::Grant second = budget.Take(generation.total(), 500);
  const MemoryBudget::Grant third = budget.Take(generation.total(), 500);
  ASSERT_GT(second.buffer, 0u);
  ASSERT_GT(third.buffer, 0u);
  budget.Release(first.total - generation.running);  // the first one ends
  const MemoryBudget::Grant fourth = budget.Take(generation.total(), 500);
  EXPECT_GE(fourth.buffer, MemoryBudget::kMinGrant);
  budget.Release(second.total);
  budget.Release(third.total);
  budget.Release(fourth.total);
}

}  // namespace
}  // namespace squatstream::service
