#include "client/output.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "client/display_width.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

using ::testing::HasSubstr;

OutputOptions Options(Format format) {
  OutputOptions options;
  options.format = format;
  return options;
}

const OutputOptions kTable = Options(Format::kTable);
const OutputOptions kCsv = Options(Format::kCsv);
const OutputOptions kJson = Options(Format::kJson);

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

// One CSV row by column name (the header's), checking that it has as many fields as the header.
std::map<std::string, std::string> CsvRow(const v1::Record& r, const OutputOptions& options = kCsv) {
  const std::vector<std::string> header = CsvSplit(FormatHeader(options));
  const std::string line = FormatRecord(options, r);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const std::vector<std::string> fields = CsvSplit(line);
  EXPECT_EQ(fields.size(), header.size()) << line;
  std::map<std::string, std::string> row;
  for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
  return row;
}

TEST(Output, Names) {
  EXPECT_EQ(KindName(v1::PERMUTATION_KIND_VOWEL_SWAP), "vowel-swap");
  EXPECT_EQ(KindName(v1::PERMUTATION_KIND_TLD_SWAP), "tld-swap");
  EXPECT_EQ(EnricherName(v1::ENRICHER_BANNER), "banner");
}

TEST(Output, TableRowShowsValuesAndErrors) {
  const std::string row = FormatRecord(kTable, Sample());
  EXPECT_THAT(row, HasSubstr("vowel-swap+"));  // + : more kinds produced it
  EXPECT_THAT(row, HasSubstr("bücher.de"));
  EXPECT_THAT(row, HasSubstr("192.0.2.7 DE Frankfurt, Main AS64500"));
  EXPECT_THAT(row, HasSubstr("error: simulated whois lookup failure"));
  EXPECT_THAT(row, HasSubstr("registered 192.0.2.7*"));  // * : simulated
  EXPECT_THAT(row, ::testing::EndsWith(" -\n"));         // the banner had nothing to look up
  EXPECT_EQ(row.back(), '\n');
}

TEST(Output, CsvTypedColumns) {
  const std::string line = FormatRecord(kCsv, Sample());
  EXPECT_THAT(line, HasSubstr(",\"Frankfurt, Main\","));  // quoted: it holds a comma
  EXPECT_EQ(line.find('*'), std::string::npos) << line;   // simulated-ness has its own column
  std::map<std::string, std::string> row = CsvRow(Sample());
  EXPECT_EQ(row["kind"], "vowel-swap");
  EXPECT_EQ(row["kinds"], "homoglyph;vowel-swap");
  EXPECT_EQ(row["input"], "xn--bcher-kva.ch");
  EXPECT_EQ(row["domain_unicode"], "bücher.de");
  EXPECT_EQ(row["domain_ascii"], "xn--bcher-kva.de");
  EXPECT_EQ(row["simulated"], "dns");
  EXPECT_EQ(row["verdict"], "registered");
  EXPECT_EQ(row["rcode"], "");
  EXPECT_EQ(row["addresses"], "192.0.2.7");
  EXPECT_EQ(row["geo_ip"], "192.0.2.7");
  EXPECT_EQ(row["country"], "DE");
  EXPECT_EQ(row["city"], "Frankfurt, Main");
  EXPECT_EQ(row["asn"], "64500");
  EXPECT_EQ(row["whois_registered"], "");  // the lookup failed: no value, the error in its own columns
  EXPECT_EQ(row["registrar"], "");
  EXPECT_EQ(row["whois_status"], "unavailable");
  EXPECT_EQ(row["whois_error"], "simulated whois lookup failure");
  EXPECT_EQ(row["banner_status"], "skipped");
  EXPECT_EQ(row["banner_error"], "no address (DNS: NXDOMAIN)");
  EXPECT_EQ(row["http_status"], "");
  EXPECT_EQ(row["parked"], "");
  EXPECT_EQ(row["dns_status"], "ok");
  EXPECT_EQ(row["dns_error"], "");
  EXPECT_EQ(row["geo_status"], "ok");
  // No display cells: every fact lives in a typed column.
  for (const char* display : {"dns", "geo", "whois", "banner"}) EXPECT_EQ(row.count(display), 0u) << display;
}

// The header is the same whatever stages were selected (scripts rely on the order); an unselected stage's
// columns are empty.
TEST(Output, CsvColumnsDoNotDependOnTheStages) {
  OutputOptions dns_only = kCsv;
  dns_only.stages = {v1::ENRICHER_DNS};
  OutputOptions batch = kCsv;
  batch.batch = true;
  batch.width = 80;
  EXPECT_EQ(FormatHeader(dns_only), FormatHeader(kCsv));
  EXPECT_EQ(FormatHeader(batch), FormatHeader(kCsv));
  EXPECT_THAT(FormatHeader(kCsv),
              ::testing::StartsWith("kind,kinds,input,domain_unicode,domain_ascii,simulated,verdict,rcode,addresses,"
                                    "name_servers,mail_exchangers,wildcard_zone,geo_ip,country,city,asn,"
                                    "as_organization,whois_registered,registrar,created,expires,http_status,"));
  EXPECT_THAT(FormatHeader(kCsv), ::testing::EndsWith(",dns_status,dns_error,geo_status,geo_error,whois_status,"
                                                      "whois_error,banner_status,banner_error\n"));
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_OMISSION);
  r.set_domain_ascii("exmple.com");
  r.set_domain_unicode("exmple.com");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_status();
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
  std::map<std::string, std::string> row = CsvRow(r, dns_only);
  EXPECT_EQ(row["verdict"], "unregistered");
  for (const char* empty : {"geo_ip", "country", "asn", "whois_registered", "registrar", "http_status", "parked",
                            "geo_status", "geo_error", "whois_status", "banner_status", "simulated", "rcode"}) {
    EXPECT_EQ(row[empty], "") << empty;
  }
}

// Every verdict, and the DNS's lists, one separator for all.
TEST(Output, CsvDnsColumns) {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_OMISSION);
  r.set_domain_ascii("exmple.com");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_status();
  v1::DnsResult* d = dns->mutable_dns();
  d->set_verdict(v1::DNS_VERDICT_REGISTERED);
  d->add_addresses("192.0.2.1");
  d->add_addresses("2001:db8::1");
  d->add_name_servers("ns1.example.net");
  d->add_name_servers("ns2.example.net");
  d->add_mail_exchangers("mx.exmple.com");
  d->add_queries()->set_rcode("NOERROR");
  std::map<std::string, std::string> row = CsvRow(r);
  EXPECT_EQ(row["verdict"], "registered");
  EXPECT_EQ(row["rcode"], "");
  EXPECT_EQ(row["addresses"], "192.0.2.1;2001:db8::1");
  EXPECT_EQ(row["name_servers"], "ns1.example.net;ns2.example.net");
  EXPECT_EQ(row["mail_exchangers"], "mx.exmple.com");
  EXPECT_EQ(row["dns_status"], "ok");

  d->Clear();
  d->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
  d->set_soa_zone("com");
  row = CsvRow(r);
  EXPECT_EQ(row["verdict"], "unregistered");
  EXPECT_EQ(row["addresses"], "");

  d->set_verdict(v1::DNS_VERDICT_WILDCARD);
  d->set_wildcard_zone("example.com");
  d->add_addresses("192.0.2.99");
  row = CsvRow(r);
  EXPECT_EQ(row["verdict"], "wildcard");
  EXPECT_EQ(row["wildcard_zone"], "example.com");
  EXPECT_EQ(row["addresses"], "192.0.2.99");

  d->Clear();
  d->set_verdict(v1::DNS_VERDICT_UNKNOWN);
  d->add_queries()->set_rcode("TIMEOUT");
  d->add_queries()->set_rcode("SERVFAIL");
  row = CsvRow(r);
  EXPECT_EQ(row["verdict"], "unknown");
  EXPECT_EQ(row["rcode"], "SERVFAIL");  // the last query's

  // The lookup itself failed: no verdict, the failure in dns_status and dns_error.
  dns->clear_dns();
  dns->mutable_status()->set_code(4);
  dns->mutable_status()->set_message("no answer from 192.0.2.53 in 5 s");
  row = CsvRow(r);
  EXPECT_EQ(row["verdict"], "");
  EXPECT_EQ(row["dns_status"], "deadline_exceeded");
  EXPECT_EQ(row["dns_error"], "no answer from 192.0.2.53 in 5 s");
}

// A stub server's record: every stage simulated. The stages are named in `simulated`; no value carries a
// mark; an ASN the stub left 0 is empty.
TEST(Output, CsvSimulatedRecord) {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_ADDITION);
  r.set_domain_ascii("examplea.com");
  r.set_domain_unicode("examplea.com");
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->set_simulated(true);
  dns->mutable_status();
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
  v1::Enrichment* geo = r.add_enrichments();
  geo->set_enricher(v1::ENRICHER_GEO);
  geo->set_simulated(true);
  geo->mutable_status();
  geo->mutable_geo()->set_ip("198.51.100.4");
  geo->mutable_geo()->set_country_code("NL");
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->set_simulated(true);
  whois->mutable_status();
  whois->mutable_whois()->set_registered(false);
  v1::Enrichment* banner = r.add_enrichments();
  banner->set_enricher(v1::ENRICHER_BANNER);
  banner->set_simulated(true);
  banner->mutable_status();
  banner->mutable_banner()->set_http_status(403);
  banner->mutable_banner()->set_server("LiteSpeed");
  const std::string line = FormatRecord(kCsv, r);
  EXPECT_EQ(line.find('*'), std::string::npos) << line;
  std::map<std::string, std::string> row = CsvRow(r);
  EXPECT_EQ(row["simulated"], "dns;geo;whois;banner");
  EXPECT_EQ(row["verdict"], "unregistered");
  EXPECT_EQ(row["geo_ip"], "198.51.100.4");
  EXPECT_EQ(row["country"], "NL");
  EXPECT_EQ(row["asn"], "");  // 0: unknown
  EXPECT_EQ(row["whois_registered"], "false");
  EXPECT_EQ(row["http_status"], "403");
  EXPECT_EQ(row["http_server"], "LiteSpeed");
  EXPECT_EQ(row["parked"], "false");
  // The table keeps the mark.
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr("NXDOMAIN*"));
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr("198.51.100.4 NL*"));
}

TEST(Output, CsvNotFoundStatus) {
  v1::Record r;
  r.set_domain_ascii("exmple.com");
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->mutable_status()->set_code(5);
  whois->mutable_status()->set_message("no RDAP entry");
  std::map<std::string, std::string> row = CsvRow(r);
  EXPECT_EQ(row["whois_status"], "not_found");
  EXPECT_EQ(row["whois_error"], "no RDAP entry");
  whois->mutable_status()->set_code(77);  // a code of a newer server
  EXPECT_EQ(CsvRow(r)["whois_status"], "code_77");
}

// The generated reference lists every column of the header, in its order, each with a type.
TEST(Output, CsvColumnReferenceFollowsTheHeader) {
  const std::vector<std::string> header = CsvSplit(FormatHeader(kCsv));
  const std::string reference = CsvColumnReference();
  EXPECT_THAT(reference, ::testing::StartsWith("| column | type | meaning |\n|---|---|---|\n"));
  std::size_t at = 0;
  for (const std::string& name : header) {
    const std::size_t found = reference.find("| `" + name + "` | ", at);
    ASSERT_NE(found, std::string::npos) << name;
    at = found + 1;
  }
  EXPECT_EQ(static_cast<std::size_t>(std::count(reference.begin(), reference.end(), '\n')), header.size() + 2);
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
  const std::string row = FormatRecord(kTable, r);
  EXPECT_THAT(row, HasSubstr("192.0.2.10 DE Berlin AS64500 Example Transit GmbH (+1)"));
  EXPECT_THAT(row, HasSubstr("Example Registrar, Inc. 2019-03-04 to 2027-03-04"));
  EXPECT_THAT(FormatRecord(kCsv, r), HasSubstr(",192.0.2.10,DE,Berlin,64500,Example Transit GmbH,true,"
                                               "\"Example Registrar, Inc.\",2019-03-04T10:00:00Z,"
                                               "2027-03-04T10:00:00Z,"));
  // An address the ASN database has no entry for: no AS in the table ("AS0" never), an empty asn.
  a->set_asn(0);
  g->set_asn(0);
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr("192.0.2.10 DE Berlin Example Transit GmbH (+1)"));
  EXPECT_THAT(FormatRecord(kTable, r), ::testing::Not(HasSubstr("AS0")));
  EXPECT_EQ(CsvRow(r)["asn"], "");
  whois->mutable_whois()->set_registered(false);
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr("not registered"));
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
  EXPECT_THAT(FormatRecord(kTable, r),
              ::testing::EndsWith(" 200 nginx/1.22.1 \"Buy exmple.com, \"the\" domain\" parked sim 87 tls:self-signed "
                                  "mx:accepts-any ssh\n"));

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
  EXPECT_THAT(FormatRecord(kTable, r),
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
    EXPECT_THAT(FormatRecord(kTable, r), ::testing::EndsWith(" 200 nginx/1.22.1 " + flag + "\n")) << error;
  }

  // Nothing on the web: the other services still show; nothing at all: "no answer".
  b->clear_http_status();
  b->clear_server();
  b->clear_http();
  b->clear_tls();
  b->mutable_ssh()->set_identification("SSH-2.0-dropbear");
  EXPECT_THAT(FormatRecord(kTable, r), ::testing::EndsWith(" no http ssh\n"));
  b->clear_ssh();
  EXPECT_THAT(FormatRecord(kTable, r), ::testing::EndsWith(" no answer\n"));
}

TEST(Output, BannerCsvColumns) {
  v1::Record r = BannerRecord();
  std::map<std::string, std::string> row = CsvRow(r);
  EXPECT_EQ(row["http_status"], "200");
  EXPECT_EQ(row["http_server"], "nginx/1.22.1");
  EXPECT_EQ(row["title"], "Buy exmple.com, \"the\" domain");
  EXPECT_EQ(row["final_url"], "https://www.exmple.com/lander");
  EXPECT_EQ(row["redirects"], "2");
  EXPECT_EQ(row["tls_sha256"], "AB:CD:EF:01");
  EXPECT_EQ(row["tls_verified"], "false");
  EXPECT_EQ(row["tls_verdict"], "self-signed");
  EXPECT_EQ(row["tls_issuer"], "CN=exmple.com");
  EXPECT_EQ(row["tls_not_after"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(row["mx_banner"], "220 mail.exmple.com ESMTP Postfix");
  EXPECT_EQ(row["mx_accepts_any_recipient"], "true");
  EXPECT_EQ(row["ssh_banner"], "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  EXPECT_EQ(row["similarity"], "87");
  EXPECT_EQ(row["parked"], "true");
  EXPECT_EQ(row["parked_signals"], "ns:sedoparking.com;page:buy this domain");
  EXPECT_EQ(row["banner_status"], "ok");
  EXPECT_EQ(row["simulated"], "");

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
  row = CsvRow(r);
  for (const char* empty : {"similarity", "mx_accepts_any_recipient", "tls_sha256", "tls_verified", "tls_verdict",
                            "tls_issuer", "tls_not_after", "ssh_banner", "parked_signals"}) {
    EXPECT_EQ(row[empty], "") << empty;
  }
  EXPECT_EQ(row["parked"], "false");
  EXPECT_EQ(row["mx_banner"], "220 mail.exmple.com ESMTP Postfix");

  // A stub's result: the summary only, no probes.
  b->Clear();
  b->set_http_status(403);
  b->set_server("LiteSpeed");
  r.mutable_enrichments(0)->set_simulated(true);
  EXPECT_THAT(FormatRecord(kTable, r), ::testing::EndsWith(" 403 LiteSpeed*\n"));
  row = CsvRow(r);
  EXPECT_EQ(row["http_status"], "403");
  EXPECT_EQ(row["http_server"], "LiteSpeed");
  EXPECT_EQ(row["final_url"], "");
  EXPECT_EQ(row["simulated"], "banner");

  // A failed lookup: the error in its own columns, the values empty.
  r.mutable_enrichments(0)->clear_banner();
  r.mutable_enrichments(0)->set_simulated(false);
  r.mutable_enrichments(0)->mutable_status()->set_code(4);
  r.mutable_enrichments(0)->mutable_status()->set_message("deadline");
  row = CsvRow(r);
  EXPECT_EQ(row["banner_status"], "deadline_exceeded");
  EXPECT_EQ(row["banner_error"], "deadline");
  EXPECT_EQ(row["http_status"], "");
  EXPECT_EQ(row["parked"], "");
  EXPECT_THAT(FormatRecord(kTable, r), ::testing::EndsWith(" error: deadline\n"));
}

TEST(Output, JsonLineCarriesTheBannerProbes) {
  const std::string line = FormatRecord(kJson, BannerRecord());
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
  const std::string line = FormatRecord(kJson, Sample());
  EXPECT_THAT(line, HasSubstr("\"domain_ascii\":\"xn--bcher-kva.de\""));
  EXPECT_THAT(line, HasSubstr("\"kind\":\"PERMUTATION_KIND_VOWEL_SWAP\""));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(Output, DnsVerdictCells) {
  v1::Record r;
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNREGISTERED);
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr(" NXDOMAIN "));
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_WILDCARD);
  dns->mutable_dns()->set_wildcard_zone("example.com");
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr(" wildcard *.example.com "));
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_UNKNOWN);
  dns->mutable_dns()->add_queries()->set_rcode("SERVFAIL");
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr(" unknown (SERVFAIL) "));
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_REGISTERED);
  dns->mutable_dns()->add_name_servers("ns1.example.net");
  EXPECT_THAT(FormatRecord(kTable, r), HasSubstr(" registered NS ns1.example.net "));
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

TEST(Output, TableShowsStrangersControlsEscaped) {
  const std::string row = FormatRecord(kTable, HostileRecord());
  EXPECT_EQ(FirstUnsafe(row), "");
  EXPECT_THAT(row, HasSubstr("@SUM(1+1)*cmd|' /C calc'!A0 \\x1b]8;;http://evil.example/\\x1b\\nginx"));
  EXPECT_THAT(row, HasSubstr("\"=cmd|' /C calc'!A0\\u009b2J\\x1b[2J\\x1b]0;owned\\x07\""));
  EXPECT_THAT(row, HasSubstr("=HYPERLINK(\"http://evil.example/x\",\"click\")"));  // the registrar, shown
}

TEST(Output, CsvHasNoControlsAndNoFormulas) {
  const v1::Record r = HostileRecord();
  const std::string line = FormatRecord(kCsv, r);
  EXPECT_EQ(FirstUnsafe(line), "");
  const std::vector<std::string> fields = CsvSplit(line);
  const std::vector<std::string> header = CsvSplit(FormatHeader(kCsv));
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
  const std::string line = FormatRecord(kJson, r);
  EXPECT_EQ(FirstUnsafe(line), "");
  v1::Record back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line.substr(0, line.size() - 1), &back).ok()) << line;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, r)) << back.DebugString();
}

TEST(Output, ParseFormat) {
  EXPECT_EQ(*ParseFormat("csv"), Format::kCsv);
  EXPECT_EQ(*ParseFormat("table"), Format::kTable);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("list"), Format::kList);
  EXPECT_EQ(*ParseFormat("CSV"), Format::kCsv);
  const absl::StatusOr<Format> xml = ParseFormat("xml");
  ASSERT_FALSE(xml.ok());
  EXPECT_EQ(xml.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(xml.status().message(), "unknown format \"xml\": the formats are table, json, csv and list");
}

// --format=list: the ASCII names alone, one a line, no header: what dig and other tools read.
TEST(Output, ListFormat) {
  const OutputOptions list = Options(Format::kList);
  EXPECT_EQ(FormatHeader(list), "");
  EXPECT_EQ(FormatRecord(list, Sample()), "xn--bcher-kva.de\n");
  v1::Record hostile;
  hostile.set_domain_ascii("a\x1b[2J.com");
  EXPECT_EQ(FormatRecord(list, hostile), "a\\x1b[2J.com\n");
  EXPECT_EQ(FormatHeader(kJson), "");
}

// A record whose name is written in `domain`, every stage answered, the banner with a 300-character title.
v1::Record WideRecord(const std::string& domain) {
  v1::Record r = BannerRecord();
  r.set_domain_unicode(domain);
  r.set_input("xn--fsqu00a.com");
  r.mutable_enrichments(0)->mutable_banner()->set_title(std::string(150, 't') + std::string(150, 'T'));
  v1::Enrichment* dns = r.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_status();
  dns->mutable_dns()->set_verdict(v1::DNS_VERDICT_REGISTERED);
  dns->mutable_dns()->add_addresses("192.0.2.10");
  v1::Enrichment* geo = r.add_enrichments();
  geo->set_enricher(v1::ENRICHER_GEO);
  geo->mutable_status();
  geo->mutable_geo()->set_ip("192.0.2.10");
  geo->mutable_geo()->set_country_code("JP");
  geo->mutable_geo()->set_city("東京");
  geo->mutable_geo()->set_asn(64500);
  v1::Enrichment* whois = r.add_enrichments();
  whois->set_enricher(v1::ENRICHER_WHOIS);
  whois->mutable_status();
  whois->mutable_whois()->set_registered(true);
  whois->mutable_whois()->set_registrar("株式会社 Example Registrar Corporation, a very long name indeed");
  whois->mutable_whois()->set_created("2019-03-04T10:00:00Z");
  return r;
}

// The display columns before the byte offset `at` of `line`.
std::size_t ColumnsBefore(const std::string& line, std::size_t at) { return DisplayWidth(line.substr(0, at)); }

// At a terminal's width every row, the header's too, is as wide as the others and no wider than the terminal,
// whatever script the names are in: CJK (two columns a character), Thai (marks of no width), emoji; and the
// columns start at the same place on every row.
TEST(Output, TableFitsTheWidthInDisplayColumns) {
  const std::vector<std::string> domains = {"例子.com", "ตัวอย่าง.com", "🙂.com", "example.com",
                                            "例子例子例子例子例子例子例子例子例子例子.com"};
  for (std::size_t width : {80u, 120u}) {
    for (bool batch : {false, true}) {
      OutputOptions options = kTable;
      options.width = width;
      options.batch = batch;
      const std::string header = FormatHeader(options);
      const std::size_t header_width = DisplayWidth(header.substr(0, header.size() - 1));
      EXPECT_LE(header_width, width);
      EXPECT_GT(header_width, width - 10) << "the columns use the terminal's width";
      const std::size_t dns_at = ColumnsBefore(header, header.find("DNS"));
      for (const std::string& domain : domains) {
        const std::string row = FormatRecord(options, WideRecord(domain));
        ASSERT_EQ(row.find('\n'), row.size() - 1) << row;
        EXPECT_EQ(DisplayWidth(row.substr(0, row.size() - 1)), header_width)
            << "width " << width << " batch " << batch << ": " << row;
        EXPECT_EQ(ColumnsBefore(row, row.find("regist")), dns_at) << row;
        EXPECT_THAT(row, HasSubstr("…")) << "the title is cut: " << row;
        EXPECT_THAT(row, ::testing::Not(HasSubstr(std::string(100, 't'))));
      }
    }
  }
  // The names as they are where there is room.
  OutputOptions wide = kTable;
  wide.width = 200;
  EXPECT_THAT(FormatRecord(wide, WideRecord("ตัวอย่าง.com")), HasSubstr(" ตัวอย่าง.com "));
  EXPECT_THAT(FormatRecord(wide, WideRecord("例子.com")), HasSubstr(" 例子.com "));
  EXPECT_THAT(FormatRecord(wide, WideRecord("🙂.com")), HasSubstr(" 🙂.com "));
}

// A terminal narrower than the columns' least widths still gets rows of one width, each cell at least one column.
TEST(Output, TableOnANarrowTerminal) {
  for (std::size_t width : {20u, 40u, 60u}) {
    OutputOptions options = kTable;
    options.width = width;
    const std::string header = FormatHeader(options);
    const std::size_t header_width = DisplayWidth(header.substr(0, header.size() - 1));
    EXPECT_LE(header_width, width);
    const std::string row = FormatRecord(options, WideRecord("例子.com"));
    EXPECT_EQ(DisplayWidth(row.substr(0, row.size() - 1)), header_width) << row;
  }
}

// Without a width (--wide, or not a terminal) nothing is cut, and the columns are padded by display width.
TEST(Output, TableWithoutAWidthPadsByDisplayColumns) {
  const std::string header = FormatHeader(kTable);
  const std::size_t dns_at = ColumnsBefore(header, header.find("DNS"));
  EXPECT_EQ(dns_at, 23u + 28u);  // KIND: "double-vowel-insertion+", the longest kind and its +
  for (const char* domain : {"例子.com", "ตัวอย่าง.com", "🙂.com", "example.com"}) {
    const std::string row = FormatRecord(kTable, WideRecord(domain));
    EXPECT_EQ(ColumnsBefore(row, row.find("registered 192.0.2.10")), dns_at) << row;
    EXPECT_THAT(row, HasSubstr(std::string(40, 't') + "…"));  // the banner cell's own cut of a title
  }
  const std::string registrar = "株式会社 Example Registrar Corporation, a very long name indeed";
  EXPECT_THAT(FormatRecord(kTable, WideRecord("example.com")), HasSubstr(registrar));
}

// A batch gets an INPUT column (the input's Unicode form); one input does not.
TEST(Output, TableInputColumnInABatch) {
  OutputOptions batch = kTable;
  batch.batch = true;
  EXPECT_THAT(FormatHeader(batch), ::testing::StartsWith("KIND"));
  EXPECT_THAT(FormatHeader(batch), HasSubstr(" INPUT "));
  EXPECT_THAT(FormatHeader(kTable), ::testing::Not(HasSubstr("INPUT")));
  const std::string row = FormatRecord(batch, WideRecord("例子.de"));
  EXPECT_THAT(row, HasSubstr(" 例子.com "));
  EXPECT_LT(row.find("例子.com"), row.find("例子.de"));  // INPUT before DOMAIN
  batch.width = 80;
  EXPECT_THAT(FormatHeader(batch), HasSubstr(" INPUT "));
  EXPECT_THAT(FormatRecord(batch, WideRecord("例子.de")), HasSubstr(" 例子.com "));
  v1::Record odd = WideRecord("例子.de");
  odd.set_input("not a name!");  // what the server sent, when it is no name
  batch.width = 0;
  EXPECT_THAT(FormatRecord(batch, odd), HasSubstr(" not a name! "));
}

// Only the selected stages get columns (DNS always: the others need it); the order stays the API's.
TEST(Output, TableShowsTheSelectedStagesOnly) {
  OutputOptions geo = kTable;
  geo.stages = {v1::ENRICHER_GEO};
  EXPECT_THAT(FormatHeader(geo), ::testing::MatchesRegex("KIND +DOMAIN +DNS +GEO\n"));
  const std::string row = FormatRecord(geo, WideRecord("example.com"));
  EXPECT_THAT(row, ::testing::EndsWith("192.0.2.10 JP 東京 AS64500\n"));
  EXPECT_THAT(row, ::testing::Not(HasSubstr("Registrar")));
  OutputOptions two = kTable;
  two.stages = {v1::ENRICHER_BANNER, v1::ENRICHER_WHOIS};
  two.width = 100;
  EXPECT_THAT(FormatHeader(two), ::testing::MatchesRegex("KIND +DOMAIN +DNS +WHOIS +BANNER *\n"));
  OutputOptions dns = kTable;
  dns.stages = {v1::ENRICHER_DNS};
  EXPECT_THAT(FormatHeader(dns), ::testing::MatchesRegex("KIND +DOMAIN +DNS\n"));
  EXPECT_THAT(FormatHeader(kTable), ::testing::MatchesRegex("KIND +DOMAIN +DNS +GEO +WHOIS +BANNER\n"));
  // Candidates not looked up (`squatstream names`): no stage column at all.
  OutputOptions names = kTable;
  names.lookups = false;
  EXPECT_THAT(FormatHeader(names), ::testing::MatchesRegex("KIND +DOMAIN\n"));
  EXPECT_THAT(FormatRecord(names, WideRecord("example.com")), ::testing::MatchesRegex("[a-z-]+[+]? +example[.]com\n"));
}

// Strangers' text is escaped before it is measured: an ESC shown as \x1b takes four columns, not none.
TEST(Output, TableSanitisesBeforeMeasuring) {
  OutputOptions options = kTable;
  options.width = 80;
  v1::Record r = WideRecord("example.com");
  const std::string plain = FormatRecord(options, r);
  r.set_domain_unicode("ex\x1b[2Jample.com");
  const std::string row = FormatRecord(options, r);
  EXPECT_THAT(row, HasSubstr("ex\\x1b[2Jample.com"));
  EXPECT_EQ(DisplayWidth(row), DisplayWidth(plain));
  EXPECT_EQ(FirstUnsafe(row), "");
}

}  // namespace
}  // namespace squatstream::client
