#include "client/output.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "permute/kind.h"

namespace squatstream::client {
namespace {

// "PERMUTATION_KIND_VOWEL_SWAP" -> "vowel-swap"
std::string ShortName(const std::string& enum_name, absl::string_view prefix) {
  std::string s = absl::AsciiStrToLower(absl::StripPrefix(enum_name, prefix));
  return absl::StrReplaceAll(s, {{"_", "-"}});
}

const v1::Enrichment* Find(const v1::Record& r, v1::Enricher e) {
  for (const v1::Enrichment& x : r.enrichments()) {
    if (x.enricher() == e) return &x;
  }
  return nullptr;
}

std::string DnsCell(const v1::DnsResult& d) {
  switch (d.verdict()) {
    case v1::DNS_VERDICT_REGISTERED:
      return d.addresses_size() > 0      ? absl::StrCat("registered ", d.addresses(0))
             : d.name_servers_size() > 0 ? absl::StrCat("registered NS ", d.name_servers(0))
                                         : "registered";
    case v1::DNS_VERDICT_UNREGISTERED:
      return "NXDOMAIN";
    case v1::DNS_VERDICT_WILDCARD:
      return absl::StrCat("wildcard *.", d.wildcard_zone());
    default:
      return absl::StrCat("unknown (", d.queries_size() > 0 ? d.queries(d.queries_size() - 1).rcode() : "", ")");
  }
}

// One enrichment as a short cell: its value, or its error; "-" when there was nothing to look up (a stage
// it needs found nothing); a trailing "*" marks a simulated value (a stub enricher's).
std::string Cell(const v1::Record& r, v1::Enricher e) {
  const v1::Enrichment* x = Find(r, e);
  if (x == nullptr) return "";
  if (x->status().code() == static_cast<int>(absl::StatusCode::kNotFound)) return "-";
  if (x->status().code() != 0) return absl::StrCat("error: ", x->status().message());
  const char* mark = x->simulated() ? "*" : "";
  switch (x->result_case()) {
    case v1::Enrichment::kGeo: {
      const v1::GeoResult& g = x->geo();
      std::string cell = absl::StrFormat("%s %s %s AS%d", g.ip(), g.country_code(), g.city(), g.asn());
      for (const v1::GeoLocation& a : g.addresses()) {  // the first located address's AS organisation
        if (a.ip() == g.ip() && !a.as_organization().empty()) absl::StrAppend(&cell, " ", a.as_organization());
      }
      if (g.addresses_size() > 1) absl::StrAppend(&cell, " (+", g.addresses_size() - 1, ")");
      return absl::StrCat(cell, mark);
    }
    case v1::Enrichment::kWhois: {
      const v1::WhoisResult& w = x->whois();
      if (!w.registered()) return absl::StrCat("not registered", mark);
      auto day = [](const std::string& date) { return date.substr(0, 10); };
      return absl::StrCat(w.registrar().empty() ? "registered" : w.registrar(),
                          w.created().empty() ? "" : absl::StrCat(" ", day(w.created())),
                          w.expires().empty() ? "" : absl::StrCat(" to ", day(w.expires())), mark);
    }
    case v1::Enrichment::kBanner:
      return absl::StrCat(x->banner().http_status() == 0
                              ? "no answer"
                              : absl::StrFormat("%d %s", x->banner().http_status(), x->banner().server()),
                          mark);
    case v1::Enrichment::kDns:
      return absl::StrCat(DnsCell(x->dns()), mark);
    case v1::Enrichment::RESULT_NOT_SET:
      break;
  }
  return "";
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

// What strangers wrote (registrars' names, page titles) without control characters: an escape sequence in a
// registrar's name must not drive the user's terminal.
std::string Printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return s;
}

// Pads by code points, not bytes, so Unicode names line up.
std::string Pad(const std::string& s, std::size_t width) {
  std::size_t cps = 0;
  for (char c : s) cps += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return cps >= width ? s + " " : s + std::string(width - cps, ' ');
}

// The CSV's typed columns: country, city, asn, as_organization (the first located address), registrar,
// created, expires — empty where the lookup failed or was not made.
std::string TypedColumns(const v1::Record& r) {
  std::string country, city, asn, org, registrar, created, expires;
  if (const v1::Enrichment* g = Find(r, v1::ENRICHER_GEO); g != nullptr && g->has_geo()) {
    for (const v1::GeoLocation& a : g->geo().addresses()) {
      if (!a.found()) continue;
      country = a.country_code();
      city = a.city();
      asn = a.asn() == 0 ? "" : absl::StrCat(a.asn());
      org = a.as_organization();
      break;
    }
    if (g->geo().addresses().empty()) {  // a stub's result: the summary fields only
      country = g->geo().country_code();
      city = g->geo().city();
      asn = absl::StrCat(g->geo().asn());
    }
  }
  if (const v1::Enrichment* w = Find(r, v1::ENRICHER_WHOIS); w != nullptr && w->has_whois()) {
    registrar = w->whois().registrar();
    created = w->whois().created();
    expires = w->whois().expires();
  }
  return absl::StrCat(CsvField(country), ",", CsvField(city), ",", asn, ",", CsvField(org), ",", CsvField(registrar),
                      ",", CsvField(created), ",", CsvField(expires));
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(absl::StrFormat("unknown format \"%s\" (table, json or csv)", name));
}

std::string KindName(v1::PermutationKind kind) {
  // The engine's names, so that the CLI prints and accepts what the server's kinds are called. A value the
  // engine does not know (UNSPECIFIED, or a kind of a newer server) is named after the API's enum.
  if (std::optional<permute::Kind> k = permute::KindFromNumber(kind)) return std::string(permute::KindName(*k));
  return ShortName(v1::PermutationKind_Name(kind), "PERMUTATION_KIND_");
}

// Every kind of a record, space-separated ("addition repetition").
std::string AllKinds(const v1::Record& r) {
  std::string out;
  for (int k : r.kinds()) absl::StrAppend(&out, out.empty() ? "" : " ", KindName(static_cast<v1::PermutationKind>(k)));
  return out;
}

std::string EnricherName(v1::Enricher enricher) { return ShortName(v1::Enricher_Name(enricher), "ENRICHER_"); }

std::string FormatHeader(Format format) {
  switch (format) {
    case Format::kTable:
      return absl::StrCat(Pad("KIND", 14), Pad("DOMAIN", 28), Pad("DNS", 30), Pad("GEO", 40), Pad("WHOIS", 40),
                          "BANNER\n");
    case Format::kCsv:
      return "kind,domain_unicode,domain_ascii,dns,geo,whois,banner,kinds,input,country,city,asn,as_organization,"
             "registrar,created,expires\n";
    case Format::kJson:
      return "";
  }
  return "";
}

std::string FormatRecord(Format format, const v1::Record& r) {
  switch (format) {
    case Format::kTable:
      return absl::StrCat(Pad(KindName(r.kind()) + (r.kinds_size() > 1 ? "+" : ""), 14), Pad(r.domain_unicode(), 28),
                          Pad(Printable(Cell(r, v1::ENRICHER_DNS)), 30), Pad(Printable(Cell(r, v1::ENRICHER_GEO)), 40),
                          Pad(Printable(Cell(r, v1::ENRICHER_WHOIS)), 40), Printable(Cell(r, v1::ENRICHER_BANNER)),
                          "\n");
    case Format::kCsv:
      return absl::StrCat(CsvField(KindName(r.kind())), ",", CsvField(r.domain_unicode()), ",",
                          CsvField(r.domain_ascii()), ",", CsvField(Cell(r, v1::ENRICHER_DNS)), ",",
                          CsvField(Cell(r, v1::ENRICHER_GEO)), ",", CsvField(Cell(r, v1::ENRICHER_WHOIS)), ",",
                          CsvField(Cell(r, v1::ENRICHER_BANNER)), ",", CsvField(AllKinds(r)), ",", CsvField(r.input()),
                          ",", TypedColumns(r), "\n");
    case Format::kJson: {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(r, &json, options);
      return json + "\n";
    }
  }
  return "";
}

}  // namespace squatstream::client
