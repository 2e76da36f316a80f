// The Gatekeeper over a real KeyBook (SQLite in a temporary folder) and the in-process shared limiters: who is
// let through with which scope, the three quotas (a stream's reservation given back at its end, places given
// back and held places renewed), the refusals' details (RetryInfo, QuotaFailure) and their metrics. Keys are
// made with access/key_admin.h, as `squatstreamd keys create` and AccessService make them.
#include "access/gatekeeper.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "access/api_key.h"
#include "access/key_admin.h"
#include "access/key_book.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "store/sqlite_store.h"

namespace squatstream::access {
namespace {

using ::testing::HasSubstr;

double Counter(prometheus::Registry& registry, const std::string& name, const std::string& label,
               const std::string& value) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == value) return metric.counter.value;
      }
    }
  }
  return -1;
}

class GatekeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/squatstream-gatekeeper-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    absl::StatusOr<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }
  void TearDown() override {
    gatekeeper_.reset();
    book_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A key with `scopes` and the spec's quotas; returns "Bearer <key>".
  std::string NewKey(const std::string& scopes, NewKeySpec spec = {}) {
    spec.name = "test";
    spec.scopes = scopes;
    absl::StatusOr<CreatedKey> created = CreateKey(*store_, spec, absl::Now());
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? "Bearer " + created->key : "";
  }
  void Start(QuotaDefaults defaults = {}) {
    book_ = std::make_unique<KeyBook>(store_.get());
    ASSERT_TRUE(book_->Start().ok());
    gatekeeper_ = std::make_unique<Gatekeeper>(book_.get(), defaults, workers::net::MakeLocalRateLimiter(),
                                               workers::net::MakeLocalConcurrencyLimiter(), "replica-1", registry_);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<KeyBook> book_;
  prometheus::Registry registry_;
  std::unique_ptr<Gatekeeper> gatekeeper_;
};

TEST_F(GatekeeperTest, WithoutAKeyBookEveryoneIsLetThroughWithoutQuota) {
  gatekeeper_ = std::make_unique<Gatekeeper>(nullptr, QuotaDefaults{}, workers::net::MakeLocalRateLimiter(),
                                             workers::net::MakeLocalConcurrencyLimiter(), "r", registry_);
  absl::StatusOr<Caller> caller = gatekeeper_->Admit("", Scope::kAdmin, "ListApiKeys");
  ASSERT_TRUE(caller.ok());
  EXPECT_FALSE(caller->key.has_value());
  EXPECT_EQ(caller->Name(), "anonymous");
  absl::StatusOr<std::unique_ptr<StreamQuota>> quota = gatekeeper_->AdmitStream(*caller, 1'000'000'000);
  ASSERT_TRUE(quota.ok());
  EXPECT_EQ(*quota, nullptr);
  EXPECT_TRUE(gatekeeper_->AdmitWatch(*caller, 1'000'000).ok());
}

TEST_F(GatekeeperTest, TheScopeDecidesAndRefusalsAreCountedByReason) {
  const std::string scan = NewKey("scan");
  Start();
  EXPECT_TRUE(gatekeeper_->Admit(scan, Scope::kScan, "EnrichDomain").ok());
  absl::StatusOr<Caller> denied = gatekeeper_->Admit(scan, Scope::kWatchWrite, "CreateWatch");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr("'watch:write', which CreateWatch needs"));
  EXPECT_EQ(gatekeeper_->Admit("", Scope::kScan, "EnrichDomain").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(gatekeeper_->Admit("Bearer nope", Scope::kScan, "EnrichDomain").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Counter(registry_, "squatstream_auth_failures_total", "reason", "scope"), 1);
  EXPECT_EQ(Counter(registry_, "squatstream_auth_failures_total", "reason", "missing"), 1);
  EXPECT_EQ(Counter(registry_, "squatstream_auth_failures_total", "reason", "malformed"), 1);
}

TEST_F(GatekeeperTest, AStreamReservesItsCapAndGivesBackWhatItDidNotLookUp) {
  NewKeySpec spec;
  spec.quota_candidates_per_hour = 100;
  const std::string key = NewKey("scan", spec);
  Start();
  absl::StatusOr<Caller> caller = gatekeeper_->Admit(key, Scope::kScan, "EnrichDomain");
  ASSERT_TRUE(caller.ok());
  {
    absl::StatusOr<std::unique_ptr<StreamQuota>> first = gatekeeper_->AdmitStream(*caller, 80);
    ASSERT_TRUE(first.ok()) << first.status();
    // 80 of 100 reserved: 30 more do not fit now.
    absl::StatusOr<std::unique_ptr<StreamQuota>> second = gatekeeper_->AdmitStream(*caller, 30);
    ASSERT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
    (*first)->Settle(10);  // it looked up 10: 70 go back
  }
  absl::StatusOr<std::unique_ptr<StreamQuota>> third = gatekeeper_->AdmitStream(*caller, 85);
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(GatekeeperTest, AQuotaRefusalCarriesRetryInfoAndQuotaFailure) {
  NewKeySpec spec;
  spec.quota_candidates_per_hour = 3600;  // one a second
  const std::string key = NewKey("scan", spec);
  Start();
  absl::StatusOr<Caller> caller = gatekeeper_->Admit(key, Scope::kScan, "EnrichDomain");
  ASSERT_TRUE(caller.ok());
  absl::StatusOr<std::unique_ptr<StreamQuota>> all = gatekeeper_->AdmitStream(*caller, 3600);
  ASSERT_TRUE(all.ok());
  absl::StatusOr<std::unique_ptr<StreamQuota>> more = gatekeeper_->AdmitStream(*caller, 60);
  ASSERT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(more.status().message(), HasSubstr("3,600 candidates per hour"));
  auto retry = more.status().GetPayload(kRetryInfoTypeUrl);
  ASSERT_TRUE(retry.has_value());
  google::rpc::RetryInfo info;
  ASSERT_TRUE(info.ParseFromString(std::string(*retry)));
  EXPECT_NEAR(static_cast<double>(info.retry_delay().seconds()), 60, 2);  // 60 candidates at one a second
  auto failure = more.status().GetPayload(kQuotaFailureTypeUrl);
  ASSERT_TRUE(failure.has_value());
  google::rpc::QuotaFailure quota;
  ASSERT_TRUE(quota.ParseFromString(std::string(*failure)));
  ASSERT_EQ(quota.violations_size(), 1);
  EXPECT_EQ(quota.violations(0).description(), "candidates per hour: 3,600");
  EXPECT_THAT(quota.violations(0).subject(), HasSubstr("api_key:sqs_"));
  // A cap above the whole hourly quota can never fit: no RetryInfo.
  absl::StatusOr<std::unique_ptr<StreamQuota>> never = gatekeeper_->AdmitStream(*caller, 5000);
  ASSERT_EQ(never.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(never.status().GetPayload(kRetryInfoTypeUrl).has_value());
  EXPECT_THAT(never.status().message(), HasSubstr("lower max_candidates"));
  EXPECT_EQ(Counter(registry_, "squatstream_quota_refusals_total", "quota", "candidates_per_hour"), 2);
}

TEST_F(GatekeeperTest, ConcurrentStreamsAreCountedAndGivenBack) {
  NewKeySpec spec;
  spec.quota_concurrent_streams = 2;
  const std::string key = NewKey("scan", spec);
  Start();
  absl::StatusOr<Caller> caller = gatekeeper_->Admit(key, Scope::kScan, "EnrichDomain");
  ASSERT_TRUE(caller.ok());
  auto a = gatekeeper_->AdmitStream(*caller, 1);
  auto b = gatekeeper_->AdmitStream(*caller, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = gatekeeper_->AdmitStream(*caller, 1);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(c.status().message(), HasSubstr("may run 2 streams at once"));
  a->reset();  // a stream ended
  EXPECT_TRUE(gatekeeper_->AdmitStream(*caller, 1).ok());
  EXPECT_EQ(Counter(registry_, "squatstream_quota_refusals_total", "quota", "concurrent_streams"), 1);
}

TEST_F(GatekeeperTest, TheServersDefaultsApplyToAKeyWithoutItsOwn) {
  const std::string key = NewKey("scan,watch:write");
  QuotaDefaults defaults;
  defaults.watches = 2;
  defaults.concurrent_streams = 1;
  Start(defaults);
  absl::StatusOr<Caller> caller = gatekeeper_->Admit(key, Scope::kWatchWrite, "CreateWatch");
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(gatekeeper_->AdmitWatch(*caller, 1).ok());
  absl::Status full = gatekeeper_->AdmitWatch(*caller, 2);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("may keep 2 watches"));
  EXPECT_FALSE(full.GetPayload(kRetryInfoTypeUrl).has_value());  // waiting does not help
  EXPECT_TRUE(full.GetPayload(kQuotaFailureTypeUrl).has_value());
  auto one = gatekeeper_->AdmitStream(*caller, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(gatekeeper_->AdmitStream(*caller, 1).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(KeyAdminTest, ABadSpecIsRefusedNamingTheField) {
  char dir[] = "/tmp/squatstream-keyadmin-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  {
    absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenSqliteStore(std::string(dir) + "/s.db");
    ASSERT_TRUE(store.ok());
    NewKeySpec spec;
    spec.scopes = "scan";
    EXPECT_THAT(CreateKey(**store, spec, absl::Now()).status().message(), HasSubstr("name: required"));
    spec.name = "x";
    spec.scopes = "scan,fly";
    EXPECT_THAT(CreateKey(**store, spec, absl::Now()).status().message(), HasSubstr("'fly'"));
    spec.scopes = "scan";
    spec.quota_watches = 0;
    EXPECT_THAT(CreateKey(**store, spec, absl::Now()).status().message(), HasSubstr("quota_watches"));
    spec.quota_watches.reset();
    absl::StatusOr<CreatedKey> created = CreateKey(**store, spec, absl::Now());
    ASSERT_TRUE(created.ok());
    EXPECT_EQ(created->row.hash, HashApiKey(created->key));
    EXPECT_EQ(*ParseKeyId("sqs_" + created->row.id), created->row.id);
    EXPECT_EQ(*ParseKeyId(created->key), created->row.id);  // the whole key pasted: only its id is used
    EXPECT_EQ(ParseKeyId("sqs_UPPER123").status().code(), absl::StatusCode::kInvalidArgument);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace squatstream::access
