// libFuzzer target: the DNS stage's response parser on arbitrary bytes (responses come from the network).
// It must refuse or parse, never crash or read out of bounds; what it parses must carry TTLs clamped to
// 2^31-1 (RFC 2181) and give a cache TTL no larger.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "workers/dns/dns_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  absl::StatusOr<squatstream::workers::dns::DnsMessage> m =
      squatstream::workers::dns::ParseDnsMessage(absl::MakeConstSpan(data, size));
  if (!m.ok()) return 0;
  if (m->CacheTtl().value_or(0) > 0x7fffffff) std::abort();
  for (const auto* section : {&m->answers, &m->authority}) {
    for (const squatstream::workers::dns::ResourceRecord& rr : *section) {
      if (rr.ttl > 0x7fffffff) std::abort();
    }
  }
  return 0;
}
