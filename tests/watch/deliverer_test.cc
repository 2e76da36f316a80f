// The deliverer against a real store (SQLite in a temporary folder) and a real webhook receiver on loopback
// (webhook_receiver.py: it verifies each signature as a user would and logs every request). Events are written
// as a scan writes them (CommitScan under the watch's lease: the transactional outbox), then the deliverer runs.
// Every wait is on a condition with a deadline.
#include "watch/deliverer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "store/store.h"
#include "tests/watch/wait_for.h"
#include "tests/workers/dns/dns_peers.h"
#include "workers/net/address_policy.h"

namespace squatstream::watch {
namespace {

using workers::dns::testing::SpawnAndReadPort;
using workers::dns::testing::Stop;

constexpr char kSecret[] = "whsec_test";

using testing::WaitFor;

struct Delivery {
  std::string event_id;
  bool signature_ok = false;
  bool id_matches = false;
  std::string content_type;
  int status = 0;
  std::string body;
};

// webhook_receiver.py on 127.0.0.1, failing its first `fail_first` POSTs.
class Receiver {
 public:
  Receiver(const std::string& dir, int fail_first) : log_(dir + "/receiver.log") {
    port_ = SpawnAndReadPort(
        {"/usr/bin/python3", SQUATSTREAM_WEBHOOK_RECEIVER, kSecret, log_, "--fail-first", std::to_string(fail_first)},
        dir + "/receiver.out", &pid_, std::chrono::seconds(10));
  }
  ~Receiver() { Stop(pid_); }
  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }

  std::vector<Delivery> Log() const {
    std::vector<Delivery> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      const std::vector<std::string> f = absl::StrSplit(line, '\t');
      if (f.size() != 6) continue;  // a line being written
      Delivery d;
      d.event_id = f[0];
      d.signature_ok = f[1] == "1";
      d.id_matches = f[2] == "1";
      d.content_type = f[3];
      d.status = std::atoi(f[4].c_str());
      d.body = f[5];
      out.push_back(d);
    }
    return out;
  }
  // Event ids answered 2xx, in the order they came.
  std::vector<std::string> Delivered() const {
    std::vector<std::string> ids;
    for (const Delivery& d : Log()) {
      if (d.status / 100 == 2) ids.push_back(d.event_id);
    }
    return ids;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class DelivererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/squatstream_deliverer_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<store::Store>> s = store::OpenStore("sqlite:" + dir_ + "/watch.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    metrics_.deliveries_ok = &family_.Add({{"outcome", "ok"}});
    metrics_.deliveries_retry = &family_.Add({{"outcome", "retry"}});
    metrics_.deliveries_dead = &family_.Add({{"outcome", "dead"}});
    absl::StatusOr<workers::net::AddressPolicy> p = workers::net::AddressPolicy::WithAllowed({"127.0.0.0/8"});
    ASSERT_TRUE(p.ok());
    loopback_ = *p;
  }
  void TearDown() override {
    deliverer_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // A watch with a webhook to `url`, and `events` events written as one scan writes them; their ids.
  std::vector<std::uint64_t> WriteEvents(const std::string& domain, const std::string& url, int events) {
    store::WatchRow w;
    w.domain = w.domain_unicode = domain;
    w.settings.set_interval_seconds(3600);
    w.settings.set_webhook_url(url);
    w.settings.set_webhook_secret(kSecret);
    absl::StatusOr<store::WatchRow> created = store_->CreateWatch(w);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return {};
    const absl::Time now = absl::Now();
    absl::StatusOr<std::optional<store::WatchRow>> claimed =
        store_->ClaimDueWatch("scanner", now, now + absl::Seconds(60));
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << claimed.status();
    store::ScanCommit commit;
    commit.watch_id = created->id;
    commit.lease_owner = "scanner";
    commit.scanned_at = now;
    commit.next_scan = now + absl::Hours(1);
    for (int i = 0; i < events; ++i) {
      v1::WatchEvent& e = commit.events.emplace_back();
      e.set_watch(domain);
      e.set_type(v1::EVENT_TYPE_APPEARED);
      // The store dates the event (and its delivery's give-up time) by this: to the nanosecond.
      e.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
      e.mutable_time()->set_nanos(
          static_cast<std::int32_t>((now - absl::FromUnixSeconds(absl::ToUnixSeconds(now))) / absl::Nanoseconds(1)));
      e.set_candidate_ascii(absl::StrCat("look", i, ".", domain));
      e.set_candidate_unicode(e.candidate_ascii());
      e.set_kind(v1::PERMUTATION_KIND_ADDITION);
      v1::FieldChange* c = e.add_changes();
      c->set_field("verdict");
      c->set_before("UNREGISTERED");
      c->set_after("REGISTERED");
      e.mutable_record()->set_domain_ascii(e.candidate_ascii());
    }
    const absl::Status committed = store_->CommitScan(commit);
    EXPECT_TRUE(committed.ok()) << committed;
    absl::StatusOr<std::vector<v1::WatchEvent>> listed = store_->ListEvents(created->id, 0, 1000);
    EXPECT_TRUE(listed.ok()) << listed.status();
    std::vector<std::uint64_t> ids;
    if (listed.ok()) {
      for (const v1::WatchEvent& e : *listed) ids.push_back(e.id());
    }
    return ids;
  }

  void StartDeliverer(const workers::net::AddressPolicy* policy, absl::Duration give_up_after = absl::Hours(24)) {
    DelivererOptions o;
    o.owner = "deliverer-1";
    o.poll = absl::Milliseconds(50);
    o.min_delay = absl::Milliseconds(50);
    o.max_delay = absl::Milliseconds(200);
    o.give_up_after = give_up_after;
    o.timeout = std::chrono::milliseconds(5000);
    o.policy = policy;
    deliverer_ = std::make_unique<Deliverer>(*store_, o, metrics_);
    deliverer_->Start();
  }

  std::uint64_t Pending() {
    absl::StatusOr<store::DeliveryCounts> c = store_->CountDeliveries();
    return c.ok() ? c->pending : 999;
  }
  std::uint64_t Dead() {
    absl::StatusOr<store::DeliveryCounts> c = store_->CountDeliveries();
    return c.ok() ? c->dead : 0;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& family_ =
      prometheus::BuildCounter().Name("deliveries_total").Register(registry_);
  WatchMetrics metrics_;
  workers::net::AddressPolicy loopback_;
  std::unique_ptr<Deliverer> deliverer_;
};

std::vector<std::string> Strings(const std::vector<std::uint64_t>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::uint64_t id : ids) out.push_back(std::to_string(id));
  return out;
}

TEST_F(DelivererTest, EveryEventIsDeliveredSigned) {
  Receiver receiver(dir_, 0);
  ASSERT_NE(receiver.port(), 0);
  const std::vector<std::uint64_t> ids = WriteEvents("example.com", receiver.url(), 3);
  ASSERT_EQ(ids.size(), 3u);
  StartDeliverer(&loopback_);
  ASSERT_TRUE(WaitFor([&] { return receiver.Delivered().size() == 3 && Pending() == 0; }))
      << receiver.Delivered().size() << " delivered, " << Pending() << " pending";
  EXPECT_EQ(receiver.Delivered(), Strings(ids));  // in order
  for (const Delivery& d : receiver.Log()) {
    EXPECT_TRUE(d.signature_ok) << d.body;
    EXPECT_TRUE(d.id_matches) << d.body;
    EXPECT_EQ(d.content_type, "application/json");
    EXPECT_TRUE(absl::StrContains(d.body, "\"candidate_ascii\":\"look0.example.com\"") ||
                absl::StrContains(d.body, "\"candidate_ascii\":\"look1.example.com\"") ||
                absl::StrContains(d.body, "\"candidate_ascii\":\"look2.example.com\""))
        << d.body;
    EXPECT_TRUE(absl::StrContains(d.body, "\"type\":\"EVENT_TYPE_APPEARED\"")) << d.body;
  }
  EXPECT_EQ(metrics_.deliveries_ok->Value(), 3);
  EXPECT_EQ(metrics_.deliveries_retry->Value(), 0);
}

TEST_F(DelivererTest, AFailingReceiverGetsEverythingInOrderOnceItRecovers) {
  Receiver receiver(dir_, 3);
  ASSERT_NE(receiver.port(), 0);
  const std::vector<std::uint64_t> a = WriteEvents("example.com", receiver.url(), 3);
  const std::vector<std::uint64_t> b = WriteEvents("example.org", receiver.url(), 2);
  StartDeliverer(&loopback_);
  ASSERT_TRUE(WaitFor([&] { return receiver.Delivered().size() == 5 && Pending() == 0; }))
      << receiver.Delivered().size() << " delivered, " << Pending() << " pending";
  EXPECT_EQ(metrics_.deliveries_retry->Value(), 3);  // the three 500s, each tried again
  EXPECT_EQ(metrics_.deliveries_ok->Value(), 5);
  EXPECT_EQ(Dead(), 0u);
  // In order per watch: each watch's events answered 2xx in id order, and none before its predecessor was.
  std::map<std::string, std::vector<std::string>> per_watch;
  for (const Delivery& d : receiver.Log()) {
    EXPECT_TRUE(d.signature_ok);
    if (d.status / 100 != 2) continue;
    per_watch[absl::StrContains(d.body, "example.org") ? "org" : "com"].push_back(d.event_id);
  }
  EXPECT_EQ(per_watch["com"], Strings(a));
  EXPECT_EQ(per_watch["org"], Strings(b));
  // Attempts: every event's first attempt, plus the three that failed.
  EXPECT_EQ(receiver.Log().size(), 8u);
}

TEST_F(DelivererTest, GivenUpAfterGiveUpAfterIsDead) {
  Receiver receiver(dir_, 1000000);
  ASSERT_NE(receiver.port(), 0);
  ASSERT_EQ(WriteEvents("example.com", receiver.url(), 1).size(), 1u);
  StartDeliverer(&loopback_, absl::Milliseconds(600));
  ASSERT_TRUE(WaitFor([&] { return Dead() == 1; })) << Pending() << " pending";
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(metrics_.deliveries_dead->Value(), 1);
  EXPECT_GE(metrics_.deliveries_retry->Value(), 2);  // tried again before it was given up
  EXPECT_GE(receiver.Log().size(), 3u);
  for (const Delivery& d : receiver.Log()) EXPECT_EQ(d.status, 500);
}

TEST_F(DelivererTest, ARefusedAddressIsNeverDialled) {
  Receiver receiver(dir_, 0);
  ASSERT_NE(receiver.port(), 0);
  ASSERT_EQ(WriteEvents("example.com", receiver.url(), 2).size(), 2u);
  const workers::net::AddressPolicy strict;  // 127.0.0.0/8 refused
  StartDeliverer(&strict, absl::Milliseconds(600));
  // Both given up on: the second, written with the first, is as old once the first is dead.
  ASSERT_TRUE(WaitFor([&] { return Dead() == 2 && metrics_.deliveries_dead->Value() == 2; }))
      << Pending() << " pending";
  EXPECT_GE(metrics_.deliveries_retry->Value(), 1);
  EXPECT_EQ(metrics_.deliveries_ok->Value(), 0);
  deliverer_->Stop();
  EXPECT_TRUE(receiver.Log().empty());  // never connected to
}

TEST_F(DelivererTest, StopCancelsAPostInFlight) {
  // A receiver that takes the connection and never answers: the POST in flight is cancelled by Stop, its delivery
  // left pending (its lease expires, tried again later).
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  const timeval accept_limit{20, 0};
  setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &accept_limit, sizeof(accept_limit));
  ASSERT_EQ(WriteEvents("example.com", absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port), "/hook"), 1).size(), 1u);
  StartDeliverer(&loopback_);
  const int connection = accept(listener, nullptr, nullptr);  // the POST is in flight
  ASSERT_GE(connection, 0);
  const auto start = std::chrono::steady_clock::now();
  deliverer_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(Pending(), 1u);
  EXPECT_EQ(metrics_.deliveries_retry->Value(), 0);
  close(connection);
  close(listener);
}

TEST(WebhookTest, SignatureIsHexHmacSha256OfTimeDotBody) {
  // python3: hmac.new(b"whsec_test", b'1700000000.{"id":"1"}', hashlib.sha256).hexdigest()
  EXPECT_EQ(WebhookSignature("whsec_test", 1700000000, "{\"id\":\"1\"}"),
            "t=1700000000,v1=11bf4466ea17c3df3fd743af0b435368e16b7a05eb8eced85e8c4670767bdec5");
}

TEST(WebhookTest, BodyIsTheEventInProtoFieldNames) {
  v1::WatchEvent e;
  e.set_id(42);
  e.set_watch("example.com");
  e.set_type(v1::EVENT_TYPE_CHANGED);
  e.set_candidate_ascii("xn--exmple-cua.com");
  e.set_candidate_unicode("exämple.com");
  e.mutable_record()->set_domain_ascii("xn--exmple-cua.com");
  const std::string body = WebhookBody(e);
  EXPECT_TRUE(absl::StrContains(body, "\"id\":\"42\"")) << body;
  EXPECT_TRUE(absl::StrContains(body, "\"candidate_ascii\":\"xn--exmple-cua.com\"")) << body;
  EXPECT_TRUE(absl::StrContains(body, "\"type\":\"EVENT_TYPE_CHANGED\"")) << body;
  EXPECT_TRUE(absl::StrContains(body, "\"record\":{\"domain_ascii\":\"xn--exmple-cua.com\"}")) << body;
}

TEST(WebhookTest, RetryDelayDoublesFromOneSecondToAnHour) {
  EXPECT_EQ(RetryDelay(1), absl::Seconds(1));
  EXPECT_EQ(RetryDelay(2), absl::Seconds(2));
  EXPECT_EQ(RetryDelay(3), absl::Seconds(4));
  EXPECT_EQ(RetryDelay(12), absl::Seconds(2048));
  EXPECT_EQ(RetryDelay(13), absl::Hours(1));
  EXPECT_EQ(RetryDelay(100000), absl::Hours(1));
  EXPECT_EQ(RetryDelay(3, absl::Milliseconds(50), absl::Milliseconds(120)), absl::Milliseconds(120));
}

TEST(WebhookTest, CheckWebhookUrl) {
  const workers::net::AddressPolicy strict;
  EXPECT_TRUE(CheckWebhookUrl("https://hooks.example.com/squat?x=1", strict).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://93.184.215.14:8080/hook", strict).ok());
  for (const char* bad : {"ftp://example.com/", "example.com/hook", "", "http://", "http://:8080/", "javascript:x"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(CheckWebhookUrl(bad, strict))) << bad << ": " << CheckWebhookUrl(bad, strict);
  }
  const absl::Status loopback = CheckWebhookUrl("http://127.0.0.1:8080/hook", strict);
  EXPECT_TRUE(absl::IsPermissionDenied(loopback)) << loopback;
  EXPECT_TRUE(absl::StrContains(loopback.message(), "127.0.0.0/8")) << loopback;
  const absl::Status private_range = CheckWebhookUrl("https://10.1.2.3/hook", strict);
  EXPECT_TRUE(absl::IsPermissionDenied(private_range)) << private_range;
  EXPECT_TRUE(absl::StrContains(private_range.message(), "10.0.0.0/8")) << private_range;
  EXPECT_TRUE(absl::IsPermissionDenied(CheckWebhookUrl("http://localhost:8080/", strict)));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckWebhookUrl("http://LOCALHOST./", strict)));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckWebhookUrl("http://[::1]:8080/", strict)));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckWebhookUrl("http://169.254.169.254/latest/meta-data", strict)));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckWebhookUrl("http://2130706433/", strict)));  // 127.0.0.1 as a number
  absl::StatusOr<workers::net::AddressPolicy> open = workers::net::AddressPolicy::WithAllowed({"127.0.0.0/8"});
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(CheckWebhookUrl("http://127.0.0.1:8080/hook", *open).ok());
}

}  // namespace
}  // namespace squatstream::watch
