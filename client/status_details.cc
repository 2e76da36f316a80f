#include "client/status_details.h"

#include "absl/strings/str_cat.h"
#include "client/sanitize.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace squatstream::client {

RefusalDetails ParseRefusalDetails(const std::string& details) {
  RefusalDetails out;
  google::rpc::Status status;
  if (details.empty() || !status.ParseFromString(details)) return out;
  for (const google::protobuf::Any& any : status.details()) {
    if (google::rpc::RetryInfo retry; any.UnpackTo(&retry)) {
      const absl::Duration delay =
          absl::Seconds(retry.retry_delay().seconds()) + absl::Nanoseconds(retry.retry_delay().nanos());
      // A delay below zero is no advice (a server's bug, or not our server): ignored, as details that do not parse.
      if (delay >= absl::ZeroDuration()) out.retry_after = delay;
    } else if (google::rpc::QuotaFailure failure; any.UnpackTo(&failure) && failure.violations_size() > 0) {
      out.quota = Displayable(failure.violations(0).description());  // the server's text, shown on a terminal
    }
  }
  return out;
}

std::optional<std::string> RefusalAdvice(absl::StatusCode code, const RefusalDetails& details, absl::Time now) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return "pass an API key with --api_key_file=FILE or the environment variable SQUATSTREAM_API_KEY (an "
             "administrator creates one: squatstreamd keys create)";
    case absl::StatusCode::kPermissionDenied:
      return "use a key with that scope, or ask an administrator for one";
    case absl::StatusCode::kResourceExhausted: {
      if (details.quota.empty()) {
        return std::string(
            "the server is at a limit (streams at once, memory); try again shortly, or ask for "
            "fewer candidates");
      }
      std::string advice = absl::StrCat("your API key's quota (", details.quota, ")");
      if (details.retry_after) {
        const absl::Duration wait = absl::Ceil(*details.retry_after, absl::Seconds(1));
        absl::StrAppend(&advice, "; retry at ", absl::FormatTime("%H:%M:%S UTC", now + wait, absl::UTCTimeZone()),
                        " (in ", absl::FormatDuration(wait), ")");
      } else {
        absl::StrAppend(&advice, "; waiting will not help: ask for less, or for a larger quota");
      }
      return advice;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace squatstream::client
