// What the squatstream CLI says on stderr about a stream: the progress bar while it runs and the summary line at
// its end (a library, so that both are tested; client/main.cc prints them).
#ifndef SQUATSTREAM_CLIENT_PROGRESS_H_
#define SQUATSTREAM_CLIENT_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::client {

// The progress bar's text (no "\r", no newline): the candidates checked (progress.enriched: every lookup
// ended) of all the stream's, how many are left and how many names were found registered so far (`found`,
// counted by the caller from the records' DNS verdicts), e.g.
//   [#########                     ] 1,523 of 5,062 checked, 3,539 left, found 2
// The bar fills with the checked share of the total. Before the server knows the total (progress.total 0:
// generation has not ended) it counts against the candidates generated so far: "1,523 of 2,048+ checked".
// Counts candidates, not records, so that it moves for a --registered stream too, whose records are few (the
// server sends progress about once a second while it works, records or not).
std::string ProgressLine(const v1::Progress& progress, std::uint64_t found, int width = 30);

// What one stream did, for the summary line.
struct StreamSummary {
  std::string domain;          // the first input domain, as given
  std::uint64_t records = 0;   // records received
  v1::Progress progress;       // the last progress the server sent
  std::uint64_t batches = 0;   // messages received
  double seconds = 0;          // from the call to its end
  double first_batch_ms = -1;  // from the call to its first message; < 0: none came
  std::string stopped{};       // why it stopped before its end ("interrupted", ...); "" when it ended normally
};

// The closing summary (no newline), records and candidates each with their rate, so that a slow stream with
// few records still says how fast it went, e.g.
//   squatstream: paypal.com: 5 records, 5,062 candidates checked in 54.0 s (93.7 candidates/s, 0.0926
//   records/s), 6 batches, first batch after 26012.3 ms
// "4,000 of 5,062 candidates checked" when the stream ended before every candidate was checked ("4,000 of
// 4,096+" before the total was known), and then "; stopped early: <stopped>" at the end.
std::string SummaryLine(const StreamSummary& summary);

// A count with thousands separators: 5062 -> "5,062".
std::string WithSeparators(std::uint64_t n);

// A rate with three significant digits (whole numbers from 100 up) and no exponent, thousands separated:
// 0.09259 -> "0.0926", 93.74 -> "93.7", 32913.4 -> "32,913"; 0 -> "0".
std::string Rate(double per_second);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_PROGRESS_H_
