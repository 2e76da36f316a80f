#include "pipeline/stages.h"

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/pipeline/test_metrics.h"
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
    for (v1::Enricher id : {v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER}) {
      ASSERT_TRUE(registry_
                      .Add(std::make_unique<workers::StubEnricher>(id, workers::StubConfig{}),
                           metrics_.Stage(workers::EnricherName(id)))
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
  EXPECT_THAT(registry_.ids(),
              ElementsAre(v1::ENRICHER_DNS, v1::ENRICHER_GEO, v1::ENRICHER_WHOIS, v1::ENRICHER_BANNER));
}

TEST(Stages, RegistrationRefusesAStageBeforeWhatItNeedsAndDuplicates) {
  TestMetrics metrics;
  EnricherRegistry registry;
  absl::Status s = registry.Add(std::make_unique<workers::StubEnricher>(v1::ENRICHER_GEO, workers::StubConfig{}),
                                metrics.Stage("geo"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("geo needs dns"));
  ASSERT_TRUE(
      registry
          .Add(std::make_unique<workers::StubEnricher>(v1::ENRICHER_DNS, workers::StubConfig{}), metrics.Stage("dns"))
          .ok());
  s = registry.Add(std::make_unique<workers::StubEnricher>(v1::ENRICHER_DNS, workers::StubConfig{}),
                   metrics.Stage("dns2"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // A selection naming an enricher this server does not run is refused, naming it.
  absl::StatusOr<StagePlan> plan = registry.Plan({v1::ENRICHER_BANNER});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), ::testing::HasSubstr("banner"));
}

}  // namespace
}  // namespace squatstream::pipeline
