#include "workers/stub/stub_enricher.h"

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
#include "workers/stage_table.h"

namespace squatstream::workers {
namespace {

// A record whose DNS stage found `address` (or, when empty, NXDOMAIN).
v1::Record RecordWithDns(const std::string& domain, const std::string& address) {
  v1::Record record;
  record.set_domain_ascii(domain);
  v1::Enrichment* e = record.add_enrichments();
  e->set_enricher(v1::ENRICHER_DNS);
  e->mutable_status();
  e->mutable_dns()->set_verdict(address.empty() ? v1::DNS_VERDICT_UNREGISTERED : v1::DNS_VERDICT_REGISTERED);
  if (!address.empty()) e->mutable_dns()->add_addresses(address);
  return record;
}

// The table entry of stage `id` (every stage is linked: squatstream::stages).
const StageDef& Stage(v1::Enricher id) { return **FindStage(id); }

LookupResult ComputeFor(const StubEnricher& e, const std::string& domain, const std::string& address = "192.0.2.7") {
  const v1::Record record = RecordWithDns(domain, address);
  return e.Compute({domain, record});
}

TEST(StubEnricher, IsDeterministicAndPlausible) {
  StubEnricher geo(Stage(v1::ENRICHER_GEO), {});
  LookupResult a = ComputeFor(geo, "example.net");
  LookupResult b = ComputeFor(geo, "example.net");
  ASSERT_TRUE(a.status.ok());
  EXPECT_TRUE(a.value.simulated());
  const v1::GeoResult& ga = a.value.geo();
  const v1::GeoResult& gb = b.value.geo();
  EXPECT_EQ(ga.ip(), gb.ip());
  EXPECT_EQ(ga.ip(), "192.0.2.7");  // the address DNS found
  EXPECT_EQ(ga.city(), gb.city());
  EXPECT_GE(ga.asn(), 64496u);
  EXPECT_LE(ga.asn(), 64511u);
  EXPECT_EQ(ga.country_code().size(), 2u);

  StubEnricher whois(Stage(v1::ENRICHER_WHOIS), {});
  int registered = 0;
  std::set<std::string> registrars;
  for (int i = 0; i < 400; ++i) {
    LookupResult r = ComputeFor(whois, "name" + std::to_string(i) + ".com");
    const v1::WhoisResult& w = r.value.whois();
    if (w.registered()) {
      ++registered;
      registrars.insert(w.registrar());
      EXPECT_EQ(w.created().size(), 10u);
      EXPECT_LT(w.created(), w.expires());
      for (const std::string& date : {w.created(), w.expires()}) {  // YYYY-MM-DD, a real day
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
      EXPECT_TRUE(w.registrar().empty());
    }
  }
  EXPECT_GT(registered, 200);  // about 3 in 4
  EXPECT_LT(registered, 400);
  EXPECT_GT(registrars.size(), 3u);
}

TEST(StubEnricher, AnswersAtOnceOnlyWithZeroLatency) {
  StubEnricher slow(Stage(v1::ENRICHER_WHOIS), {absl::Milliseconds(1), 0.5});
  const v1::Record example = RecordWithDns("example.net", "192.0.2.1");
  EXPECT_FALSE(slow.TryLookupNow({"example.net", example}).has_value());  // must wait: the caller uses Lookup
  StubEnricher zero(Stage(v1::ENRICHER_WHOIS), {absl::ZeroDuration(), 0.5});
  int failed = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string name = "name" + std::to_string(i) + ".org";
    const v1::Record record = RecordWithDns(name, "192.0.2.1");
    std::optional<LookupResult> now = zero.TryLookupNow({name, record});
    ASSERT_TRUE(now.has_value());
    const LookupResult computed = slow.Compute({name, record});  // same stage and failure rate: same fate and value
    EXPECT_EQ(now->status, computed.status);
    if (now->status.ok()) {
      EXPECT_EQ(now->value.whois().registrar(), computed.value.whois().registrar());
    } else {
      ++failed;
    }
  }
  EXPECT_GT(failed, 20);  // about half
  EXPECT_LT(failed, 80);
}

// Geo and banner need an address, whois a name DNS did not find absent or only a wildcard answers for: the
// stage's rule (its table entry's, which the pipeline applies to the real stage and its twin alike) skips
// those, saying why.
TEST(StubEnricher, StagesThatNeedDnsSkipWhatItDidNotFind) {
  for (v1::Enricher id : {v1::ENRICHER_GEO, v1::ENRICHER_BANNER, v1::ENRICHER_WHOIS}) {
    const StageDef& stage = Stage(id);
    ASSERT_EQ(stage.needs.size(), 1u);
    EXPECT_EQ(stage.needs[0], v1::ENRICHER_DNS);
    ASSERT_NE(stage.skip, nullptr);
    const v1::Record absent = RecordWithDns("absent.com", "");
    std::optional<LookupResult> now = stage.skip({"absent.com", absent});
    ASSERT_TRUE(now.has_value()) << EnricherName(id);
    EXPECT_EQ(now->outcome(), LookupOutcome::kSkipped);
    EXPECT_EQ(now->status.code(), absl::StatusCode::kNotFound);
    EXPECT_NE(now->status.message().find("NXDOMAIN"), absl::string_view::npos) << now->status;
    const v1::Record found = RecordWithDns("found.com", "192.0.2.9");
    EXPECT_FALSE(stage.skip({"found.com", found}).has_value()) << EnricherName(id);
  }
  v1::Record wildcard = RecordWithDns("w.example.com", "192.0.2.9");
  wildcard.mutable_enrichments(0)->mutable_dns()->set_verdict(v1::DNS_VERDICT_WILDCARD);
  wildcard.mutable_enrichments(0)->mutable_dns()->set_wildcard_zone("example.com");
  std::optional<LookupResult> whois = Stage(v1::ENRICHER_WHOIS).skip({"w.example.com", wildcard});
  ASSERT_TRUE(whois.has_value());  // the real stage's rule too: the twin no longer asks about wildcards
  EXPECT_NE(whois->status.message().find("wildcard"), absl::string_view::npos) << whois->status;
  EXPECT_TRUE(Stage(v1::ENRICHER_DNS).needs.empty());
  // A name with mail exchangers and no address: the banner stage's SMTP probe has something to ask.
  v1::Record mail_only = RecordWithDns("mail-only.com", "");
  mail_only.mutable_enrichments(0)->mutable_dns()->set_verdict(v1::DNS_VERDICT_REGISTERED);
  mail_only.mutable_enrichments(0)->mutable_dns()->add_mail_exchangers("mx.mail-only.com");
  EXPECT_FALSE(Stage(v1::ENRICHER_BANNER).skip({"mail-only.com", mail_only}).has_value());
  EXPECT_TRUE(Stage(v1::ENRICHER_GEO).skip({"mail-only.com", mail_only}).has_value());
  StubEnricher dns(Stage(v1::ENRICHER_DNS), {absl::ZeroDuration(), 0.0, 0.3});
  int registered = 0;
  const v1::Record empty;
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "n" + std::to_string(i) + ".com";
    const LookupResult r = dns.Compute({name, empty});
    ASSERT_TRUE(r.status.ok());
    const v1::DnsResult& d = r.value.dns();
    if (d.verdict() == v1::DNS_VERDICT_REGISTERED) {
      ++registered;
      EXPECT_EQ(d.addresses_size(), 1);
      EXPECT_EQ(d.name_servers_size(), 1);
    } else {
      EXPECT_EQ(d.verdict(), v1::DNS_VERDICT_UNREGISTERED);
      EXPECT_EQ(d.soa_zone(), "com");
      EXPECT_EQ(d.addresses_size(), 0);
    }
  }
  EXPECT_GT(registered, 240);  // about 30%
  EXPECT_LT(registered, 360);
}

TEST(StubEnricher, FailureRateAndLatencyFollowTheConfig) {
  StubEnricher never(Stage(v1::ENRICHER_BANNER), {absl::Milliseconds(10), 0.0});
  StubEnricher always(Stage(v1::ENRICHER_BANNER), {absl::Milliseconds(10), 1.0});
  StubEnricher some(Stage(v1::ENRICHER_BANNER), {absl::Milliseconds(10), 0.25});
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string d = "d" + std::to_string(i) + ".com";
    EXPECT_TRUE(ComputeFor(never, d).status.ok());
    EXPECT_EQ(ComputeFor(always, d).status.code(), absl::StatusCode::kUnavailable);
    LookupResult r = ComputeFor(some, d);
    failures += r.status.ok() ? 0 : 1;
    const v1::Record record = RecordWithDns(d, "192.0.2.7");
    EXPECT_GE(some.LatencyOf({d, record}), absl::Milliseconds(5));
    EXPECT_LT(some.LatencyOf({d, record}), absl::Milliseconds(15));
    EXPECT_EQ(ComputeFor(some, d).status.ok(), r.status.ok());  // the same candidate fails the same way
  }
  EXPECT_GT(failures, 180);
  EXPECT_LT(failures, 320);
}

// 10,000 lookups in flight at once on two threads: none completes before its (long) latency, and all
// complete promptly with CANCELLED once cancelled. No thread per lookup could do this.
TEST(StubEnricher, TenThousandLookupsInFlightOnTwoThreadsAndCancel) {
  constexpr int kLookups = 10000;
  StubEnricher banner(Stage(v1::ENRICHER_BANNER), {absl::Seconds(60), 0.0});
  const v1::Record record = RecordWithDns("c.com", "192.0.2.9");
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
        const std::string name = "c" + std::to_string(i) + ".com";
        banner.Lookup({name, record}, strand, signals[static_cast<std::size_t>(i)]->slot(), [&](const LookupResult& r) {
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
  StubEnricher geo(Stage(v1::ENRICHER_GEO), {absl::ZeroDuration(), 0.0});
  const v1::Record record = RecordWithDns("example.org", "192.0.2.3");
  Executor executor(1);
  bool returned = false;
  auto strand = asio::make_strand(executor.context());
  std::promise<void> ran;
  asio::post(strand, [&] {
    geo.Lookup({"example.org", record}, strand, {}, [&](const LookupResult& r) {
      EXPECT_TRUE(returned);  // Lookup had returned before the callback ran
      EXPECT_TRUE(r.status.ok());
      ran.set_value();
    });
    returned = true;
  });
  ran.get_future().wait();
}

TEST(EnricherNames, RoundTrip) {
  for (int i = v1::Enricher_MIN + 1; i <= v1::Enricher_MAX; ++i) {
    if (!v1::Enricher_IsValid(i)) continue;
    const auto id = static_cast<v1::Enricher>(i);
    absl::StatusOr<v1::Enricher> parsed = ParseEnricherName(EnricherName(id));
    ASSERT_TRUE(parsed.ok()) << EnricherName(id);
    EXPECT_EQ(*parsed, id);
  }
  EXPECT_EQ(EnricherName(v1::ENRICHER_DNS), "dns");
  EXPECT_FALSE(ParseEnricherName("DNS").ok());
  EXPECT_FALSE(ParseEnricherName("unspecified").ok());
  EXPECT_FALSE(ParseEnricherName("").ok());
}

}  // namespace
}  // namespace squatstream::workers
