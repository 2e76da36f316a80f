#include "bench/lane_buffer.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace squatstream::fanin {
namespace {

struct Item {
  std::uint32_t producer;
  std::uint32_t seq;
};

// Many producer threads, several sessions each, one consumer: every item arrives exactly once, in order
// within its session, and no drain ever sees more than the bound.
TEST(LaneBuffer, ManyProducersEveryItemExactlyOnceInOrderWithinBound) {
  constexpr int kThreads = 12;
  constexpr int kSessionsPerThread = 8;
  constexpr int kPerSession = 5000;
  constexpr int kProducers = kThreads * kSessionsPerThread;
  LaneBuffer<Item> buffer(256);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&buffer, t] {
      for (int k = 0; k < kSessionsPerThread; ++k) {
        LaneBuffer<Item>::Producer producer(buffer);
        const auto id = static_cast<std::uint32_t>(t * kSessionsPerThread + k);
        for (int s = 0; s < kPerSession; ++s) ASSERT_TRUE(producer.Push({id, static_cast<std::uint32_t>(s)}));
      }
    });
  }
  std::thread closer([&] {
    for (auto& th : threads) th.join();
    buffer.Close();
  });
  std::vector<std::uint32_t> next(kProducers, 0);
  std::vector<Item> batch;
  std::uint64_t received = 0;
  for (;;) {
    auto r = buffer.Drain(&batch, SIZE_MAX);
    ASSERT_LE(r.taken, buffer.bound());
    for (const Item& it : batch) {
      ASSERT_LT(it.producer, static_cast<std::uint32_t>(kProducers));
      ASSERT_EQ(it.seq, next[it.producer]) << "producer " << it.producer << " lost, duplicated or reordered";
      ++next[it.producer];
    }
    received += r.taken;
    if (r.finished) break;
    if (r.taken == 0) buffer.WaitForData();
  }
  closer.join();
  EXPECT_EQ(received, std::uint64_t{kProducers} * kPerSession);
  for (std::uint32_t n : next) EXPECT_EQ(n, static_cast<std::uint32_t>(kPerSession));
  EXPECT_LE(buffer.bound(), LaneBuffer<Item>::kMaxLanes * 256);
}

// The count of lanes in use only grows: a claimer that read an old count and stores "that + 1" must not
// hide lanes opened since (the bug the test below guards against, here without timing).
TEST(LaneBuffer, LaneCountOnlyGrows) {
  std::atomic<std::size_t> lanes{7};
  internal::RaiseTo(lanes, 6);  // a claimer that read 5 before two more lanes opened
  EXPECT_EQ(lanes.load(), 7u);
  internal::RaiseTo(lanes, 8);
  EXPECT_EQ(lanes.load(), 8u);
  internal::RaiseTo(lanes, 8);
  EXPECT_EQ(lanes.load(), 8u);
}

// Many fresh buffers, each opened by many threads at once with short sessions, so that lanes are opened
// concurrently over and over: every lane a producer writes must stay visible to the consumer. (A stale
// "lanes in use" count once hid a lane whose producer then waited forever for the consumer to drain it.)
// Bounded: a round still running after 20 s is cancelled, so that stuck producers return, and fails.
TEST(LaneBuffer, LanesOpenedConcurrentlyAllStayVisible) {
  constexpr int kRounds = 300;
  constexpr int kThreads = 12;
  constexpr int kSessionsPerThread = 4;
  constexpr int kPerSession = 70;  // more than a lane of 64 holds: a hidden lane's producer would wait
  for (int round = 0; round < kRounds; ++round) {
    LaneBuffer<Item> buffer(64);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&buffer, &ready, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        for (int k = 0; k < kSessionsPerThread; ++k) {
          LaneBuffer<Item>::Producer producer(buffer);
          for (int s = 0; s < kPerSession; ++s) {
            if (!producer.Push({static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(s)})) return;
          }
        }
      });
    }
    std::thread closer([&] {
      for (auto& th : threads) th.join();
      buffer.Close();
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::vector<Item> batch;
    std::uint64_t received = 0;
    bool finished = false;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
      auto r = buffer.Drain(&batch, SIZE_MAX);
      received += r.taken;
      finished = r.finished;
      if (r.taken == 0 && !finished) std::this_thread::yield();
    }
    if (!finished) buffer.Cancel();
    closer.join();
    ASSERT_TRUE(finished) << "round " << round << " stuck with " << received << " items received";
    ASSERT_EQ(received, std::uint64_t{kThreads} * kSessionsPerThread * kPerSession);
  }
}

TEST(LaneBuffer, AProducerWaitsAtTheBoundUntilADrain) {
  LaneBuffer<Item> buffer(64);  // one lane of 64
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    LaneBuffer<Item>::Producer p(buffer);
    for (int s = 0; s < 100; ++s) {
      ASSERT_TRUE(p.Push({0, static_cast<std::uint32_t>(s)}));
      pushed.store(s + 1);
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (pushed.load() < 64 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_EQ(pushed.load(), 64);  // full: the 65th push waits
  std::vector<Item> batch;
  std::uint32_t received = 0;
  while (received < 100 && std::chrono::steady_clock::now() < deadline) {
    buffer.Drain(&batch, SIZE_MAX);
    for (const Item& it : batch) EXPECT_EQ(it.seq, received++);
    if (batch.empty()) buffer.WaitForData();
  }
  producer.join();
  EXPECT_EQ(received, 100u);
}

TEST(LaneBuffer, CancelReleasesAWaitingProducer) {
  LaneBuffer<Item> buffer(64);
  std::atomic<bool> gave_up{false};
  std::thread producer([&] {
    LaneBuffer<Item>::Producer p(buffer);
    for (std::uint32_t s = 0;; ++s) {
      if (!p.Push({0, s})) break;
    }
    gave_up = true;
  });
  buffer.Cancel();
  producer.join();
  EXPECT_TRUE(gave_up.load());
  std::vector<Item> batch;
  auto r = buffer.Drain(&batch, SIZE_MAX);
  EXPECT_EQ(r.taken, 0u);
  EXPECT_FALSE(r.finished);  // cancelled is not finished
}

TEST(LaneBuffer, FinishedOnlyAfterCloseAndEverySessionEnded) {
  LaneBuffer<Item> buffer(64);
  std::vector<Item> batch;
  auto producer = std::make_unique<LaneBuffer<Item>::Producer>(buffer);
  producer->Push({0, 0});
  buffer.Close();
  EXPECT_FALSE(buffer.Drain(&batch, SIZE_MAX).finished);  // the session is still open (and unpublished)
  producer.reset();                                       // ends the session, publishing its item
  auto r = buffer.Drain(&batch, SIZE_MAX);
  EXPECT_EQ(r.taken, 1u);
  EXPECT_TRUE(buffer.Drain(&batch, SIZE_MAX).finished);
}

}  // namespace
}  // namespace squatstream::fanin
