#include "service/admission.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "service/metrics.h"

namespace squatstream::service {
namespace {

class NeverCut final : public CuttableStream {
 public:
  void Cut(const absl::Status&) override { ++cuts; }
  int cuts = 0;
};

class AdmissionTest : public ::testing::Test {
 protected:
  // Two streams at most; a budget of three typical streams' needs.
  AdmissionTest() : metrics_(RegisterMetrics(registry_)) {
    context_.metrics = &metrics_;
    context_.limits.max_concurrent_streams = 2;
    budget_ =
        std::make_unique<MemoryBudget>(3 * MemoryBudget::TypicalNeed(10000) * MemoryBudget::kBytesPerSlot, 2, 10000,
                                       metrics_.pipeline.budget_slots_granted, metrics_.pipeline.budget_holders);
    context_.budget = budget_.get();
  }
  double Granted() const { return metrics_.pipeline.budget_slots_granted->Value(); }

  static MemoryBudget::Generation Typical() {
    return MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, MemoryBudget::kBytesPerDomain);
  }

  prometheus::Registry registry_;
  Metrics metrics_;
  std::unique_ptr<MemoryBudget> budget_;
  ServiceContext context_;
};

TEST_F(AdmissionTest, TakesSlotGrantAndEntryAndGivesThemAllBack) {
  NeverCut stream;
  {
    Admission a(context_);
    ASSERT_TRUE(a.TakeSlot().ok());
    ASSERT_TRUE(a.TakeGrant(Typical(), 10000).ok());
    EXPECT_GE(a.buffer(), MemoryBudget::kMinGrant);
    ASSERT_TRUE(a.Register(&stream).ok());
    EXPECT_EQ(context_.active_streams.load(), 1);
    EXPECT_EQ(metrics_.pipeline.active_streams->Value(), 1);
    EXPECT_GT(Granted(), 0);
    EXPECT_EQ(metrics_.pipeline.budget_holders->Value(), 1);
    context_.streams.CutAll(absl::UnavailableError("drain"));
    EXPECT_EQ(stream.cuts, 1);
    a.Release();  // the slot and grant before the status leaves
    EXPECT_EQ(context_.active_streams.load(), 0);
    EXPECT_EQ(Granted(), 0);
    EXPECT_EQ(metrics_.pipeline.budget_holders->Value(), 0);
    a.Release();  // idempotent
    EXPECT_EQ(context_.active_streams.load(), 0);
  }  // the registry entry goes with it
  context_.streams.CutAll(absl::UnavailableError("drain"));
  EXPECT_EQ(stream.cuts, 1);
}

// A refusal half-way (no room in the budget) gives back the slot taken before it, with the Admission.
TEST_F(AdmissionTest, ARefusalHalfWayGivesBackWhatWasTaken) {
  {
    Admission a(context_);
    ASSERT_TRUE(a.TakeSlot().ok());
    const MemoryBudget::Generation huge = MemoryBudget::GenerationSlots(permute::kDefaultMaxHeldBytes, 64 << 20);
    absl::Status s = a.TakeGrant(huge, 10000);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_NE(s.message().find("memory budget"), absl::string_view::npos) << s;
    EXPECT_EQ(context_.active_streams.load(), 1);
  }
  EXPECT_EQ(context_.active_streams.load(), 0);
  EXPECT_EQ(Granted(), 0);
}

TEST_F(AdmissionTest, RefusesPastTheStreamLimitAndWhileDraining) {
  Admission first(context_), second(context_), third(context_);
  ASSERT_TRUE(first.TakeSlot().ok());
  ASSERT_TRUE(second.TakeSlot().ok());
  absl::Status s = third.TakeSlot();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("limit of 2 concurrent streams"), absl::string_view::npos) << s;
  EXPECT_EQ(context_.active_streams.load(), 2);
  first.Release();
  ASSERT_TRUE(third.TakeSlot().ok());

  // A drain that began after the slot was taken: registration is refused, nothing registered.
  ASSERT_TRUE(second.TakeGrant(Typical(), 1).ok());
  context_.streams.SetDraining();
  NeverCut stream;
  EXPECT_EQ(second.Register(&stream).code(), absl::StatusCode::kUnavailable);
  Admission late(context_);
  EXPECT_EQ(late.TakeSlot().code(), absl::StatusCode::kUnavailable);
}

// Generation's end gives the running Generator's share back while the stream goes on; Release then gives
// back only the rest, and a GenerationDone that comes after Release does nothing.
TEST_F(AdmissionTest, GenerationDoneReturnsItsShareOnce) {
  Admission a(context_);
  ASSERT_TRUE(a.TakeSlot().ok());
  ASSERT_TRUE(a.TakeGrant(Typical(), 16384).ok());  // a large buffer: charged beyond the reserve
  const double before = Granted();
  std::function<void()> done = a.GenerationDone();
  done();
  EXPECT_EQ(Granted(), before - static_cast<double>(Typical().running));
  done();  // once
  EXPECT_EQ(Granted(), before - static_cast<double>(Typical().running));
  a.Release();
  EXPECT_EQ(Granted(), 0);
  done();  // after the stream ended: nothing
  EXPECT_EQ(Granted(), 0);
}

}  // namespace
}  // namespace squatstream::service
