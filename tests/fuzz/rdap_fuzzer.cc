// libFuzzer target: what RDAP servers answer (RFC 9083 domain objects, RFC 9224 bootstrap files) on arbitrary
// bytes. Parse or refuse, never crash; whatever is parsed must be valid UTF-8 (it goes into the API's string
// fields) and bounded (statuses and name servers capped).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "workers/registration/registration_parsers.h"

namespace reg = squatstream::workers::registration;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<reg::RdapDomain> domain = reg::ParseRdapDomain(text);
  if (domain.ok()) {
    std::string bytes;
    if (!domain->result.SerializeToString(&bytes)) std::abort();
    squatstream::v1::WhoisResult copy = domain->result;
    reg::MakeValidUtf8(&copy);
    if (copy.SerializeAsString() != bytes) std::abort();  // already valid: nothing changed
    if (domain->result.statuses_size() > 64 || domain->result.name_servers_size() > 64) std::abort();
    if (reg::ToValidUtf8(domain->related_url) != domain->related_url) std::abort();
  }
  absl::StatusOr<reg::RdapBootstrap> bootstrap = reg::ParseRdapBootstrap(text);
  if (bootstrap.ok()) (void)bootstrap->BasesFor("a.b.example.com");
  return 0;
}
