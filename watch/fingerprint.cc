#include "watch/fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace squatstream::watch {
namespace {

using google::protobuf::FieldDescriptor;

// Sorted, duplicates dropped.
void SortedSet(std::vector<std::string> values, google::protobuf::RepeatedPtrField<std::string>* out) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (std::string& v : values) *out->Add() = std::move(v);
}

std::string HostName(const std::string& name) {
  std::string lower = absl::AsciiStrToLower(name);
  while (!lower.empty() && lower.back() == '.') lower.pop_back();
  return lower;
}

const v1::Enrichment* Find(const v1::Record& record, v1::Enricher enricher) {
  for (const v1::Enrichment& e : record.enrichments()) {
    if (e.enricher() == enricher) return &e;
  }
  return nullptr;
}

// A stage's result says something about its fields: an answer, or "there is none" (NOT_FOUND: no such entry,
// or skipped because a stage it needs found nothing).
bool Answered(const v1::LookupStatus& status) {
  const auto code = static_cast<absl::StatusCode>(status.code());
  return code == absl::StatusCode::kOk || code == absl::StatusCode::kNotFound;
}

// A probe's failure that may well be gone at the next scan (a timeout, a reset, the server shutting down) —
// unlike a refusal, an SSRF refusal, a null MX or too many redirects, which describe the candidate.
bool Transient(const v1::LookupStatus& status) {
  switch (static_cast<absl::StatusCode>(status.code())) {
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
      return true;
    case absl::StatusCode::kUnavailable:
      return !absl::StrContains(absl::AsciiStrToLower(status.message()), "refused");
    default:
      return false;
  }
}

// The groups of the banner stage's result it saw (`banner` answered or skipped).
std::uint32_t ObserveBanner(const v1::BannerResult& banner, v1::Fingerprint* f) {
  std::uint32_t known = kHttpGroup | kTlsGroup | kSshGroup | kSmtpGroup;
  const v1::HttpProbe* chosen = nullptr;
  for (const char* scheme : {"http", "https"}) {
    for (const v1::HttpProbe& p : banner.http()) {
      if (p.scheme() == scheme && p.status().code() == 0) {
        chosen = &p;
        break;
      }
    }
    if (chosen != nullptr) break;
  }
  bool http_transient = false;
  bool https_answered = false;
  bool https_transient = false;
  for (const v1::HttpProbe& p : banner.http()) {
    http_transient = http_transient || Transient(p.status());
    if (p.scheme() == "https") {
      https_answered = https_answered || p.status().code() == 0;
      https_transient = https_transient || Transient(p.status());
    }
  }
  if (chosen != nullptr) {
    f->set_http_final_url(chosen->final_url());
    f->set_http_status(chosen->final_status());
    f->set_http_title(chosen->title());
  } else if (http_transient) {
    known &= ~kHttpGroup;
  }
  f->set_parked(banner.parked());
  f->set_similarity_bucket(banner.similarity_known() ? static_cast<std::int32_t>(banner.similarity() / 10) : -1);
  if (banner.tls().chain_size() > 0) {
    f->set_certificate_sha256(banner.tls().chain(0).sha256());
    f->set_certificate_issuer(banner.tls().chain(0).issuer());
  } else if (!https_answered && https_transient) {
    known &= ~kTlsGroup;
  }
  if (banner.has_ssh()) {
    if (banner.ssh().status().code() == 0) {
      f->set_ssh_banner(banner.ssh().identification());
    } else if (Transient(banner.ssh().status())) {
      known &= ~kSshGroup;
    }
  }
  if (banner.has_smtp()) {
    if (!banner.smtp().banner().empty()) {
      f->set_smtp_banner(banner.smtp().banner());
    } else if (Transient(banner.smtp().status())) {
      known &= ~kSmtpGroup;
    }
  }
  return known;
}

std::string Display(const v1::Fingerprint& f, const FieldDescriptor* field) {
  const google::protobuf::Reflection* r = f.GetReflection();
  if (field->is_repeated()) {
    const auto& list = r->GetRepeatedFieldRef<std::string>(f, field);
    return absl::StrJoin(list.begin(), list.end(), ", ");
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(f, field);
    case FieldDescriptor::CPPTYPE_UINT32: {
      const std::uint32_t v = r->GetUInt32(f, field);
      return v == 0 ? "" : std::to_string(v);  // http_status: 0 is no answer
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      const std::int32_t v = r->GetInt32(f, field);
      return v < 0 ? "" : std::to_string(v);  // similarity_bucket: -1 is not known
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(f, field) ? "true" : "false";
    default:
      return "";
  }
}

}  // namespace

std::uint32_t GroupOfField(int field_number) {
  switch (field_number) {
    case v1::Fingerprint::kAddressesFieldNumber:
    case v1::Fingerprint::kNameServersFieldNumber:
    case v1::Fingerprint::kMailExchangersFieldNumber:
    case v1::Fingerprint::kWildcardZoneFieldNumber:
      return kDnsGroup;
    case v1::Fingerprint::kRegistrarFieldNumber:
    case v1::Fingerprint::kExpiresFieldNumber:
      return kWhoisGroup;
    case v1::Fingerprint::kHttpFinalUrlFieldNumber:
    case v1::Fingerprint::kHttpStatusFieldNumber:
    case v1::Fingerprint::kHttpTitleFieldNumber:
    case v1::Fingerprint::kParkedFieldNumber:
    case v1::Fingerprint::kSimilarityBucketFieldNumber:
      return kHttpGroup;
    case v1::Fingerprint::kCertificateSha256FieldNumber:
    case v1::Fingerprint::kCertificateIssuerFieldNumber:
      return kTlsGroup;
    case v1::Fingerprint::kSshBannerFieldNumber:
      return kSshGroup;
    case v1::Fingerprint::kSmtpBannerFieldNumber:
      return kSmtpGroup;
    default:
      return 0;
  }
}

v1::Fingerprint EmptyFingerprint() {
  v1::Fingerprint f;
  f.set_similarity_bucket(-1);
  return f;
}

void CopyGroups(const v1::Fingerprint& from, std::uint32_t groups, v1::Fingerprint* into) {
  const google::protobuf::Descriptor* d = v1::Fingerprint::descriptor();
  const google::protobuf::Reflection* r = v1::Fingerprint::GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    if ((GroupOfField(field->number()) & groups) == 0) continue;
    r->ClearField(into, field);
    if (field->is_repeated()) {
      for (const std::string& v : r->GetRepeatedFieldRef<std::string>(from, field)) r->AddString(into, field, v);
      continue;
    }
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(into, field, r->GetString(from, field));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(into, field, r->GetUInt32(from, field));
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(into, field, r->GetInt32(from, field));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(into, field, r->GetBool(from, field));
        break;
      default:
        break;
    }
  }
}

Observed Observe(const v1::Record& record) {
  Observed o;
  o.fingerprint = EmptyFingerprint();
  const v1::Enrichment* dns = Find(record, v1::ENRICHER_DNS);
  if (dns == nullptr || dns->status().code() != 0 || !dns->has_dns()) return o;  // UNKNOWN: nothing known
  const v1::DnsResult& d = dns->dns();
  o.verdict = d.verdict() == v1::DNS_VERDICT_UNSPECIFIED ? v1::DNS_VERDICT_UNKNOWN : d.verdict();
  if (o.verdict == v1::DNS_VERDICT_UNKNOWN) return o;
  if (o.verdict == v1::DNS_VERDICT_UNREGISTERED) {
    o.known = kAllGroups;
    return o;
  }
  v1::Fingerprint& f = o.fingerprint;
  SortedSet({d.addresses().begin(), d.addresses().end()}, f.mutable_addresses());
  std::vector<std::string> hosts;
  for (const std::string& ns : d.name_servers()) hosts.push_back(HostName(ns));
  SortedSet(std::move(hosts), f.mutable_name_servers());
  hosts.clear();
  for (const std::string& mx : d.mail_exchangers()) hosts.push_back(HostName(mx));
  SortedSet(std::move(hosts), f.mutable_mail_exchangers());
  f.set_wildcard_zone(HostName(d.wildcard_zone()));
  o.known = kDnsGroup;

  if (const v1::Enrichment* whois = Find(record, v1::ENRICHER_WHOIS); whois != nullptr && Answered(whois->status())) {
    o.known |= kWhoisGroup;
    if (whois->status().code() == 0 && whois->has_whois()) {
      f.set_registrar(whois->whois().registrar());
      f.set_expires(whois->whois().expires());
    }
  }
  if (const v1::Enrichment* banner = Find(record, v1::ENRICHER_BANNER);
      banner != nullptr && Answered(banner->status())) {
    if (banner->status().code() == 0 && banner->has_banner()) {
      o.known |= ObserveBanner(banner->banner(), &f);
    } else {
      o.known |= kHttpGroup | kTlsGroup | kSshGroup | kSmtpGroup;  // skipped: no address to probe
    }
  }
  return o;
}

std::vector<v1::FieldChange> DiffFingerprints(const v1::Fingerprint& before, const v1::Fingerprint& after,
                                              std::uint32_t groups) {
  // The fields in number order, once (descriptors live as long as the program).
  static const std::vector<const FieldDescriptor*>* const kFields = [] {
    const google::protobuf::Descriptor* d = v1::Fingerprint::descriptor();
    auto* fields = new std::vector<const FieldDescriptor*>();
    for (int i = 0; i < d->field_count(); ++i) fields->push_back(d->field(i));
    std::sort(fields->begin(), fields->end(),
              [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
    return fields;
  }();
  std::vector<v1::FieldChange> changes;
  for (const FieldDescriptor* field : *kFields) {
    if ((GroupOfField(field->number()) & groups) == 0) continue;
    std::string was = Display(before, field);
    std::string is = Display(after, field);
    if (was == is) continue;
    v1::FieldChange& c = changes.emplace_back();
    c.set_field(field->name());
    c.set_before(std::move(was));
    c.set_after(std::move(is));
  }
  return changes;
}

bool IsRegistered(v1::DnsVerdict verdict) {
  return verdict == v1::DNS_VERDICT_REGISTERED || verdict == v1::DNS_VERDICT_WILDCARD;
}

std::string VerdictName(v1::DnsVerdict verdict) {
  if (verdict == v1::DNS_VERDICT_UNSPECIFIED) return "";
  return std::string(absl::StripPrefix(v1::DnsVerdict_Name(verdict), "DNS_VERDICT_"));
}

}  // namespace squatstream::watch
