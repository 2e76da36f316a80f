#include "fanin/fan_in_buffer.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace squatstream::fanin {
namespace {

// Waits (bounded) until pred() holds; returns whether it did.
template <typename Pred>
bool WaitFor(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Many producer threads, one consumer: every item arrives exactly once, each producer's items in order,
// and the buffer never holds more than its bound. Run with drains that take everything (a swap) and with
// drains of 7 at most (a swap into the consumer's side vector, then slices of it); producers push one item
// at a time (Push) or hand over batches (PushAll) of 1 to `largest_batch` items, the largest above the
// bound so that some go in pieces.
struct StressCase {
  std::size_t max_items;
  std::size_t largest_batch;  // 0: Push, one item at a time
};

class FanInBufferStress : public ::testing::TestWithParam<StressCase> {};

TEST_P(FanInBufferStress, ManyProducersEveryItemExactlyOnceInOrderWithinBound) {
  const auto [max_items, largest_batch] = GetParam();
  constexpr int kProducers = 16;
  constexpr int kPerProducer = 20000;
  constexpr std::size_t kCapacity = 256;
  FanInBuffer<std::uint64_t> buffer(kCapacity);
  std::vector<std::thread> producers;
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&buffer, p, largest_batch = largest_batch] {
      std::vector<std::uint64_t> staged;
      std::size_t batch = 1 + static_cast<std::size_t>(p);  // sizes vary by producer and by batch
      for (int s = 0; s < kPerProducer; ++s) {
        const std::uint64_t item = (static_cast<std::uint64_t>(p) << 32) | static_cast<std::uint64_t>(s);
        if (largest_batch == 0) {
          ASSERT_TRUE(buffer.Push(item));
          continue;
        }
        staged.push_back(item);
        if (staged.size() >= batch || s + 1 == kPerProducer) {
          ASSERT_TRUE(buffer.PushAll(&staged));
          ASSERT_TRUE(staged.empty());
          batch = 1 + (batch * 7 + 3) % largest_batch;
        }
      }
    });
  }
  std::thread closer([&] {
    for (auto& t : producers) t.join();
    buffer.Close();
  });
  std::vector<int> next(kProducers, 0);
  std::vector<std::uint64_t> batch;
  std::uint64_t received = 0;
  for (;;) {
    auto r = buffer.Drain(&batch, max_items);
    EXPECT_LE(r.depth_before, kCapacity);
    EXPECT_LE(r.taken, max_items);
    for (std::uint64_t v : batch) {
      const auto p = static_cast<std::size_t>(v >> 32);
      ASSERT_LT(p, static_cast<std::size_t>(kProducers));
      ASSERT_EQ(static_cast<int>(v & 0xffffffffu), next[p]) << "producer " << p << " out of order or duplicated";
      ++next[p];
    }
    received += r.taken;
    if (r.finished) break;
    if (r.taken == 0) std::this_thread::yield();
  }
  closer.join();
  EXPECT_EQ(received, static_cast<std::uint64_t>(kProducers) * kPerProducer);
  for (int n : next) EXPECT_EQ(n, kPerProducer);
}

INSTANTIATE_TEST_SUITE_P(DrainAndPushSizes, FanInBufferStress,
                         ::testing::Values(StressCase{100000, 0}, StressCase{7, 0}, StressCase{100000, 300},
                                           StressCase{7, 300}),
                         [](const ::testing::TestParamInfo<StressCase>& c) {
                           return "Drain" + std::to_string(c.param.max_items) +
                                  (c.param.largest_batch == 0 ? std::string("Push")
                                                              : "PushAll" + std::to_string(c.param.largest_batch));
                         });

// The depth observer's deltas sum to the items held at every step (pushes of every kind, full and partial
// drains, a cancel, and the destructor), so a gauge fed by it reads what a stalled consumer holds.
TEST(FanInBuffer, DepthObserverSumsToTheItemsHeld) {
  std::atomic<double> depth{0};
  {
    FanInBuffer<int> b(100);
    b.SetDepthObserver([&](double d, double) { depth.fetch_add(d); });
    auto held = [&] { return static_cast<double>(b.size()); };
    ASSERT_TRUE(b.Push(1));
    std::vector<int> batch = {2, 3, 4};
    ASSERT_TRUE(b.PushAll(&batch));
    ASSERT_TRUE(b.TryReserve());
    ASSERT_TRUE(b.PushReserved(5));
    ASSERT_TRUE(b.TryReserve() && b.TryReserve());
    std::vector<int> reserved = {6, 7};
    ASSERT_TRUE(b.PushReservedAll(&reserved));
    EXPECT_EQ(depth.load(), 7);  // nobody drained: all of them count
    EXPECT_EQ(depth.load(), held());
    std::vector<int> out;
    b.Drain(&out, 3);  // a partial drain: the rest stays held in the consumer-side vector
    EXPECT_EQ(depth.load(), 4);
    EXPECT_EQ(depth.load(), held());
    b.Drain(&out, 1);
    EXPECT_EQ(depth.load(), held());
    b.Cancel();  // discards what is held
    EXPECT_EQ(depth.load(), 0);
    EXPECT_FALSE(b.Push(8));  // refused pushes do not count
    EXPECT_EQ(depth.load(), 0);
  }
  {
    FanInBuffer<int> b(10);
    b.SetDepthObserver([&](double d, double) { depth.fetch_add(d); });
    ASSERT_TRUE(b.Push(1) && b.Push(2));
    EXPECT_EQ(depth.load(), 2);
  }  // destroyed while holding two
  EXPECT_EQ(depth.load(), 0);
}

TEST(FanInBuffer, PushAllAboveTheFreeSpaceGoesInPiecesAsDrainsFreeIt) {
  FanInBuffer<int> buffer(3);
  ASSERT_TRUE(buffer.Push(0));
  std::vector<int> items = {1, 2, 3, 4, 5, 6};
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(buffer.PushAll(&items));
    pushed = true;
  });
  std::vector<int> got, batch;
  EXPECT_TRUE(WaitFor([&] {
    buffer.Drain(&batch, 10);
    EXPECT_LE(batch.size(), 3u);  // never more than the bound
    got.insert(got.end(), batch.begin(), batch.end());
    return got.size() == 7;
  }));
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_TRUE(items.empty());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(FanInBuffer, PushAllFailsOnceClosedOrCancelled) {
  FanInBuffer<int> buffer(4);
  std::vector<int> items = {1, 2};
  ASSERT_TRUE(buffer.PushAll(&items));
  buffer.Close();
  items = {3};
  EXPECT_FALSE(buffer.PushAll(&items));
  EXPECT_TRUE(items.empty());  // dropped
  std::vector<int> batch;
  buffer.Drain(&batch, 10);
  EXPECT_EQ(batch, (std::vector<int>{1, 2}));

  FanInBuffer<int> full(1);
  ASSERT_TRUE(full.Push(0));
  std::atomic<int> result{-1};
  std::thread producer([&] {
    std::vector<int> more = {1, 2};
    result = full.PushAll(&more) ? 1 : 0;  // waits: the buffer is full
  });
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  full.Cancel();
  producer.join();
  EXPECT_EQ(result.load(), 0);
}

TEST(FanInBuffer, PushBlocksAtTheBoundUntilADrain) {
  FanInBuffer<int> buffer(2);
  ASSERT_TRUE(buffer.Push(1));
  ASSERT_TRUE(buffer.Push(2));
  std::atomic<bool> third_pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(buffer.Push(3));
    third_pushed = true;
  });
  // The producer cannot finish while the buffer is full; give it ample chance to (wrongly) get through.
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_FALSE(third_pushed.load());
  EXPECT_EQ(buffer.size(), 2u);
  std::vector<int> batch;
  EXPECT_EQ(buffer.Drain(&batch, 10).taken, 2u);
  EXPECT_TRUE(WaitFor([&] { return third_pushed.load(); }));
  producer.join();
  EXPECT_EQ(buffer.Drain(&batch, 10).taken, 1u);
  EXPECT_EQ(batch, std::vector<int>{3});
}

TEST(FanInBuffer, DrainTakesAtMostMaxOldestFirst) {
  FanInBuffer<int> buffer(10);
  for (int i = 0; i < 5; ++i) buffer.Push(i);
  std::vector<int> batch;
  auto r = buffer.Drain(&batch, 3);
  EXPECT_EQ(r.taken, 3u);
  EXPECT_EQ(r.depth_before, 5u);
  EXPECT_EQ(batch, (std::vector<int>{0, 1, 2}));
  buffer.Drain(&batch, 3);
  EXPECT_EQ(batch, (std::vector<int>{3, 4}));
}

// A partial drain swaps everything out at once; what it did not take still counts towards the bound, and
// comes out before anything pushed later.
TEST(FanInBuffer, PartlyDrainedItemsStayHeldAndComeFirst) {
  FanInBuffer<int> buffer(6);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(buffer.TryReserve());
    buffer.PushReserved(i);
  }
  std::vector<int> batch;
  EXPECT_EQ(buffer.Drain(&batch, 2).taken, 2u);
  EXPECT_EQ(batch, (std::vector<int>{0, 1}));
  EXPECT_EQ(buffer.size(), 4u);
  ASSERT_TRUE(buffer.TryReserve());
  buffer.PushReserved(6);
  ASSERT_TRUE(buffer.TryReserve());
  buffer.PushReserved(7);
  EXPECT_FALSE(buffer.TryReserve());  // 4 left from the first swap + 2 new = the bound
  auto r = buffer.Drain(&batch, 3);
  EXPECT_EQ(r.depth_before, 6u);
  EXPECT_EQ(batch, (std::vector<int>{2, 3, 4}));
  buffer.Drain(&batch, 3);
  EXPECT_EQ(batch, (std::vector<int>{5}));  // the rest of the first swap, before the newer items
  buffer.Drain(&batch, 3);
  EXPECT_EQ(batch, (std::vector<int>{6, 7}));
  buffer.Close();
  EXPECT_TRUE(buffer.Drain(&batch, 3).finished);
}

TEST(FanInBuffer, CancelAfterAPartialDrainDropsTheRest) {
  FanInBuffer<int> buffer(8);
  for (int i = 0; i < 8; ++i) buffer.Push(i);
  std::vector<int> batch;
  buffer.Drain(&batch, 3);
  buffer.Cancel();
  EXPECT_EQ(buffer.size(), 0u);
  auto r = buffer.Drain(&batch, 3);
  EXPECT_EQ(r.taken, 0u);
  EXPECT_FALSE(r.finished);
  EXPECT_TRUE(batch.empty());
}

TEST(FanInBuffer, ReservationsCountTowardsTheBoundAndSpaceCallbackFires) {
  FanInBuffer<int> buffer(2);
  int space_calls = 0;
  buffer.SetSpaceCallback([&] { ++space_calls; });
  ASSERT_TRUE(buffer.TryReserve());
  ASSERT_TRUE(buffer.TryReserve());
  EXPECT_FALSE(buffer.TryReserve());  // full: two slots reserved
  EXPECT_EQ(space_calls, 0);
  buffer.PushReserved(7);
  std::vector<int> batch;
  buffer.Drain(&batch, 10);
  EXPECT_EQ(space_calls, 1);  // the drain freed the slot a failed TryReserve waited for
  buffer.Drain(&batch, 10);
  EXPECT_EQ(space_calls, 1);  // owed once only
  EXPECT_TRUE(buffer.TryReserve());
}

TEST(FanInBuffer, PushReservedAllFillsReservedSlotsAtOnce) {
  FanInBuffer<int> buffer(3);
  int data_calls = 0;
  buffer.SetDataCallback([&] { ++data_calls; });
  std::vector<int> batch;
  buffer.Drain(&batch, 10);  // empty: the data callback is owed
  ASSERT_TRUE(buffer.TryReserve());
  ASSERT_TRUE(buffer.TryReserve());
  ASSERT_TRUE(buffer.TryReserve());
  EXPECT_FALSE(buffer.TryReserve());
  std::vector<int> items = {1, 2};
  EXPECT_TRUE(buffer.PushReservedAll(&items));
  EXPECT_TRUE(items.empty());
  EXPECT_EQ(data_calls, 1);
  EXPECT_EQ(buffer.size(), 2u);
  EXPECT_FALSE(buffer.TryReserve());  // two held, one still reserved
  buffer.Drain(&batch, 10);
  EXPECT_EQ(batch, (std::vector<int>{1, 2}));
  // The two filled slots are free again; the third is still reserved (never filled).
  EXPECT_TRUE(buffer.TryReserve());
  EXPECT_TRUE(buffer.TryReserve());
  EXPECT_FALSE(buffer.TryReserve());
  buffer.Cancel();
  items = {3};
  EXPECT_FALSE(buffer.PushReservedAll(&items));  // cancelled: dropped, the reservation given back
  EXPECT_TRUE(items.empty());
  EXPECT_EQ(buffer.size(), 0u);
}

// Items weighed (the pipeline's records weigh their bytes' slots): reservations of many units, a filled one
// charged its item's weight instead, the space it frees handed to a waiting reservation at once.
TEST(FanInBuffer, WeighedItemsAndReservationsOfManyUnits) {
  FanInBuffer<std::string> buffer(10, [](const std::string& s) { return s.size(); });
  int space_calls = 0;
  buffer.SetSpaceCallback([&] { ++space_calls; });
  ASSERT_TRUE(buffer.TryReserve(6));
  EXPECT_FALSE(buffer.TryReserve(6));  // 12 > 10
  ASSERT_TRUE(buffer.TryReserve(4));
  EXPECT_EQ(buffer.units(), 10u);
  EXPECT_TRUE(buffer.PushReserved("ab", 6));  // weighs 2 of its 6: 4 freed, the failed TryReserve called back
  EXPECT_EQ(space_calls, 1);
  EXPECT_EQ(buffer.units(), 6u);
  ASSERT_TRUE(buffer.TryReserve(4));
  std::vector<std::string> items = {"x", "yyy"};
  EXPECT_TRUE(buffer.PushReservedAll(&items, 4));  // 2 x 4 reserved, 1 + 3 held
  EXPECT_EQ(buffer.units(), 6u);
  EXPECT_EQ(buffer.size(), 3u);
  std::vector<std::string> batch;
  buffer.Drain(&batch, 10);
  EXPECT_EQ(batch, (std::vector<std::string>{"ab", "x", "yyy"}));
  EXPECT_EQ(buffer.units(), 0u);
  buffer.ReleaseReservation(0);  // (nothing reserved: a no-op of zero units)
  EXPECT_EQ(buffer.units(), 0u);
}

// An empty buffer takes one reservation of any size, so that a candidate whose record may be larger than the
// whole buffer still goes, alone.
TEST(FanInBuffer, AnEmptyBufferAdmitsOneReservationLargerThanItsCapacity) {
  FanInBuffer<std::string> buffer(4, [](const std::string& s) { return s.size(); });
  ASSERT_TRUE(buffer.TryReserve(9));
  EXPECT_FALSE(buffer.TryReserve(1));
  buffer.ReleaseReservation(9);
  EXPECT_TRUE(buffer.TryReserve(1));
}

// A drain takes at most max_units of weight (but always one item), so that a message stays under a byte bound
// however large the records; the rest stays held, oldest first.
TEST(FanInBuffer, DrainTakesAtMostMaxUnitsButAlwaysOneItem) {
  FanInBuffer<std::string> buffer(100, [](const std::string& s) { return s.size(); });
  for (const char* s : {"aaaa", "bbbb", "cccccccccc", "d", "e"}) buffer.Push(s);
  std::vector<std::string> batch;
  buffer.Drain(&batch, 10, 1, 8);
  EXPECT_EQ(batch, (std::vector<std::string>{"aaaa", "bbbb"}));
  buffer.Drain(&batch, 10, 1, 8);
  EXPECT_EQ(batch, (std::vector<std::string>{"cccccccccc"}));  // over the bound alone: taken alone
  EXPECT_EQ(buffer.units(), 2u);
  buffer.Drain(&batch, 10, 1, 8);
  EXPECT_EQ(batch, (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(buffer.units(), 0u);
  // Everything within both bounds: one swap.
  buffer.Push("f");
  buffer.Drain(&batch, 10, 1, 8);
  EXPECT_EQ(batch, (std::vector<std::string>{"f"}));
}

// PushAll (blocking producers) goes in pieces that fit by weight.
TEST(FanInBuffer, PushAllPiecesFitByWeight) {
  FanInBuffer<std::string> buffer(6, [](const std::string& s) { return s.size(); });
  std::thread producer([&] {
    std::vector<std::string> items = {"aaa", "bbb", "cc", "dddd"};
    EXPECT_TRUE(buffer.PushAll(&items));
  });
  std::vector<std::string> got, batch;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    EXPECT_LE(buffer.units(), 6u);
    buffer.Drain(&batch, 10);
    got.insert(got.end(), batch.begin(), batch.end());
    if (batch.empty()) std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(got, (std::vector<std::string>{"aaa", "bbb", "cc", "dddd"}));
}

TEST(FanInBuffer, DataCallbackFiresOnceAfterAnEmptyDrain) {
  FanInBuffer<int> buffer(4);
  int data_calls = 0;
  buffer.SetDataCallback([&] { ++data_calls; });
  buffer.Push(1);
  EXPECT_EQ(data_calls, 0);  // nobody was waiting
  std::vector<int> batch;
  buffer.Drain(&batch, 10);
  auto r = buffer.Drain(&batch, 10);
  EXPECT_EQ(r.taken, 0u);
  EXPECT_FALSE(r.finished);
  buffer.Push(2);
  buffer.Push(3);
  EXPECT_EQ(data_calls, 1);
  buffer.Close();
  EXPECT_EQ(data_calls, 1);  // owed once, paid by the first push
  buffer.Drain(&batch, 10);
  EXPECT_EQ(batch, (std::vector<int>{2, 3}));
  EXPECT_TRUE(buffer.Drain(&batch, 10).finished);
  EXPECT_FALSE(buffer.Push(4));
}

// A consumer asking for at least N items takes nothing below N and is called back when N are held; a
// flush (the producer has nothing more coming right away) or the close lets fewer go.
TEST(FanInBuffer, MinItemsWaitsForABatchUntilFlushOrClose) {
  FanInBuffer<int> buffer(100);
  int data_calls = 0;
  buffer.SetDataCallback([&] { ++data_calls; });
  std::vector<int> batch;
  buffer.Push(1);
  buffer.Push(2);
  auto r = buffer.Drain(&batch, 10, 4);
  EXPECT_EQ(r.taken, 0u);
  EXPECT_FALSE(r.finished);
  EXPECT_EQ(r.depth_before, 2u);
  buffer.Push(3);
  EXPECT_EQ(data_calls, 0);  // 3 < 4
  buffer.Push(4);
  EXPECT_EQ(data_calls, 1);  // the batch is there
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 4u);

  buffer.Push(5);
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 0u);
  buffer.Flush();
  EXPECT_EQ(data_calls, 2);  // the flush calls the waiting consumer back
  buffer.Push(6);            // pushed after the flush, before the drain: goes too
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 2u);
  EXPECT_EQ(batch, (std::vector<int>{5, 6}));

  buffer.Push(7);  // the buffer was emptied: the flush no longer holds
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 0u);
  buffer.Flush();
  buffer.Flush();  // idempotent
  EXPECT_EQ(data_calls, 3);
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 1u);

  buffer.Push(8);
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 0u);
  buffer.Close();
  EXPECT_EQ(data_calls, 4);
  EXPECT_EQ(buffer.Drain(&batch, 10, 4).taken, 1u);
  EXPECT_TRUE(buffer.Drain(&batch, 10, 4).finished);
}

// A min_items above the bound can never be reached by pushes: it is clamped to the bound.
TEST(FanInBuffer, MinItemsAboveTheBoundIsTheBound) {
  FanInBuffer<int> buffer(3);
  int data_calls = 0;
  buffer.SetDataCallback([&] { ++data_calls; });
  std::vector<int> batch;
  EXPECT_EQ(buffer.Drain(&batch, 1000, 1000).taken, 0u);
  for (int i = 0; i < 3; ++i) buffer.Push(i);
  EXPECT_EQ(data_calls, 1);
  EXPECT_EQ(buffer.Drain(&batch, 1000, 1000).taken, 3u);
}

TEST(FanInBuffer, CloseWakesAWaitingConsumer) {
  FanInBuffer<int> buffer(4);
  int data_calls = 0;
  buffer.SetDataCallback([&] { ++data_calls; });
  std::vector<int> batch;
  EXPECT_FALSE(buffer.Drain(&batch, 10).finished);
  buffer.Close();
  EXPECT_EQ(data_calls, 1);
  EXPECT_TRUE(buffer.Drain(&batch, 10).finished);
}

TEST(FanInBuffer, CancelDiscardsAndWakesBlockedProducers) {
  FanInBuffer<int> buffer(1);
  ASSERT_TRUE(buffer.Push(1));
  std::atomic<int> results{-1};
  std::thread producer([&] { results = buffer.Push(2) ? 1 : 0; });
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  buffer.Cancel();
  producer.join();
  EXPECT_EQ(results.load(), 0);
  EXPECT_EQ(buffer.size(), 0u);
  std::vector<int> batch;
  auto r = buffer.Drain(&batch, 10);
  EXPECT_EQ(r.taken, 0u);
  EXPECT_FALSE(r.finished);  // cancelled is not finished
  EXPECT_FALSE(buffer.TryReserve());
}

}  // namespace
}  // namespace squatstream::fanin
