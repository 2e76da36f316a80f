#include "workers/stub_enricher.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "gtest/gtest.h"
#include "workers/executor.h"

namespace squatstream::workers {
namespace {

TEST(StubEnricher, IsDeterministicAndPlausible) {
  StubEnricher geo(EnricherKind::kGeo, {});
  LookupResult a = geo.Compute("example.net");
  LookupResult b = geo.Compute("example.net");
  ASSERT_TRUE(a.status.ok());
  const auto& ga = std::get<GeoInfo>(a.value);
  const auto& gb = std::get<GeoInfo>(b.value);
  EXPECT_EQ(ga.ip, gb.ip);
  EXPECT_EQ(ga.city, gb.city);
  EXPECT_TRUE(ga.ip.rfind("192.0.2.", 0) == 0 || ga.ip.rfind("198.51.100.", 0) == 0 ||
              ga.ip.rfind("203.0.113.", 0) == 0)
      << ga.ip;
  EXPECT_GE(ga.asn, 64496u);
  EXPECT_LE(ga.asn, 64511u);
  EXPECT_EQ(ga.country_code.size(), 2u);

  StubEnricher whois(EnricherKind::kWhois, {});
  int registered = 0;
  std::set<std::string> registrars;
  for (int i = 0; i < 400; ++i) {
    LookupResult r = whois.Compute("name" + std::to_string(i) + ".com");
    const auto& w = std::get<WhoisInfo>(r.value);
    if (w.registered) {
      ++registered;
      registrars.insert(w.registrar);
      EXPECT_EQ(w.created.size(), 10u);
      EXPECT_LT(w.created, w.expires);
      for (const std::string& date : {w.created, w.expires}) {  // YYYY-MM-DD, a real day
        int y = 0, m = 0, d = 0;
        ASSERT_EQ(std::sscanf(date.c_str(), "%4d-%2d-%2d", &y, &m, &d), 3) << date;
        EXPECT_EQ(absl::StrFormat("%04d-%02d-%02d", y, m, d), date);
        EXPECT_GE(y, 1996);
        EXPECT_LE(y, 2031);
        EXPECT_GE(m, 1);
        EXPECT_LE(m, 12);
        EXPECT_GE(d, 1);
        EXPECT_LE(d, 28);
      }
    } else {
      EXPECT_TRUE(w.registrar.empty());
    }
  }
  EXPECT_GT(registered, 200);  // about 3 in 4
  EXPECT_LT(registered, 400);
  EXPECT_GT(registrars.size(), 3u);
}

TEST(StubEnricher, AnswersAtOnceOnlyWithZeroLatency) {
  StubEnricher slow(EnricherKind::kWhois, {absl::Milliseconds(1), 0.5});
  EXPECT_FALSE(slow.TryLookupNow("example.net").has_value());  // must wait: the caller uses Lookup
  StubEnricher zero(EnricherKind::kWhois, {absl::ZeroDuration(), 0.5});
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string name = "name" + std::to_string(i) + ".org";
    std::optional<LookupResult> now = zero.TryLookupNow(name);
    ASSERT_TRUE(now.has_value());
    const LookupResult computed = slow.Compute(name);  // same kind and failure rate: same fate and value
    EXPECT_EQ(now->status, computed.status);
    if (now->status.ok()) {
      EXPECT_EQ(std::get<WhoisInfo>(now->value).registrar, std::get<WhoisInfo>(computed.value).registrar);
    } else {
      ++failed;
    }
  }
  EXPECT_GT(failed, 20);  // about half
  EXPECT_LT(failed, 80);
}

TEST(StubEnricher, FailureRateAndLatencyFollowTheConfig) {
  StubEnricher never(EnricherKind::kBanner, {absl::Milliseconds(10), 0.0});
  StubEnricher always(EnricherKind::kBanner, {absl::Milliseconds(10), 1.0});
  StubEnricher some(EnricherKind::kBanner, {absl::Milliseconds(10), 0.25});
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string d = "d" + std::to_string(i) + ".com";
    EXPECT_TRUE(never.Compute(d).status.ok());
    EXPECT_EQ(always.Compute(d).status.code(), absl::StatusCode::kUnavailable);
    LookupResult r = some.Compute(d);
    failures += r.status.ok() ? 0 : 1;
    EXPECT_GE(r.latency, absl::Milliseconds(5));
    EXPECT_LT(r.latency, absl::Milliseconds(15));
    EXPECT_EQ(some.Compute(d).status.ok(), r.status.ok());  // the same candidate fails the same way
  }
  EXPECT_GT(failures, 180);
  EXPECT_LT(failures, 320);
}

// 10,000 lookups in flight at once on two threads: none completes before its (long) latency, and all
// complete promptly with CANCELLED once cancelled. No thread per lookup could do this.
TEST(StubEnricher, TenThousandLookupsInFlightOnTwoThreadsAndCancel) {
  constexpr int kLookups = 10000;
  StubEnricher banner(EnricherKind::kBanner, {absl::Seconds(60), 0.0});
  std::atomic<int> done{0};
  std::atomic<int> cancelled{0};
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals(kLookups);
  {
    Executor executor(2);
    auto strand = asio::make_strand(executor.context());
    std::promise<void> started;
    asio::post(strand, [&] {
      for (int i = 0; i < kLookups; ++i) {
        signals[static_cast<std::size_t>(i)] = std::make_unique<asio::cancellation_signal>();
        banner.Lookup("c" + std::to_string(i) + ".com", strand, signals[static_cast<std::size_t>(i)]->slot(),
                      [&](LookupResult r) {
                        if (r.status.code() == absl::StatusCode::kCancelled) cancelled.fetch_add(1);
                        done.fetch_add(1);
                      });
      }
      started.set_value();
    });
    started.get_future().wait();
    EXPECT_EQ(done.load(), 0);  // all 10,000 are pending at once
    std::promise<void> emitted;
    asio::post(strand, [&] {
      for (auto& s : signals) s->emit(asio::cancellation_type::all);
      emitted.set_value();
    });
    emitted.get_future().wait();
  }  // the executor's destructor waits for every completion; 60 s timers would hang here if not cancelled
  EXPECT_EQ(done.load(), kLookups);
  EXPECT_EQ(cancelled.load(), kLookups);
}

TEST(StubEnricher, CompletesThroughTheExecutorNeverInline) {
  StubEnricher geo(EnricherKind::kGeo, {absl::ZeroDuration(), 0.0});
  Executor executor(1);
  bool returned = false;
  auto strand = asio::make_strand(executor.context());
  std::promise<void> ran;
  asio::post(strand, [&] {
    geo.Lookup("example.org", strand, {}, [&](LookupResult r) {
      EXPECT_TRUE(returned);  // Lookup had returned before the callback ran
      EXPECT_TRUE(r.status.ok());
      ran.set_value();
    });
    returned = true;
  });
  ran.get_future().wait();
}

TEST(EnricherNames, RoundTrip) {
  for (EnricherKind k : {EnricherKind::kGeo, EnricherKind::kWhois, EnricherKind::kBanner}) {
    absl::StatusOr<EnricherKind> parsed = ParseEnricherName(EnricherName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_FALSE(ParseEnricherName("dns").ok());
}

}  // namespace
}  // namespace squatstream::workers
