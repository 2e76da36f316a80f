#include "client/output.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

using ::testing::HasSubstr;

v1::Record Sample() {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_VOWEL_SWAP);
  r.set_domain_ascii("xn--bcher-kva.de");
  r.set_domain_unicode("bücher.de");
  r.add_kinds(v1::PERMUTATION_KIND_HOMOGLYPH);  // kind order, as the server sends them
  r.add_kinds(v1::PERMUTATION_KIND_VOWEL_SWAP);
  r.set_input("xn--bcher-kva.ch");
  v1::Enrichment* geo = r.add_enrichments();
  geo->set_enricher(v1::ENRICHER_GEO);
  geo->mutable_geo()->set_ip("192.0.2.7");
  geo->mutable_geo()->set_country_code("DE");
  geo->mutable_geo()->set_city("Frankfurt, Main");
  geo->mutable_geo()->set_asn(64500);
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->mutable_status()->set_code(14);
  whois->mutable_status()->set_message("simulated whois lookup failure");
  v1::Enrichment* banner = r.add_enrichments();
  banner->set_enricher(v1::ENRICHER_BANNER);
  banner->mutable_status()->set_code(5);  // NOT_FOUND: nothing to look up
  banner->set_skipped(true);
  banner->mutable_status()->set_message("no address (DNS: NXDOMAIN)");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->set_simulated(true);
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_REGISTERED);
  dns->mutable_dns()->add_addresses("192.0.2.7");
  return r;
}

TEST(Output, Names) {
  EXPECT_EQ(KindName(v1::PERMUTATION_KIND_VOWEL_SWAP), "vowel-swap");
  EXPECT_EQ(KindName(v1::PERMUTATION_KIND_TLD_SWAP), "tld-swap");
  EXPECT_EQ(EnricherName(v1::ENRICHER_BANNER), "banner");
}

TEST(Output, TableRowShowsValuesAndErrors) {
  const std::string row = FormatRecord(Format::kTable, Sample());
  EXPECT_THAT(row, HasSubstr("vowel-swap+"));  // + : more kinds produced it
  EXPECT_THAT(row, HasSubstr("bücher.de"));
  EXPECT_THAT(row, HasSubstr("192.0.2.7 DE Frankfurt, Main AS64500"));
  EXPECT_THAT(row, HasSubstr("error: simulated whois lookup failure"));
  EXPECT_THAT(row, HasSubstr("registered 192.0.2.7*"));  // * : simulated
  EXPECT_THAT(row, ::testing::EndsWith(" -\n"));         // the banner had nothing to look up
  EXPECT_EQ(row.back(), '\n');
}

TEST(Output, CsvQuotesFieldsWithCommas) {
  const std::string no_banner(15, ',');  // the banner had nothing to look up: its 15 typed columns empty
  EXPECT_EQ(FormatRecord(Format::kCsv, Sample()),
            "vowel-swap,bücher.de,xn--bcher-kva.de,registered 192.0.2.7*,\"192.0.2.7 DE Frankfurt, Main AS64500\","
            "error: simulated whois lookup failure,-,homoglyph vowel-swap,xn--bcher-kva.ch,DE,\"Frankfurt, Main\","
            "64500,,,," +
                no_banner + "\n");
  EXPECT_EQ(FormatHeader(Format::kCsv),
            "kind,domain_unicode,domain_ascii,dns,geo,whois,banner,kinds,input,country,city,asn,as_organization,"
            "registrar,created,expires,http_status,http_server,title,final_url,redirects,tls_sha256,tls_verified,"
            "tls_issuer,tls_not_after,mx_banner,mx_accepts_any_recipient,ssh_banner,similarity,parked,"
            "parked_signals\n");
}

// Real geo and registration results: the AS organisation, how many more addresses, the registrar and its
// dates (days), and the CSV's typed columns.
TEST(Output, RealGeoAndRegistrationResults) {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_OMISSION);
  r.set_domain_unicode("exmple.com");
  r.set_domain_ascii("exmple.com");
  v1::Enrichment* geo = r.add_enrichments();
  geo->set_enricher(v1::ENRICHER_GEO);
  geo->mutable_status();
  v1::GeoResult* g = geo->mutable_geo();
  g->set_ip("192.0.2.10");
  g->set_country_code("DE");
  g->set_city("Berlin");
  g->set_asn(64500);
  v1::GeoLocation* a = g->add_addresses();
  a->set_ip("192.0.2.10");
  a->set_found(true);
  a->set_country_code("DE");
  a->set_city("Berlin");
  a->set_asn(64500);
  a->set_as_organization("Example Transit GmbH");
  g->add_addresses()->set_ip("2001:db8::10");
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->mutable_status();
  whois->mutable_whois()->set_registered(true);
  whois->mutable_whois()->set_registrar("Example Registrar, Inc.");
  whois->mutable_whois()->set_created("2019-03-04T10:00:00Z");
  whois->mutable_whois()->set_expires("2027-03-04T10:00:00Z");
  const std::string row = FormatRecord(Format::kTable, r);
  EXPECT_THAT(row, HasSubstr("192.0.2.10 DE Berlin AS64500 Example Transit GmbH (+1)"));
  EXPECT_THAT(row, HasSubstr("Example Registrar, Inc. 2019-03-04 to 2027-03-04"));
  EXPECT_THAT(FormatRecord(Format::kCsv, r),
              ::testing::EndsWith(",DE,Berlin,64500,Example Transit GmbH,\"Example Registrar, Inc.\","
                                  "2019-03-04T10:00:00Z,2027-03-04T10:00:00Z,,,,,,,,,,,,,,,\n"));
  whois->mutable_whois()->set_registered(false);
  EXPECT_THAT(FormatRecord(Format::kTable, r), HasSubstr("not registered"));
}

// The number of fields of one CSV line (commas outside quotes, plus one).
int CsvFields(const std::string& line) {
  int fields = 1;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) ++fields;
  }
  return fields;
}

// A real banner result as the server builds it: http answered with a redirect to the https page, whose title
// and Server the summary repeats; a self-signed leaf; an exchanger that takes mail for anyone; sshd; a page
// like the original's and parking signs.
v1::Record BannerRecord() {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_OMISSION);
  r.set_domain_unicode("exmple.com");
  r.set_domain_ascii("exmple.com");
  v1::Enrichment* e = r.add_enrichments();
  e->set_enricher(v1::ENRICHER_BANNER);
  e->mutable_status();
  v1::BannerResult* b = e->mutable_banner();
  b->set_http_status(200);
  b->set_server("nginx/1.22.1");
  b->set_title("Buy exmple.com, \"the\" domain");
  v1::HttpProbe* http = b->add_http();
  http->set_scheme("http");
  http->set_address("192.0.2.10");
  v1::HttpHop* hop = http->add_hops();
  hop->set_url("http://exmple.com/");
  hop->set_status(301);
  hop->set_location("https://www.exmple.com/");
  hop = http->add_hops();
  hop->set_url("https://www.exmple.com/");
  hop->set_status(302);
  hop->set_location("https://www.exmple.com/lander");
  hop = http->add_hops();
  hop->set_url("https://www.exmple.com/lander");
  hop->set_status(200);
  hop->set_server("nginx/1.22.1");
  http->set_final_status(200);
  http->set_final_url("https://www.exmple.com/lander");
  http->set_title(b->title());
  http->mutable_status();
  v1::HttpProbe* https = b->add_http();
  https->set_scheme("https");
  https->set_address("192.0.2.10");
  https->set_final_status(200);
  https->set_final_url("https://exmple.com/");
  v1::Certificate* leaf = b->mutable_tls()->add_chain();
  leaf->set_subject("CN=exmple.com");
  leaf->add_sans("exmple.com");
  leaf->set_issuer("CN=exmple.com");
  leaf->set_not_before("2025-01-01T00:00:00Z");
  leaf->set_not_after("2026-01-01T00:00:00Z");
  leaf->set_sha256("AB:CD:EF:01");
  leaf->set_key_algorithm("EC");
  leaf->set_key_bits(256);
  leaf->set_self_signed(true);
  b->mutable_tls()->set_verified(false);
  b->mutable_tls()->set_verify_error("self-signed certificate");
  v1::SmtpProbe* smtp = b->mutable_smtp();
  smtp->set_mx("mail.exmple.com");
  smtp->set_banner("220 mail.exmple.com ESMTP Postfix");
  smtp->add_ehlo("STARTTLS");
  smtp->set_starttls(true);
  smtp->set_mail_code(250);
  smtp->set_rcpt_code(250);
  smtp->set_rcpt_reply("2.1.5 Ok");
  smtp->set_accepts_any_recipient(true);
  b->mutable_ssh()->set_identification("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  b->set_similarity(87);
  b->set_similarity_known(true);
  b->set_parked(true);
  b->add_parked_signals("ns:sedoparking.com");
  b->add_parked_signals("page:buy this domain");
  return r;
}

TEST(Output, BannerTableCell) {
  v1::Record r = BannerRecord();
  EXPECT_THAT(FormatRecord(Format::kTable, r),
              ::testing::EndsWith(" 200 nginx/1.22.1 \"Buy exmple.com, \"the\" domain\" parked sim 87 tls:self-signed "
                                  "mx:accepts-any ssh\n"));
  // The cell goes on the CSV's banner column too.
  EXPECT_THAT(FormatRecord(Format::kCsv, r),
              HasSubstr(",\"200 nginx/1.22.1 \"\"Buy exmple.com, \"\"the\"\" domain\"\" parked sim 87 "
                        "tls:self-signed mx:accepts-any ssh\","));

  // The page ends on another name; a trusted certificate; an exchanger that refuses unknown mailboxes; no
  // page to compare, not parked, no sshd.
  v1::BannerResult* b = r.mutable_enrichments(0)->mutable_banner();
  b->mutable_http(0)->set_final_url("https://Example.COM:443/welcome");
  b->mutable_tls()->set_verified(true);
  b->mutable_tls()->clear_verify_error();
  b->mutable_tls()->mutable_chain(0)->set_self_signed(false);
  b->mutable_smtp()->set_accepts_any_recipient(false);
  b->mutable_smtp()->set_rcpt_code(550);
  b->clear_similarity_known();
  b->clear_parked();
  b->clear_ssh();
  b->set_title(std::string(50, 'x'));
  EXPECT_THAT(FormatRecord(Format::kTable, r),
              ::testing::EndsWith(" 200 nginx/1.22.1 \"" + std::string(40, 'x') + "…\" -> example.com tls:ok mx\n"));

  // Certificates that do not verify, as OpenSSL 1.1 and 3 say why.
  b->clear_title();
  b->clear_smtp();
  b->mutable_http(0)->set_final_url("http://www.exmple.com/");  // the name's own www: no "->"
  b->mutable_tls()->set_verified(false);
  for (const auto& [error, flag] : std::vector<std::pair<std::string, std::string>>{
           {"self signed certificate in certificate chain", "tls:self-signed"},
           {"certificate has expired", "tls:expired"},
           {"Hostname mismatch", "tls:mismatch"},
           {"unable to get local issuer certificate", "tls:invalid"}}) {
    b->mutable_tls()->set_verify_error(error);
    EXPECT_THAT(FormatRecord(Format::kTable, r), ::testing::EndsWith(" 200 nginx/1.22.1 " + flag + "\n")) << error;
  }

  // Nothing on the web: the other services still show; nothing at all: "no answer".
  b->clear_http_status();
  b->clear_server();
  b->clear_http();
  b->clear_tls();
  b->mutable_ssh()->set_identification("SSH-2.0-dropbear");
  EXPECT_THAT(FormatRecord(Format::kTable, r), ::testing::EndsWith(" no http ssh\n"));
  b->clear_ssh();
  EXPECT_THAT(FormatRecord(Format::kTable, r), ::testing::EndsWith(" no answer\n"));
}

TEST(Output, BannerCsvColumns) {
  v1::Record r = BannerRecord();
  const std::string row = FormatRecord(Format::kCsv, r);
  EXPECT_EQ(CsvFields(row), CsvFields(FormatHeader(Format::kCsv)));
  EXPECT_THAT(row, ::testing::EndsWith(
                       ",200,nginx/1.22.1,\"Buy exmple.com, \"\"the\"\" domain\",https://www.exmple.com/lander,2,"
                       "AB:CD:EF:01,false,CN=exmple.com,2026-01-01T00:00:00Z,220 mail.exmple.com ESMTP Postfix,true,"
                       "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3,87,true,\"ns:sedoparking.com;page:buy this domain\"\n"));

  // Unknowns stay empty: no similarity score, RCPT never reached, no https answer, no sshd; false is false.
  v1::BannerResult* b = r.mutable_enrichments(0)->mutable_banner();
  b->clear_similarity_known();
  b->set_similarity(0);
  b->mutable_smtp()->set_rcpt_code(0);
  b->mutable_smtp()->set_accepts_any_recipient(false);
  b->clear_tls();
  b->clear_ssh();
  b->clear_parked();
  b->clear_parked_signals();
  EXPECT_THAT(
      FormatRecord(Format::kCsv, r),
      ::testing::EndsWith(",https://www.exmple.com/lander,2,,,,,220 mail.exmple.com ESMTP Postfix,,,,false,\n"));

  // A stub's result: the summary only, no probes.
  b->Clear();
  b->set_http_status(403);
  b->set_server("LiteSpeed");
  r.mutable_enrichments(0)->set_simulated(true);
  EXPECT_THAT(FormatRecord(Format::kTable, r), ::testing::EndsWith(" 403 LiteSpeed*\n"));
  EXPECT_THAT(FormatRecord(Format::kCsv, r), ::testing::EndsWith(",403,LiteSpeed,,,,,,,,,,,,false,\n"));

  // A failed lookup: the error in the banner column, the typed columns empty.
  r.mutable_enrichments(0)->clear_banner();
  r.mutable_enrichments(0)->mutable_status()->set_code(4);
  r.mutable_enrichments(0)->mutable_status()->set_message("deadline");
  const std::string failed = FormatRecord(Format::kCsv, r);
  EXPECT_THAT(failed, HasSubstr(",error: deadline,"));
  EXPECT_THAT(failed, ::testing::EndsWith(",,,,,,,,,,,,,,,,\n"));
  EXPECT_EQ(CsvFields(failed), CsvFields(FormatHeader(Format::kCsv)));
}

TEST(Output, JsonLineCarriesTheBannerProbes) {
  const std::string line = FormatRecord(Format::kJson, BannerRecord());
  for (const char* field :
       {"\"final_url\":\"https://www.exmple.com/lander\"", "\"location\":\"https://www.exmple.com/\"",
        "\"sha256\":\"AB:CD:EF:01\"", "\"self_signed\":true", "\"verify_error\":\"self-signed certificate\"",
        "\"accepts_any_recipient\":true", "\"rcpt_code\":250",
        "\"identification\":\"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\"", "\"similarity\":87",
        "\"similarity_known\":true", "\"parked\":true",
        "\"parked_signals\":[\"ns:sedoparking.com\",\"page:buy this domain\"]"}) {
    EXPECT_THAT(line, HasSubstr(field));
  }
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(Output, JsonLineUsesProtoFieldNames) {
  const std::string line = FormatRecord(Format::kJson, Sample());
  EXPECT_THAT(line, HasSubstr("\"domain_ascii\":\"xn--bcher-kva.de\""));
  EXPECT_THAT(line, HasSubstr("\"kind\":\"PERMUTATION_KIND_VOWEL_SWAP\""));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(Output, DnsVerdicts) {
  v1::Record r;
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_THAT(FormatRecord(Format::kCsv, r), HasSubstr(",NXDOMAIN,"));
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_WILDCARD);
  dns->mutable_dns()->set_wildcard_zone("example.com");
  EXPECT_THAT(FormatRecord(Format::kCsv, r), HasSubstr(",wildcard *.example.com,"));
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNKNOWN);
  dns->mutable_dns()->add_queries()->set_rcode("SERVFAIL");
  EXPECT_THAT(FormatRecord(Format::kCsv, r), HasSubstr(",unknown (SERVFAIL),"));
}

// What strangers wrote, hostile: a title with a terminal's escape sequences, a C1 CSI (as a decoded &#x9b;
// would have been) and a formula; a Server header that is a DDE payload with an OSC 8 link; a registrar named
// like a spreadsheet function; an SMTP banner with a bidi override and a C1 OSC.
v1::Record HostileRecord() {
  v1::Record r = BannerRecord();
  v1::BannerResult* b = r.mutable_enrichments(0)->mutable_banner();
  b->set_title(
      "=cmd|' /C calc'!A0\xc2\x9b"
      "2J\x1b[2J\x1b]0;owned\x07");
  b->mutable_http(0)->set_title(b->title());
  b->set_server("@SUM(1+1)*cmd|' /C calc'!A0 \x1b]8;;http://evil.example/\x1b\\nginx\x1b]8;;\x1b\\");
  b->mutable_smtp()->set_banner(
      "220 mx \xe2\x80\xae"
      "moc.knab\xe2\x80\xac \xc2\x9d"
      "0;t\xc2\x9c ESMTP");
  b->mutable_ssh()->set_identification("SSH-2.0-x\xe2\x81\xa6\xf3\xa0\x81\x81\x7f");
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->mutable_status();
  whois->mutable_whois()->set_registered(true);
  whois->mutable_whois()->set_registrar("=HYPERLINK(\"http://evil.example/x\",\"click\")");
  return r;
}

// The bytes a terminal or a spreadsheet could act on: C0 but the line's newline, DEL, C1 (C2 80-9F), and the
// bidi and format characters above; "" when there is none.
std::string FirstUnsafe(const std::string& line) {
  const std::string s = line.substr(0, line.size() - 1);  // the record's own newline
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return "control byte at " + std::to_string(i);
    if (c == 0xC2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0x80) {
      return "C1 at " + std::to_string(i);
    }
  }
  for (const char* format : {"\xe2\x80\xae", "\xe2\x80\xac", "\xe2\x81\xa6", "\xf3\xa0\x81\x81"}) {
    const std::size_t at = s.find(format);
    if (at != std::string::npos) return "format character at " + std::to_string(at);
  }
  return "";
}

// The fields of one CSV line (RFC 4180: quoted fields, doubled quotes), without its newline.
std::vector<std::string> CsvSplit(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && line[i + 1] == '"') {
      fields.back().push_back('"');
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

TEST(Output, TableShowsStrangersControlsEscaped) {
  const std::string row = FormatRecord(Format::kTable, HostileRecord());
  EXPECT_EQ(FirstUnsafe(row), "");
  EXPECT_THAT(row, HasSubstr("@SUM(1+1)*cmd|' /C calc'!A0 \\x1b]8;;http://evil.example/\\x1b\\nginx"));
  EXPECT_THAT(row, HasSubstr("\"=cmd|' /C calc'!A0\\u009b2J\\x1b[2J\\x1b]0;owned\\x07\""));
  EXPECT_THAT(row, HasSubstr("=HYPERLINK(\"http://evil.example/x\",\"click\")"));  // the registrar, shown
}

TEST(Output, CsvHasNoControlsAndNoFormulas) {
  const v1::Record r = HostileRecord();
  const std::string line = FormatRecord(Format::kCsv, r);
  EXPECT_EQ(FirstUnsafe(line), "");
  const std::vector<std::string> fields = CsvSplit(line);
  const std::vector<std::string> header = CsvSplit(FormatHeader(Format::kCsv));
  ASSERT_EQ(fields.size(), header.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    EXPECT_TRUE(f.empty() || f == "-" || !absl::StrContains("=+-@\t\r", f[0])) << header[i] << ": " << f;
  }
  auto field = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return fields[i];
    }
    return std::string("no column ") + name;
  };
  EXPECT_EQ(field("title"), "'=cmd|' /C calc'!A0\\u009b2J\\x1b[2J\\x1b]0;owned\\x07");
  EXPECT_EQ(field("http_server"),
            "'@SUM(1+1)*cmd|' /C calc'!A0 \\x1b]8;;http://evil.example/\\x1b\\nginx"
            "\\x1b]8;;\\x1b\\");
  EXPECT_EQ(field("registrar"), "'=HYPERLINK(\"http://evil.example/x\",\"click\")");
  EXPECT_EQ(field("mx_banner"), "220 mx \\u202emoc.knab\\u202c \\u009d0;t\\u009c ESMTP");
  EXPECT_EQ(field("ssh_banner"), "SSH-2.0-x\\u2066\\U000e0041\\x7f");
  EXPECT_EQ(field("http_status"), "200");
  EXPECT_EQ(field("similarity"), "87");
}

TEST(Output, JsonLineIsExactAndEscaped) {
  const v1::Record r = HostileRecord();
  const std::string line = FormatRecord(Format::kJson, r);
  EXPECT_EQ(FirstUnsafe(line), "");
  v1::Record back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line.substr(0, line.size() - 1), &back).ok()) << line;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, r)) << back.DebugString();
}

TEST(Output, ParseFormat) {
  EXPECT_EQ(*ParseFormat("csv"), Format::kCsv);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace squatstream::client
