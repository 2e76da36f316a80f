#include "workers/enricher.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace squatstream::workers {
namespace {

absl::string_view VerdictName(v1::DnsVerdict v) {
  switch (v) {
    case v1::DNS_VERDICT_REGISTERED:
      return "registered";
    case v1::DNS_VERDICT_UNREGISTERED:
      return "NXDOMAIN";
    case v1::DNS_VERDICT_UNKNOWN:
      return "unknown";
    case v1::DNS_VERDICT_WILDCARD:
      return "wildcard";
    default:
      return "no verdict";
  }
}

}  // namespace

LookupResult Skipped(absl::string_view reason) {
  LookupResult r;
  r.status = absl::NotFoundError(reason);
  r.skipped = true;
  return r;
}

std::string EnricherName(v1::Enricher id) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Enricher_Name(id), "ENRICHER_"));
}

absl::StatusOr<v1::Enricher> ParseEnricherName(absl::string_view name) {
  v1::Enricher id;
  if (!name.empty() && absl::AsciiStrToLower(name) == name &&
      v1::Enricher_Parse(absl::StrCat("ENRICHER_", absl::AsciiStrToUpper(name)), &id) &&
      id != v1::ENRICHER_UNSPECIFIED) {
    return id;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown enricher \"%s\"", name));
}

const v1::DnsResult* DnsResultOf(const v1::Record& record) {
  for (const v1::Enrichment& e : record.enrichments()) {
    if (e.has_dns() && e.status().code() == 0) return &e.dns();
  }
  return nullptr;
}

std::optional<LookupResult> NeedAddresses(const LookupInput& input) {
  const v1::DnsResult* dns = DnsResultOf(input.record);
  if (dns == nullptr) return Skipped("no address: the DNS lookup failed");
  if (dns->addresses_size() > 0) return std::nullopt;
  return Skipped(absl::StrFormat("no address (DNS: %s)", VerdictName(dns->verdict())));
}

std::optional<LookupResult> NeedAddressesOrMail(const LookupInput& input) {
  const v1::DnsResult* dns = DnsResultOf(input.record);
  if (dns != nullptr && dns->mail_exchangers_size() > 0) return std::nullopt;
  return NeedAddresses(input);
}

std::optional<LookupResult> NeedMayBeRegistered(const LookupInput& input) {
  const v1::DnsResult* dns = DnsResultOf(input.record);
  if (dns == nullptr) return std::nullopt;
  if (dns->verdict() == v1::DNS_VERDICT_UNREGISTERED) return Skipped("not asked: not registered (DNS: NXDOMAIN)");
  if (dns->verdict() == v1::DNS_VERDICT_WILDCARD) {
    return Skipped(absl::StrFormat("not asked: only %s's wildcard answers (DNS)", dns->wildcard_zone()));
  }
  return std::nullopt;
}

}  // namespace squatstream::workers
