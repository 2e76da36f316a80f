// libFuzzer target: the status details a server sends with a refusal (a serialized google.rpc.Status holding
// google.rpc.RetryInfo and QuotaFailure), as the client reads them (client::ParseRefusalDetails) and turns
// them into advice (RefusalAdvice). Beyond "never crash, never throw": a RetryInfo read is a wait, never
// negative; the quota's text (the server's, printed on a terminal) holds no control character; the advice for
// a quota names it, and one with a wait says when.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "client/status_details.h"
#include "google/protobuf/stubs/logging.h"

namespace client = squatstream::client;

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);  // protobuf's complaints about invalid UTF-8 would drown the run
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string details(reinterpret_cast<const char*>(data), size);
  try {
    const client::RefusalDetails parsed = client::ParseRefusalDetails(details);
    if (parsed.retry_after && *parsed.retry_after < absl::ZeroDuration()) std::abort();
    for (const char ch : parsed.quota) {  // printed on a terminal: no control character, no escape sequence
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c == 0x7f) std::abort();
    }
    const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
    for (const absl::StatusCode code : {absl::StatusCode::kUnauthenticated, absl::StatusCode::kPermissionDenied,
                                        absl::StatusCode::kResourceExhausted, absl::StatusCode::kUnavailable}) {
      const std::optional<std::string> advice = client::RefusalAdvice(code, parsed, now);
      if (code == absl::StatusCode::kUnavailable) {
        if (advice) std::abort();  // the caller's own advice
        continue;
      }
      if (!advice || advice->empty()) std::abort();
      if (code == absl::StatusCode::kResourceExhausted && !parsed.quota.empty()) {
        if (!absl::StrContains(*advice, parsed.quota)) std::abort();
        if (parsed.retry_after && !absl::StrContains(*advice, "retry at")) std::abort();
      }
    }
  } catch (const std::exception&) {
    std::abort();  // the details are advice: a bad one is ignored, never thrown
  }
  return 0;
}
