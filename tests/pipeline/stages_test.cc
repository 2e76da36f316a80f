#include "pipeline/stages.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/pipeline/test_metrics.h"
#include "workers/stage_table.h"
#include "workers/stub/stub_enricher.h"

namespace squatstream::pipeline {
namespace {

using ::testing::ElementsAre;

std::vector<v1::Enricher> Ids(const StagePlan& plan) {
  std::vector<v1::Enricher> out;
  for (const PlannedStage& s : plan) out.push_back(s.enricher->id());
  return out;
}

class StagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const workers::StageDef* stage : workers::StageTable()) {
      ASSERT_TRUE(registry_
                      .Add(*stage, std::make_unique<workers::StubEnricher>(*stage, workers::StubConfig{}),
                           metrics_.Stage(workers::EnricherName(stage->id)))
                      .ok());
    }
  }
  TestMetrics metrics_;
  EnricherRegistry registry_;
};

TEST_F(StagesTest, APlanPutsWhatAStageNeedsFirstAndEachStageOnce) {
  absl::StatusOr<StagePlan> plan = registry_.Plan({v1::ENRICHER_BANNER, v1::ENRICHER_GEO});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(Ids(*plan), ElementsAre(v1::ENRICHER_DNS, v1::ENRICHER_BANNER, v1::ENRICHER_GEO));
  EXPECT_EQ((*plan)[0].needs, 0u);
  EXPECT_EQ((*plan)[1].needs, 1u);  // waits for stage 0, DNS
  EXPECT_EQ((*plan)[2].needs, 1u);

  plan = registry_.Plan({v1::ENRICHER_WHOIS, v1::ENRICHER_DNS});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(Ids(*plan), ElementsAre(v1::ENRICHER_DNS, v1::ENRICHER_WHOIS));
  std::vector<v1::Enricher> table;
  for (const workers::StageDef* stage : workers::StageTable()) table.push_back(stage->id);
  EXPECT_EQ(registry_.ids(), table);  // registered in the table's order
}

// A request that selects no stage gets every stage the server runs, in the table's order, each with its
// skip rule.
TEST_F(StagesTest, AnEmptySelectionPlansEveryStage) {
  absl::StatusOr<StagePlan> plan = registry_.Plan({});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Ids(*plan), registry_.ids());
  EXPECT_EQ((*plan)[0].skip, nullptr);  // DNS runs for every name
  for (std::size_t i = 1; i < plan->size(); ++i) EXPECT_NE((*plan)[i].skip, nullptr) << i;
}

// The table orders the registered stages by what they need, whatever the link order.
TEST(StageTable, EveryStageComesAfterWhatItNeeds) {
  std::vector<v1::Enricher> seen;
  for (const workers::StageDef* stage : workers::StageTable()) {
    for (v1::Enricher need : stage->needs) {
      EXPECT_NE(std::find(seen.begin(), seen.end(), need), seen.end()) << workers::EnricherName(stage->id);
    }
    ASSERT_NE(stage->create, nullptr);
    ASSERT_NE(stage->read_flags, nullptr);
    ASSERT_NE(stage->simulate, nullptr);
    seen.push_back(stage->id);
  }
  // Every stage of the API has its entry, and only those.
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(v1::Enricher_descriptor()->value_count() - 1));
  EXPECT_EQ(workers::FindStage(v1::ENRICHER_UNSPECIFIED).status().code(), absl::StatusCode::kNotFound);
}

TEST(Stages, RegistrationRefusesAStageBeforeWhatItNeedsAndDuplicates) {
  TestMetrics metrics;
  EnricherRegistry registry;
  const workers::StageDef& geo = **workers::FindStage(v1::ENRICHER_GEO);
  const workers::StageDef& dns = **workers::FindStage(v1::ENRICHER_DNS);
  absl::Status s =
      registry.Add(geo, std::make_unique<workers::StubEnricher>(geo, workers::StubConfig{}), metrics.Stage("geo"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("geo needs dns"));
  ASSERT_TRUE(
      registry.Add(dns, std::make_unique<workers::StubEnricher>(dns, workers::StubConfig{}), metrics.Stage("dns"))
          .ok());
  s = registry.Add(dns, std::make_unique<workers::StubEnricher>(dns, workers::StubConfig{}), metrics.Stage("dns2"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // An enricher registered as another stage is refused.
  s = registry.Add(geo, std::make_unique<workers::StubEnricher>(dns, workers::StubConfig{}), metrics.Stage("geo"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // A selection naming an enricher this server does not run is refused, naming it.
  absl::StatusOr<StagePlan> plan = registry.Plan({v1::ENRICHER_BANNER});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), ::testing::HasSubstr("banner"));
}

}  // namespace
}  // namespace squatstream::pipeline
