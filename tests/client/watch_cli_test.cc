// `squatstream watch` (client/watch_cli.h) without a server: where "watch" is found on the command line, each
// verb's arguments and flags, durations, triage names, the watch list in its three formats, the event lines
// (table, CSV, JSON) from hand-built events, exit codes and the error lines.
#include "client/watch_cli.h"

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

WatchCommand Parsed(const std::vector<std::string>& args) {
  absl::StatusOr<WatchCommand> c = ParseWatchCommand(args);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : WatchCommand{};
}

std::string Refused(const std::vector<std::string>& args) {
  absl::StatusOr<WatchCommand> c = ParseWatchCommand(args);
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(c.status().message());
}

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);  // 2025-06-15T15:06:40Z

TEST(FindWatchCommand, TheFirstArgumentThatIsNoFlagNorAFlagsValue) {
  EXPECT_EQ(FindWatchCommand({"squatstream", "watch", "list"}), 1u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "--server=h:1", "watch", "list"}), 2u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "--server", "h:1", "watch", "list"}), 3u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "-f", "csv", "watch", "list"}), 3u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "--follow", "watch", "events"}), 2u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "--", "watch"}), 2u);
  EXPECT_EQ(FindWatchCommand({"squatstream", "example.com", "watch"}), std::nullopt);
  EXPECT_EQ(FindWatchCommand({"squatstream", "names", "watch"}), std::nullopt);
  EXPECT_EQ(FindWatchCommand({"squatstream", "--help"}), std::nullopt);
  EXPECT_EQ(FindWatchCommand({"squatstream"}), std::nullopt);
}

TEST(ParseWatchCommand, AddWithEveryFlag) {
  const WatchCommand c =
      Parsed({"add", "example.com", "--every=1d", "--kinds=TLD_Swap,homoglyph", "--enrichers", "dns,GEO",
              "--max-candidates=500", "--webhook=https://hooks.example/x", "--webhook_secret=s3cret"});
  ASSERT_EQ(c.verb, WatchVerb::kAdd);
  EXPECT_EQ(c.domain, "example.com");
  EXPECT_EQ(c.settings.interval_seconds(), 86400u);
  EXPECT_EQ(c.settings.kinds_size(), 2);
  EXPECT_THAT(c.settings.enrichers(), ElementsAre(v1::ENRICHER_DNS, v1::ENRICHER_GEO));
  EXPECT_EQ(c.settings.max_candidates(), 500u);
  EXPECT_EQ(c.settings.webhook_url(), "https://hooks.example/x");
  EXPECT_EQ(c.settings.webhook_secret(), "s3cret");
}

TEST(ParseWatchCommand, AddDefaultsLeaveTheServerToDecide) {
  const WatchCommand c = Parsed({"add", "example.com"});
  EXPECT_EQ(c.settings.interval_seconds(), 0u);  // the server's 6h
  EXPECT_EQ(c.settings.kinds_size(), 0);
  EXPECT_TRUE(c.server.empty());
}

TEST(ParseWatchCommand, FlagsBeforeTheVerbAndTheServer) {
  const WatchCommand c = Parsed({"--server", "10.0.0.1:7", "list", "-f", "csv"});
  EXPECT_EQ(c.verb, WatchVerb::kList);
  EXPECT_EQ(c.server, "10.0.0.1:7");
  EXPECT_EQ(c.format, Format::kCsv);
}

TEST(ParseWatchCommand, AUrlIsReducedToItsHostWithANote) {
  const WatchCommand c = Parsed({"scan", "https://www.example.com/login"});
  EXPECT_EQ(c.domain, "www.example.com");
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_THAT(c.notes[0], HasSubstr("is a URL"));
}

TEST(ParseWatchCommand, EachVerbsArguments) {
  EXPECT_EQ(Parsed({"scan", "example.com"}).verb, WatchVerb::kScan);
  EXPECT_EQ(Parsed({"rm", "example.com"}).verb, WatchVerb::kRemove);
  EXPECT_EQ(Parsed({"show", "example.com"}).verb, WatchVerb::kShow);
  const WatchCommand all = Parsed({"events"});
  EXPECT_EQ(all.verb, WatchVerb::kEvents);
  EXPECT_EQ(all.domain, "");
  EXPECT_FALSE(all.follow);
  EXPECT_EQ(all.format, Format::kTable);
  const WatchCommand one = Parsed({"events", "example.com", "--since=42", "--follow", "--format=json"});
  EXPECT_EQ(one.domain, "example.com");
  EXPECT_EQ(one.since, 42u);
  EXPECT_TRUE(one.follow);
  EXPECT_EQ(one.format, Format::kJson);
  EXPECT_FALSE(Parsed({"events", "--follow=false"}).follow);
  EXPECT_FALSE(Parsed({"events", "--follow", "--nofollow"}).follow);
  const WatchCommand t = Parsed({"triage", "example.com", "examp1e.com", "False_Positive", "--note", "ours"});
  EXPECT_EQ(t.verb, WatchVerb::kTriage);
  EXPECT_EQ(t.domain, "example.com");
  EXPECT_EQ(t.candidate, "examp1e.com");
  EXPECT_EQ(t.triage, v1::TRIAGE_FALSE_POSITIVE);
  EXPECT_EQ(t.note, "ours");
  // "--" ends the flags: a candidate may then start with a dash.
  EXPECT_EQ(Parsed({"triage", "example.com", "--", "-x.com", "owned"}).candidate, "-x.com");
}

TEST(ParseWatchCommand, HelpAndNoVerb) {
  EXPECT_TRUE(Parsed({"--help"}).help);
  EXPECT_TRUE(Parsed({"add", "-h"}).help);
  EXPECT_TRUE(Parsed({"add", "--every=bad", "--help"}).help);  // help wins over what comes before it
  const WatchCommand none = Parsed({});
  EXPECT_FALSE(none.help);
  EXPECT_FALSE(none.verb.has_value());
}

TEST(ParseWatchCommand, UsageErrors) {
  EXPECT_THAT(Refused({"remove", "example.com"}), HasSubstr("unknown watch verb \"remove\" (did you mean rm?)"));
  EXPECT_THAT(Refused({"lst"}), HasSubstr("(did you mean list?)"));
  EXPECT_THAT(Refused({"add", "example.com", "--evry=1h"}), HasSubstr("unknown flag --evry (did you mean --every?)"));
  EXPECT_THAT(Refused({"list", "--every=1h"}),
              HasSubstr("--every does not apply to `watch list`; its flags are: --format, --server, --tls, "
                        "--tls_ca_file, --tls_cert_file, --tls_key_file, --tls_server_name, --api_key_file, --help"));
  EXPECT_THAT(Refused({"add", "example.com", "--registered"}), HasSubstr("unknown flag --registered"));
  EXPECT_THAT(Refused({"add"}), HasSubstr("give the watched domain, e.g.: squatstream watch add example.com"));
  EXPECT_THAT(Refused({"add", "a.com", "b.com"}), HasSubstr("takes one domain; unexpected \"b.com\""));
  EXPECT_THAT(Refused({"list", "a.com"}), HasSubstr("takes no argument"));
  EXPECT_THAT(Refused({"events", "a.com", "b.com"}), HasSubstr("at most one domain"));
  EXPECT_THAT(Refused({"triage", "a.com", "b.com"}), HasSubstr("the watch, the candidate and the triage"));
  EXPECT_THAT(Refused({"triage", "a.com", "b.com", "evil"}),
              HasSubstr("unknown triage \"evil\"; the triages are: owned, ignored, false-positive, malicious"));
  EXPECT_THAT(Refused({"add", "a.com", "--kinds=nope"}), HasSubstr("unknown kind \"nope\"; the kinds are: "));
  EXPECT_THAT(Refused({"add", "a.com", "--enrichers=nope"}), HasSubstr("unknown enricher \"nope\""));
  EXPECT_THAT(Refused({"add", "a.com", "--every=6x"}), HasSubstr("bad duration \"6x\" for --every"));
  EXPECT_THAT(Refused({"add", "a.com", "--max_candidates=-1"}), HasSubstr("bad value for --max_candidates"));
  EXPECT_THAT(Refused({"add", "a.com", "--webhook_secret=x"}), HasSubstr("give --webhook=URL with it"));
  EXPECT_THAT(Refused({"events", "--format=list"}),
              HasSubstr("unknown format \"list\" for `watch events`: the formats are table, json and csv"));
  EXPECT_THAT(Refused({"events", "--since=last"}), HasSubstr("bad value for --since"));
  EXPECT_THAT(Refused({"events", "--since"}), HasSubstr("--since needs a value"));
  EXPECT_THAT(Refused({"events", "--follow=maybe"}), HasSubstr("bad value for --follow"));
  EXPECT_THAT(Refused({"list", "--tls=maybe"}), HasSubstr("bad value for --tls"));
  EXPECT_THAT(Refused({"list", "--api_key_file="}), HasSubstr("--api_key_file needs a value (--api_key_file=FILE)"));
  EXPECT_THAT(Refused({"list", "--tls_ca_file"}), HasSubstr("--tls_ca_file needs a value"));
  EXPECT_THAT(Refused({"list", "--tls_ca=x"}), HasSubstr("(did you mean --tls_ca_file?)"));
}

// Issue 29: every verb takes the six connection flags (channel.h's one list), before or after the verb, with
// dashes or underscores, a value after `=` or as the next argument; RunWatch hands them to the channel.
TEST(ParseWatchCommand, EveryVerbTakesTheConnectionFlags) {
  const std::vector<std::string> connection = {"--tls",
                                               "--tls_ca_file=ca.pem",
                                               "--tls-cert-file",
                                               "client.pem",
                                               "--tls_key_file=k.pem",
                                               "--tls_server_name=sq.test",
                                               "--api_key_file",
                                               "key"};
  const std::vector<std::vector<std::string>> verbs = {{"add", "example.com"},
                                                       {"list"},
                                                       {"scan", "example.com"},
                                                       {"rm", "example.com"},
                                                       {"events"},
                                                       {"show", "a.com"},
                                                       {"triage", "a.com", "b.com", "owned"}};
  for (const std::vector<std::string>& verb : verbs) {
    std::vector<std::string> args = verb;
    args.insert(args.end(), connection.begin(), connection.end());
    const WatchCommand c = Parsed(args);
    EXPECT_THAT(c.connection, ElementsAre(std::pair<std::string, std::string>("tls", "true"),
                                          std::pair<std::string, std::string>("tls_ca_file", "ca.pem"),
                                          std::pair<std::string, std::string>("tls_cert_file", "client.pem"),
                                          std::pair<std::string, std::string>("tls_key_file", "k.pem"),
                                          std::pair<std::string, std::string>("tls_server_name", "sq.test"),
                                          std::pair<std::string, std::string>("api_key_file", "key")))
        << verb[0];
  }
  // Before the verb, as `squatstream --api_key_file k watch list` leaves them; --notls.
  EXPECT_THAT(Parsed({"--api_key_file", "k", "--notls", "list"}).connection,
              ElementsAre(std::pair<std::string, std::string>("tls", "false"),
                          std::pair<std::string, std::string>("api_key_file", "k")));
  EXPECT_EQ(FindWatchCommand({"squatstream", "--api_key_file", "k", "--tls_ca_file", "ca.pem", "watch", "list"}), 5u);
  EXPECT_THAT(Parsed({"list"}).connection, testing::IsEmpty());
}

TEST(ParseWatchCommand, TheConnectionFlagsReachTheChannel) {
  const std::string key_file = absl::StrCat(testing::TempDir(), "/watch_cli_test_key");
  {
    std::ofstream out(key_file);
    out << "sqs_ab12cd34_" << std::string(43, 'A') << "\n";
  }
  const WatchCommand c = Parsed({"list", absl::StrCat("--api_key_file=", key_file), "--tls_server_name=sq.test"});
  for (const auto& [name, value] : c.connection) ASSERT_TRUE(SetConnectionFlag(name, value).ok()) << name;
  absl::StatusOr<ChannelOptions> options = ChannelOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->tls);  // implied by --tls_server_name
  EXPECT_EQ(options->server_name, "sq.test");
  EXPECT_EQ(options->api_key, absl::StrCat("sqs_ab12cd34_", std::string(43, 'A')));
  EXPECT_EQ(SetConnectionFlag("server", "h:1").code(), absl::StatusCode::kInvalidArgument);
  for (const ConnectionFlag& f : ConnectionFlags())
    ASSERT_TRUE(SetConnectionFlag(f.name, f.takes_value ? "" : "0").ok());
}

TEST(ParseEvery, UnitsAndDays) {
  EXPECT_EQ(*ParseEvery("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseEvery("30m"), absl::Minutes(30));
  EXPECT_EQ(*ParseEvery("6h"), absl::Hours(6));
  EXPECT_EQ(*ParseEvery("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseEvery("1d"), absl::Hours(24));
  EXPECT_EQ(*ParseEvery("1.5d"), absl::Hours(36));
  EXPECT_EQ(*ParseEvery("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParseEvery(" 2d "), absl::Hours(48));
  for (const char* bad :
       {"", "6", "6x", "d", "1dd", "1d1d", "-1h", "+1h", "inf", "1e3d", "0", "0s", "0d", "1.5s", "500ms", "nand"}) {
    EXPECT_FALSE(ParseEvery(bad).ok()) << bad;
  }
}

TEST(FormatEvery, RoundTripsThroughParseEvery) {
  EXPECT_EQ(FormatEvery(absl::Hours(6)), "6h");
  EXPECT_EQ(FormatEvery(absl::Hours(24)), "1d");
  EXPECT_EQ(FormatEvery(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatEvery(absl::Hours(36)), "1d12h");
  EXPECT_EQ(FormatEvery(absl::Seconds(86400 + 1)), "1d1s");
  EXPECT_EQ(FormatEvery(absl::ZeroDuration()), "0s");
  for (absl::Duration d : {absl::Seconds(1), absl::Seconds(3661), absl::Hours(49), absl::Seconds(90061)}) {
    EXPECT_EQ(*ParseEvery(FormatEvery(d)), d) << FormatEvery(d);
  }
}

TEST(FormatRelative, TwoLargestUnits) {
  EXPECT_EQ(FormatRelative(kNow, kNow), "now");
  EXPECT_EQ(FormatRelative(kNow - absl::Milliseconds(300), kNow), "now");
  EXPECT_EQ(FormatRelative(kNow - absl::Minutes(5), kNow), "5m ago");
  EXPECT_EQ(FormatRelative(kNow - absl::Seconds(200), kNow), "3m20s ago");
  EXPECT_EQ(FormatRelative(kNow + absl::Hours(5) + absl::Minutes(55) + absl::Seconds(9), kNow), "in 5h55m");
  EXPECT_EQ(FormatRelative(kNow - absl::Hours(50) - absl::Seconds(5), kNow), "2d2h ago");
  EXPECT_EQ(FormatRelative(kNow - absl::Hours(48) - absl::Minutes(5), kNow), "2d ago");  // minutes: too fine
}

TEST(Triage, NamesBothWays) {
  EXPECT_EQ(*ParseTriage("owned"), v1::TRIAGE_OWNED);
  EXPECT_EQ(*ParseTriage("IGNORED"), v1::TRIAGE_IGNORED);
  EXPECT_EQ(*ParseTriage("false_positive"), v1::TRIAGE_FALSE_POSITIVE);
  EXPECT_EQ(*ParseTriage("malicious"), v1::TRIAGE_MALICIOUS);
  EXPECT_FALSE(ParseTriage("unspecified").ok());
  EXPECT_EQ(TriageName(v1::TRIAGE_FALSE_POSITIVE), "false-positive");
  EXPECT_EQ(TriageName(v1::TRIAGE_UNSPECIFIED), "none");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_APPEARED), "appeared");
}

v1::Watch SampleWatch() {
  v1::Watch w;
  w.set_domain("xn--bcher-kva.de");
  w.set_domain_unicode("bücher.de");
  w.mutable_settings()->set_interval_seconds(21600);
  w.mutable_settings()->set_webhook_url("https://hooks.example/x");
  w.set_has_webhook_secret(true);
  *w.mutable_created() = At(kNow - absl::Hours(30));
  *w.mutable_last_scan() = At(kNow - absl::Minutes(5));
  w.set_last_scan_outcome("ok");
  *w.mutable_next_scan() = At(kNow + absl::Hours(5) + absl::Minutes(55));
  w.set_scans(5);
  w.set_baseline_done(true);
  w.set_registered(12);
  w.set_observed(1812);
  return w;
}

v1::Watch NewWatch() {
  v1::Watch w;
  w.set_domain("example.com");
  w.set_domain_unicode("example.com");
  w.mutable_settings()->set_interval_seconds(86400);
  *w.mutable_next_scan() = At(kNow - absl::Seconds(2));
  return w;
}

TEST(FormatWatches, TableAlignedWithRelativeTimes) {
  const std::string table = FormatWatches({SampleWatch(), NewWatch()}, Format::kTable, kNow);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], StartsWith("DOMAIN"));
  EXPECT_THAT(lines[0], HasSubstr("EVERY"));
  EXPECT_THAT(lines[0], HasSubstr("LAST SCAN"));
  EXPECT_THAT(lines[0], HasSubstr("NEXT SCAN"));
  EXPECT_THAT(lines[0], HasSubstr("REGISTERED"));
  EXPECT_THAT(lines[0], HasSubstr("BASELINE"));
  EXPECT_THAT(lines[0], HasSubstr("WEBHOOK"));
  EXPECT_EQ(lines[1], "bücher.de (xn--bcher-kva.de)  6h     5m ago, ok  in 5h55m   12 of 1,812  yes       yes");
  EXPECT_THAT(lines[2], StartsWith("example.com"));
  EXPECT_THAT(lines[2], HasSubstr("1d"));
  EXPECT_THAT(lines[2], HasSubstr("never"));
  EXPECT_THAT(lines[2], HasSubstr("due now"));
  EXPECT_THAT(lines[2], testing::EndsWith("no"));
  // The columns line up: "EVERY" and the rows' intervals start at the same column.
  EXPECT_EQ(lines[0].find("EVERY"), std::string("bücher.de (xn--bcher-kva.de)  ").size() - 1);  // ü: 2 bytes
  EXPECT_EQ(FormatWatches({}, Format::kTable, kNow), "");
}

TEST(FormatWatches, AFailedScanSaysWhyAndHostileTextIsEscaped) {
  v1::Watch w = SampleWatch();
  w.set_last_scan_outcome("store unavailable: \x1b[31mlocked");
  const std::string table = FormatWatches({w}, Format::kTable, kNow);
  EXPECT_THAT(table, HasSubstr("5m ago, store unavailable: \\x1b[31mlocked"));
  EXPECT_THAT(table, Not(HasSubstr("\x1b")));
}

TEST(FormatWatches, CsvWithHeaderAndJsonLines) {
  const std::string csv = FormatWatches({SampleWatch(), NewWatch()}, Format::kCsv, kNow);
  const std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "domain,domain_unicode,every_seconds,kinds,enrichers,max_candidates,created,last_scan,"
            "last_scan_outcome,next_scan,scans,registered,observed,baseline,webhook");
  EXPECT_EQ(lines[1],
            "xn--bcher-kva.de,bücher.de,21600,,,0,2025-06-14T09:06:40Z,2025-06-15T15:01:40Z,ok,"
            "2025-06-15T21:01:40Z,5,12,1812,true,true");
  EXPECT_EQ(lines[2], "example.com,example.com,86400,,,0,,,,2025-06-15T15:06:38Z,0,0,0,false,false");
  EXPECT_EQ(FormatWatches({}, Format::kCsv, kNow), lines[0] + "\n");  // the header, for a script

  const std::string json = FormatWatches({SampleWatch()}, Format::kJson, kNow);
  EXPECT_THAT(json, StartsWith("{\"domain\":\"xn--bcher-kva.de\",\"domain_unicode\":\"bücher.de\""));
  EXPECT_THAT(json, HasSubstr("\"baseline_done\":true"));
  EXPECT_EQ(json.back(), '\n');
  v1::Watch back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.registered(), 12u);
}

v1::WatchEvent Changed() {
  v1::WatchEvent e;
  e.set_id(42);
  e.set_watch("example.com");
  e.set_type(v1::EVENT_TYPE_CHANGED);
  *e.mutable_time() = At(kNow);
  e.set_candidate_ascii("xn--exmple-cua.com");
  e.set_candidate_unicode("exämple.com");
  e.set_kind(v1::PERMUTATION_KIND_HOMOGLYPH);
  v1::FieldChange* a = e.add_changes();
  a->set_field("addresses");
  a->set_before("192.0.2.1");
  a->set_after("192.0.2.7");
  v1::FieldChange* t = e.add_changes();
  t->set_field("http_title");
  t->set_after("Login");
  return e;
}

v1::WatchEvent Baseline() {
  v1::WatchEvent e;
  e.set_id(7);
  e.set_watch("example.com");
  e.set_type(v1::EVENT_TYPE_BASELINE);
  *e.mutable_time() = At(kNow - absl::Hours(1));
  e.mutable_baseline()->set_candidates(1812);
  e.mutable_baseline()->set_registered(12);
  e.mutable_baseline()->set_unknown(3);
  return e;
}

TEST(Events, ChangesText) {
  EXPECT_EQ(ChangesText(Changed()), "addresses: 192.0.2.1 → 192.0.2.7; http_title: - → Login");
  EXPECT_EQ(ChangesText(Baseline()), "1,812 candidates, 12 registered, 3 unknown");
  v1::WatchEvent appeared;
  appeared.set_type(v1::EVENT_TYPE_APPEARED);
  EXPECT_EQ(ChangesText(appeared), "");
  EXPECT_EQ(CandidateText("example.com", "example.com"), "example.com");
  EXPECT_EQ(CandidateText("", ""), "-");
  EXPECT_EQ(CandidateText("exämple.com", "xn--exmple-cua.com"), "exämple.com (xn--exmple-cua.com)");
}

TEST(Events, TableLines) {
  const std::string header = EventHeader(Format::kTable);
  EXPECT_THAT(header, StartsWith("ID      TIME                  WATCH"));
  EXPECT_THAT(header, HasSubstr("TYPE"));
  EXPECT_THAT(header, HasSubstr("CANDIDATE"));
  EXPECT_THAT(header, HasSubstr("KIND"));
  EXPECT_THAT(header, testing::EndsWith("CHANGED\n"));
  const std::string changed = FormatEvent(Format::kTable, Changed());
  EXPECT_THAT(changed, StartsWith("42      2025-06-15T15:06:40Z  example.com"));
  EXPECT_THAT(changed, HasSubstr("changed"));
  EXPECT_THAT(changed, HasSubstr("exämple.com (xn--exmple-cua.com)"));
  EXPECT_THAT(changed, HasSubstr("homoglyph"));
  EXPECT_THAT(changed, testing::EndsWith("addresses: 192.0.2.1 → 192.0.2.7; http_title: - → Login\n"));
  // The columns line up with the header's (display width: ä is one column, two bytes).
  EXPECT_EQ(header.find("TYPE"), changed.find("changed"));
  const std::string baseline = FormatEvent(Format::kTable, Baseline());
  EXPECT_THAT(baseline, HasSubstr("baseline"));
  EXPECT_THAT(baseline, testing::EndsWith("1,812 candidates, 12 registered, 3 unknown\n"));
  // A hostile server's controls never reach the terminal.
  v1::WatchEvent hostile = Changed();
  hostile.mutable_changes(1)->set_after("\x1b]8;;http://evil\x07x");
  EXPECT_THAT(FormatEvent(Format::kTable, hostile), Not(HasSubstr("\x1b")));
}

TEST(Events, CsvLines) {
  EXPECT_EQ(EventHeader(Format::kCsv),
            "id,time,watch,type,candidate_ascii,candidate_unicode,kind,changes,baseline_candidates,"
            "baseline_registered,baseline_unknown\n");
  EXPECT_EQ(FormatEvent(Format::kCsv, Changed()),
            "42,2025-06-15T15:06:40Z,example.com,changed,xn--exmple-cua.com,exämple.com,homoglyph,"
            "\"addresses: 192.0.2.1 → 192.0.2.7; http_title: - → Login\",,,\n");
  EXPECT_EQ(FormatEvent(Format::kCsv, Baseline()), "7,2025-06-15T14:06:40Z,example.com,baseline,,,,,1812,12,3\n");
  v1::WatchEvent formula = Changed();
  formula.mutable_changes()->Clear();
  formula.set_candidate_unicode("=cmd|' /C calc'!A0");
  EXPECT_THAT(FormatEvent(Format::kCsv, formula), HasSubstr(",\"'=cmd|' /C calc'!A0\","));
}

TEST(Events, JsonLinesAsGrpcurl) {
  EXPECT_EQ(EventHeader(Format::kJson), "");
  const std::string line = FormatEvent(Format::kJson, Changed());
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_THAT(line, StartsWith("{\"id\":\"42\",\"watch\":\"example.com\",\"type\":\"EVENT_TYPE_CHANGED\""));
  EXPECT_THAT(line, HasSubstr("\"candidate_unicode\":\"exämple.com\""));
  EXPECT_THAT(line, HasSubstr("\"time\":\"2025-06-15T15:06:40Z\""));
  v1::WatchEvent back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &back).ok());
  EXPECT_EQ(back.changes_size(), 2);
  EXPECT_EQ(back.changes(0).after(), "192.0.2.7");
  // Hidden characters escaped, the value the same.
  v1::WatchEvent hostile = Changed();
  hostile.set_candidate_unicode("a\u202eb.com");
  const std::string escaped = FormatEvent(Format::kJson, hostile);
  EXPECT_THAT(escaped, HasSubstr("a\\u202eb.com"));
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(escaped, &back).ok());
  EXPECT_EQ(back.candidate_unicode(), "a\u202eb.com");
}

TEST(Events, ResumeLine) {
  WatchCommand c = Parsed({"events", "example.com", "--follow"});
  EXPECT_EQ(ResumeLine(c, 3, 42),
            "squatstream: 3 events, the last 42; resume with: squatstream watch events example.com --since=42 "
            "--follow");
  c = Parsed({"events", "--format=csv"});
  EXPECT_EQ(ResumeLine(c, 1, 7),
            "squatstream: 1 event, the last 7; resume with: squatstream watch events --since=7 --format=csv");
  c = Parsed({"events"});
  EXPECT_EQ(ResumeLine(c, 1, 7), "squatstream: 1 event, the last 7; resume with: squatstream watch events --since=7");
}

StreamEnd End(absl::StatusCode code, std::string message = "", bool received_any = false) {
  StreamEnd end;
  end.code = code;
  end.message = std::move(message);
  end.received_any = received_any;
  return end;
}

TEST(WatchExitCode, InputFaultsAreThree) {
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kOk)), ExitCode::kOk);
  for (absl::StatusCode c :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kAlreadyExists, absl::StatusCode::kNotFound,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kOutOfRange}) {
    EXPECT_EQ(WatchExitCode(End(c)), ExitCode::kBadInput) << absl::StatusCodeToString(c);
  }
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kUnavailable)), ExitCode::kUnreachable);
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kUnavailable, "", true)), ExitCode::kPartial);
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kInternal)), ExitCode::kServerError);
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kDeadlineExceeded)), ExitCode::kServerError);
  EXPECT_EQ(WatchExitCode(End(absl::StatusCode::kUnimplemented)), ExitCode::kServerError);
  StreamEnd interrupted = End(absl::StatusCode::kCancelled, "", true);
  interrupted.interrupted = true;
  EXPECT_EQ(WatchExitCode(interrupted), ExitCode::kInterrupted);
  StreamEnd output = End(absl::StatusCode::kCancelled);
  output.output_failed = true;
  EXPECT_EQ(WatchExitCode(output), ExitCode::kOutputFailed);
}

TEST(WatchErrorLine, OneLineWithTheNextStep) {
  const WatchCommand add = Parsed({"add", "example.com", "--every=1m"});
  EXPECT_EQ(WatchErrorLine(End(absl::StatusCode::kOk), add, "h:1"), "");
  EXPECT_EQ(WatchErrorLine(End(absl::StatusCode::kInvalidArgument, "interval 1m is under the minimum 1h"), add, "h:1"),
            "squatstream: INVALID_ARGUMENT: interval 1m is under the minimum 1h — correct it and run again (see "
            "squatstream watch --help)");
  EXPECT_EQ(WatchErrorLine(End(absl::StatusCode::kAlreadyExists, "example.com is watched already"), add, "h:1"),
            "squatstream: ALREADY_EXISTS: example.com is watched already — see it with: squatstream watch show "
            "example.com; its settings change through the API's UpdateWatch (squatstream watch rm deletes its "
            "history too)");
  EXPECT_THAT(
      WatchErrorLine(End(absl::StatusCode::kNotFound, "no watch nope.com"), Parsed({"events", "nope.com"}), "h:1"),
      testing::EndsWith("— the watches are listed by: squatstream watch list"));
  EXPECT_THAT(WatchErrorLine(End(absl::StatusCode::kUnavailable, "failed to connect to all addresses"), add, "h:1"),
              testing::AllOf(HasSubstr("UNAVAILABLE: cannot reach squatstreamd at h:1 (failed to connect"),
                             HasSubstr("start it with: squatstreamd --grpc_address=h:1")));
  EXPECT_THAT(WatchErrorLine(End(absl::StatusCode::kUnavailable, "store unavailable: disk I/O error"), add, "h:1"),
              HasSubstr("squatstreamd at h:1 is unavailable (store unavailable: disk I/O error) — try again"));
  EXPECT_THAT(WatchErrorLine(End(absl::StatusCode::kUnavailable, "Socket closed", true), Parsed({"events"}), "h:1"),
              HasSubstr("the event stream from squatstreamd at h:1 broke off (Socket closed) — resume with the "
                        "--since above"));
  EXPECT_THAT(WatchErrorLine(End(absl::StatusCode::kInvalidArgument, "bad \x1b[2J"), add, "h:1"),
              Not(HasSubstr("\x1b")));
  StreamEnd interrupted = End(absl::StatusCode::kCancelled);
  interrupted.interrupted = true;
  EXPECT_EQ(WatchErrorLine(interrupted, add, "h:1"), "");
}

TEST(WatchUsage, EveryVerbAndItsFlags) {
  const std::string usage = WatchUsage();
  for (const char* verb : {"add DOMAIN", "list", "scan DOMAIN", "rm DOMAIN", "events [DOMAIN]",
                           "triage DOMAIN CANDIDATE owned|ignored|false-positive|malicious", "show DOMAIN"}) {
    EXPECT_THAT(usage, HasSubstr(absl::StrCat("  ", verb, "\n"))) << verb;
  }
  for (const char* flag : {"--every=DURATION", "--kinds=", "--enrichers=", "--max_candidates=N", "--webhook=URL",
                           "--webhook_secret=SECRET", "--format=table|json|csv", "--since=EVENT_ID", "--follow",
                           "--note=TEXT", "--server=HOST:PORT", "--tls ", "--tls_ca_file=FILE", "--tls_cert_file=FILE",
                           "--tls_key_file=FILE", "--tls_server_name=NAME", "--api_key_file=FILE"}) {
    EXPECT_THAT(usage, HasSubstr(flag)) << flag;
  }
  EXPECT_THAT(usage, HasSubstr("Exit codes:"));
}

}  // namespace
}  // namespace squatstream::client
