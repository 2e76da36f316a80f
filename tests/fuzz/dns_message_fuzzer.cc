// libFuzzer target: the DNS stage's response parser on arbitrary bytes (responses come from the network).
// It must refuse or parse, never crash or read out of bounds; what it parses must give a cache TTL within
// the caps, and values that are valid UTF-8 (they go into the API's string fields): ASCII here. And the
// bounds on what a zone's owner may make a record keep (dns_message.h) hold for any message: at most
// kMaxRecordsPerType records of a type per section, TXT values within kMaxTxtBytes, names within what c-ares
// can spell (255 wire bytes, escaped at most 4x), so that what is kept — and cached — stays small.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "workers/dns/dns_message.h"

namespace dns = squatstream::workers::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  absl::StatusOr<dns::DnsMessage> m = dns::ParseDnsMessage(absl::MakeConstSpan(data, size));
  if (!m.ok()) return 0;
  if (m->CacheTtl().value_or(0) > dns::kMaxPositiveTtl) std::abort();
  for (const auto* section : {&m->answers, &m->authority}) {
    std::array<std::size_t, 65536> per_type{};
    for (const dns::ResourceRecord& rr : *section) {
      if (++per_type[rr.type] > dns::kMaxRecordsPerType) std::abort();
      if (rr.owner.size() > 4 * 255) std::abort();
      const bool txt = rr.type == static_cast<std::uint16_t>(dns::RrType::kTxt);
      if (rr.value.size() > (txt ? dns::kMaxTxtBytes : 4 * 255)) std::abort();
      for (char c : rr.value) {
        if (static_cast<unsigned char>(c) >= 0x80) std::abort();  // not ASCII: could be invalid UTF-8
      }
    }
  }
  // Two sections of at most seven kept types, sixteen records each, two strings of ~1 KiB: well under 512 KiB.
  if (m->HeldBytes() > (std::size_t{512} << 10)) std::abort();
  return 0;
}
