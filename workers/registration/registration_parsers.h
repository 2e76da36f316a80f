// Parsers of what registries answer — untrusted input, each fuzzed (tests/fuzz): the IANA RDAP bootstrap
// (RFC 9224), RDAP domain objects (RFC 9083), and WHOIS text (RFC 3912, which fixes no format: the common
// gTLD "Key: value" layout, RIPE-style "key: value" ccTLDs, and values on the next, indented line).
// JSON through protobuf's parser into google.protobuf.Value (already linked; bounded nesting depth).
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_PARSERS_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_PARSERS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/utf8.h"

namespace squatstream::workers::registration {

// RFC 9224: which RDAP base URLs serve which TLDs (labels, lower case, as the file gives them).
struct RdapBootstrap {
  std::string publication;                                           // the file's "publication" timestamp
  absl::flat_hash_map<std::string, std::vector<std::string>> bases;  // "com" -> {"https://rdap.verisign.com/com/v1/"}
  // The base URLs for `domain` (lower-case ASCII): the longest suffix of its labels the file lists (RFC
  // 9224 §4: "co.uk" before "uk"), https first; empty when none.
  std::vector<std::string> BasesFor(absl::string_view domain) const;
};
absl::StatusOr<RdapBootstrap> ParseRdapBootstrap(absl::string_view json);

// An RDAP answer about a domain.
struct RdapDomain {
  v1::WhoisResult result;   // registered, registrar, dates, statuses, name servers, abuse contact
  std::string related_url;  // the registrar's RDAP record (links: rel "related", RDAP media type), if any
};
// OK for a domain object; NOT_FOUND for an RDAP error object with errorCode 404; INVALID_ARGUMENT naming the
// fault for anything else (not JSON, not an object, a domain object without a name).
absl::StatusOr<RdapDomain> ParseRdapDomain(absl::string_view json);

// Fills what `into` lacks from `more` (the registrar's answer adds to the registry's; the registry wins).
void MergeRegistration(const v1::WhoisResult& more, v1::WhoisResult* into);

// What a WHOIS server answered.
struct WhoisAnswer {
  v1::WhoisResult result;  // registered unless not_found; the fields found
  bool not_found = false;  // "No match for", "NOT FOUND", "Status: free", ...
  std::string referral;    // the next server: IANA's "refer:"/"whois:", a registry's "Registrar WHOIS Server:"
};
WhoisAnswer ParseWhois(absl::string_view text);

// A registry's answer is a stranger's choice (an RDAP body may be megabytes of statuses and name servers):
// what a result keeps is cut to at most kMaxWhoisResultBytes — each text field to 1 KiB, at most 32 statuses
// and 16 name servers of 256 bytes, the WHOIS text as the enricher cuts it (4 KiB). The parsers apply it.
inline constexpr std::size_t kMaxWhoisResultBytes = std::size_t{32} << 10;
void BoundWhoisResult(v1::WhoisResult* result);

// WHOIS servers answer in Latin-1 and worse: what the parsers return is made valid UTF-8 (workers/utf8.h).
using workers::MakeValidUtf8;
using workers::ToValidUtf8;

// A registry's date as ISO 8601: RFC 3339 kept as given; "2003-08-14 07:08:09" gets its "T"; "14-Aug-2003",
// "2003.08.14", "14.08.2003", "2003/08/14", "20030814" become "2003-08-14"; anything else is kept trimmed.
std::string NormalizeDate(absl::string_view date);

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_PARSERS_H_
