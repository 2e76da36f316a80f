#include "client/output.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
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
#include "client/display_width.h"
#include "client/sanitize.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "permute/domain.h"
#include "permute/kind.h"

namespace squatstream::client {
namespace {

// The one separator of the items of a CSV list column (kinds, addresses, name servers, parking signals ...).
constexpr absl::string_view kListSeparator = ";";

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

// ---------------------------------------------------------------------------------------------------------
// The table's cells.

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

// The columns of a page title in the banner cell, its "…" included: the flags after it stay in view.
constexpr std::size_t kTitleColumns = 41;

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
    if (!b.title().empty()) absl::StrAppend(&cell, " \"", CutToWidth(b.title(), kTitleColumns), "\"");
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

// The geo stage as one cell: "192.0.2.7 DE Frankfurt AS64500 Example GmbH (+1)" — the first address, where it
// is, its AS (none when the database has no entry: never "AS0") and the AS organisation, how many more
// addresses; parts the databases do not hold are left out.
std::string GeoCell(const v1::GeoResult& g) {
  std::vector<std::string> parts;
  for (const std::string& part : {g.ip(), g.country_code(), g.city()}) {
    if (!part.empty()) parts.push_back(part);
  }
  if (g.asn() != 0) parts.push_back(absl::StrCat("AS", g.asn()));
  for (const v1::GeoLocation& a : g.addresses()) {  // the first located address's AS organisation
    if (a.ip() == g.ip() && !a.as_organization().empty()) {
      parts.push_back(a.as_organization());
      break;
    }
  }
  if (g.addresses_size() > 1) parts.push_back(absl::StrCat("(+", g.addresses_size() - 1, ")"));
  return absl::StrJoin(parts, " ");
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
    case v1::Enrichment::kGeo:
      return absl::StrCat(GeoCell(x->geo()), mark);
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

// ---------------------------------------------------------------------------------------------------------
// The table's layout.

// One column of the table: its title, the width it gets when there is room (and always without a limit),
// the least it gets before every column shrinks alike, and what fills it.
struct TableColumn {
  std::string title;
  std::size_t preferred;
  std::size_t least;
  std::function<std::string(const v1::Record&)> cell;
};

// The last column's widest when the terminal has room to spare: a banner cell with a full title and every
// flag; a longer cell is cut.
constexpr std::size_t kLastColumnMost = 120;

// The table's columns for `options`: KIND, INPUT (a batch), DOMAIN, DNS and the selected stages.
std::vector<TableColumn> TableColumns(const OutputOptions& options) {
  std::vector<TableColumn> columns;
  // Room for the longest kind name and its "+" ("double-vowel-insertion+"), so that no row shifts without a
  // width limit either.
  std::size_t longest_kind = 0;
  for (const permute::Kind k : permute::AllKinds()) longest_kind = std::max(longest_kind, permute::KindName(k).size());
  columns.push_back({"KIND", longest_kind + 1, 10,
                     [](const v1::Record& r) { return KindName(r.kind()) + (r.kinds_size() > 1 ? "+" : ""); }});
  if (options.batch) {
    // The input as the user wrote it, most likely: the record carries its ASCII form.
    columns.push_back({"INPUT", 20, 10, [](const v1::Record& r) {
                         absl::StatusOr<permute::NameForms> forms = permute::ToNameForms(r.input());
                         return forms.ok() ? forms->unicode : r.input();
                       }});
  }
  columns.push_back({"DOMAIN", 28, 20, [](const v1::Record& r) { return r.domain_unicode(); }});
  for (v1::Enricher stage : StageColumns()) {
    if (!options.lookups) break;
    const bool selected = options.stages.empty() || stage == v1::ENRICHER_DNS ||
                          std::find(options.stages.begin(), options.stages.end(), stage) != options.stages.end();
    if (!selected) continue;
    columns.push_back({absl::AsciiStrToUpper(EnricherName(stage)), stage == v1::ENRICHER_DNS ? 30u : 40u, 10,
                       [stage](const v1::Record& r) { return Cell(r, stage); }});
  }
  return columns;
}

// The widths of `columns` in a row of at most `width` display columns, one space between two columns. Each
// gets its preferred width when they all fit, the last one the room left over (at most kLastColumnMost);
// else each its least and the rest shared in proportion to what each wants beyond it; a terminal narrower
// than the least widths shrinks every column alike, down to one column (where the row, no less than one
// column per cell plus the spaces, can be wider).
std::vector<std::size_t> ColumnWidths(const std::vector<TableColumn>& columns, std::size_t width) {
  const std::size_t n = columns.size();
  const std::size_t gaps = n - 1;
  const std::size_t room = width > gaps ? width - gaps : 0;
  std::vector<std::size_t> widths(n);
  std::size_t preferred = 0, least = 0;
  for (const TableColumn& c : columns) {
    preferred += c.preferred;
    least += c.least;
  }
  if (preferred <= room) {
    for (std::size_t i = 0; i < n; ++i) widths[i] = columns[i].preferred;
    widths[n - 1] = std::max(columns[n - 1].preferred, std::min(kLastColumnMost, room - (preferred - widths[n - 1])));
    return widths;
  }
  if (least <= room) {
    const std::size_t spare = room - least;
    const std::size_t wanted = preferred - least;
    std::size_t given = 0;
    for (std::size_t i = 0; i < n; ++i) {
      widths[i] = columns[i].least + (columns[i].preferred - columns[i].least) * spare / wanted;
      given += widths[i];
    }
    // What the rounding down left, one column each, from the last (the widest cells) back.
    for (std::size_t i = n; i-- > 0 && given < room;) {
      if (widths[i] < columns[i].preferred) {
        ++widths[i];
        ++given;
      }
    }
    return widths;
  }
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    widths[i] = std::max<std::size_t>(1, columns[i].least * room / least);
    total += widths[i];
  }
  while (total > room) {  // the rounding up to one column: take it back from the widest
    auto widest = std::max_element(widths.begin(), widths.end());
    if (*widest <= 1) break;
    --*widest;
    --total;
  }
  return widths;
}

// One row of the table: each cell through Displayable (client/sanitize.h) first — an escape sequence or a
// bidi override in a stranger's title, banner or registrar name is shown escaped, never passed to the
// terminal — then measured in display columns. With a width each cell is cut or padded to its column and
// the row is exactly as wide as the layout; without, the columns but the last are padded and nothing is cut.
std::string TableRow(const OutputOptions& options, const std::vector<TableColumn>& columns,
                     const std::function<std::string(const TableColumn&)>& text) {
  std::string row;
  if (options.width > 0) {
    const std::vector<std::size_t> widths = ColumnWidths(columns, options.width);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) row += ' ';
      absl::StrAppend(&row, FitToWidth(Displayable(text(columns[i])), widths[i]));
    }
  } else {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string cell = Displayable(text(columns[i]));
      absl::StrAppend(&row, i + 1 == columns.size() ? cell : PadToWidth(cell, columns[i].preferred));
    }
  }
  return row + "\n";
}

// ---------------------------------------------------------------------------------------------------------
// The CSV's columns: the one list the header, the rows and the documentation are made from.

// One CSV column: its name, its type (see docs/OUTPUT.md: text, integer, boolean, enum, list, timestamp),
// what it means, and the function that makes its value (raw: CsvCell() sanitises and quotes it).
struct CsvColumn {
  std::string name;
  std::string type;
  std::string meaning;
  std::function<std::string(const v1::Record&)> value;
};

std::string Boolean(bool v) { return v ? "true" : "false"; }

std::string List(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return absl::StrJoin(items, kListSeparator);
}

// A stage's result when its lookup succeeded; null when it did not run, failed, or had nothing to look up.
const v1::DnsResult* Dns(const v1::Record& r) {
  const v1::Enrichment* e = Find(r, v1::ENRICHER_DNS);
  return e != nullptr && e->has_dns() ? &e->dns() : nullptr;
}
const v1::WhoisResult* Whois(const v1::Record& r) {
  const v1::Enrichment* e = Find(r, v1::ENRICHER_WHOIS);
  return e != nullptr && e->has_whois() ? &e->whois() : nullptr;
}
const v1::BannerResult* Banner(const v1::Record& r) {
  const v1::Enrichment* e = Find(r, v1::ENRICHER_BANNER);
  return e != nullptr && e->has_banner() ? &e->banner() : nullptr;
}

// The https answer's leaf certificate, or null.
const v1::Certificate* Leaf(const v1::Record& r) {
  const v1::BannerResult* b = Banner(r);
  return b == nullptr || b->tls().chain().empty() ? nullptr : &b->tls().chain(0);
}

// The address the geo columns describe: the first the databases located, or a stub's summary (it has no
// addresses); nullopt when there is none.
struct Located {
  std::string ip, country, city, as_organization;
  std::uint32_t asn = 0;
};
std::optional<Located> Geo(const v1::Record& r) {
  const v1::Enrichment* e = Find(r, v1::ENRICHER_GEO);
  if (e == nullptr || !e->has_geo()) return std::nullopt;
  const v1::GeoResult& g = e->geo();
  if (g.addresses().empty()) return Located{g.ip(), g.country_code(), g.city(), "", g.asn()};
  for (const v1::GeoLocation& a : g.addresses()) {
    if (a.found()) return Located{a.ip(), a.country_code(), a.city(), a.as_organization(), a.asn()};
  }
  return std::nullopt;
}

std::string DnsVerdictName(v1::DnsVerdict verdict) {
  switch (verdict) {
    case v1::DNS_VERDICT_REGISTERED:
      return "registered";
    case v1::DNS_VERDICT_UNREGISTERED:
      return "unregistered";
    case v1::DNS_VERDICT_WILDCARD:
      return "wildcard";
    default:
      return "unknown";
  }
}

// A stage's outcome: "" when it did not run for the record, "ok", "skipped" (nothing to look up: a stage it
// needs found nothing), "not_found" (the registry or the database has no entry), else the failure's canonical
// code in lower case ("deadline_exceeded", "unavailable", ...).
std::string StageStatus(const v1::Record& r, v1::Enricher stage) {
  const v1::Enrichment* e = Find(r, stage);
  if (e == nullptr) return "";
  if (e->skipped()) return "skipped";
  const int code = e->status().code();
  if (code == 0) return "ok";
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat("code_", code) : absl::AsciiStrToLower(name);
}

std::string StageError(const v1::Record& r, v1::Enricher stage) {
  const v1::Enrichment* e = Find(r, stage);
  return e == nullptr || e->status().code() == 0 ? "" : e->status().message();
}

std::vector<CsvColumn> MakeCsvColumns() {
  std::vector<CsvColumn> c = {
      {"kind", "enum", "the first kind, in generation order, that produced the name (as `--kinds` names it)",
       [](const v1::Record& r) { return KindName(r.kind()); }},
      {"kinds", "list", "every selected kind that produced the name, in the engine's kind order",
       [](const v1::Record& r) {
         std::vector<std::string> names;
         for (int k : r.kinds()) names.push_back(KindName(static_cast<v1::PermutationKind>(k)));
         return absl::StrJoin(names, kListSeparator);
       }},
      {"input", "text", "the input domain this name permutes, ASCII (punycode) form",
       [](const v1::Record& r) { return r.input(); }},
      {"domain_unicode", "text", "the candidate as a user sees it",
       [](const v1::Record& r) { return r.domain_unicode(); }},
      {"domain_ascii", "text", "the candidate in ASCII (punycode) form, as DNS sees it",
       [](const v1::Record& r) { return r.domain_ascii(); }},
      {"simulated", "list",
       "the stages whose values a stub enricher made up (not real lookups), e.g. `dns;geo`; empty when none",
       [](const v1::Record& r) {
         std::vector<std::string> names;
         for (v1::Enricher stage : StageColumns()) {
           const v1::Enrichment* e = Find(r, stage);
           if (e != nullptr && e->simulated()) names.push_back(EnricherName(stage));
         }
         return absl::StrJoin(names, kListSeparator);
       }},
      {"verdict", "enum",
       "what DNS says: `registered` (a delegation or any answer), `unregistered` (NXDOMAIN), `unknown` "
       "(SERVFAIL, REFUSED, no answer in time: never counted as registered), `wildcard` (answers like a random "
       "label does); empty when the DNS lookup failed (`dns_status`)",
       [](const v1::Record& r) {
         const v1::DnsResult* d = Dns(r);
         return d == nullptr ? "" : DnsVerdictName(d->verdict());
       }},
      {"rcode", "text",
       "when the verdict is `unknown`: the last DNS query's rcode (`SERVFAIL`, `REFUSED`, `TIMEOUT`, ...)",
       [](const v1::Record& r) -> std::string {
         const v1::DnsResult* d = Dns(r);
         if (d == nullptr || DnsVerdictName(d->verdict()) != "unknown" || d->queries().empty()) return "";
         return d->queries(d->queries_size() - 1).rcode();
       }},
      {"addresses", "list", "the name's addresses: A then AAAA answers, in answer order",
       [](const v1::Record& r) { return Dns(r) == nullptr ? "" : List(Dns(r)->addresses()); }},
      {"name_servers", "list", "its NS hosts",
       [](const v1::Record& r) { return Dns(r) == nullptr ? "" : List(Dns(r)->name_servers()); }},
      {"mail_exchangers", "list", "its MX hosts, by preference",
       [](const v1::Record& r) { return Dns(r) == nullptr ? "" : List(Dns(r)->mail_exchangers()); }},
      {"wildcard_zone", "text", "when the verdict is `wildcard`: the parent zone whose wildcard answered",
       [](const v1::Record& r) { return Dns(r) == nullptr ? "" : Dns(r)->wildcard_zone(); }},
      {"geo_ip", "text", "the address the four columns after it describe: the first one the geo databases locate",
       [](const v1::Record& r) { return Geo(r) ? Geo(r)->ip : ""; }},
      {"country", "text", "its country, ISO 3166-1 alpha-2",
       [](const v1::Record& r) { return Geo(r) ? Geo(r)->country : ""; }},
      {"city", "text", "its city", [](const v1::Record& r) { return Geo(r) ? Geo(r)->city : ""; }},
      {"asn", "integer", "its autonomous system's number; empty when unknown (never 0)",
       [](const v1::Record& r) {
         const std::optional<Located> g = Geo(r);
         return g && g->asn != 0 ? absl::StrCat(g->asn) : "";
       }},
      {"as_organization", "text", "the organisation its autonomous system is registered to",
       [](const v1::Record& r) { return Geo(r) ? Geo(r)->as_organization : ""; }},
      {"whois_registered", "boolean",
       "what the registry (RDAP, else WHOIS) says of the registered domain: `true` registered, `false` not",
       [](const v1::Record& r) { return Whois(r) == nullptr ? "" : Boolean(Whois(r)->registered()); }},
      {"registrar", "text", "its registrar",
       [](const v1::Record& r) { return Whois(r) == nullptr ? "" : Whois(r)->registrar(); }},
      {"created", "timestamp", "when it was registered",
       [](const v1::Record& r) { return Whois(r) == nullptr ? "" : Whois(r)->created(); }},
      {"expires", "timestamp", "when its registration expires",
       [](const v1::Record& r) { return Whois(r) == nullptr ? "" : Whois(r)->expires(); }},
      {"http_status", "integer", "the first web answer's final HTTP status (http, then https)",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || b->http_status() == 0 ? "" : absl::StrCat(b->http_status());
       }},
      {"http_server", "text", "its Server header",
       [](const v1::Record& r) { return Banner(r) == nullptr ? "" : Banner(r)->server(); }},
      {"title", "text", "its page's title",
       [](const v1::Record& r) { return Banner(r) == nullptr ? "" : Banner(r)->title(); }},
      {"final_url", "text", "the URL it ended on after redirects",
       [](const v1::Record& r) {
         const v1::HttpProbe* p = Banner(r) == nullptr ? nullptr : AnsweringProbe(*Banner(r));
         return p == nullptr ? "" : p->final_url();
       }},
      {"redirects", "integer", "how many redirects it followed to get there",
       [](const v1::Record& r) {
         const v1::HttpProbe* p = Banner(r) == nullptr ? nullptr : AnsweringProbe(*Banner(r));
         return p == nullptr ? "" : absl::StrCat(p->hops_size() > 0 ? p->hops_size() - 1 : 0);
       }},
      {"tls_sha256", "text", "the https answer's leaf certificate: its SHA-256 fingerprint (hex with colons)",
       [](const v1::Record& r) {
         const v1::Certificate* leaf = Leaf(r);
         return leaf == nullptr ? "" : leaf->sha256();
       }},
      {"tls_verified", "boolean", "whether it chains to a trusted root and names the host",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->has_tls() ? "" : Boolean(b->tls().verified());
       }},
      {"tls_verdict", "enum",
       "what the certificate says: `ok`, `self-signed`, `expired`, `mismatch` (valid, for another name), "
       "`invalid` (anything else)",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->has_tls() ? "" : TlsVerdict(b->tls());
       }},
      {"tls_issuer", "text", "its issuer (RFC 2253)",
       [](const v1::Record& r) {
         const v1::Certificate* leaf = Leaf(r);
         return leaf == nullptr ? "" : leaf->issuer();
       }},
      {"tls_not_after", "timestamp", "when it expires",
       [](const v1::Record& r) {
         const v1::Certificate* leaf = Leaf(r);
         return leaf == nullptr ? "" : leaf->not_after();
       }},
      {"mx_banner", "text", "the first mail exchanger's greeting (its first line)",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->has_smtp() ? "" : b->smtp().banner();
       }},
      {"mx_accepts_any_recipient", "boolean",
       "whether it accepted RCPT TO a random mailbox (mail for any name lands); empty when the dialogue did not "
       "reach RCPT (the mail probe is opt-in)",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->has_smtp() || b->smtp().rcpt_code() == 0
                    ? ""
                    : Boolean(b->smtp().accepts_any_recipient());
       }},
      {"ssh_banner", "text", "the SSH server's identification line",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->has_ssh() ? "" : b->ssh().identification();
       }},
      {"similarity", "integer",
       "0-100, how like the input domain's page the final page is; empty when either page was missing or too small",
       [](const v1::Record& r) {
         const v1::BannerResult* b = Banner(r);
         return b == nullptr || !b->similarity_known() ? "" : absl::StrCat(b->similarity());
       }},
      {"parked", "boolean", "whether the name looks parked",
       [](const v1::Record& r) { return Banner(r) == nullptr ? "" : Boolean(Banner(r)->parked()); }},
      {"parked_signals", "list", "what said so (`ns:sedoparking.com`, `page:buy this domain`, ...)",
       [](const v1::Record& r) { return Banner(r) == nullptr ? "" : List(Banner(r)->parked_signals()); }},
  };
  // Each stage's outcome and error, after the values, for every stage of the API (DNS first).
  for (v1::Enricher stage : StageColumns()) {
    const std::string name = EnricherName(stage);
    c.push_back({absl::StrCat(name, "_status"), "enum",
                 absl::StrCat("how the ", name,
                              " stage ended: `ok`; `skipped` (nothing to look up: a stage it needs found nothing); "
                              "`not_found` (no such entry); else the failure's gRPC code in lower case "
                              "(`deadline_exceeded`, `unavailable`, ...); empty when it did not run (not selected)"),
                 [stage](const v1::Record& r) { return StageStatus(r, stage); }});
    c.push_back({absl::StrCat(name, "_error"), "text",
                 absl::StrCat("why, when `", name, "_status` is not `ok`: the server's message"),
                 [stage](const v1::Record& r) { return StageError(r, stage); }});
  }
  return c;
}

const std::vector<CsvColumn>& CsvColumns() {
  static const auto* columns = new std::vector<CsvColumn>(MakeCsvColumns());
  return *columns;
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "table") return Format::kTable;
  if (lower == "json") return Format::kJson;
  if (lower == "csv") return Format::kCsv;
  if (lower == "list") return Format::kList;
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown format \"%s\": the formats are table, json, csv and list", Displayable(name)));
}

std::string KindName(v1::PermutationKind kind) {
  // The engine's names, so that the CLI prints and accepts what the server's kinds are called. A value the
  // engine does not know (UNSPECIFIED, or a kind of a newer server) is named after the API's enum.
  if (std::optional<permute::Kind> k = permute::KindFromNumber(kind)) return std::string(permute::KindName(*k));
  return ShortName(v1::PermutationKind_Name(kind), "PERMUTATION_KIND_");
}

std::string EnricherName(v1::Enricher enricher) { return ShortName(v1::Enricher_Name(enricher), "ENRICHER_"); }

std::string FormatHeader(const OutputOptions& options) {
  switch (options.format) {
    case Format::kTable:
      return TableRow(options, TableColumns(options), [](const TableColumn& c) { return c.title; });
    case Format::kCsv: {
      std::vector<std::string> names;
      for (const CsvColumn& c : CsvColumns()) names.push_back(c.name);
      return absl::StrCat(absl::StrJoin(names, ","), "\n");
    }
    case Format::kJson:
    case Format::kList:
      return "";
  }
  return "";
}

std::string FormatRecord(const OutputOptions& options, const v1::Record& r) {
  switch (options.format) {
    case Format::kTable:
      return TableRow(options, TableColumns(options), [&r](const TableColumn& c) { return c.cell(r); });
    case Format::kCsv: {
      // Every field, ours and strangers' (registrars' names, page titles, banners) alike, through CsvCell
      // (client/sanitize.h): controls and invisible characters escaped, formulas neutralised, quoted as needed.
      std::string row;
      for (const CsvColumn& c : CsvColumns()) absl::StrAppend(&row, row.empty() ? "" : ",", CsvCell(c.value(r)));
      return row + "\n";
    }
    case Format::kList:
      // The server sends ASCII; Displayable keeps a broken or hostile server's controls off the terminal.
      return absl::StrCat(Displayable(r.domain_ascii()), "\n");
    case Format::kJson: {
      std::string json;
      google::protobuf::util::JsonPrintOptions options_json;
      options_json.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(r, &json, options_json);
      // Exact strings, escaped: the printer escapes C0 and some format characters, EscapeHiddenInJson the
      // rest (C1, bidi isolates, ...), so the line is safe on a terminal and parses to the same values.
      return EscapeHiddenInJson(json) + "\n";
    }
  }
  return "";
}

std::string CsvColumnReference() {
  std::string out = "| column | type | meaning |\n|---|---|---|\n";
  for (const CsvColumn& c : CsvColumns()) {
    absl::StrAppend(&out, "| `", c.name, "` | ", c.type, " | ", absl::StrReplaceAll(c.meaning, {{"|", "\\|"}}), " |\n");
  }
  return out;
}

}  // namespace squatstream::client
