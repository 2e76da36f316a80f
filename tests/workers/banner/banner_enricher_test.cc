// The banner stage against real peers on loopback (banner_peers.py: Debian's nginx with a self-signed
// certificate openssl made, sshd, aiosmtpd; Python servers that never answer), and its parsers on their own.
// The expected values come from the peers (their JSON: the certificate's fingerprint as openssl prints it,
// the identification line as sshd sent it), not typed in.
#include "workers/banner/banner_enricher.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "asio/cancellation_signal.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/workers/dns/dns_peers.h"
#include "tests/workers/dns_record.h"
#include "workers/banner/certificate.h"
#include "workers/banner/line_probes.h"
#include "workers/banner/page.h"

namespace squatstream::workers::banner {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace peers = ::squatstream::workers::dns::testing;

std::string ReadAll(const std::string& path) { return peers::ReadFile(path); }

// --- Parsers -------------------------------------------------------------------------------------------

TEST(SmtpReplyTest, MultiLineRepliesEndAtTheSpaceAfterTheCode) {
  auto r = ParseSmtpReply("250-mx.example\r\n250-SIZE 100\r\n250 STARTTLS\r\n221 extra");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->first.code, 250);
  EXPECT_THAT((*r)->first.lines, ::testing::ElementsAre("mx.example", "SIZE 100", "STARTTLS"));
  EXPECT_EQ((*r)->second, std::string("250-mx.example\r\n250-SIZE 100\r\n250 STARTTLS\r\n").size());
  EXPECT_FALSE(ParseSmtpReply("250-mx.example\r\n250-SI")->has_value());  // more to read
  EXPECT_FALSE(ParseSmtpReply("HTTP/1.1 400 Bad Request\r\n").ok());
  EXPECT_FALSE(ParseSmtpReply("250-a\r\n251 b\r\n").ok());  // codes disagree
  EXPECT_FALSE(ParseSmtpReply(std::string(3000, '2')).ok());
  EXPECT_EQ((*ParseSmtpReply("220\r\n"))->first.code, 220);  // a bare code is a reply
}

TEST(SshIdentificationTest, OtherLinesMayComeFirst) {
  EXPECT_EQ(**ParseSshIdentification("hello\r\nSSH-2.0-OpenSSH_9.2\r\n"), "SSH-2.0-OpenSSH_9.2");
  EXPECT_FALSE(ParseSshIdentification("SSH-2.0-Open")->has_value());
  EXPECT_FALSE(ParseSshIdentification(std::string(300, 'x')).ok());
  std::string many;
  for (int i = 0; i < 25; ++i) many += "banner\r\n";
  EXPECT_FALSE(ParseSshIdentification(many).ok());
  EXPECT_FALSE(ParseSshIdentification("SSH-2.0-\x01\r\n").ok());
}

TEST(PageTest, TitlesAreDecodedCollapsedAndBounded) {
  EXPECT_EQ(ExtractTitle("<html><TITLE lang=en>\n  Caf&eacute; &amp; Bar &#x263A; &#65;\t</title>"),
            "Caf&eacute; & Bar \xE2\x98\xBA A");
  EXPECT_EQ(ExtractTitle("<titles>no</titles><title>yes</title>"), "yes");
  EXPECT_EQ(ExtractTitle("<p>no title</p>"), "");
  EXPECT_EQ(ExtractTitle("<title>" + std::string(1000, 'a')).size(), 256u);  // unclosed, cut
}

TEST(PageTest, SimilarityRanksANearCopyAboveAnUnrelatedPage) {
  const std::string dir = SQUATSTREAM_BANNER_PAGES;
  const auto original = PageHash(ReadAll(dir + "/original.html"));
  const auto copy = PageHash(ReadAll(dir + "/copy.html"));
  const auto unrelated = PageHash(ReadAll(dir + "/unrelated.html"));
  ASSERT_TRUE(original && copy && unrelated);
  EXPECT_EQ(*Similarity(*original, *original), 100);
  EXPECT_GE(*Similarity(*original, *copy), 80);
  EXPECT_LE(*Similarity(*original, *unrelated), 50);
  EXPECT_FALSE(PageHash("<html>tiny</html>").has_value());  // too small to hash
  // Scripts, styles, comments and whitespace do not count.
  const std::string page = ReadAll(dir + "/original.html");
  EXPECT_EQ(NormaliseHtml(page), NormaliseHtml("<!-- tracking -->\n<script>var a=1;</script>" + page + "  \n"));
}

TEST(PageTest, ParkingSignsFromNameServersAndPage) {
  google::protobuf::RepeatedPtrField<std::string> ns;
  *ns.Add() = "NS1.SEDOPARKING.COM";
  *ns.Add() = "ns2.example.net";
  EXPECT_THAT(ParkedSignals("<p>Welcome</p>", ns), ::testing::ElementsAre("ns:sedoparking.com"));
  EXPECT_THAT(ParkedSignals(ReadAll(std::string(SQUATSTREAM_BANNER_PAGES) + "/parked.html"), {}),
              ::testing::Contains(StartsWith("page:")));
  EXPECT_TRUE(ParkedSignals(ReadAll(std::string(SQUATSTREAM_BANNER_PAGES) + "/original.html"), {}).empty());
}

TEST(BoundTest, AHostileRecordStaysSmall) {
  v1::BannerResult b;
  for (int p = 0; p < 4; ++p) {
    v1::HttpProbe* probe = b.add_http();
    probe->set_scheme(p % 2 == 0 ? "http" : "https");
    for (int h = 0; h < 6; ++h) {
      v1::HttpHop* hop = probe->add_hops();
      hop->set_url("http://x.example/" + std::string(100000, 'a'));
      hop->set_location("http://x.example/" + std::string(100000, 'b'));
      for (int c = 0; c < 4; ++c) {
        v1::Certificate* cert = hop->mutable_tls()->add_chain();
        for (int s = 0; s < 256; ++s) cert->add_sans(std::string(200, 'n'));
      }
    }
  }
  v1::SmtpProbe* smtp = b.mutable_smtp();
  for (int i = 0; i < 64; ++i) smtp->add_ehlo(std::string(2000, 'e'));
  BoundBannerResult(&b);
  EXPECT_LE(b.ByteSizeLong(), std::size_t{64} << 10);
  EXPECT_EQ(b.http(0).hops(0).url().size(), 256u + 3);  // cut to 2 KiB, then, the record still too big, 256
  EXPECT_EQ(b.http(1).hops(0).tls().chain_size(), 1);   // the leaf kept
  EXPECT_FALSE(b.http(1).hops(1).has_tls());
  // A record within bounds is left as it is.
  v1::BannerResult small;
  small.add_http()->add_hops()->set_url("http://x.example/");
  small.mutable_ssh()->set_identification("SSH-2.0-x");
  const std::string before = small.SerializeAsString();
  BoundBannerResult(&small);
  EXPECT_EQ(small.SerializeAsString(), before);
}

// --- Against the peers ---------------------------------------------------------------------------------

// A field of the peers' JSON line: a string or number, at the top or in the flat object `section`.
std::string Field(const std::string& json, const std::string& key, const std::string& section = "") {
  std::string text = json;
  if (!section.empty()) {
    const std::size_t at = json.find("\"" + section + "\": {");
    if (at == std::string::npos) return "";
    text = json.substr(at, json.find('}', at) - at);
  }
  std::smatch m;
  if (std::regex_search(text, m, std::regex("\"" + key + "\": *\"([^\"]*)\""))) return m[1];
  if (std::regex_search(text, m, std::regex("\"" + key + "\": *([0-9]+)"))) return m[1];
  return "";
}

class BannerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char path_template[] = "/tmp/squatstream-banner-XXXXXX";
    const int fd = mkstemp(path_template);
    close(fd);
    out_ = path_template;
    pid_ = peers::Spawn({"/usr/bin/python3", SQUATSTREAM_BANNER_PEERS, "--until-signal"}, out_);
    for (int i = 0; i < 1200 && json_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      const std::string text = peers::ReadFile(out_);
      if (absl::StrContains(text, '\n')) json_ = text;
    }
    ASSERT_FALSE(json_.empty()) << "banner_peers.py did not start: " << peers::ReadFile(out_ + ".err");
  }
  static void TearDownTestSuite() {
    peers::Stop(pid_);
    for (const std::string& f : {out_, out_ + ".err"}) std::remove(f.c_str());
  }

  void SetUp() override {
    work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
    runner_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (enricher_ != nullptr) enricher_->Shutdown();
    work_.reset();
    if (runner_.joinable()) runner_.join();
    enricher_.reset();
  }

  static int Port(const char* key) { return std::atoi(Field(json_, key).c_str()); }

  BannerOptions Options() const {
    BannerOptions o;
    o.http_port = Port("http_port");
    o.https_port = Port("https_port");
    o.smtp_port = Port("smtp_port");
    o.ssh_port = Port("ssh_port");
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.first_byte_timeout = std::chrono::milliseconds(1000);
    o.request_timeout = std::chrono::milliseconds(3000);
    o.deadline = absl::Seconds(10);
    o.max_body_bytes = 64 << 10;
    o.policy = *net::AddressPolicy::WithAllowed({"127.0.0.0/8"});  // the peers; refused by default
    return o;
  }

  // Names resolve to the peers' addresses: <scenario>.banner.test, and mx-<accept|refuse|silent>.banner.test
  // for the SMTP peers.
  static HostResolver Resolver() {
    return [](const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
      std::smatch m;
      std::vector<std::string> out;
      if (std::regex_match(host, m, std::regex("mx-(accept|refuse|silent)\\.banner\\.test"))) {
        out.push_back(Field(json_, m[1], "smtp"));
      } else if (std::regex_match(host, m, std::regex("([a-z]+)\\.banner\\.test"))) {
        out.push_back(Field(json_, m[1], "addresses"));
      }
      if (!out.empty() && out[0].empty()) out.clear();
      std::move(done)(std::move(out));
    };
  }

  void Start(const BannerOptions& options) {
    absl::StatusOr<std::unique_ptr<BannerEnricher>> e =
        BannerEnricher::Create(options, io_.get_executor(), Resolver(), &metrics_);
    ASSERT_TRUE(e.ok()) << e.status();
    enricher_ = *std::move(e);
  }

  // The record of `name` (input `input`) as DNS would leave it: `address`, and `mx` when given.
  static v1::Record RecordFor(const std::string& name, const std::string& address, const std::string& mx = "",
                              const std::string& input = "") {
    v1::Record r = squatstream::testing::RecordAfterDns(name, v1::DNS_VERDICT_REGISTERED, {address});
    if (!mx.empty()) r.mutable_enrichments(0)->mutable_dns()->add_mail_exchangers(mx);
    r.set_input(input);
    return r;
  }

  std::future<LookupResult> Ask(const v1::Record& record, asio::cancellation_slot slot = {}) {
    auto promise = std::make_shared<std::promise<LookupResult>>();
    std::future<LookupResult> f = promise->get_future();
    enricher_->Lookup(LookupInput{record.domain_ascii(), record}, strand_, slot,
                      [promise](LookupResult r) { promise->set_value(std::move(r)); });
    return f;
  }
  v1::BannerResult Lookup(const v1::Record& record) {
    std::future<LookupResult> f = Ask(record);
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << record.domain_ascii() << ": no result within 30 s";
      return {};
    }
    LookupResult r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status;
    return r.value.banner();
  }
  static std::string Addr(const char* scenario) { return Field(json_, scenario, "addresses"); }
  double Counter(const std::string& name, const std::string& protocol, const std::string& outcome = "") {
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& m : family.metric) {
        bool match = true;
        for (const auto& l : m.label) {
          if ((l.name == "protocol" && l.value != protocol) || (l.name == "outcome" && l.value != outcome)) {
            match = false;
          }
        }
        if (match) return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
      }
    }
    return -1;
  }

  static inline std::string out_, json_;
  static inline pid_t pid_ = -1;
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(io_);
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread runner_;
  prometheus::Registry registry_;
  BannerMetrics metrics_{registry_};
  std::unique_ptr<BannerEnricher> enricher_;
};

TEST_F(BannerTest, PlainServersAsTheyAnswer) {
  Start(Options());
  const v1::BannerResult b = Lookup(RecordFor("plain.banner.test", Addr("plain"), "mx-accept.banner.test"));
  ASSERT_EQ(b.http_size(), 2);  // http and https on the one IPv4 address
  const v1::HttpProbe& http = b.http(0);
  EXPECT_EQ(http.scheme(), "http");
  EXPECT_EQ(http.status().code(), 0) << http.status().message();
  EXPECT_EQ(http.final_status(), 200u);
  EXPECT_EQ(http.title(), "Plain Fixture Page");
  ASSERT_EQ(http.hops_size(), 1);
  EXPECT_EQ(http.hops(0).server(), Field(json_, "server_header"));
  EXPECT_EQ(http.hops(0).address(), Addr("plain"));
  EXPECT_EQ(b.http_status(), 200u);
  EXPECT_EQ(b.title(), "Plain Fixture Page");
  // HTTPS: the self-signed certificate as openssl described it, kept, and not verified.
  const v1::HttpProbe& https = b.http(1);
  EXPECT_EQ(https.final_status(), 200u) << https.status().message();
  ASSERT_TRUE(b.has_tls());
  ASSERT_EQ(b.tls().chain_size(), 1);
  EXPECT_EQ(b.tls().chain(0).sha256(), Field(json_, "cert_sha256"));
  EXPECT_TRUE(b.tls().chain(0).self_signed());
  EXPECT_EQ(b.tls().chain(0).key_algorithm(), "RSA");
  EXPECT_EQ(b.tls().chain(0).key_bits(), 2048u);
  EXPECT_THAT(b.tls().chain(0).sans(), ::testing::Contains("plain.banner.test"));
  EXPECT_FALSE(b.tls().verified());
  EXPECT_THAT(b.tls().verify_error(), HasSubstr("self-signed"));
  // SSH and SMTP as the servers sent them; the MX check got to RCPT and was accepted.
  EXPECT_EQ(b.ssh().identification(), Field(json_, "ssh_banner"));
  EXPECT_EQ(b.ssh().status().code(), 0);
  EXPECT_EQ(b.smtp().status().code(), 0) << b.smtp().status().message();
  EXPECT_THAT(b.smtp().banner(), StartsWith("220 "));
  EXPECT_EQ(b.smtp().mail_code(), 250u);
  EXPECT_EQ(b.smtp().rcpt_code(), 250u);
  EXPECT_TRUE(b.smtp().accepts_any_recipient());
  EXPECT_THAT(b.smtp().rcpt_to(), ::testing::EndsWith("@plain.banner.test"));
  EXPECT_FALSE(b.smtp().ehlo().empty());
  // Never DATA.
  const std::string log = ReadAll(Field(json_, "smtp_log"));
  EXPECT_THAT(log, HasSubstr("RCPT"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("DATA")));
  EXPECT_EQ(Counter("squatstream_banner_connections_total", "ssh", "ok"), 1);
  EXPECT_EQ(Counter("squatstream_banner_bytes_read_total", "ssh"),
            static_cast<double>(Field(json_, "ssh_banner").size() + 2));  // the line and its CR LF
  EXPECT_GT(Counter("squatstream_banner_bytes_read_total", "smtp"), 50);
  EXPECT_GT(Counter("squatstream_banner_bytes_read_total", "http"), 100);
}

TEST_F(BannerTest, ARedirectChainIsFollowedHopByHopIntoHttps) {
  Start(Options());
  const v1::BannerResult b = Lookup(RecordFor("chain.banner.test", Addr("chain"), "mx-refuse.banner.test"));
  const v1::HttpProbe& http = b.http(0);
  ASSERT_EQ(http.hops_size(), 3) << http.DebugString();
  EXPECT_EQ(http.hops(0).status(), 301u);
  EXPECT_EQ(http.hops(0).location(), "http://chain.banner.test:" + Field(json_, "http_port") + "/step2");
  EXPECT_EQ(http.hops(1).status(), 302u);
  EXPECT_THAT(http.hops(2).url(), StartsWith("https://chain.banner.test:"));
  EXPECT_EQ(http.hops(2).status(), 200u);
  EXPECT_EQ(http.hops(2).tls().chain(0).sha256(), Field(json_, "cert_sha256"));
  EXPECT_FALSE(http.hops(0).has_tls());
  EXPECT_EQ(http.title(), "Chain Final");
  // The refusing mail server: RCPT read and said refused.
  EXPECT_EQ(b.smtp().rcpt_code(), 550u);
  EXPECT_FALSE(b.smtp().accepts_any_recipient());
  EXPECT_THAT(b.smtp().rcpt_reply(), HasSubstr("no such user"));
}

TEST_F(BannerTest, SilentServersTimeOutInTheirPhase) {
  Start(Options());
  const auto start = std::chrono::steady_clock::now();
  const v1::BannerResult b = Lookup(RecordFor("slow.banner.test", Addr("slow"), "mx-silent.banner.test"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));  // phases, not the deadline
  EXPECT_EQ(b.http(0).status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(b.http(0).status().message(), HasSubstr("first byte"));
  EXPECT_EQ(b.http(1).status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(b.http(1).status().message(), HasSubstr("connect phase (TCP and TLS handshake"));
  EXPECT_EQ(b.smtp().status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(b.smtp().status().message(), HasSubstr("greeting"));
  EXPECT_EQ(b.ssh().status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(b.ssh().status().message(), HasSubstr("identification"));
  EXPECT_EQ(Counter("squatstream_banner_connections_total", "smtp", "timeout"), 1);
}

TEST_F(BannerTest, AnEndlessBodyIsCutAtTheCap) {
  BannerOptions o = Options();
  o.http = true;
  o.smtp = o.ssh = false;
  Start(o);
  const v1::BannerResult b = Lookup(RecordFor("endless.banner.test", Addr("endless")));
  EXPECT_EQ(b.http(0).final_status(), 200u) << b.http(0).status().message();
  EXPECT_TRUE(b.http(0).body_truncated());
  EXPECT_EQ(b.http(0).body_bytes(), o.max_body_bytes);
  EXPECT_EQ(b.http(0).title(), "Endless");
  EXPECT_LT(Counter("squatstream_banner_bytes_read_total", "http"), 4.0 * static_cast<double>(o.max_body_bytes));
}

TEST_F(BannerTest, RedirectsIntoMetadataOrPrivateAddressesAreRefusedWithTheReason) {
  BannerOptions o = Options();
  o.smtp = o.ssh = false;
  Start(o);
  for (const char* scenario : {"metadata", "private"}) {
    const v1::BannerResult b = Lookup(RecordFor(std::string(scenario) + ".banner.test", Addr(scenario)));
    const v1::HttpProbe& http = b.http(0);
    ASSERT_EQ(http.hops_size(), 2) << scenario << ": " << http.DebugString();
    EXPECT_EQ(http.hops(0).status(), 302u);
    EXPECT_EQ(http.hops(0).location(), Field(json_, scenario, "redirects"));
    EXPECT_EQ(http.hops(1).error().code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(http.status().code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(http.status().message(),
                HasSubstr(std::string(scenario) == "metadata" ? "169.254.169.254" : "10.0.0.1"));
  }
  // Both scenarios' http and https probes were sent to an http:// address: four refusals, none dialled.
  EXPECT_EQ(Counter("squatstream_banner_ssrf_refusals_total", "http"), 4);
}

// The SSRF table: by default no probe dials any of these (each is refused before a socket exists).
TEST_F(BannerTest, TheDefaultPolicyDialsNoPrivateOrSpecialAddress) {
  BannerOptions o = Options();
  o.policy = net::AddressPolicy();  // the default: nothing opened
  o.similarity = false;
  Start(o);
  for (const char* address : {"127.0.0.11",
                              "10.1.2.3",
                              "172.16.0.1",
                              "192.168.1.1",
                              "169.254.169.254",
                              "100.64.0.1",
                              "100.100.100.200",
                              "0.0.0.0",
                              "224.0.0.1",
                              "240.0.0.1",
                              "255.255.255.255",
                              "192.0.2.1",
                              "198.51.100.1",
                              "203.0.113.1",
                              "198.18.0.1",
                              "::1",
                              "::",
                              "fc00::1",
                              "fd00:ec2::254",
                              "fe80::1",
                              "ff02::1",
                              "2001:db8::1",
                              "::ffff:10.0.0.1",
                              "::ffff:127.0.0.1",
                              "::127.0.0.1",
                              "64:ff9b::a00:1",
                              "64:ff9b::7f00:1",
                              "2002:a00:1::1",
                              "2002:7f00:1::1"}) {
    const v1::BannerResult b = Lookup(RecordFor("plain.banner.test", address));
    ASSERT_EQ(b.http_size(), 2) << address;
    for (const v1::HttpProbe& p : b.http()) {
      EXPECT_EQ(p.status().code(), static_cast<int>(absl::StatusCode::kPermissionDenied))
          << address << " " << p.scheme() << ": " << p.status().message();
    }
    EXPECT_EQ(b.ssh().status().code(), static_cast<int>(absl::StatusCode::kPermissionDenied)) << address;
  }
  EXPECT_EQ(Counter("squatstream_banner_connections_total", "http", "ok"), 0);
}

TEST_F(BannerTest, SimilarityToTheInputDomainsPageAndParking) {
  BannerOptions o = Options();
  o.smtp = o.ssh = false;
  Start(o);
  const v1::BannerResult copy =
      Lookup(RecordFor("copy.banner.test", Addr("copy"), "", /*input=*/"original.banner.test"));
  ASSERT_TRUE(copy.similarity_known()) << copy.DebugString();
  EXPECT_GE(copy.similarity(), 80u);
  EXPECT_FALSE(copy.parked());
  const v1::BannerResult unrelated =
      Lookup(RecordFor("unrelated.banner.test", Addr("unrelated"), "", "original.banner.test"));
  ASSERT_TRUE(unrelated.similarity_known());
  EXPECT_LE(unrelated.similarity(), 50u);
  const v1::BannerResult parked = Lookup(RecordFor("parked.banner.test", Addr("parked"), "", "original.banner.test"));
  EXPECT_TRUE(parked.parked());
  EXPECT_THAT(parked.parked_signals(), ::testing::Contains(StartsWith("page:")));
  // The input domain's page was fetched once for the three.
  double fetched = -1;
  for (const auto& f : registry_.Collect()) {
    if (f.name == "squatstream_banner_original_pages_total") fetched = f.metric[0].counter.value;
  }
  EXPECT_EQ(fetched, 1);
}

// The lookup's deadline cuts probes still running or waiting for a slot; every lookup ends, and a probe that
// never got a slot is not counted as a connection.
TEST_F(BannerTest, TheLookupDeadlineCutsProbesRunningAndWaiting) {
  BannerOptions o = Options();
  o.deadline = absl::Milliseconds(600);
  o.max_per_address = 1;
  o.first_byte_timeout = std::chrono::milliseconds(5000);
  o.request_timeout = std::chrono::milliseconds(10000);
  o.similarity = false;
  Start(o);
  std::vector<v1::Record> records;
  records.reserve(4);
  for (int i = 0; i < 4; ++i) records.push_back(RecordFor("slow.banner.test", Addr("slow"), "mx-silent.banner.test"));
  std::vector<std::future<LookupResult>> futures;
  futures.reserve(records.size());
  for (const v1::Record& r : records) futures.push_back(Ask(r));
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const LookupResult r = f.get();
    ASSERT_TRUE(r.status.ok()) << r.status;
    const v1::BannerResult& b = r.value.banner();
    for (const v1::HttpProbe& p : b.http()) {
      EXPECT_EQ(p.status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
      EXPECT_THAT(p.status().message(), HasSubstr("deadline"));
    }
    EXPECT_EQ(b.ssh().status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
    EXPECT_EQ(b.smtp().status().code(), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  }
  // One address, one connection at a time: at most a handful were dialled, not 4 x 4. (A cut HTTP request is
  // counted when libcurl's thread hands it back: polled.)
  double dialled = 0;
  for (int i = 0; i < 100 && dialled == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const char* protocol : {"http", "https", "smtp", "ssh"}) {
      dialled += Counter("squatstream_banner_connections_total", protocol, "timeout");
    }
  }
  EXPECT_LE(dialled, 6);
  EXPECT_GE(dialled, 1);
}

TEST_F(BannerTest, CancellingEndsTheLookupAtOnceAndNeverInsideEmit) {
  Start(Options());
  asio::cancellation_signal signal;
  const v1::Record record = RecordFor("slow.banner.test", Addr("slow"), "mx-silent.banner.test");
  auto emitting = std::make_shared<std::atomic<bool>>(false);
  auto inside = std::make_shared<std::atomic<bool>>(false);
  auto promise = std::make_shared<std::promise<LookupResult>>();
  std::future<LookupResult> f = promise->get_future();
  auto running = std::make_shared<std::promise<void>>();
  asio::post(strand_, [&, emitting, inside, promise] {
    enricher_->Lookup(LookupInput{record.domain_ascii(), record}, strand_, signal.slot(),
                      [emitting, inside, promise](LookupResult r) {
                        inside->store(emitting->load());
                        promise->set_value(std::move(r));
                      });
  });
  // Probes out (the silent server accepts and says nothing): cancel from the strand, as the pipeline does.
  for (int i = 0; i < 200 && Counter("squatstream_banner_connections_open", "", "") <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto cancelled_at = std::chrono::steady_clock::now();
  asio::post(strand_, [&signal, emitting] {
    emitting->store(true);
    signal.emit(asio::cancellation_type::all);
    emitting->store(false);
  });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(500));
  EXPECT_EQ(f.get().status.code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(inside->load()) << "done ran inside emit()";
}

// A cancel emitted before the lookup's start has run is not lost: the lookup ends CANCELLED at once and dials
// nothing.
TEST_F(BannerTest, ACancelBeforeTheStartIsKept) {
  Start(Options());
  asio::cancellation_signal signal;
  const v1::Record record = RecordFor("slow.banner.test", Addr("slow"), "mx-silent.banner.test");
  auto promise = std::make_shared<std::promise<LookupResult>>();
  std::future<LookupResult> f = promise->get_future();
  asio::post(strand_, [&, promise] {
    enricher_->Lookup(LookupInput{record.domain_ascii(), record}, strand_, signal.slot(),
                      [promise](LookupResult r) { promise->set_value(std::move(r)); });
    signal.emit(asio::cancellation_type::all);  // before the posted start
  });
  ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(f.get().status.code(), absl::StatusCode::kCancelled);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double dialled = 0;
  for (const char* protocol : {"http", "https", "smtp", "ssh"}) {
    for (const char* outcome : {"ok", "refused", "timeout", "denied", "error", "cancelled"}) {
      dialled += Counter("squatstream_banner_connections_total", protocol, outcome);
    }
  }
  EXPECT_EQ(dialled, 0);
}

TEST_F(BannerTest, TheConnectionCapsHoldAndEveryLookupEnds) {
  BannerOptions o = Options();
  o.max_connections = 2;
  o.max_per_address = 1;
  o.similarity = false;
  Start(o);
  std::vector<v1::Record> records;
  records.reserve(6);
  for (int i = 0; i < 6; ++i) records.push_back(RecordFor("plain.banner.test", Addr("plain"), "mx-accept.banner.test"));
  std::vector<std::future<LookupResult>> futures;
  futures.reserve(records.size());
  for (const v1::Record& r : records) futures.push_back(Ask(r));
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const LookupResult r = f.get();
    EXPECT_EQ(r.value.banner().http(0).final_status(), 200u);
    EXPECT_EQ(r.value.banner().ssh().identification(), Field(json_, "ssh_banner"));
  }
  double waits = -1, open = -1;
  for (const auto& f : registry_.Collect()) {
    if (f.name == "squatstream_banner_connection_waits_total") waits = f.metric[0].counter.value;
    if (f.name == "squatstream_banner_connections_open") open = f.metric[0].gauge.value;
  }
  EXPECT_GT(waits, 0);
  EXPECT_EQ(open, 0);
}

TEST(CertificateTest, NotACertificateIsSaid) {
  EXPECT_FALSE(ParseCertificatePem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  absl::StatusOr<std::shared_ptr<TrustStore>> store = TrustStore::Load();
  ASSERT_TRUE(store.ok()) << store.status();
  v1::TlsInfo tls;
  (*store)->Describe({"garbage"}, "example.com", &tls);
  EXPECT_FALSE(tls.verified());
  EXPECT_THAT(tls.verify_error(), HasSubstr("does not parse"));
}

}  // namespace
}  // namespace squatstream::workers::banner
