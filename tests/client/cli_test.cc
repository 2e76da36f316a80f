// The CLI's decisions (client/cli.h) and the command line both programs read (base/flag_usage.h): flag
// spellings, kind names, URL arguments, the server's messages by argument, exit codes, the error, cap, DNS and
// summary lines, and `names`.
#include "client/cli.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "base/flag_usage.h"
#include "client/progress.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, cli_test_max_candidates, 0, "A flag for the spelling tests.");
ABSL_FLAG(bool, cli_test_registered, false, "A boolean flag for the spelling tests.");

namespace squatstream::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

base::UsageSpec TestUsage() {
  base::UsageSpec spec;
  spec.program = "cli_test";
  spec.synopsis = "Usage: cli_test [flags]";
  spec.groups = {{"Common flags", {"cli_test_registered"}}};
  spec.owns = [](absl::string_view file) { return absl::EndsWith(file, "cli_test.cc"); };
  return spec;
}

TEST(FlagSpelling, DashesBecomeUnderscoresInTheNameOnly) {
  EXPECT_EQ(base::SpellFlag("--max-candidates=5"), "--max_candidates=5");
  EXPECT_EQ(base::SpellFlag("-max-candidates"), "-max_candidates");
  EXPECT_EQ(base::SpellFlag("--kinds=tld-swap"), "--kinds=tld-swap");  // the value keeps its dashes
  EXPECT_EQ(base::SpellFlag("--"), "--");
  EXPECT_EQ(base::SpellFlag("-"), "-");
  EXPECT_EQ(base::SpellFlag("example.com"), "example.com");
}

TEST(FlagSpelling, ClosestFlag) {
  const std::vector<std::string> names = {"max_candidates", "registered", "format", "server"};
  EXPECT_EQ(base::ClosestFlag("max_candiates", names), "max_candidates");
  EXPECT_EQ(base::ClosestFlag("registred", names), "registered");
  EXPECT_EQ(base::ClosestFlag("max", names), "max_candidates");  // a prefix
  EXPECT_EQ(base::ClosestFlag("zzzzzz", names), "");
}

TEST(PreParse, RespellsChecksAndSetsFlags) {
  absl::StatusOr<base::PreParsed> p = base::PreParseCommandLine(
      {"prog", "--cli-test-max-candidates=7", "example.com", "--cli-test-registered"}, TestUsage());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->action, base::PreParsed::Action::kRun);
  EXPECT_THAT(p->args, ElementsAre("prog", "--cli_test_max_candidates=7", "example.com", "--cli_test_registered"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_max_candidates), 7);

  // "--flag value" for a flag that is not a boolean; --no-NAME of a boolean.
  p = base::PreParseCommandLine({"prog", "--cli-test-max-candidates", "9", "--no-cli-test-registered"}, TestUsage());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->args, ElementsAre("prog", "--cli_test_max_candidates", "9", "--nocli_test_registered"));

  // After "--" nothing is a flag.
  p = base::PreParseCommandLine({"prog", "--", "--not-a-flag"}, TestUsage());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->args, ElementsAre("prog", "--", "--not-a-flag"));
}

// One-letter spellings the spec names (dnstwist's -r, -f), with "=value" or the next argument as the value.
TEST(PreParse, ShortSpellingsStandForTheirFlags) {
  base::UsageSpec spec = TestUsage();
  spec.short_flags = {{"r", "cli_test_registered"}, {"n", "cli_test_max_candidates"}};
  absl::StatusOr<base::PreParsed> p = base::PreParseCommandLine({"prog", "-r", "-n=3", "example.com"}, spec);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->args, ElementsAre("prog", "--cli_test_registered", "--cli_test_max_candidates=3", "example.com"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_max_candidates), 3);
  p = base::PreParseCommandLine({"prog", "-n", "4"}, spec);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->args, ElementsAre("prog", "--cli_test_max_candidates", "4"));
  EXPECT_FALSE(base::PreParseCommandLine({"prog", "-x"}, spec).ok());
}

TEST(PreParse, UnknownFlagsAndBadValuesAreNamed) {
  absl::StatusOr<base::PreParsed> p = base::PreParseCommandLine({"prog", "--cli_test_max_candiates=5"}, TestUsage());
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "unknown flag --cli_test_max_candiates (did you mean --cli_test_max_candidates?)");
  p = base::PreParseCommandLine({"prog", "--cli_test_max_candidates=many"}, TestUsage());
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("bad value for --cli_test_max_candidates"));
  p = base::PreParseCommandLine({"prog", "--cli_test_max_candidates"}, TestUsage());
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("needs a value"));
}

TEST(PreParse, HelpAndVersion) {
  for (const char* help : {"-h", "--help", "-help"}) {
    absl::StatusOr<base::PreParsed> p = base::PreParseCommandLine({"prog", "example.com", help}, TestUsage());
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->action, base::PreParsed::Action::kHelp) << help;
  }
  absl::StatusOr<base::PreParsed> p = base::PreParseCommandLine({"prog", "--version"}, TestUsage());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->action, base::PreParsed::Action::kVersion);
  EXPECT_THAT(base::VersionLine("squatstream"), testing::MatchesRegex("squatstream [0-9.]+ \\(commit [^ ]+\\)"));
}

TEST(HelpText, GroupsFirstThenTheRestWithoutSourcePaths) {
  const std::string help = base::HelpText(TestUsage());
  const std::size_t common = help.find("Common flags:\n  --cli_test_registered (default: false)");
  const std::size_t other = help.find("Other flags:\n  --cli_test_max_candidates (default: 0)");
  EXPECT_NE(common, std::string::npos) << help;
  EXPECT_NE(other, std::string::npos) << help;
  EXPECT_LT(common, other);
  EXPECT_THAT(help, Not(HasSubstr(".cc")));

  const std::string client = base::HelpText(ClientUsage());
  EXPECT_THAT(client, HasSubstr("Exit codes:"));
  EXPECT_THAT(client, HasSubstr("130  interrupted"));
}

TEST(ParseKinds, AnyCaseDashOrUnderscore) {
  absl::StatusOr<std::vector<v1::PermutationKind>> k = ParseKinds("TLD_Swap, vowel-swap,tld-swap");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_THAT(*k, ElementsAre(v1::PERMUTATION_KIND_TLD_SWAP, v1::PERMUTATION_KIND_VOWEL_SWAP));
  EXPECT_TRUE(ParseKinds("").ok());
  EXPECT_EQ(CanonicalName(" Double_Vowel_Insertion "), "double-vowel-insertion");
}

TEST(ParseKinds, UnknownKindListsTheKinds) {
  absl::StatusOr<std::vector<v1::PermutationKind>> k = ParseKinds("addition,typo");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.status().message(), HasSubstr("unknown kind \"typo\"; the kinds are: addition, ascii-lookalike,"));
  EXPECT_THAT(k.status().message(), HasSubstr("vowel-swap"));
  absl::StatusOr<std::vector<v1::Enricher>> e = ParseEnrichers("DNS,Geo");
  ASSERT_TRUE(e.ok());
  EXPECT_THAT(*e, ElementsAre(v1::ENRICHER_DNS, v1::ENRICHER_GEO));
  e = ParseEnrichers("dns,rdap");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "unknown enricher \"rdap\"; the enrichers are: banner, dns, geo, whois");
}

TEST(ReduceUrl, TakesTheHost) {
  DomainArgument d = ReduceUrl("https://www.example.com/login");
  EXPECT_EQ(d.domain, "www.example.com");
  EXPECT_EQ(d.note, "squatstream: note: https://www.example.com/login is a URL; checking its host www.example.com");
  EXPECT_EQ(ReduceUrl("http://user:pw@example.com:8080?q=1#x").domain, "example.com");
  EXPECT_EQ(ReduceUrl("HTTP://Example.COM").domain, "Example.COM");
  // Not URLs, or nothing to take: kept as given, for the server's own message.
  for (const char* kept :
       {"example.com", "example.com/path", "example.com:443", "://example.com", "https://", "https://[2001:db8::1]/"}) {
    d = ReduceUrl(kept);
    if (std::string(kept) == "https://[2001:db8::1]/") {
      EXPECT_EQ(d.domain, "[2001:db8::1]");  // the server says it is an address
    } else {
      EXPECT_EQ(d.domain, kept);
      EXPECT_EQ(d.note, "");
    }
  }
}

TEST(RewriteArgumentIndexes, NamesTheArgumentByPositionAndValue) {
  const std::vector<std::string> sent = {"example.com", "com", "paypal.com"};
  EXPECT_EQ(RewriteArgumentIndexes("domains[1]: \"com\" is a top-level domain alone", sent),
            "argument 2 (\"com\"): \"com\" is a top-level domain alone");
  EXPECT_EQ(RewriteArgumentIndexes("domains[9]: x; domains[0] and domains[", sent),
            "domains[9]: x; argument 1 (\"example.com\") and domains[");
  // Through the sanitiser: a value's control characters are escaped.
  EXPECT_EQ(RewriteArgumentIndexes("domains[0]: bad", {"a\x1b[31mb"}), "argument 1 (\"a\\x1b[31mb\"): bad");
}

StreamEnd End(absl::StatusCode code, bool received, std::string message = "") {
  StreamEnd e;
  e.code = code;
  e.received_any = received;
  e.message = std::move(message);
  return e;
}

TEST(ExitCodeFor, EachEnd) {
  using C = absl::StatusCode;
  EXPECT_EQ(ExitCodeFor(End(C::kOk, true)), ExitCode::kOk);
  EXPECT_EQ(ExitCodeFor(End(C::kInternal, true)), ExitCode::kServerError);
  EXPECT_EQ(ExitCodeFor(End(C::kResourceExhausted, false)), ExitCode::kServerError);
  EXPECT_EQ(ExitCodeFor(End(C::kInvalidArgument, false)), ExitCode::kBadInput);
  EXPECT_EQ(ExitCodeFor(End(C::kUnavailable, false)), ExitCode::kUnreachable);
  EXPECT_EQ(ExitCodeFor(End(C::kUnavailable, true)), ExitCode::kPartial);
  EXPECT_EQ(ExitCodeFor(End(C::kDeadlineExceeded, true)), ExitCode::kPartial);
  EXPECT_EQ(ExitCodeFor(End(C::kDeadlineExceeded, false)), ExitCode::kPartial);
  StreamEnd idle = End(C::kCancelled, true);
  idle.idle_timed_out = true;
  EXPECT_EQ(ExitCodeFor(idle), ExitCode::kPartial);
  StreamEnd interrupted = End(C::kCancelled, true);
  interrupted.interrupted = true;
  EXPECT_EQ(ExitCodeFor(interrupted), ExitCode::kInterrupted);
  StreamEnd dns = End(C::kOk, true);
  dns.dns_checked = 10;
  dns.dns_failed = 5;
  EXPECT_EQ(ExitCodeFor(dns), ExitCode::kLookupsFailed);
  dns.dns_failed = 4;
  EXPECT_EQ(ExitCodeFor(dns), ExitCode::kOk);
  EXPECT_EQ(static_cast<int>(ExitCode::kInterrupted), 130);
}

CallSettings Settings() {
  return CallSettings{.server = "127.0.0.1:50051",
                      .deadline = absl::Seconds(30),
                      .idle_timeout = absl::Minutes(2),
                      .sent = {"example.com", "com"}};
}

TEST(ErrorLine, CodeByNameCauseAndNextStep) {
  using C = absl::StatusCode;
  EXPECT_EQ(ErrorLine(End(C::kUnavailable, false, "failed to connect to all addresses"), Settings()),
            "squatstream: UNAVAILABLE: cannot reach squatstreamd at 127.0.0.1:50051 (failed to connect to all "
            "addresses) — is it running? start it with: squatstreamd --grpc_address=127.0.0.1:50051");
  EXPECT_EQ(ErrorLine(End(C::kInvalidArgument, false, "domains[1]: a top-level domain alone"), Settings()),
            "squatstream: INVALID_ARGUMENT: argument 2 (\"com\"): a top-level domain alone — correct it and run again "
            "(see squatstream --help)");
  EXPECT_EQ(ErrorLine(End(C::kDeadlineExceeded, true, "Deadline Exceeded"), Settings()),
            "squatstream: DEADLINE_EXCEEDED: the deadline (--deadline=30s) passed before the scan ended — the records "
            "above are partial; raise --deadline (0: none)");
  EXPECT_EQ(ErrorLine(End(C::kUnavailable, true, "server shutting down"), Settings()),
            "squatstream: UNAVAILABLE: squatstreamd at 127.0.0.1:50051 is shutting down (server shutting down) — the "
            "records above are partial; run again once it is back");
  StreamEnd idle = End(C::kCancelled, true, "Cancelled");
  idle.idle_timed_out = true;
  EXPECT_EQ(ErrorLine(idle, Settings()),
            "squatstream: CANCELLED: no message from squatstreamd at 127.0.0.1:50051 for 2m (--idle_timeout) — the "
            "records above are partial; check the server's log, or raise --idle_timeout");
  EXPECT_EQ(ErrorLine(End(C::kOk, true), Settings()), "");
  StreamEnd interrupted = End(C::kCancelled, true);
  interrupted.interrupted = true;
  EXPECT_EQ(ErrorLine(interrupted, Settings()), "");
  // A server's message through the sanitiser.
  EXPECT_THAT(ErrorLine(End(C::kInternal, true, "bad\x1b]8;;"), Settings()),
              HasSubstr("squatstream: INTERNAL: bad\\x1b]8;; — the records above are partial"));
}

TEST(StopReason, SaysWhy) {
  using C = absl::StatusCode;
  StreamEnd interrupted = End(C::kCancelled, true);
  interrupted.interrupted = true;
  EXPECT_EQ(StopReason(interrupted, Settings()), "interrupted");
  EXPECT_EQ(StopReason(End(C::kOk, true), Settings()), "");
  EXPECT_EQ(StopReason(End(C::kDeadlineExceeded, true), Settings()), "the deadline (--deadline=30s) passed");
  StreamEnd idle = End(C::kCancelled, true);
  idle.idle_timed_out = true;
  EXPECT_EQ(StopReason(idle, Settings()), "no message for 2m (--idle_timeout)");
  EXPECT_EQ(StopReason(End(C::kUnavailable, true, "server shutting down"), Settings()), "the server shut down");
  EXPECT_EQ(StopReason(End(C::kInternal, true), Settings()), "server error INTERNAL");
}

v1::Progress Capped(std::uint64_t total, std::uint64_t uncapped, std::uint64_t cap, std::uint64_t limit) {
  v1::Progress p;
  p.set_generated(total);
  p.set_enriched(total);
  p.set_total(total);
  p.set_uncapped_total(uncapped);
  p.set_max_candidates(cap);
  p.set_max_candidates_limit(limit);
  return p;
}

TEST(CapLine, AnnouncedWhenTheCapCut) {
  EXPECT_EQ(CapLine(Capped(10000, 12550, 10000, 100000), 1),
            "squatstream: 10,000 of 12,550 candidates checked: the cap (10,000 per domain) cut the rest; raise "
            "--max_candidates (this server allows up to 100,000)");
  EXPECT_EQ(CapLine(Capped(100000, 100001, 100000, 100000), 1),
            "squatstream: 100,000 of more than 100,000 candidates checked: the cap (100,000 per domain, the most this "
            "server allows) cut the rest");
  EXPECT_EQ(CapLine(Capped(5062, 0, 10000, 100000), 1), std::nullopt);
  EXPECT_EQ(CapLine(Capped(5062, 5062, 10000, 100000), 1), std::nullopt);
  v1::Progress partial = Capped(10000, 12550, 10000, 100000);
  partial.set_enriched(4000);
  EXPECT_EQ(CapLine(partial, 1),
            "squatstream: 10,000 of 12,550 candidates: the cap (10,000 per domain) cut the rest; raise "
            "--max_candidates (this server allows up to 100,000)");
}

v1::Record DnsRecord(int code, v1::DnsVerdict verdict, const std::string& message = "") {
  v1::Record r;
  v1::Enrichment* e = r.add_enrichments();
  e->set_enricher(v1::ENRICHER_DNS);
  e->mutable_status()->set_code(code);
  e->mutable_status()->set_message(message);
  e->mutable_dns()->set_verdict(verdict);
  return r;
}

TEST(DnsTally, CountsFailuresNotNotFound) {
  DnsTally t;
  t.Add(DnsRecord(0, v1::DNS_VERDICT_REGISTERED));
  t.Add(DnsRecord(5, v1::DNS_VERDICT_UNREGISTERED));  // NOT_FOUND: an answer, not a failure
  t.Add(DnsRecord(14, v1::DNS_VERDICT_UNKNOWN, "resolver 127.0.0.1:9 unreachable"));
  t.Add(DnsRecord(4, v1::DNS_VERDICT_UNKNOWN, "timeout"));
  t.Add(v1::Record());  // no DNS result
  EXPECT_EQ(t.checked, 4u);
  EXPECT_EQ(t.failed, 2u);
  EXPECT_EQ(t.registered, 1u);
  EXPECT_EQ(t.first_failure, "resolver 127.0.0.1:9 unreachable");
  EXPECT_EQ(DnsVerdictOf(DnsRecord(0, v1::DNS_VERDICT_UNREGISTERED)), v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_EQ(DnsVerdictOf(v1::Record()), v1::DNS_VERDICT_UNSPECIFIED);
}

TEST(DnsFailureLine, AdviceWhenMostFailed) {
  EXPECT_EQ(DnsFailureLine(812, 812, "resolver unreachable"),
            "squatstream: DNS failed for 812 of 812 names (first: resolver unreachable) — is the server's resolver "
            "reachable?");
  EXPECT_EQ(DnsFailureLine(3, 5062, "timeout"), "squatstream: DNS failed for 3 of 5,062 names (first: timeout)");
  EXPECT_EQ(DnsFailureLine(0, 5062, ""), std::nullopt);
  EXPECT_TRUE(MostLookupsFailed(1, 2));
  EXPECT_FALSE(MostLookupsFailed(0, 0));
}

// The summary says how far a stream got and why it stopped.
TEST(SummaryWording, StoppedEarly) {
  v1::Progress p;
  p.set_generated(5062);
  p.set_enriched(2000);
  p.set_total(5062);
  StreamSummary s{.domain = "paypal.com", .records = 12, .progress = p, .batches = 3, .seconds = 20};
  s.stopped = "interrupted";
  EXPECT_THAT(SummaryLine(s), HasSubstr("paypal.com: 12 records, 2,000 of 5,062 candidates checked in 20.0 s"));
  EXPECT_TRUE(absl::EndsWith(SummaryLine(s), "; stopped early: interrupted")) << SummaryLine(s);
  // Before the total was known: of what was generated, "+".
  p.set_total(0);
  p.set_generated(4096);
  s.progress = p;
  EXPECT_THAT(SummaryLine(s), HasSubstr("2,000 of 4,096+ candidates checked"));
}

TEST(GenerateNames, TheEngineLocally) {
  std::vector<std::string> names;
  ASSERT_TRUE(GenerateNames({"example.com"}, {v1::PERMUTATION_KIND_TLD_SWAP}, 3, false, [&](const v1::Record& r) {
                EXPECT_EQ(r.kind(), v1::PERMUTATION_KIND_TLD_SWAP);
                EXPECT_EQ(r.input(), "example.com");
                EXPECT_EQ(r.enrichments_size(), 0);
                names.push_back(r.domain_ascii());
              }).ok());
  EXPECT_EQ(names.size(), 3u);
  names.clear();
  absl::Status s = GenerateNames({"example.com", "com"}, {}, 0, false,
                                 [&](const v1::Record& r) { names.push_back(r.domain_ascii()); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("argument 2 (\"com\"): "));
  EXPECT_GT(names.size(), 100u);  // the first domain's, every kind
}

}  // namespace
}  // namespace squatstream::client
