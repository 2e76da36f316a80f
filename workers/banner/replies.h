// The parsers of what SMTP and SSH servers send the banner stage: a stranger's bytes, fuzzed
// (tests/fuzz/line_probes_fuzzer.cc). No I/O.
#ifndef SQUATSTREAM_WORKERS_BANNER_REPLIES_H_
#define SQUATSTREAM_WORKERS_BANNER_REPLIES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace squatstream::workers::banner {

struct SmtpReply {
  int code = 0;
  std::vector<std::string> lines;  // each line's text after "NNN-" / "NNN "
};

// The complete reply at the start of `buffer` and the bytes it took; nullopt when more must be read;
// INVALID_ARGUMENT when it is not an SMTP reply (a line without a 3-digit code, codes that differ, a line
// over 2,048 bytes, more than 64 lines).
absl::StatusOr<std::optional<std::pair<SmtpReply, std::size_t>>> ParseSmtpReply(absl::string_view buffer);

// The identification line ("SSH-2.0-...", without CR LF) among the lines a server sends first (RFC 4253
// allows others before it); nullopt when more must be read; INVALID_ARGUMENT past 20 lines or a line over
// 255 bytes.
absl::StatusOr<std::optional<std::string>> ParseSshIdentification(absl::string_view buffer);

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_REPLIES_H_
