#include "client/output.h"

#include "gmock/gmock.h"
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
  EXPECT_EQ(
      FormatRecord(Format::kCsv, Sample()),
      "vowel-swap,bücher.de,xn--bcher-kva.de,registered 192.0.2.7*,\"192.0.2.7 DE Frankfurt, Main AS64500\","
      "error: simulated whois lookup failure,-,homoglyph vowel-swap,xn--bcher-kva.ch,DE,\"Frankfurt, Main\",64500,,"
      ",,\n");
  EXPECT_EQ(FormatHeader(Format::kCsv),
            "kind,domain_unicode,domain_ascii,dns,geo,whois,banner,kinds,input,country,city,asn,as_organization,"
            "registrar,created,expires\n");
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
                                  "2019-03-04T10:00:00Z,2027-03-04T10:00:00Z\n"));
  whois->mutable_whois()->set_registered(false);
  EXPECT_THAT(FormatRecord(Format::kTable, r), HasSubstr("not registered"));
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

TEST(Output, ParseFormat) {
  EXPECT_EQ(*ParseFormat("csv"), Format::kCsv);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace squatstream::client
