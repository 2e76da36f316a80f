#include "client/output.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/sanitize.h"
#include "google/protobuf/descriptor.h"
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

// The HTTP probe the banner's summary (http_status, server, title) came from: the first that answered, as
// the server picks it; null when none did, or for a stub's result (the summary only, no probes).
const v1::HttpProbe* AnsweringProbe(const v1::BannerResult& b) {
  for (const v1::HttpProbe& p : b.http()) {
    if (p.final_status() != 0) return &p;
  }
  return nullptr;
}

// What the https probe's certificate says about who runs the name: "ok" (chains to a trusted root and names
// the host), "self-signed", "expired", "mismatch" (valid, for another name) or "invalid" (anything else).
// OpenSSL 1.1 says "self signed", 3.x "self-signed".
std::string TlsVerdict(const v1::TlsInfo& tls) {
  if (tls.verified()) return "ok";
  const std::string error = absl::AsciiStrToLower(tls.verify_error());
  if ((tls.chain_size() > 0 && tls.chain(0).self_signed()) || absl::StrContains(error, "self-signed") ||
      absl::StrContains(error, "self signed")) {
    return "self-signed";
  }
  if (absl::StrContains(error, "expired")) return "expired";
  if (absl::StrContains(error, "hostname mismatch")) return "mismatch";
  return "invalid";
}

// The host of an absolute URL ("https://www.example.com:8443/x" -> "www.example.com"), lower case.
std::string UrlHost(absl::string_view url) {
  if (const std::size_t scheme = url.find("://"); scheme != absl::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const std::size_t at = url.rfind('@'); at != absl::string_view::npos) url.remove_prefix(at + 1);
  if (absl::ConsumePrefix(&url, "[")) return absl::AsciiStrToLower(url.substr(0, url.find(']')));
  return absl::AsciiStrToLower(url.substr(0, url.find(':')));
}

// At most `max` code points of `s`, cut at a code point boundary, "…" marking a cut.
std::string Clip(const std::string& s, std::size_t max) {
  std::size_t cps = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (cps++ == max) return absl::StrCat(s.substr(0, i), "…");
  }
  return s;
}

// The banner stage as one cell: the first answer's status, Server and title (`200 nginx "Parked"`), then what
// a squatting hunter looks at first: "-> host" when the web page ends on another name (the original's owner
// redirecting a defensive registration, or a squatter sending visitors on), "parked", "sim N" (how like the
// original's page, 0-100), the certificate ("tls:ok", "tls:self-signed", ...), "mx" (a mail exchanger
// answers) or "mx:accepts-any" (it takes mail for any mailbox), "ssh". "no answer" when nothing did.
std::string BannerCell(const v1::Record& r, const v1::BannerResult& b) {
  std::string cell;
  if (b.http_status() != 0) {
    cell = absl::StrCat(b.http_status());
    if (!b.server().empty()) absl::StrAppend(&cell, " ", b.server());
    if (!b.title().empty()) absl::StrAppend(&cell, " \"", Clip(b.title(), 40), "\"");
  }
  std::string flags;
  auto flag = [&flags](absl::string_view f) { absl::StrAppend(&flags, " ", f); };
  if (const v1::HttpProbe* p = AnsweringProbe(b); p != nullptr && !p->final_url().empty()) {
    const std::string host = UrlHost(p->final_url());
    const std::string domain = absl::AsciiStrToLower(r.domain_ascii());
    if (!host.empty() && !domain.empty() && host != domain && host != absl::StrCat("www.", domain)) {
      flag(absl::StrCat("-> ", host));
    }
  }
  if (b.parked()) flag("parked");
  if (b.similarity_known()) flag(absl::StrCat("sim ", b.similarity()));
  if (b.has_tls()) flag(absl::StrCat("tls:", TlsVerdict(b.tls())));
  if (b.has_smtp() && b.smtp().accepts_any_recipient()) {
    flag("mx:accepts-any");
  } else if (b.has_smtp() && !b.smtp().banner().empty()) {
    flag("mx");
  }
  if (b.has_ssh() && !b.ssh().identification().empty()) flag("ssh");
  if (cell.empty()) return flags.empty() ? "no answer" : absl::StrCat("no http", flags);
  return cell + flags;
}

// One enrichment as a short cell: its value, or its error; "-" when there was nothing to look up (a stage
// it needs found nothing); a trailing "*" marks a simulated value (a stub enricher's).
std::string Cell(const v1::Record& r, v1::Enricher e) {
  const v1::Enrichment* x = Find(r, e);
  if (x == nullptr) return "";
  if (x->skipped()) return "-";
  if (x->status().code() == static_cast<int>(absl::StatusCode::kNotFound)) {
    return absl::StrCat("not found: ", x->status().message());
  }
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
      return absl::StrCat(BannerCell(r, x->banner()), mark);
    case v1::Enrichment::kDns:
      return absl::StrCat(DnsCell(x->dns()), mark);
    case v1::Enrichment::RESULT_NOT_SET:
      break;
    default: {
      // A stage this client has no cell of its own for: its result in protobuf's short text form.
      const google::protobuf::FieldDescriptor* field =
          x->GetDescriptor()->FindFieldByNumber(static_cast<int>(x->result_case()));
      if (field == nullptr) break;
      return absl::StrCat(x->GetReflection()->GetMessage(*x, field).ShortDebugString(), mark);
    }
  }
  return "";
}

// The stages, one column each: every value of squatstream.v1.Enricher, DNS first (the stage the others read,
// as the server runs it), then in the API's order — the columns follow the API, never a list of their own.
const std::vector<v1::Enricher>& StageColumns() {
  static const auto* columns = [] {
    auto* out = new std::vector<v1::Enricher>{v1::ENRICHER_DNS};
    const google::protobuf::EnumDescriptor* e = v1::Enricher_descriptor();
    for (int i = 0; i < e->value_count(); ++i) {
      const int id = e->value(i)->number();
      if (id != v1::ENRICHER_UNSPECIFIED && id != v1::ENRICHER_DNS) out->push_back(static_cast<v1::Enricher>(id));
    }
    return out;
  }();
  return *columns;
}

// The table's width of a stage's column (the last one is not padded).
std::size_t StageWidth(std::size_t column) { return column == 0 ? 30 : 40; }

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
  return absl::StrCat(CsvCell(country), ",", CsvCell(city), ",", CsvCell(asn), ",", CsvCell(org), ",",
                      CsvCell(registrar), ",", CsvCell(created), ",", CsvCell(expires));
}

// The CSV's banner columns, after the typed columns above: http_status, http_server, title, final_url and
// redirects (of the first HTTP answer, as the summary picks it), tls_sha256, tls_verified, tls_issuer and
// tls_not_after (the https answer's leaf certificate), mx_banner, mx_accepts_any_recipient, ssh_banner,
// similarity, parked, parked_signals (";"-separated). Empty where the lookup failed or was not made, and where
// a value is unknown: no similarity when either page was missing, no mx_accepts_any_recipient when the
// dialogue did not reach RCPT.
std::string BannerColumns(const v1::Record& r) {
  constexpr int kColumns = 15;
  const v1::Enrichment* e = Find(r, v1::ENRICHER_BANNER);
  if (e == nullptr || !e->has_banner()) return std::string(kColumns - 1, ',');
  const v1::BannerResult& b = e->banner();
  auto boolean = [](bool v) -> std::string { return v ? "true" : "false"; };
  std::string final_url, redirects;
  if (const v1::HttpProbe* p = AnsweringProbe(b)) {
    final_url = p->final_url();
    redirects = absl::StrCat(p->hops_size() > 0 ? p->hops_size() - 1 : 0);
  }
  std::string sha256, verified, issuer, not_after;
  if (b.has_tls()) {
    verified = boolean(b.tls().verified());
    if (b.tls().chain_size() > 0) {
      sha256 = b.tls().chain(0).sha256();
      issuer = b.tls().chain(0).issuer();
      not_after = b.tls().chain(0).not_after();
    }
  }
  std::string mx_banner, accepts_any;
  if (b.has_smtp()) {
    mx_banner = b.smtp().banner();
    if (b.smtp().rcpt_code() != 0) accepts_any = boolean(b.smtp().accepts_any_recipient());
  }
  return absl::StrCat(CsvCell(b.http_status() == 0 ? "" : absl::StrCat(b.http_status())), ",", CsvCell(b.server()), ",",
                      CsvCell(b.title()), ",", CsvCell(final_url), ",", CsvCell(redirects), ",", CsvCell(sha256), ",",
                      CsvCell(verified), ",", CsvCell(issuer), ",", CsvCell(not_after), ",", CsvCell(mx_banner), ",",
                      CsvCell(accepts_any), ",", CsvCell(b.has_ssh() ? b.ssh().identification() : ""), ",",
                      CsvCell(b.similarity_known() ? absl::StrCat(b.similarity()) : ""), ",",
                      CsvCell(boolean(b.parked())), ",", CsvCell(absl::StrJoin(b.parked_signals(), ";")));
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
    case Format::kTable: {
      std::string header = absl::StrCat(Pad("KIND", 14), Pad("DOMAIN", 28));
      const std::vector<v1::Enricher>& stages = StageColumns();
      for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string title = absl::AsciiStrToUpper(EnricherName(stages[i]));
        absl::StrAppend(&header, i + 1 == stages.size() ? title : Pad(title, StageWidth(i)));
      }
      return header + "\n";
    }
    case Format::kCsv: {
      std::string header = "kind,domain_unicode,domain_ascii,";
      for (v1::Enricher e : StageColumns()) absl::StrAppend(&header, EnricherName(e), ",");
      return header +
             "kinds,input,country,city,asn,as_organization,"
             "registrar,created,expires,http_status,http_server,title,final_url,redirects,tls_sha256,tls_verified,"
             "tls_issuer,tls_not_after,mx_banner,mx_accepts_any_recipient,ssh_banner,similarity,parked,"
             "parked_signals\n";
    }
    case Format::kJson:
      return "";
  }
  return "";
}

std::string FormatRecord(Format format, const v1::Record& r) {
  switch (format) {
    case Format::kTable: {
      // Every cell through Displayable (client/sanitize.h): an escape sequence or a bidi override in a
      // stranger's title, banner or registrar name is shown escaped, never passed to the terminal.
      std::string row = absl::StrCat(Pad(Displayable(KindName(r.kind()) + (r.kinds_size() > 1 ? "+" : "")), 14),
                                     Pad(Displayable(r.domain_unicode()), 28));
      const std::vector<v1::Enricher>& stages = StageColumns();
      for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string cell = Displayable(Cell(r, stages[i]));
        absl::StrAppend(&row, i + 1 == stages.size() ? cell : Pad(cell, StageWidth(i)));
      }
      return row + "\n";
    }
    case Format::kCsv: {
      // Every field, ours and strangers' (registrars' names, page titles, banners) alike, through CsvCell
      // (client/sanitize.h): controls and invisible characters escaped, formulas neutralised, quoted as needed.
      std::string row = absl::StrCat(CsvCell(KindName(r.kind())), ",", CsvCell(r.domain_unicode()), ",",
                                     CsvCell(r.domain_ascii()), ",");
      for (v1::Enricher e : StageColumns()) absl::StrAppend(&row, CsvCell(Cell(r, e)), ",");
      return absl::StrCat(row, CsvCell(AllKinds(r)), ",", CsvCell(r.input()), ",", TypedColumns(r), ",",
                          BannerColumns(r), "\n");
    }
    case Format::kJson: {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(r, &json, options);
      // Exact strings, escaped: the printer escapes C0 and some format characters, EscapeHiddenInJson the
      // rest (C1, bidi isolates, ...), so the line is safe on a terminal and parses to the same values.
      return EscapeHiddenInJson(json) + "\n";
    }
  }
  return "";
}

}  // namespace squatstream::client
