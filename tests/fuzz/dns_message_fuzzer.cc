// libFuzzer target: the DNS stage's response parser on arbitrary bytes (responses come from the network).
// It must refuse or parse, never crash or read out of bounds; what it parses must give a cache TTL within
// the caps, and values that are valid UTF-8 (they go into the API's string fields): ASCII here.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "workers/dns/dns_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  absl::StatusOr<squatstream::workers::dns::DnsMessage> m =
      squatstream::workers::dns::ParseDnsMessage(absl::MakeConstSpan(data, size));
  if (!m.ok()) return 0;
  if (m->CacheTtl().value_or(0) > squatstream::workers::dns::kMaxPositiveTtl) std::abort();
  for (const auto* section : {&m->answers, &m->authority}) {
    for (const squatstream::workers::dns::ResourceRecord& rr : *section) {
      for (char c : rr.value) {
        if (static_cast<unsigned char>(c) >= 0x80) std::abort();  // not ASCII: could be invalid UTF-8
      }
    }
  }
  return 0;
}
