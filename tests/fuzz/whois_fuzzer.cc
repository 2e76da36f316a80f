// libFuzzer target: WHOIS answers (RFC 3912 fixes no format) on arbitrary bytes, and the date normaliser.
// Never crash; the result's strings are valid UTF-8; a "not found" answer carries no field.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "workers/registration/registration_parsers.h"

namespace reg = squatstream::workers::registration;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const reg::WhoisAnswer answer = reg::ParseWhois(text);
  squatstream::v1::WhoisResult copy = answer.result;
  reg::MakeValidUtf8(&copy);
  if (copy.SerializeAsString() != answer.result.SerializeAsString()) std::abort();
  if (reg::ToValidUtf8(answer.referral) != answer.referral) std::abort();
  if (answer.not_found && (answer.result.registered() || !answer.result.registrar().empty())) std::abort();
  if (answer.result.statuses_size() > 64 || answer.result.name_servers_size() > 64) std::abort();
  const std::string date = reg::NormalizeDate(text.substr(0, 64));
  if (date.size() > 64 + 1) std::abort();  // a "T" at most is added
  return 0;
}
