// A DNS response as the DNS stage needs it: the rcode, the truncation flag, and the records of the answer
// and authority sections with their TTLs. Responses come from the network (and, through a recursive
// resolver, from whoever runs a candidate's zone): the parser accepts any bytes and refuses, with
// INVALID_ARGUMENT, what is not a well-formed message. Names are decompressed by c-ares (ares_expand_name);
// tests/fuzz/dns_message_fuzzer.cc runs the parser on arbitrary input.
#ifndef SQUATSTREAM_WORKERS_DNS_DNS_MESSAGE_H_
#define SQUATSTREAM_WORKERS_DNS_DNS_MESSAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace squatstream::workers::dns {

// Record types the stage asks for or reads (RFC 1035, 3596).
enum class RrType : std::uint16_t { kA = 1, kNs = 2, kCname = 5, kSoa = 6, kMx = 15, kTxt = 16, kAaaa = 28 };

// Bounds on what a response may make the stage keep. Whoever runs a zone chooses its answers: a 64 KiB
// message of 2-byte compression pointers to a long name expands to megabytes. A section keeps at most
// kMaxRecordsPerType records of each type (the rest are counted, not kept) and a TXT record at most
// kMaxTxtBytes of its escaped text (cut, marked "..."); names are at most 255 bytes on the wire, and c-ares
// escapes the bytes it cannot show (\DDD), so a kept name is at most ~1 KiB.
inline constexpr std::size_t kMaxRecordsPerType = 16;
inline constexpr std::size_t kMaxTxtBytes = 1024;

// "A", "NS", ... ; "TYPE<n>" for another.
std::string RrTypeName(std::uint16_t type);
// "NOERROR", "NXDOMAIN", ... ; "RCODE<n>" for another.
std::string RcodeName(int rcode);

inline constexpr int kNoError = 0;
inline constexpr int kServFail = 2;
inline constexpr int kNxDomain = 3;
inline constexpr int kRefused = 5;

struct ResourceRecord {
  std::string owner;  // lower case, no trailing dot
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::string value;  // A/AAAA: the address; NS/CNAME/MX: the host; TXT: the strings joined, \DDD-escaped; SOA: mname
  std::uint16_t preference = 0;   // MX
  std::uint32_t soa_minimum = 0;  // SOA: the negative-caching TTL field (RFC 2308)
  bool cut = false;               // TXT: the value was cut at kMaxTxtBytes
};

struct DnsMessage {
  int rcode = 0;
  bool truncated = false;
  std::vector<ResourceRecord> answers;    // answer section (records of the types above; others skipped)
  std::vector<ResourceRecord> authority;  // authority section: NS and SOA
  // Answer-section records of a known type past kMaxRecordsPerType, by type; TXT values cut.
  std::uint32_t AnswersOmitted(std::uint16_t type) const;
  std::vector<std::pair<std::uint16_t, std::uint32_t>> answers_omitted;  // (type, count), types in first-seen order
  std::uint32_t authority_omitted = 0;
  std::uint32_t values_cut = 0;
  // Roughly what the kept records hold in memory (strings and their envelopes): what a cache charges.
  std::size_t HeldBytes() const;

  // The TTL a cache may keep this response for: the least TTL of the answers (at most a day); for a
  // negative answer (NXDOMAIN, or NOERROR without answers) min(SOA TTL, SOA minimum) of the authority's SOA
  // (RFC 2308; at most 3 hours, its section 5), or of a referral's NS records; nullopt when the response
  // says nothing about how long (not cached).
  std::optional<std::uint32_t> CacheTtl() const;
};

// The longest a cache keeps a response, whatever its TTLs say (a zone could otherwise pin an entry).
inline constexpr std::uint32_t kMaxPositiveTtl = 86400;
inline constexpr std::uint32_t kMaxNegativeTtl = 10800;

// Largest message accepted (TCP's limit).
inline constexpr std::size_t kMaxMessageBytes = 65535;

absl::StatusOr<DnsMessage> ParseDnsMessage(absl::Span<const std::uint8_t> bytes);

}  // namespace squatstream::workers::dns

#endif  // SQUATSTREAM_WORKERS_DNS_DNS_MESSAGE_H_
