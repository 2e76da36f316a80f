// The manager against a real store (SQLite in a temporary folder): the settings' checks (interval, webhook URL
// and its address, the secret), create / get / list paged / update with and without a mask / delete / scan now,
// observations listed with filters and paged after a committed scan (committed here as the scheduler commits
// one: claim, differ, commit), triage, events after a cursor, and the followers' wait.
#include "watch/watch_manager.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "watch/differ.h"
#include "workers/net/address_policy.h"

namespace squatstream::watch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Record MakeRecord(const std::string& name, v1::DnsVerdict verdict, v1::PermutationKind kind) {
  v1::Record r;
  r.set_domain_ascii(name);
  r.set_domain_unicode(name);
  r.set_kind(kind);
  r.set_input("example.com");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_dns()->set_verdict(verdict);
  if (verdict == v1::DNS_VERDICT_REGISTERED) dns->mutable_dns()->add_addresses("192.0.2.7");
  return r;
}

v1::WatchSettings Every(std::uint64_t seconds) {
  v1::WatchSettings s;
  s.set_interval_seconds(seconds);
  return s;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::vector<std::string> Domains(const v1::ListWatchesResponse& r) {
  std::vector<std::string> out;
  for (const v1::Watch& w : r.watches()) out.push_back(w.domain());
  return out;
}
std::vector<std::string> Candidates(const v1::ListObservationsResponse& r) {
  std::vector<std::string> out;
  for (const v1::Observation& o : r.observations()) out.push_back(o.candidate_ascii());
  return out;
}

class WatchManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/squatstream_manager_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<store::Store>> s = store::OpenStore("sqlite:" + dir_ + "/watch.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    options_.min_interval = absl::Minutes(10);
    options_.default_interval = absl::Hours(6);
    options_.webhook_policy = &policy_;  // the default: private ranges and loopback refused
    options_.events_poll = absl::Milliseconds(200);
    manager_ = std::make_unique<WatchManager>(*store_, nullptr, options_);
  }
  void TearDown() override {
    manager_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  v1::Watch MustCreate(const std::string& domain, v1::WatchSettings settings = Every(3600)) {
    absl::StatusOr<v1::Watch> w = manager_->Create(domain, domain, std::move(settings));
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *w : v1::Watch();
  }

  // One complete scan of `domain` committed as the scheduler commits it.
  void CommitScan(const std::string& domain, std::vector<v1::Record> records) {
    ASSERT_TRUE(store_->ScheduleScan(domain, absl::Now() - absl::Hours(1)).ok());  // due first
    const absl::Time now = absl::Now();
    absl::StatusOr<std::optional<store::WatchRow>> claimed = store_->ClaimDueWatch("test", now, now + absl::Minutes(1));
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    ASSERT_TRUE(claimed->has_value());
    ASSERT_EQ((*claimed)->domain, domain);
    absl::StatusOr<std::vector<store::ObservationRow>> previous = store_->LoadObservations((*claimed)->id);
    ASSERT_TRUE(previous.ok()) << previous.status();
    ScanInput in;
    in.watch = &**claimed;
    in.previous = *std::move(previous);
    in.records = std::move(records);
    in.confirmations = 2;
    in.now = now;
    in.lease_owner = "test";
    in.next_scan = now + absl::Hours(1);
    const absl::Status committed = store_->CommitScan(EvaluateScan(std::move(in)));
    ASSERT_TRUE(committed.ok()) << committed;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  workers::net::AddressPolicy policy_;
  WatchManagerOptions options_;
  std::unique_ptr<WatchManager> manager_;
};

TEST_F(WatchManagerTest, CreateFillsTheDefaultIntervalAndIsDueAtOnce) {
  const absl::Time before = absl::Now();
  const v1::Watch w = MustCreate("example.com", v1::WatchSettings());
  EXPECT_EQ(w.domain(), "example.com");
  EXPECT_EQ(w.settings().interval_seconds(), 6u * 3600);
  EXPECT_GE(FromProto(w.created()), before - absl::Milliseconds(1));
  EXPECT_EQ(FromProto(w.next_scan()), FromProto(w.created()));
  EXPECT_FALSE(w.has_last_scan());
  EXPECT_EQ(w.scans(), 0u);
  EXPECT_FALSE(w.baseline_done());
  EXPECT_FALSE(w.has_webhook_secret());
}

TEST_F(WatchManagerTest, CreateRefusesAnIntervalUnderTheMinimumNamingIt) {
  absl::StatusOr<v1::Watch> w = manager_->Create("example.com", "example.com", Every(60));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("10m"));
  EXPECT_THAT(w.status().message(), HasSubstr("--watch_min_interval"));
  // Exactly the minimum is fine.
  EXPECT_TRUE(manager_->Create("example.com", "example.com", Every(600)).ok());
}

TEST_F(WatchManagerTest, CreateRefusesAnIntervalBeyondAnyUse) {
  absl::StatusOr<v1::Watch> w = manager_->Create("example.com", "example.com", Every(~0ull));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("maximum"));
}

TEST_F(WatchManagerTest, AWebhookNeedsASecretAndASecretNeedsAWebhook) {
  v1::WatchSettings no_secret = Every(3600);
  no_secret.set_webhook_url("https://hooks.example.net/squat");
  absl::StatusOr<v1::Watch> w = manager_->Create("example.com", "example.com", no_secret);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("webhook_secret"));

  v1::WatchSettings no_url = Every(3600);
  no_url.set_webhook_secret("s3cret");
  w = manager_->Create("example.com", "example.com", no_url);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("webhook_url"));

  v1::WatchSettings both = no_secret;
  both.set_webhook_secret("s3cret");
  w = manager_->Create("example.com", "example.com", both);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->has_webhook_secret());
  EXPECT_TRUE(w->settings().webhook_secret().empty());  // never shown
  EXPECT_EQ(w->settings().webhook_url(), "https://hooks.example.net/squat");
}

TEST_F(WatchManagerTest, AWebhookToARefusedRangeIsDeniedNamingTheRange) {
  for (const auto& [url, range] : {std::pair<std::string, std::string>{"http://10.0.0.1/hook", "10.0.0.0/8"},
                                   {"http://127.0.0.1:8080/hook", "127.0.0.0/8"},
                                   {"https://localhost/hook", "127.0.0.0/8"}}) {
    SCOPED_TRACE(url);
    v1::WatchSettings s = Every(3600);
    s.set_webhook_url(url);
    s.set_webhook_secret("s3cret");
    absl::StatusOr<v1::Watch> w = manager_->Create("example.com", "example.com", s);
    EXPECT_EQ(w.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(w.status().message(), HasSubstr(range));
  }
  EXPECT_EQ(manager_->Get("example.com").status().code(), absl::StatusCode::kNotFound);  // nothing written
}

TEST_F(WatchManagerTest, AWebhookThatIsNotHttpIsInvalid) {
  v1::WatchSettings s = Every(3600);
  s.set_webhook_url("ftp://hooks.example.net/squat");
  s.set_webhook_secret("s3cret");
  absl::StatusOr<v1::Watch> w = manager_->Create("example.com", "example.com", s);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("http"));
}

TEST_F(WatchManagerTest, WithoutAPolicyAnyAddressIsTaken) {
  WatchManagerOptions open = options_;
  open.webhook_policy = nullptr;
  WatchManager manager(*store_, nullptr, open);
  v1::WatchSettings s = Every(3600);
  s.set_webhook_url("http://127.0.0.1:9/hook");
  s.set_webhook_secret("s3cret");
  EXPECT_TRUE(manager.Create("example.com", "example.com", s).ok());
}

TEST_F(WatchManagerTest, ADuplicateAlreadyExists) {
  MustCreate("example.com");
  absl::StatusOr<v1::Watch> again = manager_->Create("example.com", "example.com", Every(3600));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("example.com"));
}

TEST_F(WatchManagerTest, AnUnknownWatchIsNotFoundNamingTheDomain) {
  absl::StatusOr<v1::Watch> got = manager_->Get("nope.example");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("nope.example"));
  const absl::Status deleted = manager_->Delete("nope.example");
  EXPECT_EQ(deleted.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(deleted.message(), HasSubstr("nope.example"));
  absl::StatusOr<v1::Watch> scanned = manager_->ScanNow("nope.example");
  EXPECT_EQ(scanned.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(scanned.status().message(), HasSubstr("nope.example"));
  absl::StatusOr<v1::Watch> updated = manager_->Update("nope.example", Every(3600), {});
  EXPECT_EQ(updated.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(updated.status().message(), HasSubstr("nope.example"));
  v1::ListObservationsRequest list;
  list.set_watch("nope.example");
  EXPECT_EQ(manager_->ListObservations(list).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->Annotate("nope.example", "x.com", v1::TRIAGE_OWNED, "").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(WatchManagerTest, GetDeleteAndScanNow) {
  MustCreate("example.com");
  ASSERT_TRUE(store_->ScheduleScan("example.com", absl::Now() + absl::Hours(2)).ok());
  const absl::Time before = absl::Now();
  absl::StatusOr<v1::Watch> scanned = manager_->ScanNow("example.com");
  ASSERT_TRUE(scanned.ok()) << scanned.status();
  EXPECT_GE(FromProto(scanned->next_scan()), before - absl::Milliseconds(1));
  EXPECT_LE(FromProto(scanned->next_scan()), absl::Now());
  absl::StatusOr<v1::Watch> got = manager_->Get("example.com");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->next_scan().seconds(), scanned->next_scan().seconds());
  EXPECT_TRUE(manager_->Delete("example.com").ok());
  EXPECT_EQ(manager_->Get("example.com").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(WatchManagerTest, ListPagesInDomainOrder) {
  for (const char* d : {"e.com", "b.com", "d.com", "a.com", "c.com"}) MustCreate(d);
  v1::ListWatchesRequest request;
  request.set_page_size(2);
  absl::StatusOr<v1::ListWatchesResponse> page = manager_->List(request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Domains(*page), ElementsAre("a.com", "b.com"));
  EXPECT_EQ(page->next_page_token(), "b.com");

  request.set_page_token(page->next_page_token());
  page = manager_->List(request);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Domains(*page), ElementsAre("c.com", "d.com"));
  EXPECT_EQ(page->next_page_token(), "d.com");

  request.set_page_token(page->next_page_token());
  page = manager_->List(request);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Domains(*page), ElementsAre("e.com"));
  EXPECT_EQ(page->next_page_token(), "");

  // A page that ends exactly at the last watch says so too; the default page holds them all.
  request.set_page_size(5);
  request.clear_page_token();
  page = manager_->List(request);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->watches_size(), 5);
  EXPECT_EQ(page->next_page_token(), "");
  page = manager_->List(v1::ListWatchesRequest());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->watches_size(), 5);
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(WatchManagerTest, UpdateWithAMaskChangesOnlyTheNamedFields) {
  v1::WatchSettings first = Every(3600);
  first.add_kinds(v1::PERMUTATION_KIND_ADDITION);
  first.set_max_candidates(50);
  MustCreate("example.com", first);

  v1::WatchSettings change = Every(7200);  // not in the mask: ignored
  change.add_kinds(v1::PERMUTATION_KIND_HOMOGLYPH);
  change.add_kinds(v1::PERMUTATION_KIND_BITSQUATTING);
  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", change, {"kinds", "max_candidates"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->settings().interval_seconds(), 3600u);
  EXPECT_THAT(w->settings().kinds(), ElementsAre(v1::PERMUTATION_KIND_HOMOGLYPH, v1::PERMUTATION_KIND_BITSQUATTING));
  EXPECT_EQ(w->settings().max_candidates(), 0u);  // masked and unset: cleared
}

TEST_F(WatchManagerTest, UpdateWithoutAMaskChangesTheFieldsSet) {
  v1::WatchSettings first = Every(3600);
  first.add_kinds(v1::PERMUTATION_KIND_ADDITION);
  first.set_max_candidates(50);
  MustCreate("example.com", first);
  v1::WatchSettings change;
  change.set_max_candidates(80);
  change.set_webhook_url("https://hooks.example.net/squat");
  change.set_webhook_secret("s3cret");
  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", change, {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->settings().interval_seconds(), 3600u);
  EXPECT_THAT(w->settings().kinds(), ElementsAre(v1::PERMUTATION_KIND_ADDITION));
  EXPECT_EQ(w->settings().max_candidates(), 80u);
  EXPECT_TRUE(w->has_webhook_secret());

  // The URL alone changes it and keeps the secret; the URL cleared through the mask clears the secret too.
  v1::WatchSettings url;
  url.set_webhook_url("https://other.example.net/squat");
  w = manager_->Update("example.com", url, {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->settings().webhook_url(), "https://other.example.net/squat");
  EXPECT_TRUE(w->has_webhook_secret());
  w = manager_->Update("example.com", v1::WatchSettings(), {"webhook_url"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->settings().webhook_url(), "");
  EXPECT_FALSE(w->has_webhook_secret());
}

TEST_F(WatchManagerTest, UpdateChecksTheMergedSettings) {
  MustCreate("example.com");
  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", Every(5), {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  v1::WatchSettings hook;
  hook.set_webhook_url("http://192.168.1.10/hook");
  hook.set_webhook_secret("s3cret");
  w = manager_->Update("example.com", hook, {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(w.status().message(), HasSubstr("192.168.0.0/16"));
  v1::WatchSettings secretless;
  secretless.set_webhook_url("https://hooks.example.net/squat");
  w = manager_->Update("example.com", secretless, {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<v1::Watch> unchanged = manager_->Get("example.com");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->settings().webhook_url(), "");
  EXPECT_EQ(unchanged->settings().interval_seconds(), 3600u);
}

TEST_F(WatchManagerTest, AnUnknownMaskFieldIsInvalidNamingIt) {
  MustCreate("example.com");
  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", Every(7200), {"interval_seconds", "colour"});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(w.status().message(), HasSubstr("colour"));
  absl::StatusOr<v1::Watch> unchanged = manager_->Get("example.com");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->settings().interval_seconds(), 3600u);
}

TEST_F(WatchManagerTest, AnIntervalChangeReschedulesFromTheLastScan) {
  MustCreate("example.com");
  CommitScan("example.com", {MakeRecord("example1.com", v1::DNS_VERDICT_REGISTERED, v1::PERMUTATION_KIND_ADDITION)});
  absl::StatusOr<v1::Watch> scanned = manager_->Get("example.com");
  ASSERT_TRUE(scanned.ok());
  ASSERT_TRUE(scanned->has_last_scan());
  const absl::Time last = FromProto(scanned->last_scan());
  EXPECT_NEAR(absl::ToDoubleSeconds(FromProto(scanned->next_scan()) - last), 3600, 1);

  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", Every(std::uint64_t{4} * 3600), {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NEAR(absl::ToDoubleSeconds(FromProto(w->next_scan()) - last), 4 * 3600, 0.01);
  w = manager_->Update("example.com", Every(900), {"interval_seconds"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NEAR(absl::ToDoubleSeconds(FromProto(w->next_scan()) - last), 900, 0.01);
  // A change of something else leaves the schedule alone.
  v1::WatchSettings cap;
  cap.set_max_candidates(10);
  absl::StatusOr<v1::Watch> capped = manager_->Update("example.com", cap, {});
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(FromProto(capped->next_scan()), FromProto(w->next_scan()));
}

TEST_F(WatchManagerTest, AnIntervalChangeLeavesAWatchNeverScannedDue) {
  const v1::Watch created = MustCreate("example.com");
  absl::StatusOr<v1::Watch> w = manager_->Update("example.com", Every(std::uint64_t{12} * 3600), {});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->settings().interval_seconds(), 12u * 3600);
  EXPECT_EQ(FromProto(w->next_scan()), FromProto(created.next_scan()));  // its baseline is not put off
}

class ObservationsTest : public WatchManagerTest {
 protected:
  void SetUp() override {
    WatchManagerTest::SetUp();
    MustCreate("example.com");
    CommitScan("example.com",
               {MakeRecord("example1.com", v1::DNS_VERDICT_REGISTERED, v1::PERMUTATION_KIND_ADDITION),
                MakeRecord("example2.com", v1::DNS_VERDICT_UNREGISTERED, v1::PERMUTATION_KIND_ADDITION),
                MakeRecord("exampel.com", v1::DNS_VERDICT_REGISTERED, v1::PERMUTATION_KIND_TRANSPOSITION),
                MakeRecord("exannple.com", v1::DNS_VERDICT_UNREGISTERED, v1::PERMUTATION_KIND_HOMOGLYPH)});
  }
  v1::ListObservationsRequest Request() {
    v1::ListObservationsRequest r;
    r.set_watch("example.com");
    return r;
  }
};

TEST_F(ObservationsTest, ListsEveryCandidateAfterTheBaseline) {
  absl::StatusOr<v1::ListObservationsResponse> all = manager_->ListObservations(Request());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Candidates(*all), ElementsAre("exampel.com", "example1.com", "example2.com", "exannple.com"));
  EXPECT_EQ(all->next_page_token(), "");
  for (const v1::Observation& o : all->observations()) {
    EXPECT_EQ(o.watch(), "example.com");
    EXPECT_FALSE(o.has_record());  // not asked for
  }
  EXPECT_EQ(all->observations(1).verdict(), v1::DNS_VERDICT_REGISTERED);
  EXPECT_THAT(all->observations(1).fingerprint().addresses(), ElementsAre("192.0.2.7"));
  absl::StatusOr<v1::Watch> w = manager_->Get("example.com");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->baseline_done());
  EXPECT_EQ(w->observed(), 4u);
  EXPECT_EQ(w->registered(), 2u);
}

TEST_F(ObservationsTest, FiltersByVerdictKindAndTriage) {
  v1::ListObservationsRequest registered = Request();
  registered.add_verdicts(v1::DNS_VERDICT_REGISTERED);
  registered.set_include_records(true);
  absl::StatusOr<v1::ListObservationsResponse> r = manager_->ListObservations(registered);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Candidates(*r), ElementsAre("exampel.com", "example1.com"));
  ASSERT_EQ(r->observations_size(), 2);
  EXPECT_EQ(r->observations(0).record().domain_ascii(), "exampel.com");

  v1::ListObservationsRequest kinds = Request();
  kinds.add_kinds(v1::PERMUTATION_KIND_HOMOGLYPH);
  kinds.add_kinds(v1::PERMUTATION_KIND_TRANSPOSITION);
  r = manager_->ListObservations(kinds);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Candidates(*r), ElementsAre("exampel.com", "exannple.com"));

  absl::StatusOr<v1::Observation> annotated =
      manager_->Annotate("example.com", "example1.com", v1::TRIAGE_MALICIOUS, "phishing kit");
  ASSERT_TRUE(annotated.ok()) << annotated.status();
  EXPECT_EQ(annotated->triage(), v1::TRIAGE_MALICIOUS);
  EXPECT_EQ(annotated->triage_note(), "phishing kit");
  EXPECT_EQ(annotated->candidate_ascii(), "example1.com");
  v1::ListObservationsRequest malicious = Request();
  malicious.add_triage(v1::TRIAGE_MALICIOUS);
  r = manager_->ListObservations(malicious);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Candidates(*r), ElementsAre("example1.com"));
  EXPECT_EQ(r->observations(0).triage_note(), "phishing kit");

  v1::ListObservationsRequest changed = Request();
  changed.set_changed_only(true);
  r = manager_->ListObservations(changed);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->observations_size(), 0);  // nothing changed since the baseline
}

TEST_F(ObservationsTest, Pages) {
  v1::ListObservationsRequest request = Request();
  request.set_page_size(3);
  absl::StatusOr<v1::ListObservationsResponse> page = manager_->ListObservations(request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Candidates(*page), ElementsAre("exampel.com", "example1.com", "example2.com"));
  EXPECT_EQ(page->next_page_token(), "example2.com");
  request.set_page_token(page->next_page_token());
  page = manager_->ListObservations(request);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Candidates(*page), ElementsAre("exannple.com"));
  EXPECT_EQ(page->next_page_token(), "");
  // Paging within a filter.
  v1::ListObservationsRequest filtered = Request();
  filtered.add_verdicts(v1::DNS_VERDICT_UNREGISTERED);
  filtered.set_page_size(1);
  page = manager_->ListObservations(filtered);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Candidates(*page), ElementsAre("example2.com"));
  EXPECT_EQ(page->next_page_token(), "example2.com");
  filtered.set_page_token(page->next_page_token());
  page = manager_->ListObservations(filtered);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Candidates(*page), ElementsAre("exannple.com"));
  EXPECT_EQ(page->next_page_token(), "");
}

TEST_F(ObservationsTest, AnnotatingACandidateNeverObservedIsNotFound) {
  absl::StatusOr<v1::Observation> a = manager_->Annotate("example.com", "elsewhere.com", v1::TRIAGE_OWNED, "");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(a.status().message(), HasSubstr("elsewhere.com"));
  EXPECT_THAT(a.status().message(), HasSubstr("example.com"));
}

TEST_F(ObservationsTest, EventsAfterACursor) {
  MustCreate("other.com");
  CommitScan("other.com", {MakeRecord("other1.com", v1::DNS_VERDICT_REGISTERED, v1::PERMUTATION_KIND_ADDITION)});
  absl::StatusOr<std::vector<v1::WatchEvent>> all = manager_->Events("", 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].watch(), "example.com");
  EXPECT_EQ((*all)[0].type(), v1::EVENT_TYPE_BASELINE);
  EXPECT_EQ((*all)[1].watch(), "other.com");
  EXPECT_LT((*all)[0].id(), (*all)[1].id());

  absl::StatusOr<std::vector<v1::WatchEvent>> after = manager_->Events("", (*all)[0].id(), 100);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].id(), (*all)[1].id());
  absl::StatusOr<std::vector<v1::WatchEvent>> none = manager_->Events("", (*all)[1].id(), 100);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  absl::StatusOr<std::vector<v1::WatchEvent>> one = manager_->Events("example.com", 0, 100);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id(), (*all)[0].id());
  absl::StatusOr<std::vector<v1::WatchEvent>> limited = manager_->Events("", 0, 1);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 1u);
  absl::StatusOr<std::vector<v1::WatchEvent>> unlimited = manager_->Events("", 0, 0);  // a default page
  ASSERT_TRUE(unlimited.ok()) << unlimited.status();
  EXPECT_EQ(unlimited->size(), 2u);

  absl::StatusOr<std::vector<v1::WatchEvent>> unknown = manager_->Events("nope.example", 0, 100);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("nope.example"));
}

TEST_F(WatchManagerTest, WaitForEventsReturnsSoonAfterNotifyEvents) {
  WatchManagerOptions slow = options_;
  slow.events_poll = absl::Seconds(30);
  WatchManager manager(*store_, nullptr, slow);
  std::atomic<bool> returned{false};
  const auto started = std::chrono::steady_clock::now();
  std::thread follower([&] {
    manager.WaitForEvents(absl::Seconds(30));
    returned = true;
  });
  // Notified until it returns: a notification before the wait began is (by contract) not one it waits for.
  const auto limit = started + std::chrono::seconds(10);
  while (!returned.load() && std::chrono::steady_clock::now() < limit) {
    manager.NotifyEvents();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  follower.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(WatchManagerTest, WaitForEventsReturnsAfterThePollWhenNothingHappens) {
  const auto started = std::chrono::steady_clock::now();
  manager_->WaitForEvents(absl::Seconds(30));  // the poll (200 ms) is shorter
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(190));
  EXPECT_LT(waited, std::chrono::seconds(10));

  const auto again = std::chrono::steady_clock::now();
  manager_->WaitForEvents(absl::Milliseconds(50));  // at_most shorter than the poll
  const auto short_wait = std::chrono::steady_clock::now() - again;
  EXPECT_GE(short_wait, std::chrono::milliseconds(45));
  EXPECT_LT(short_wait, std::chrono::milliseconds(190) + std::chrono::seconds(5));
}

}  // namespace
}  // namespace squatstream::watch
