// Fingerprint: what matters about a candidate, read from one scan's record — the part of a record that is
// compared between scans (v1::Fingerprint), its verdict, and which of its field groups this scan could see at
// all. A lookup that failed (a timeout, SERVFAIL, a registry that did not answer) or a stage that did not run
// says nothing about its fields: its group is unknown this scan, and an unknown group never makes a change
// (a failed whois lookup is not "registrar removed"). Pure: no I/O.
#ifndef SQUATSTREAM_WATCH_FINGERPRINT_H_
#define SQUATSTREAM_WATCH_FINGERPRINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "squatstream/v1/squatstream.pb.h"
#include "squatstream/v1/watch.pb.h"

namespace squatstream::watch {

// The fields of a Fingerprint, grouped by the lookup that fills them: a group is known or unknown as a whole.
enum FieldGroup : std::uint32_t {
  kDnsGroup = 1u << 0,    // addresses, name_servers, mail_exchangers, wildcard_zone: the DNS stage
  kWhoisGroup = 1u << 1,  // registrar, expires: the whois stage
  kHttpGroup = 1u << 2,   // http_final_url, http_status, http_title, parked, similarity_bucket: the web probes
  kTlsGroup = 1u << 3,    // certificate_sha256, certificate_issuer: the https probes
  kSshGroup = 1u << 4,    // ssh_banner
  kSmtpGroup = 1u << 5,   // smtp_banner
  kAllGroups = (1u << 6) - 1,
};

// The group of a Fingerprint field (its proto field number); 0 for a number that is none.
std::uint32_t GroupOfField(int field_number);

// One scan's view of a candidate.
struct Observed {
  // The DNS stage's verdict; UNKNOWN when the record has no DNS enrichment, or its lookup failed.
  v1::DnsVerdict verdict = v1::DNS_VERDICT_UNKNOWN;
  // The groups in `known` hold what this scan saw (an empty value is "seen empty": no MX, no whois entry, a
  // web server that refused); the others hold their empty values (EmptyFingerprint) and mean nothing.
  v1::Fingerprint fingerprint;
  std::uint32_t known = 0;  // FieldGroup bits
};

// The fingerprint of `record`:
// - DNS (known when the DNS stage ran and did not fail, with a verdict other than UNKNOWN): the addresses
//   sorted; name servers and mail exchangers lower case, without their final dot, sorted; the wildcard zone.
//   Duplicates dropped.
// - whois: registrar and expiry. Known when the stage answered (OK), or said there is no entry (NOT_FOUND,
//   skipped included: an unregistered name has no registrar).
// - banner: the first HTTP probe that got an answer, http before https (the stage's order: http then https,
//   IPv4 then IPv6): its final URL, status and title; parked; the similarity bucket (similarity / 10, -1 when
//   not known); the origin's leaf certificate (BannerResult.tls chain[0]): SHA-256 and issuer; the SSH
//   identification; the SMTP greeting. Known when the stage answered or was skipped (NOT_FOUND: no address),
//   except a probe's group whose probes all failed and one of them only for now (a timeout, a reset, an
//   UNAVAILABLE that was not a refusal): an unanswered web server is unknown, a refusing one is "none".
// An UNREGISTERED verdict has an empty fingerprint, every group known.
Observed Observe(const v1::Record& record);

// A Fingerprint with nothing in it: every field empty, similarity_bucket -1.
v1::Fingerprint EmptyFingerprint();

// `into`'s groups in `groups` replaced by `from`'s.
void CopyGroups(const v1::Fingerprint& from, std::uint32_t groups, v1::Fingerprint* into);

// The fields of `groups` whose values differ, in field number order: field name (the proto name), before and
// after as display strings (lists joined with ", ", numbers in decimal, an HTTP status 0 and a similarity
// bucket -1 as ""). Empty when they agree.
std::vector<v1::FieldChange> DiffFingerprints(const v1::Fingerprint& before, const v1::Fingerprint& after,
                                              std::uint32_t groups);

// REGISTERED or WILDCARD: the name exists.
bool IsRegistered(v1::DnsVerdict verdict);
// "REGISTERED", "UNREGISTERED", "UNKNOWN", "WILDCARD" ("" for UNSPECIFIED): the "verdict" FieldChange values.
std::string VerdictName(v1::DnsVerdict verdict);

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_FINGERPRINT_H_
