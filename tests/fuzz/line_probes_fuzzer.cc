// libFuzzer target: what SMTP and SSH servers send first (the banner stage's MX check and SSH probe).
// Never crash; a complete reply takes no more than was given and stays within the caps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "workers/banner/replies.h"

namespace banner = squatstream::workers::banner;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto reply = banner::ParseSmtpReply(text); reply.ok() && reply->has_value()) {
    const auto& [r, used] = **reply;
    if (used > size || used == 0 || r.lines.empty() || r.lines.size() > 64 || r.code < 0 || r.code > 999) std::abort();
  }
  if (auto line = banner::ParseSshIdentification(text); line.ok() && line->has_value()) {
    if ((*line)->size() > 255 || (*line)->rfind("SSH-", 0) != 0) std::abort();
  }
  return 0;
}
