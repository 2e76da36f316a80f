// The adaptive pacing's controller on its own, on a clock the test moves: how it grows, when it backs off,
// what it ignores. (Against real peers: resolver_pacing_test.cc.)
#include "workers/dns/pace_controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <vector>

namespace squatstream::workers::dns {
namespace {

using Clock = PaceController::Clock;
using std::chrono::milliseconds;

class PaceControllerTest : public ::testing::Test {
 protected:
  // Answers, one a millisecond, until the controller ends a round: the first `failures` of them `failure`, the rest
  // answered after `latency`; queries waited for the rate when `limited`. Returns the round's backoff reason.
  std::optional<BackoffReason> Round(PaceController& c, std::size_t failures = 0, Outcome failure = Outcome::kTimeout,
                                     bool limited = true, Clock::duration latency = milliseconds(20)) {
    const std::uint64_t epoch = c.OnSent();
    if (limited) c.OnLimited();
    const std::uint64_t rounds = c.rounds();
    std::optional<BackoffReason> reason;
    for (std::size_t i = 0; i < 1000 && c.rounds() == rounds; ++i) {
      now_ += milliseconds(1);
      reason = c.OnAnswer(now_, epoch, i < failures ? failure : Outcome::kAnswered, latency);
    }
    EXPECT_EQ(c.rounds(), rounds + 1);
    return reason;
  }

  // A second of answers, `per_second` of them, nobody waiting for the rate: what came back lately.
  void Warm(PaceController& c, int per_second) {
    const std::uint64_t epoch = c.OnSent();
    for (int i = 0; i < per_second; ++i) {
      now_ += std::chrono::microseconds(1000000 / per_second);
      c.OnAnswer(now_, epoch, Outcome::kAnswered, milliseconds(20));
    }
    Round(c, 0, Outcome::kTimeout, /*limited=*/false);  // and the round it left open ends: the next is fresh
  }

  Clock::time_point now_ = Clock::now();
};

TEST_F(PaceControllerTest, DoublesEachRoundOnlyWhileQueriesWaitForTheRate) {
  PaceController c(PaceOptions{.start_qps = 100}, now_);
  EXPECT_EQ(c.rate(), 100);
  EXPECT_EQ(Round(c), std::nullopt);
  EXPECT_EQ(c.rate(), 200);
  EXPECT_EQ(c.state(), PaceState::kSlowStart);
  Round(c);
  EXPECT_EQ(c.rate(), 400);
  // Nobody waited: a rate nobody used is not raised.
  Round(c, 0, Outcome::kTimeout, /*limited=*/false);
  EXPECT_EQ(c.rate(), 400);
}

TEST_F(PaceControllerTest, ARoundNeedsItsAnswersAndAtLeastItsMinimumTime) {
  PaceController c(PaceOptions{.start_qps = 100}, now_);
  const std::uint64_t epoch = c.OnSent();
  for (int i = 0; i < 15; ++i) c.OnAnswer(now_ += milliseconds(10), epoch, Outcome::kAnswered, milliseconds(1));
  EXPECT_EQ(c.rounds(), 0u);  // 150 ms, but 15 answers
  c.OnAnswer(now_ += milliseconds(10), epoch, Outcome::kAnswered, milliseconds(1));
  EXPECT_EQ(c.rounds(), 1u);
  for (int i = 0; i < 40; ++i) c.OnAnswer(now_ += milliseconds(1), epoch, Outcome::kAnswered, milliseconds(1));
  EXPECT_EQ(c.rounds(), 1u);  // 40 answers, but 40 ms
  c.OnAnswer(now_ += milliseconds(10), epoch, Outcome::kAnswered, milliseconds(1));
  EXPECT_EQ(c.rounds(), 2u);
}

TEST_F(PaceControllerTest, HalvesOnDropsAndNamesTheReason) {
  PaceController c(PaceOptions{.start_qps = 800}, now_);
  Warm(c, 2000);
  EXPECT_EQ(Round(c, 10, Outcome::kTimeout), BackoffReason::kTimeout);
  EXPECT_EQ(c.rate(), 400);
  EXPECT_EQ(c.state(), PaceState::kBackoff);
  EXPECT_EQ(Round(c, 10, Outcome::kRefusal), BackoffReason::kRefusal);
  EXPECT_EQ(c.rate(), 200);
  // One decrease for refused or failed answers at a time, until it is judged (below).
  EXPECT_EQ(Round(c, 10, Outcome::kServerFailure), std::nullopt);
  EXPECT_EQ(c.rate(), 200);
}

// REFUSED that keeps coming at the lower rate was the names' (a zone or a policy), not the load: the rate comes
// back after 3 s and that share is the new base.
TEST_F(PaceControllerTest, RefusalsThatDoNotFallWithTheRateAreUndone) {
  PaceController c(PaceOptions{.start_qps = 800}, now_);
  Warm(c, 2000);
  ASSERT_EQ(Round(c, 1000, Outcome::kRefusal), BackoffReason::kRefusal);
  ASSERT_EQ(c.rate(), 400);
  const auto decreased = now_;
  for (int i = 0; i < 1000 && c.rate() < 800; ++i) EXPECT_EQ(Round(c, 1000, Outcome::kRefusal), std::nullopt);
  EXPECT_GE(c.rate(), 800);  // back (and its round's step on top)
  EXPECT_GE(now_ - decreased, std::chrono::seconds(3));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Round(c, 1000, Outcome::kRefusal), std::nullopt);
  EXPECT_GE(c.rate(), 800);
}

TEST_F(PaceControllerTest, RefusalsThatFallWithTheRateWereLoad) {
  PaceController c(PaceOptions{.start_qps = 800}, now_);
  Warm(c, 2000);
  ASSERT_EQ(Round(c, 1000, Outcome::kRefusal), BackoffReason::kRefusal);
  Round(c);  // answered at 400/s: the decrease helped
  now_ += std::chrono::seconds(3);
  Round(c);
  EXPECT_LT(c.rate(), 500);                                               // grown by its step, not put back to 800
  EXPECT_EQ(Round(c, 1000, Outcome::kRefusal), BackoffReason::kRefusal);  // and a new burst is load again
}

TEST_F(PaceControllerTest, AnswersToQueriesSentBeforeADecreaseCountForNothing) {
  PaceController c(PaceOptions{.start_qps = 800}, now_);
  Warm(c, 2000);
  const std::uint64_t before = c.OnSent();
  ASSERT_EQ(Round(c, 10), BackoffReason::kTimeout);
  // The queries sent at 800/s time out later: no second halving for the same excess.
  for (int i = 0; i < 100; ++i) {
    now_ += milliseconds(10);
    EXPECT_EQ(c.OnAnswer(now_, before, Outcome::kTimeout, milliseconds(200)), std::nullopt);
  }
  EXPECT_EQ(c.rate(), 400);
}

TEST_F(PaceControllerTest, FailuresThatComeAtAnyRateDoNotHoldItDown) {
  // A tenth of the names fail whatever the rate (lame delegations): one decrease at most, then growth.
  PaceController c(PaceOptions{.start_qps = 100}, now_);
  Round(c, 4, Outcome::kServerFailure);
  const double after_first = c.rate();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Round(c, 4, Outcome::kServerFailure), std::nullopt) << i;
  EXPECT_GT(c.rate(), after_first);
}

// A tenth of the names failing at random, not in step: rounds of 50 answers vary by chance (binomial), and the
// rate must not be halved for that chance.
TEST_F(PaceControllerTest, FailuresThatComeAtRandomDoNotHoldItDown) {
  PaceController c(PaceOptions{.start_qps = 1000}, now_);
  std::mt19937 rng(27);
  std::bernoulli_distribution fails(0.1);
  int decreases = 0;
  double highest = 0;
  for (int round = 0; round < 200; ++round) {
    highest = std::max(highest, c.rate());
    const std::uint64_t epoch = c.OnSent();
    c.OnLimited();
    const std::uint64_t rounds = c.rounds();
    for (int i = 0; i < 1000 && c.rounds() == rounds; ++i) {
      now_ += milliseconds(1);
      if (c.OnAnswer(now_, epoch, fails(rng) ? Outcome::kTimeout : Outcome::kAnswered, milliseconds(20))) {
        ++decreases;
      }
    }
  }
  // The first round's (no base yet) and chance's: 3% of the rounds at most (the minimum of the recent shares
  // plus 5%, the rule before, halved the rate in a fifth to half of them).
  EXPECT_LE(decreases, 6) << "of 200 rounds";
  EXPECT_GE(highest, 2000);  // twice the 1,000 answers/s that came back: as high as growth goes
}

TEST_F(PaceControllerTest, LatencyDoublingBacksOffGently) {
  PaceController c(PaceOptions{.start_qps = 400}, now_);
  Round(c, 0, Outcome::kTimeout, true, milliseconds(20));
  EXPECT_EQ(c.base_latency(), milliseconds(20));
  EXPECT_EQ(Round(c, 0, Outcome::kTimeout, true, milliseconds(45)), std::nullopt);  // under 2 x 20 + 10
  const double rate = c.rate();
  EXPECT_EQ(Round(c, 0, Outcome::kTimeout, true, milliseconds(80)), BackoffReason::kLatency);
  EXPECT_DOUBLE_EQ(c.rate(), rate * 0.8);
}

TEST_F(PaceControllerTest, AfterAnEpisodeSlowStartsBackToHalfTheRateThatWasTooMuch) {
  PaceController c(PaceOptions{.start_qps = 1600}, now_);
  Warm(c, 2000);
  ASSERT_EQ(Round(c, 20), BackoffReason::kTimeout);  // 1600 was too much: 800, the threshold
  for (int i = 0; i < 7; ++i) Round(c, 20);          // the resolver drops on: down to the floor
  EXPECT_EQ(c.rate(), PaceOptions{}.floor_qps);
  // Healed: doubling up to 800, then 5% of 1600 a round.
  std::vector<double> rates;
  for (int i = 0; i < 10; ++i) {
    Round(c);
    rates.push_back(c.rate());
  }
  EXPECT_EQ(rates[0], 20);
  EXPECT_EQ(rates[5], 640);
  EXPECT_EQ(rates[6], 800);
  EXPECT_EQ(c.state(), PaceState::kIncrease);
  EXPECT_EQ(rates[7], 840);  // 5% of 800
}

// A resolver that lets a second's quota through at once and drops the rest: the rate after the loss is what
// came back in the last second, not half of how far the rate had climbed.
TEST_F(PaceControllerTest, ALossBringsTheRateToWhatCameBackInTheLastSecond) {
  PaceController c(PaceOptions{.start_qps = 6400}, now_);
  Warm(c, 300);
  EXPECT_EQ(Round(c, 20), BackoffReason::kTimeout);
  EXPECT_NEAR(c.rate(), 300, 30);  // the last second, in buckets of 100 ms
}

// Growth is held to twice the rate answers came back at in the round.
TEST_F(PaceControllerTest, NeverRaisedPastTwiceWhatCameBack) {
  PaceController c(PaceOptions{.start_qps = 1000}, now_);
  const std::uint64_t epoch = c.OnSent();
  c.OnLimited();
  for (int i = 0; i < 20; ++i) c.OnAnswer(now_ += milliseconds(10), epoch, Outcome::kAnswered, milliseconds(1));
  ASSERT_EQ(c.rounds(), 1u);         // 100 answers/s came back
  EXPECT_DOUBLE_EQ(c.rate(), 1000);  // not 2000: more than what came back already
}

TEST_F(PaceControllerTest, NeverAboveTheCeilingNorBelowTheFloor) {
  PaceController c(PaceOptions{.start_qps = 100, .floor_qps = 10, .ceiling_qps = 300}, now_);
  for (int i = 0; i < 10; ++i) {
    Round(c);
    EXPECT_LE(c.rate(), 300);
  }
  EXPECT_EQ(c.rate(), 300);
  EXPECT_EQ(c.state(), PaceState::kCeiling);
  for (int i = 0; i < 20; ++i) {
    Round(c, 40);
    EXPECT_GE(c.rate(), 10);
  }
  EXPECT_EQ(c.rate(), 10);
}

}  // namespace
}  // namespace squatstream::workers::dns
