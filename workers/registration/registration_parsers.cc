#include "workers/registration/registration_parsers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace squatstream::workers::registration {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kMaxEntityDepth = 4;      // registrar -> abuse is depth 2; deeper nesting is not followed
constexpr std::size_t kMaxListed = 64;  // statuses, name servers kept per answer

absl::StatusOr<Value> ParseJson(absl::string_view json) {
  Value value;
  const auto status =
      google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat("not JSON: %s", std::string(status.message()).substr(0, 200)));
  }
  return value;
}

const Value* Field(const Struct& s, const char* name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}
std::string StringField(const Struct& s, const char* name) {
  const Value* v = Field(s, name);
  return v != nullptr && v->kind_case() == Value::kStringValue ? v->string_value() : "";
}
const ListValue* ListField(const Struct& s, const char* name) {
  const Value* v = Field(s, name);
  return v != nullptr && v->kind_case() == Value::kListValue ? &v->list_value() : nullptr;
}

// A vCard property (jCard, RFC 7095: [name, params, type, value]) of an entity's vcardArray.
std::string VcardValue(const Struct& entity, absl::string_view property) {
  const ListValue* vcard = ListField(entity, "vcardArray");
  if (vcard == nullptr || vcard->values_size() < 2 || vcard->values(1).kind_case() != Value::kListValue) return "";
  for (const Value& p : vcard->values(1).list_value().values()) {
    if (p.kind_case() != Value::kListValue || p.list_value().values_size() < 4) continue;
    const ListValue& prop = p.list_value();
    if (prop.values(0).string_value() != property) continue;
    const Value& v = prop.values(3);
    if (v.kind_case() == Value::kStringValue) return v.string_value();
    if (v.kind_case() == Value::kListValue) {  // structured values (adr, n): the first non-empty text
      for (const Value& part : v.list_value().values()) {
        if (part.kind_case() == Value::kStringValue && !part.string_value().empty()) return part.string_value();
      }
    }
  }
  return "";
}

bool HasRole(const Struct& entity, absl::string_view role) {
  const ListValue* roles = ListField(entity, "roles");
  if (roles == nullptr) return false;
  return std::any_of(roles->values().begin(), roles->values().end(),
                     [&](const Value& r) { return absl::EqualsIgnoreCase(r.string_value(), role); });
}

void ReadAbuse(const Struct& entity, v1::WhoisResult* out) {
  if (out->abuse_email().empty()) out->set_abuse_email(VcardValue(entity, "email"));
  if (out->abuse_phone().empty()) {
    const std::string tel = VcardValue(entity, "tel");
    absl::string_view number = tel;
    absl::ConsumePrefix(&number, "tel:");
    out->set_abuse_phone(std::string(number));
  }
}

// Walks entities (registrar, its abuse contact; an abuse contact at any level).
void ReadEntities(const Struct& holder, int depth, bool under_registrar, v1::WhoisResult* out) {
  if (depth > kMaxEntityDepth) return;
  const ListValue* entities = ListField(holder, "entities");
  if (entities == nullptr) return;
  for (const Value& e : entities->values()) {
    if (e.kind_case() != Value::kStructValue) continue;
    const Struct& entity = e.struct_value();
    const bool registrar = HasRole(entity, "registrar");
    if (registrar && out->registrar().empty()) {
      std::string name = VcardValue(entity, "fn");
      if (name.empty()) name = VcardValue(entity, "org");
      out->set_registrar(name);
      if (const ListValue* ids = ListField(entity, "publicIds")) {
        for (const Value& id : ids->values()) {
          if (id.kind_case() != Value::kStructValue) continue;
          if (absl::EqualsIgnoreCase(StringField(id.struct_value(), "type"), "IANA Registrar ID")) {
            const Value* identifier = Field(id.struct_value(), "identifier");
            if (identifier == nullptr) continue;
            if (identifier->kind_case() == Value::kStringValue) {
              out->set_registrar_iana_id(identifier->string_value());
            } else if (identifier->kind_case() == Value::kNumberValue) {
              out->set_registrar_iana_id(absl::StrFormat("%.0f", identifier->number_value()));
            }
          }
        }
      }
    }
    if (HasRole(entity, "abuse") && (under_registrar || out->abuse_email().empty())) ReadAbuse(entity, out);
    ReadEntities(entity, depth + 1, registrar, out);
  }
}

bool IsLdhChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; }

}  // namespace

std::vector<std::string> RdapBootstrap::BasesFor(absl::string_view domain) const {
  const std::string name = absl::AsciiStrToLower(absl::StripSuffix(domain, "."));
  // The longest suffix first: the whole name, then without its first label, and so on.
  for (absl::string_view rest = name; !rest.empty();) {
    if (auto it = bases.find(rest); it != bases.end()) return it->second;
    const std::size_t dot = rest.find('.');
    if (dot == absl::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return {};
}

absl::StatusOr<RdapBootstrap> ParseRdapBootstrap(absl::string_view json) {
  absl::StatusOr<Value> value = ParseJson(json);
  if (!value.ok()) return value.status();
  if (value->kind_case() != Value::kStructValue) return absl::InvalidArgumentError("bootstrap: not a JSON object");
  const Struct& root = value->struct_value();
  const ListValue* services = ListField(root, "services");
  if (services == nullptr) return absl::InvalidArgumentError("bootstrap: no \"services\" array");
  RdapBootstrap out;
  out.publication = StringField(root, "publication");
  for (const Value& service : services->values()) {
    // [[tld, ...], [url, ...]]
    if (service.kind_case() != Value::kListValue || service.list_value().values_size() < 2) continue;
    const Value& tlds = service.list_value().values(0);
    const Value& urls = service.list_value().values(1);
    if (tlds.kind_case() != Value::kListValue || urls.kind_case() != Value::kListValue) continue;
    std::vector<std::string> bases;
    for (const Value& u : urls.list_value().values()) {
      if (u.kind_case() != Value::kStringValue) continue;
      std::string url = u.string_value();
      if (!absl::StartsWith(url, "https://") && !absl::StartsWith(url, "http://")) continue;
      if (!absl::EndsWith(url, "/")) url += '/';
      bases.push_back(std::move(url));
    }
    std::stable_sort(bases.begin(), bases.end(), [](const std::string& a, const std::string& b) {
      return absl::StartsWith(a, "https://") && !absl::StartsWith(b, "https://");
    });
    if (bases.empty()) continue;
    for (const Value& t : tlds.list_value().values()) {
      if (t.kind_case() != Value::kStringValue || t.string_value().empty()) continue;
      out.bases[absl::AsciiStrToLower(t.string_value())] = bases;
    }
  }
  if (out.bases.empty()) return absl::InvalidArgumentError("bootstrap: no service with a TLD and an http(s) URL");
  return out;
}

absl::StatusOr<RdapDomain> ParseRdapDomain(absl::string_view json) {
  absl::StatusOr<Value> value = ParseJson(json);
  if (!value.ok()) return value.status();
  if (value->kind_case() != Value::kStructValue) return absl::InvalidArgumentError("RDAP: not a JSON object");
  const Struct& root = value->struct_value();
  if (const Value* code = Field(root, "errorCode"); code != nullptr) {
    const double n = code->kind_case() == Value::kNumberValue ? code->number_value() : 0;
    const int c = n >= 0 && n < 1000 ? static_cast<int>(n) : 0;  // an HTTP status, or nonsense
    const std::string title = StringField(root, "title");
    if (c == 404) return absl::NotFoundError(absl::StrFormat("RDAP: not found%s%s", title.empty() ? "" : ": ", title));
    return absl::InvalidArgumentError(absl::StrFormat("RDAP error object %d %s", c, title));
  }
  const std::string object_class = StringField(root, "objectClassName");
  const std::string ldh = StringField(root, "ldhName");
  if (!object_class.empty() && object_class != "domain") {
    return absl::InvalidArgumentError(
        absl::StrFormat("RDAP: objectClassName \"%s\", not \"domain\"", absl::CHexEscape(object_class.substr(0, 64))));
  }
  if (ldh.empty()) return absl::InvalidArgumentError("RDAP: domain object without ldhName");
  RdapDomain out;
  v1::WhoisResult& r = out.result;
  r.set_registered(true);
  r.set_source("rdap");
  if (const ListValue* events = ListField(root, "events")) {
    for (const Value& e : events->values()) {
      if (e.kind_case() != Value::kStructValue) continue;
      const std::string action = absl::AsciiStrToLower(StringField(e.struct_value(), "eventAction"));
      const std::string date = StringField(e.struct_value(), "eventDate");
      if (date.empty()) continue;
      if (action == "registration" && r.created().empty()) r.set_created(date);
      if (action == "expiration" && r.expires().empty()) r.set_expires(date);
      if (action == "last changed" && r.updated().empty()) r.set_updated(date);
    }
  }
  if (const ListValue* statuses = ListField(root, "status")) {
    for (const Value& s : statuses->values()) {
      if (s.kind_case() == Value::kStringValue && static_cast<std::size_t>(r.statuses_size()) < kMaxListed) {
        r.add_statuses(s.string_value());
      }
    }
  }
  if (const ListValue* servers = ListField(root, "nameservers")) {
    for (const Value& ns : servers->values()) {
      if (ns.kind_case() != Value::kStructValue) continue;
      std::string name = absl::AsciiStrToLower(StringField(ns.struct_value(), "ldhName"));
      if (name.empty() || static_cast<std::size_t>(r.name_servers_size()) >= kMaxListed) continue;
      if (!std::all_of(name.begin(), name.end(), IsLdhChar)) continue;
      r.add_name_servers(std::move(name));
    }
  }
  ReadEntities(root, 1, false, &r);
  if (const ListValue* links = ListField(root, "links")) {
    for (const Value& l : links->values()) {
      if (l.kind_case() != Value::kStructValue) continue;
      const Struct& link = l.struct_value();
      if (!absl::EqualsIgnoreCase(StringField(link, "rel"), "related")) continue;
      const std::string type = StringField(link, "type");
      const std::string href = StringField(link, "href");
      if (!type.empty() && !absl::StrContains(absl::AsciiStrToLower(type), "application/rdap+json")) continue;
      if (!absl::StartsWith(href, "https://") && !absl::StartsWith(href, "http://")) continue;
      if (href.size() > 2048) continue;  // no registry's link is this long: not followed
      out.related_url = ToValidUtf8(href);
      break;
    }
  }
  BoundWhoisResult(&r);
  MakeValidUtf8(&r);  // JSON escapes can spell lone surrogates (and a cut can split a character)
  return out;
}

void BoundWhoisResult(v1::WhoisResult* r) {
  auto cut = [](std::string* s, std::size_t max) {
    if (s->size() > max) s->resize(max);  // a character split here is repaired by MakeValidUtf8 after
  };
  for (std::string* s : {r->mutable_registrar(), r->mutable_created(), r->mutable_expires(), r->mutable_updated(),
                         r->mutable_registrar_iana_id(), r->mutable_abuse_email(), r->mutable_abuse_phone(),
                         r->mutable_registered_domain()}) {
    cut(s, 1024);
  }
  auto bound = [&cut](google::protobuf::RepeatedPtrField<std::string>* list, int max_entries) {
    if (list->size() > max_entries) list->DeleteSubrange(max_entries, list->size() - max_entries);
    for (std::string& s : *list) cut(&s, 256);
  };
  bound(r->mutable_statuses(), 32);
  bound(r->mutable_name_servers(), 16);
  bound(r->mutable_servers(), 16);  // (256 bytes each: a URL past it is cut)
  cut(r->mutable_raw_text(), 4096);
}

void MergeRegistration(const v1::WhoisResult& more, v1::WhoisResult* into) {
  auto fill = [](const std::string& from, std::string* to) {
    if (to->empty()) *to = from;
  };
  fill(more.registrar(), into->mutable_registrar());
  fill(more.registrar_iana_id(), into->mutable_registrar_iana_id());
  fill(more.created(), into->mutable_created());
  fill(more.expires(), into->mutable_expires());
  fill(more.updated(), into->mutable_updated());
  fill(more.abuse_email(), into->mutable_abuse_email());
  fill(more.abuse_phone(), into->mutable_abuse_phone());
  if (into->statuses().empty()) *into->mutable_statuses() = more.statuses();
  if (into->name_servers().empty()) *into->mutable_name_servers() = more.name_servers();
}

std::string NormalizeDate(absl::string_view date) {
  date = absl::StripAsciiWhitespace(date);
  auto digits = [&](std::size_t from, std::size_t n) {
    if (date.size() < from + n) return false;
    for (std::size_t i = from; i < from + n; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(date[i]))) return false;
    }
    return true;
  };
  if (digits(0, 4) && date.size() >= 10 && (date[4] == '-' || date[4] == '.' || date[4] == '/') && date[7] == date[4] &&
      digits(5, 2) && digits(8, 2)) {
    std::string out = absl::StrFormat("%s-%s-%s", date.substr(0, 4), date.substr(5, 2), date.substr(8, 2));
    if (date[4] == '-' && date.size() > 10) {  // a time follows
      absl::string_view rest = date.substr(10);
      if (rest[0] == ' ' && rest.size() > 1 && absl::ascii_isdigit(static_cast<unsigned char>(rest[1]))) {
        return out + "T" + std::string(absl::StripAsciiWhitespace(rest.substr(1)));
      }
      return out + std::string(rest);
    }
    return out;
  }
  if (digits(0, 2) && date.size() >= 10 && date[2] == '.' && date[5] == '.' && digits(3, 2) && digits(6, 4)) {
    return absl::StrFormat("%s-%s-%s", date.substr(6, 4), date.substr(3, 2), date.substr(0, 2));
  }
  if (digits(0, 8) && date.size() == 8) {
    return absl::StrFormat("%s-%s-%s", date.substr(0, 4), date.substr(4, 2), date.substr(6, 2));
  }
  if (digits(0, 2) && date.size() >= 11 && date[2] == '-' && date[6] == '-' && digits(7, 4)) {
    static constexpr std::array<const char*, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                            "jul", "aug", "sep", "oct", "nov", "dec"};
    const std::string month = absl::AsciiStrToLower(date.substr(3, 3));
    for (std::size_t m = 0; m < kMonths.size(); ++m) {
      if (month == kMonths[m]) return absl::StrFormat("%s-%02d-%s", date.substr(7, 4), m + 1, date.substr(0, 2));
    }
  }
  return std::string(date);
}

namespace {

// Keys of the common WHOIS layouts (lower case, trimmed), by the field they give.
bool KeyIn(absl::string_view key, std::initializer_list<absl::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

bool SaysNotFound(absl::string_view line) {
  const std::string l = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line));
  for (absl::string_view marker :
       {"no match for", "not found", "no entries found", "no data found", "domain not found", "no object found",
        "the queried object does not exist", "object does not exist", "no matching record", "status: free",
        "status: available", "status:\tfree", "%% not found", "% no entries found"}) {
    if (absl::StartsWith(l, marker)) return true;
  }
  return false;
}

}  // namespace

WhoisAnswer ParseWhois(absl::string_view text) {
  WhoisAnswer out;
  v1::WhoisResult& r = out.result;
  r.set_source("whois");
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripSuffix(lines[i], "\r");
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '%' || trimmed[0] == '#' || absl::StartsWith(trimmed, ">>>")) {
      if (SaysNotFound(trimmed)) out.not_found = true;
      continue;
    }
    if (SaysNotFound(trimmed)) {
      out.not_found = true;
      continue;
    }
    const std::size_t colon = trimmed.find(':');
    if (colon == absl::string_view::npos || colon == 0) continue;
    const std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(trimmed.substr(0, colon)));
    std::string value(absl::StripAsciiWhitespace(trimmed.substr(colon + 1)));
    std::vector<std::string> values;
    if (value.empty()) {  // the value on the following indented lines (Nominet and others)
      while (i + 1 < lines.size()) {
        absl::string_view next = absl::StripSuffix(lines[i + 1], "\r");
        if (next.empty() || !(next[0] == ' ' || next[0] == '\t')) break;
        const absl::string_view v = absl::StripAsciiWhitespace(next);
        if (v.empty()) break;
        if (absl::StrContains(v, ": ") && !KeyIn(key, {"name servers", "nameservers"})) break;
        values.emplace_back(v);
        ++i;
      }
      if (values.empty()) continue;
      value = values.front();
    } else {
      values.push_back(value);
    }
    if (KeyIn(key, {"refer", "whois", "registrar whois server", "whois server"})) {
      if (out.referral.empty() && !absl::StrContains(value, ' ')) out.referral = value;
    } else if (KeyIn(key, {"registrar", "sponsoring registrar", "registrar name", "registrar organization"})) {
      if (r.registrar().empty()) r.set_registrar(value);
    } else if (key == "registrar iana id") {
      if (r.registrar_iana_id().empty()) r.set_registrar_iana_id(value);
    } else if (KeyIn(key,
                     {"creation date", "created", "created on", "registered on", "registration time", "registered",
                      "registration date", "domain registration date", "created date", "domain record activated"})) {
      if (r.created().empty()) r.set_created(NormalizeDate(value));
    } else if (KeyIn(key, {"registry expiry date", "registrar registration expiration date", "expiration date",
                           "expiry date", "expires", "expires on", "paid-till", "expire date",
                           "registry expiration date", "expiration time", "renewal date", "domain expires"})) {
      if (r.expires().empty()) r.set_expires(NormalizeDate(value));
    } else if (KeyIn(key, {"updated date", "last updated", "last-modified", "changed", "last modified", "updated",
                           "modified"})) {
      if (r.updated().empty()) r.set_updated(NormalizeDate(value));
    } else if (KeyIn(key, {"domain status", "status", "state"})) {
      for (const std::string& v : values) {
        for (absl::string_view part : absl::StrSplit(v, ',')) {
          part = absl::StripAsciiWhitespace(part);
          // EPP codes come with ICANN's explanatory URL: keep the code.
          part = part.substr(0, part.find(' '));
          if (part.empty() || static_cast<std::size_t>(r.statuses_size()) >= kMaxListed) continue;
          const std::string lower = absl::AsciiStrToLower(part);
          if (lower == "free" || lower == "available") out.not_found = true;
          r.add_statuses(std::string(part));
        }
      }
    } else if (KeyIn(key, {"name server", "nserver", "nameserver", "name servers", "nameservers"})) {
      for (const std::string& v : values) {
        std::string ns = absl::AsciiStrToLower(v.substr(0, v.find_first_of(" \t")));
        while (!ns.empty() && ns.back() == '.') ns.pop_back();
        if (ns.empty() || !std::all_of(ns.begin(), ns.end(), IsLdhChar)) continue;
        if (static_cast<std::size_t>(r.name_servers_size()) < kMaxListed) r.add_name_servers(std::move(ns));
      }
    } else if (KeyIn(key, {"registrar abuse contact email", "abuse-mailbox", "abuse contact email"})) {
      if (r.abuse_email().empty()) r.set_abuse_email(value);
    } else if (KeyIn(key, {"registrar abuse contact phone", "abuse contact phone"})) {
      if (r.abuse_phone().empty()) r.set_abuse_phone(value);
    }
  }
  if (out.not_found) {
    // A "not found" answer also carries the registry's footer; its fields are not about the domain.
    v1::WhoisResult empty;
    empty.set_source("whois");
    r = std::move(empty);
  } else {
    // An answer that is not a "not found" says the name is held, even in a layout the parser does not know
    // (its text stays on the record).
    r.set_registered(!absl::StripAsciiWhitespace(text).empty());
  }
  BoundWhoisResult(&r);
  MakeValidUtf8(&r);
  out.referral = ToValidUtf8(out.referral.substr(0, 1024));
  return out;
}

}  // namespace squatstream::workers::registration
