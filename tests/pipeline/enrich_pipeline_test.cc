// The pipeline without gRPC: real stub stages on a real executor, records drained from the fan-in buffer
// as the reactor would.
#include "pipeline/enrich_pipeline.h"

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "asio/post.hpp"
#include "gtest/gtest.h"
#include "permute/domain.h"
#include "tests/pipeline/test_metrics.h"
#include "workers/executor.h"
#include "workers/stage_table.h"
#include "workers/stub/stub_enricher.h"

namespace squatstream::pipeline {
namespace {

class EnrichPipelineTest : public ::testing::Test {
 protected:
  void Register(v1::Enricher id, workers::StubConfig config) {
    const workers::StageDef& stage = **workers::FindStage(id);
    ASSERT_TRUE(registry_
                    .Add(stage, std::make_unique<workers::StubEnricher>(stage, config),
                         metrics_.Stage(workers::EnricherName(id)))
                    .ok());
  }

  std::shared_ptr<EnrichPipeline> Start(const std::string& domain, std::size_t max_candidates,
                                        const std::vector<v1::Enricher>& selection, bool registered_only) {
    absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain(domain);
    EXPECT_TRUE(parsed.ok());
    permute::GeneratorOptions options;
    options.max_candidates = max_candidates;
    StreamWork work;
    work.generators.emplace_back(*parsed, options);
    absl::StatusOr<StagePlan> plan = registry_.Plan(selection);
    EXPECT_TRUE(plan.ok());
    work.stages = *plan;
    work.registered_only = registered_only;
    PipelineOptions pipeline_options;
    pipeline_options.buffer_capacity = 256;  // smaller than the candidate set: backpressure is exercised
    auto pipeline = EnrichPipeline::Create(executor_.context(), cpu_.context(), std::move(work), pipeline_options,
                                           metrics_.pipeline);
    pipeline->Start();
    return pipeline;
  }

  // Drains until the buffer finishes (bounded: 20 s), parsing every record.
  std::vector<v1::Record> DrainAll(EnrichPipeline& pipeline) {
    std::vector<v1::Record> records;
    std::vector<std::string> batch;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto result = pipeline.buffer().Drain(&batch, 1024, 1);
      for (const std::string& s : batch) {
        v1::Record r;
        EXPECT_TRUE(r.ParseFromString(s));
        records.push_back(std::move(r));
      }
      if (result.finished) return records;
      if (result.taken == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "the pipeline did not finish in 20 s";
    return records;
  }

  TestMetrics metrics_;
  EnricherRegistry registry_;
  workers::Executor executor_{2};
  workers::Executor cpu_{1};
};

TEST_F(EnrichPipelineTest, StagesRunInDependencyOrderAndDependentsSkipWhatDnsDidNotFind) {
  Register(v1::ENRICHER_DNS, {absl::Microseconds(500), 0.0, 0.3});
  Register(v1::ENRICHER_GEO, {absl::Microseconds(500), 0.0});
  Register(v1::ENRICHER_WHOIS, {absl::Microseconds(500), 0.1});
  auto pipeline = Start("example.com", 1500, {v1::ENRICHER_GEO, v1::ENRICHER_WHOIS}, false);
  const std::vector<v1::Record> records = DrainAll(*pipeline);
  ASSERT_EQ(records.size(), 1500u);
  EXPECT_EQ(pipeline->generated(), 1500u);
  EXPECT_EQ(pipeline->enriched(), 1500u);
  EXPECT_EQ(pipeline->total(), 1500u);
  std::set<std::string> names;
  int registered = 0, whois_failed = 0;
  for (const v1::Record& r : records) {
    EXPECT_TRUE(names.insert(r.domain_ascii()).second) << "twice: " << r.domain_ascii();
    ASSERT_EQ(r.enrichments_size(), 3);
    const v1::Enrichment& dns = r.enrichments(0);
    const v1::Enrichment& geo = r.enrichments(1);
    const v1::Enrichment& whois = r.enrichments(2);
    EXPECT_EQ(dns.enricher(), v1::ENRICHER_DNS);
    EXPECT_EQ(geo.enricher(), v1::ENRICHER_GEO);
    EXPECT_EQ(whois.enricher(), v1::ENRICHER_WHOIS);
    ASSERT_EQ(dns.status().code(), 0);
    EXPECT_TRUE(dns.simulated());
    if (dns.dns().verdict() == v1::DNS_VERDICT_REGISTERED) {
      ++registered;
      ASSERT_EQ(geo.status().code(), 0) << geo.status().message();
      EXPECT_FALSE(geo.skipped());
      EXPECT_EQ(geo.geo().ip(), dns.dns().addresses(0));  // read from the record DNS filled first
      if (whois.status().code() != 0) {
        EXPECT_EQ(whois.status().code(), static_cast<int>(absl::StatusCode::kUnavailable));
        ++whois_failed;
      }
    } else {
      EXPECT_EQ(dns.dns().verdict(), v1::DNS_VERDICT_UNREGISTERED);
      EXPECT_EQ(geo.status().code(), static_cast<int>(absl::StatusCode::kNotFound));
      EXPECT_EQ(whois.status().code(), static_cast<int>(absl::StatusCode::kNotFound));
      EXPECT_FALSE(geo.has_geo());
      EXPECT_EQ(geo.latency_micros(), 0u);
      EXPECT_TRUE(geo.skipped());  // the outcome, on the wire
      EXPECT_TRUE(whois.skipped());
    }
  }
  EXPECT_GT(registered, 350);  // about 30% of 1,500
  EXPECT_LT(registered, 550);
  EXPECT_GT(whois_failed, 0);
  EXPECT_EQ(metrics_.pipeline.inflight_lookups->Value(), 0);
}

TEST_F(EnrichPipelineTest, RegisteredOnlyStreamsTheNamesDnsFoundAndCountsTheRest) {
  Register(v1::ENRICHER_DNS, {absl::Microseconds(300), 0.0, 0.2});
  Register(v1::ENRICHER_BANNER, {absl::Microseconds(300), 0.0});
  // The same candidates with every record kept: the registered ones are what registered_only must stream.
  std::set<std::string> expected;
  {
    auto all = Start("example.com", 1000, {v1::ENRICHER_BANNER}, false);
    for (const v1::Record& r : DrainAll(*all)) {
      if (r.enrichments(0).dns().verdict() == v1::DNS_VERDICT_REGISTERED) expected.insert(r.domain_ascii());
    }
  }
  ASSERT_GT(expected.size(), 100u);
  auto pipeline = Start("example.com", 1000, {v1::ENRICHER_BANNER}, true);
  std::set<std::string> got;
  for (const v1::Record& r : DrainAll(*pipeline)) {
    EXPECT_EQ(r.enrichments(0).dns().verdict(), v1::DNS_VERDICT_REGISTERED);
    EXPECT_TRUE(got.insert(r.domain_ascii()).second);
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(pipeline->generated(), 1000u);
  EXPECT_EQ(pipeline->enriched(), 1000u);
  EXPECT_EQ(pipeline->filtered(), 1000u - expected.size());
  EXPECT_EQ(pipeline->total(), 1000u);  // every candidate counts, streamed or not
}

// total() is 0 until generation ended, then every input domain's candidates (each after its cap) — what a
// client needs to say how many are left (total - enriched).
TEST_F(EnrichPipelineTest, TotalIsEveryInputsCandidatesOnceGenerationEnded) {
  Register(v1::ENRICHER_DNS, {absl::Microseconds(100), 0.0, 0.1});
  StreamWork work;
  std::uint64_t expected = 0;
  for (const auto& [domain, cap] : {std::pair<const char*, std::size_t>{"example.com", 700}, {"a.io", 100000}}) {
    absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain(domain);
    ASSERT_TRUE(parsed.ok());
    permute::GeneratorOptions options;
    options.max_candidates = cap;
    expected += permute::GenerateAll(*parsed, options).size();
    work.generators.emplace_back(*parsed, options);
  }
  ASSERT_GT(expected, 700u);  // a.io makes some, below its cap
  absl::StatusOr<StagePlan> plan = registry_.Plan({v1::ENRICHER_DNS});
  ASSERT_TRUE(plan.ok());
  work.stages = *plan;
  PipelineOptions pipeline_options;
  pipeline_options.buffer_capacity = 256;
  auto pipeline =
      EnrichPipeline::Create(executor_.context(), cpu_.context(), std::move(work), pipeline_options, metrics_.pipeline);
  EXPECT_EQ(pipeline->total(), 0u);  // not known before generation ended
  pipeline->Start();
  EXPECT_EQ(DrainAll(*pipeline).size(), expected);
  EXPECT_EQ(pipeline->total(), expected);
  EXPECT_EQ(pipeline->generated(), expected);
}

// A cap that cuts an input's candidates is counted: the stream's candidates without it (each cut input up to
// the count's own cap + 1), so that a client can say what the cap cut; nothing cut, nothing said.
TEST_F(EnrichPipelineTest, WhatACapCutIsCountedUpToTheLimit) {
  Register(v1::ENRICHER_DNS, {absl::ZeroDuration(), 0.0, 0.1});
  absl::StatusOr<permute::ParsedDomain> example = permute::ParseDomain("example.com");
  ASSERT_TRUE(example.ok());
  const std::size_t all = permute::GenerateAll(*example, {}).size();
  ASSERT_GT(all, 2000u);
  absl::StatusOr<permute::ParsedDomain> short_one = permute::ParseDomain("a.io");
  ASSERT_TRUE(short_one.ok());
  const std::size_t all_short = permute::GenerateAll(*short_one, {}).size();
  ASSERT_LT(all_short, 1000u);
  absl::StatusOr<StagePlan> plan = registry_.Plan({v1::ENRICHER_DNS});
  ASSERT_TRUE(plan.ok());
  auto run = [&](const std::vector<std::pair<std::string, std::size_t>>& inputs, std::size_t count_up_to) {
    StreamWork work;
    for (const auto& input : inputs) {
      permute::GeneratorOptions options;
      options.max_candidates = input.second;
      work.generators.emplace_back(*permute::ParseDomain(input.first), options);
    }
    work.stages = *plan;
    work.count_uncapped_up_to = count_up_to;
    auto pipeline = EnrichPipeline::Create(executor_.context(), cpu_.context(), std::move(work), PipelineOptions{},
                                           metrics_.pipeline);
    pipeline->Start();
    DrainAll(*pipeline);
    return std::make_pair(pipeline->total(), pipeline->uncapped_total());
  };
  // Cut at 1,000: the whole set counted, and the cut input's cap reported.
  EXPECT_EQ(run({{"example.com", 1000}}, 100000), std::make_pair(std::uint64_t{1000}, std::uint64_t{all}));
  // Two inputs, one cut: the other's candidates are in both counts.
  EXPECT_EQ(run({{"example.com", 1000}, {"a.io", 1000}}, 100000),
            std::make_pair(std::uint64_t{1000 + all_short}, std::uint64_t{all + all_short}));
  // The count stops at its cap + 1 ("more than 1,500").
  EXPECT_EQ(run({{"example.com", 1000}}, 1500), std::make_pair(std::uint64_t{1000}, std::uint64_t{1501}));
  // Not cut (the cap above the set, or no count asked): 0.
  EXPECT_EQ(run({{"a.io", 1000}}, 100000).second, 0u);
  EXPECT_EQ(run({{"example.com", 1000}}, 0).second, 0u);
}

TEST_F(EnrichPipelineTest, CancelEndsEveryStageInFlight) {
  Register(v1::ENRICHER_DNS, {absl::Milliseconds(1), 0.0, 1.0});
  Register(v1::ENRICHER_BANNER, {absl::Seconds(60), 0.0});  // would hold the executor for a minute
  auto pipeline = Start("example.com", 500, {v1::ENRICHER_BANNER}, false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // The buffer's 256 slots hold ~170 candidates in flight (each reserves its two stages' bounds and its state);
  // how many of them have their banner lookup started when it is full depends on when the generation chunks
  // came (a candidate waiting for space to start one is in no lookup): one run in twenty stopped at 141 once
  // the generator ran ahead on its second chunk.
  while (metrics_.pipeline.inflight_lookups->Value() < 120 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GE(metrics_.pipeline.inflight_lookups->Value(), 120);  // banner lookups waiting, after DNS
  const auto cancelled_at = std::chrono::steady_clock::now();
  pipeline->Cancel();
  while (metrics_.pipeline.inflight_lookups->Value() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(metrics_.pipeline.inflight_lookups->Value(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(500));
  std::vector<std::string> batch;
  EXPECT_FALSE(pipeline->buffer().Drain(&batch, 1024, 1).finished);  // cancelled, not finished
  EXPECT_TRUE(batch.empty());
}

// A stage whose answers a stranger inflates: a DNS result of `addresses` addresses for most names (over the
// interface's default bound, 4 KiB), of one for the rest.
class InflatingEnricher final : public workers::Enricher {
 public:
  explicit InflatingEnricher(int addresses) : addresses_(addresses) {}
  v1::Enricher id() const override { return v1::ENRICHER_DNS; }
  void Lookup(const workers::LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot,
              Callback done) override {
    workers::LookupResult r;
    v1::DnsResult* dns = r.value.mutable_dns();
    dns->set_verdict(v1::DNS_VERDICT_REGISTERED);
    const int n = input.domain_ascii.size() % 3 == 0 ? 1 : addresses_;
    for (int i = 0; i < n; ++i) dns->add_addresses("2001:db8::" + std::to_string(i));
    asio::post(executor, [done = std::move(done), r = std::move(r)]() mutable { std::move(done)(std::move(r)); });
  }

 private:
  const int addresses_;
};

// Whatever a stage returns, a record never holds more than its candidate reserved: a result over the stage's
// bound is dropped (RESOURCE_EXHAUSTED, `truncated` saying so), and what the buffer holds and reserves stays
// within its capacity at every drain.
TEST_F(EnrichPipelineTest, AResultOverItsStagesBoundIsDroppedAndTheBufferStaysWithinItsCapacity) {
  const workers::StageDef& dns = **workers::FindStage(v1::ENRICHER_DNS);
  ASSERT_TRUE(registry_.Add(dns, std::make_unique<InflatingEnricher>(2000), metrics_.Stage("dns")).ok());
  auto pipeline = Start("example.com", 500, {}, false);
  std::vector<std::string> batch;
  std::size_t dropped = 0, kept = 0, records = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (bool finished = false; !finished && std::chrono::steady_clock::now() < deadline;) {
    EXPECT_LE(pipeline->buffer().units(), pipeline->buffer().capacity());
    const auto result = pipeline->buffer().Drain(&batch, 1024, 1);
    finished = result.finished;
    for (const std::string& s : batch) {
      EXPECT_LE(s.size(), 2 * workers::Enricher::kDefaultMaxResultBytes);
      v1::Record r;
      ASSERT_TRUE(r.ParseFromString(s));
      ++records;
      const v1::Enrichment& e = r.enrichments(0);
      if (e.status().code() == static_cast<int>(absl::StatusCode::kResourceExhausted)) {
        ++dropped;
        EXPECT_FALSE(e.has_dns());
        EXPECT_NE(e.truncated(), "");
        EXPECT_NE(e.status().message().find("over the stage's bound"), std::string::npos) << e.status().message();
      } else {
        ++kept;
        EXPECT_EQ(e.dns().addresses_size(), 1);
      }
    }
    if (result.taken == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(records, 500u);
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(kept, 0u);
}

// A stage whose bound is large (a banner's 64 KiB) and whose results are small, after DNS.
class LargeBoundEnricher final : public workers::Enricher {
 public:
  v1::Enricher id() const override { return v1::ENRICHER_GEO; }
  std::size_t MaxResultBytes() const override { return std::size_t{64} << 10; }
  void Lookup(const workers::LookupInput&, asio::any_io_executor executor, asio::cancellation_slot,
              Callback done) override {
    workers::LookupResult r;
    r.value.mutable_geo()->set_country_code("ZZ");
    asio::post(executor, [done = std::move(done), r = std::move(r)]() mutable { std::move(done)(std::move(r)); });
  }
};

// A stage that needs another reserves its bound when it starts, not at dispatch: in a buffer of 64 slots
// (96 KiB) many candidates are in DNS at once although each may grow by 64 KiB later, the later stage's
// reservations wait their turn, and the stream ends with every record — what is held and reserved never past
// the capacity.
TEST_F(EnrichPipelineTest, LaterStagesReserveTheirBoundWhenTheyStartAndTheStreamEnds) {
  Register(v1::ENRICHER_DNS, {absl::Milliseconds(2), 0.0, 1.0});
  const workers::StageDef& geo = **workers::FindStage(v1::ENRICHER_GEO);
  ASSERT_TRUE(registry_.Add(geo, std::make_unique<LargeBoundEnricher>(), metrics_.Stage("geo")).ok());
  absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain("example.com");
  ASSERT_TRUE(parsed.ok());
  StreamWork work;
  permute::GeneratorOptions generator;
  generator.max_candidates = 300;
  work.generators.emplace_back(*parsed, generator);
  work.stages = *registry_.Plan({v1::ENRICHER_GEO});
  PipelineOptions options;
  options.buffer_capacity = 64;
  auto pipeline =
      EnrichPipeline::Create(executor_.context(), cpu_.context(), std::move(work), options, metrics_.pipeline);
  pipeline->Start();
  std::vector<std::string> batch;
  std::size_t records = 0;
  double most_in_flight = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (bool finished = false; !finished && std::chrono::steady_clock::now() < deadline;) {
    EXPECT_LE(pipeline->buffer().units(), pipeline->buffer().capacity());
    most_in_flight = std::max(most_in_flight, metrics_.pipeline.inflight_lookups->Value());
    const auto result = pipeline->buffer().Drain(&batch, 1024, 1);
    finished = result.finished;
    for (const std::string& s : batch) {
      v1::Record r;
      ASSERT_TRUE(r.ParseFromString(s));
      EXPECT_EQ(r.enrichments(1).geo().country_code(), "ZZ");
      ++records;
    }
    if (result.taken == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(records, 300u);
  // Reserving every stage's bound at dispatch, at most one candidate (96 KiB < 2 x 66 KiB) would be in flight.
  EXPECT_GT(most_in_flight, 4);
}

}  // namespace
}  // namespace squatstream::pipeline
