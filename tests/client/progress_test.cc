// The CLI's progress bar and summary line (client/progress.h): checked of total and what is left, also for a
// --registered stream whose records are few; records and candidates each with a rate that says something for a
// slow, sparse stream.
#include "client/progress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Progress Progress(std::uint64_t generated, std::uint64_t enriched, std::uint64_t sent, std::uint64_t total) {
  v1::Progress p;
  p.set_generated(generated);
  p.set_enriched(enriched);
  p.set_sent(sent);
  p.set_total(total);
  return p;
}

TEST(WithSeparators, GroupsThousands) {
  EXPECT_EQ(WithSeparators(0), "0");
  EXPECT_EQ(WithSeparators(999), "999");
  EXPECT_EQ(WithSeparators(5062), "5,062");
  EXPECT_EQ(WithSeparators(1234567), "1,234,567");
}

TEST(Rate, ThreeSignificantDigitsNoExponent) {
  EXPECT_EQ(Rate(0), "0");
  EXPECT_EQ(Rate(5.0 / 54), "0.0926");
  EXPECT_EQ(Rate(5062.0 / 54), "93.7");
  EXPECT_EQ(Rate(9.374), "9.37");
  EXPECT_EQ(Rate(32913.4), "32,913");
  EXPECT_EQ(Rate(0.0001234), "0.000123");
}

// The bar counts candidates checked of the total, so a --registered stream (2 found so far) moves too.
TEST(ProgressLine, CheckedOfTotalAndLeft) {
  EXPECT_EQ(ProgressLine(Progress(2048, 1523, 2, 5062), 2, 10),
            "[###       ] 1,523 of 5,062 checked, 3,539 left, found 2");
  EXPECT_EQ(ProgressLine(Progress(5062, 5062, 1, 5062), 1, 4), "[####] 5,062 of 5,062 checked, 0 left, found 1");
}

// Before generation ended the server sends total 0: the bar counts against what was generated so far, "+" saying
// that more may come, and claims nothing about what is left.
TEST(ProgressLine, BeforeTheTotalIsKnown) {
  EXPECT_EQ(ProgressLine(Progress(256, 64, 0, 0), 0, 4), "[#   ] 64 of 256+ checked, found 0");
  EXPECT_EQ(ProgressLine(Progress(0, 0, 0, 0), 0, 2), "[  ] 0 of 0+ checked, found 0");
}

// The case: 5 records over 54 s of a 5,062-candidate stream said "0 records/s".
TEST(SummaryLine, SaysRecordsAndCandidatesPerSecond) {
  StreamSummary s{.domain = "paypal.com",
                  .records = 5,
                  .progress = Progress(5062, 5062, 5, 5062),
                  .batches = 6,
                  .seconds = 54.0,
                  .first_batch_ms = 26012.34};
  EXPECT_EQ(SummaryLine(s),
            "squatstream: paypal.com: 5 records, 5,062 candidates checked in 54.0 s (93.7 candidates/s, 0.0926 "
            "records/s), 6 batches, first batch after 26012.3 ms");
}

TEST(SummaryLine, AFastStreamAndAnUnfinishedOne) {
  StreamSummary fast{.domain = "example.com",
                     .records = 5908,
                     .progress = Progress(5908, 5908, 5908, 5908),
                     .batches = 12,
                     .seconds = 0.18,
                     .first_batch_ms = 112.8};
  EXPECT_EQ(SummaryLine(fast),
            "squatstream: example.com: 5,908 records, 5,908 candidates checked in 0.180 s (32,822 candidates/s, "
            "32,822 records/s), 12 batches, first batch after 112.8 ms");
  // Cut off (a deadline) before every candidate was checked: how many of how many; no message at all: no
  // first batch.
  StreamSummary cut{.domain = "paypal.com", .progress = Progress(3000, 2000, 0, 5062), .seconds = 20};
  EXPECT_THAT(SummaryLine(cut), HasSubstr(": 0 records, 2,000 of 5,062 candidates checked in 20.0 s (100 "
                                          "candidates/s, 0 records/s), 0 batches"));
  EXPECT_THAT(SummaryLine(cut), Not(HasSubstr("first batch")));
}

}  // namespace
}  // namespace squatstream::client
