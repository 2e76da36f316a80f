#include "workers/dns/dns_message.h"

#include <ares.h>
#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace squatstream::workers::dns {
namespace {

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed DNS message: ", what));
}

// Reads the message's bytes in order, bounds-checked.
class Reader {
 public:
  explicit Reader(absl::Span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t offset() const { return offset_; }
  bool Skip(std::size_t n) {
    if (bytes_.size() - offset_ < n) return false;
    offset_ += n;
    return true;
  }
  bool U16(std::uint16_t* v) {
    if (bytes_.size() - offset_ < 2) return false;
    *v = static_cast<std::uint16_t>(bytes_[offset_] << 8 | bytes_[offset_ + 1]);
    offset_ += 2;
    return true;
  }
  bool U32(std::uint32_t* v) {
    std::uint16_t hi = 0, lo = 0;
    if (!U16(&hi) || !U16(&lo)) return false;
    *v = static_cast<std::uint32_t>(hi) << 16 | lo;
    return true;
  }
  // A possibly compressed name at the current offset, decompressed by c-ares; lower-cased.
  bool Name(std::string* out) { return NameAt(offset_, out, &offset_); }
  // Moves past the name at the current offset without decompressing it (labels up to a zero or a pointer).
  bool SkipName() {
    for (std::size_t labels = 0; labels < 128; ++labels) {
      if (offset_ >= bytes_.size()) return false;
      const std::uint8_t len = bytes_[offset_];
      if (len == 0) return Skip(1);
      if ((len & 0xc0) == 0xc0) return Skip(2);
      if ((len & 0xc0) != 0) return false;  // the extended label types (RFC 6891 retired them)
      if (!Skip(1 + std::size_t{len})) return false;
    }
    return false;
  }
  // The name at `at` (inside rdata), without moving the reader; `*end` is where it ends.
  bool NameAt(std::size_t at, std::string* out, std::size_t* end) const {
    if (at >= bytes_.size()) return false;
    char* name = nullptr;
    long used = 0;  // NOLINT(google-runtime-int): c-ares's API takes long*
    if (ares_expand_name(bytes_.data() + at, bytes_.data(), static_cast<int>(bytes_.size()), &name, &used) !=
        ARES_SUCCESS) {
      return false;
    }
    *out = absl::AsciiStrToLower(name);
    ares_free_string(name);
    if (used <= 0 || static_cast<std::size_t>(used) > bytes_.size() - at) return false;
    *end = at + static_cast<std::size_t>(used);
    return true;
  }
  absl::Span<const std::uint8_t> bytes() const { return bytes_; }

 private:
  absl::Span<const std::uint8_t> bytes_;
  std::size_t offset_ = 0;
};

// 0..6 for the known types, 7 for another.
std::size_t KnownIndex(std::uint16_t type) {
  switch (static_cast<RrType>(type)) {
    case RrType::kA:
      return 0;
    case RrType::kNs:
      return 1;
    case RrType::kCname:
      return 2;
    case RrType::kSoa:
      return 3;
    case RrType::kMx:
      return 4;
    case RrType::kTxt:
      return 5;
    case RrType::kAaaa:
      return 6;
  }
  return 7;
}

bool Known(std::uint16_t type) {
  switch (static_cast<RrType>(type)) {
    case RrType::kA:
    case RrType::kNs:
    case RrType::kCname:
    case RrType::kSoa:
    case RrType::kMx:
    case RrType::kTxt:
    case RrType::kAaaa:
      return true;
  }
  return false;
}

// Fills rr->value (and preference / soa_minimum) from the rdata at [start, start + length).
absl::Status ReadRdata(const Reader& r, std::size_t start, std::size_t length, ResourceRecord* rr, bool* cut) {
  const absl::Span<const std::uint8_t> rdata = r.bytes().subspan(start, length);
  std::size_t end = 0;
  switch (static_cast<RrType>(rr->type)) {
    case RrType::kA:
    case RrType::kAaaa: {
      const bool v4 = rr->type == static_cast<std::uint16_t>(RrType::kA);
      if (rdata.size() != (v4 ? 4u : 16u)) return Malformed("address of the wrong length");
      char text[INET6_ADDRSTRLEN];
      inet_ntop(v4 ? AF_INET : AF_INET6, rdata.data(), text, sizeof(text));
      rr->value = text;
      return absl::OkStatus();
    }
    case RrType::kNs:
    case RrType::kCname:
      if (!r.NameAt(start, &rr->value, &end) || end > start + length) return Malformed("bad host name in rdata");
      return absl::OkStatus();
    case RrType::kMx:
      if (length < 3) return Malformed("short MX");
      rr->preference = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
      if (!r.NameAt(start + 2, &rr->value, &end) || end > start + length) return Malformed("bad MX host");
      return absl::OkStatus();
    case RrType::kTxt:
      // Whoever runs the zone chooses these bytes: printable ASCII is kept, anything else (and the
      // backslash) written as \DDD, as dig does, so the value is valid UTF-8 for the API's string field;
      // at most kMaxTxtBytes of it.
      for (std::size_t i = 0; i < rdata.size();) {
        const std::size_t n = rdata[i];
        if (rdata.size() - i - 1 < n) return Malformed("TXT string past its record");
        for (std::size_t k = i + 1; k < i + 1 + n && !*cut; ++k) {
          const std::uint8_t c = rdata[k];
          if (rr->value.size() + 4 + 3 > kMaxTxtBytes) {  // room for the next \DDD and the "..."
            rr->value.append("...");
            *cut = true;
          } else if (c >= 0x20 && c < 0x7f && c != '\\') {
            rr->value.push_back(static_cast<char>(c));
          } else {
            absl::StrAppendFormat(&rr->value, "\\%03d", c);
          }
        }
        i += 1 + n;
      }
      return absl::OkStatus();
    case RrType::kSoa: {
      std::string rname;
      if (!r.NameAt(start, &rr->value, &end) || !r.NameAt(end, &rname, &end) || end + 20 != start + length) {
        return Malformed("bad SOA");
      }
      const std::uint8_t* m = r.bytes().data() + end + 16;
      rr->soa_minimum = static_cast<std::uint32_t>(m[0]) << 24 | static_cast<std::uint32_t>(m[1]) << 16 |
                        static_cast<std::uint32_t>(m[2]) << 8 | m[3];
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// Reads a section's records of the types it keeps, at most kMaxRecordsPerType of each; the others past the
// bound are counted in `omitted` (type, count). Every record is walked, so a malformed one past the bound
// still refuses the message, but only the kept ones have their names decompressed.
absl::Status ReadRecords(Reader& r, std::uint16_t count, bool authority, std::vector<ResourceRecord>* out,
                         std::vector<std::pair<std::uint16_t, std::uint32_t>>* omitted, std::uint32_t* cut) {
  std::array<std::size_t, 8> kept{};  // by KnownIndex
  for (std::uint16_t i = 0; i < count; ++i) {
    ResourceRecord rr;
    std::uint16_t klass = 0, length = 0;
    const std::size_t owner_at = r.offset();
    if (!r.SkipName() || !r.U16(&rr.type) || !r.U16(&klass) || !r.U32(&rr.ttl) || !r.U16(&length)) {
      return Malformed("truncated record");
    }
    const std::size_t start = r.offset();
    if (!r.Skip(length)) return Malformed("record data past the end");
    if (rr.ttl > 0x7fffffff) rr.ttl = 0;  // RFC 2181 8: a TTL with the top bit set means zero
    const bool wanted = authority ? (rr.type == static_cast<std::uint16_t>(RrType::kNs) ||
                                     rr.type == static_cast<std::uint16_t>(RrType::kSoa))
                                  : Known(rr.type);
    if (!wanted) continue;
    if (kept[KnownIndex(rr.type)] >= kMaxRecordsPerType) {
      auto it = std::find_if(omitted->begin(), omitted->end(), [&](const auto& o) { return o.first == rr.type; });
      if (it == omitted->end()) it = omitted->insert(omitted->end(), {rr.type, 0});
      ++it->second;
      continue;
    }
    std::size_t owner_end = 0;
    if (!r.NameAt(owner_at, &rr.owner, &owner_end)) return Malformed("truncated record");
    bool value_cut = false;
    if (absl::Status s = ReadRdata(r, start, length, &rr, &value_cut); !s.ok()) return s;
    *cut += value_cut ? 1 : 0;
    rr.cut = value_cut;
    ++kept[KnownIndex(rr.type)];
    out->push_back(std::move(rr));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RrTypeName(std::uint16_t type) {
  switch (static_cast<RrType>(type)) {
    case RrType::kA:
      return "A";
    case RrType::kNs:
      return "NS";
    case RrType::kCname:
      return "CNAME";
    case RrType::kSoa:
      return "SOA";
    case RrType::kMx:
      return "MX";
    case RrType::kTxt:
      return "TXT";
    case RrType::kAaaa:
      return "AAAA";
  }
  return absl::StrCat("TYPE", type);
}

std::string RcodeName(int rcode) {
  static constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  if (rcode >= 0 && rcode < 6) return kNames[rcode];
  return absl::StrCat("RCODE", rcode);
}

std::optional<std::uint32_t> DnsMessage::CacheTtl() const {
  std::optional<std::uint32_t> ttl;
  const auto least = [&ttl](std::uint32_t v) { ttl = ttl ? std::min(*ttl, v) : v; };
  if (rcode == kNoError && !answers.empty()) {
    for (const ResourceRecord& rr : answers) least(rr.ttl);
    return std::min<std::uint32_t>(*ttl, kMaxPositiveTtl);
  }
  if (rcode != kNoError && rcode != kNxDomain) return std::nullopt;  // SERVFAIL, REFUSED ...: ask again
  for (const ResourceRecord& rr : authority) {
    if (rr.type == static_cast<std::uint16_t>(RrType::kSoa)) least(std::min(rr.ttl, rr.soa_minimum));
  }
  if (ttl) return std::min<std::uint32_t>(*ttl, kMaxNegativeTtl);
  for (const ResourceRecord& rr : authority) {  // a referral
    if (rr.type == static_cast<std::uint16_t>(RrType::kNs)) least(rr.ttl);
  }
  if (ttl) return std::min<std::uint32_t>(*ttl, kMaxPositiveTtl);
  return ttl;
}

std::uint32_t DnsMessage::AnswersOmitted(std::uint16_t type) const {
  for (const auto& [t, n] : answers_omitted) {
    if (t == type) return n;
  }
  return 0;
}

std::size_t DnsMessage::HeldBytes() const {
  std::size_t bytes = sizeof(DnsMessage) + answers_omitted.capacity() * sizeof(answers_omitted[0]);
  for (const auto* section : {&answers, &authority}) {
    bytes += section->capacity() * sizeof(ResourceRecord);
    for (const ResourceRecord& rr : *section) {
      // A string longer than the small-string buffer holds its characters on the heap.
      if (rr.owner.size() >= 16) bytes += rr.owner.capacity() + 1;
      if (rr.value.size() >= 16) bytes += rr.value.capacity() + 1;
    }
  }
  return bytes;
}

absl::StatusOr<DnsMessage> ParseDnsMessage(absl::Span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxMessageBytes) return Malformed("longer than 65,535 bytes");
  Reader r(bytes);
  std::uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  if (!r.U16(&id) || !r.U16(&flags) || !r.U16(&qdcount) || !r.U16(&ancount) || !r.U16(&nscount) || !r.U16(&arcount)) {
    return Malformed("shorter than its header");
  }
  if ((flags & 0x8000) == 0) return Malformed("a query, not a response");
  DnsMessage m;
  m.rcode = flags & 0xf;
  m.truncated = (flags & 0x0200) != 0;
  for (std::uint16_t i = 0; i < qdcount; ++i) {
    std::string name;
    if (!r.Name(&name) || !r.Skip(4)) return Malformed("truncated question");
  }
  if (absl::Status s = ReadRecords(r, ancount, false, &m.answers, &m.answers_omitted, &m.values_cut); !s.ok()) {
    return s;
  }
  std::vector<std::pair<std::uint16_t, std::uint32_t>> authority_omitted;
  if (absl::Status s = ReadRecords(r, nscount, true, &m.authority, &authority_omitted, &m.values_cut); !s.ok()) {
    return s;
  }
  for (const auto& [type, n] : authority_omitted) m.authority_omitted += n;
  return m;  // the additional section is not needed
}

}  // namespace squatstream::workers::dns
