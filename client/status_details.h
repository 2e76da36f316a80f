// What the client tells a person about a refusal that is not the server's fault nor theirs to fix in the
// request: a quota of their API key (RESOURCE_EXHAUSTED with google.rpc.QuotaFailure and RetryInfo in the status
// details), a missing or refused key (UNAUTHENTICATED), a scope the key lacks (PERMISSION_DENIED). One home for
// both the scan and the watch verbs.
#ifndef SQUATSTREAM_CLIENT_STATUS_DETAILS_H_
#define SQUATSTREAM_CLIENT_STATUS_DETAILS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace squatstream::client {

// What a status's details (the serialized google.rpc.Status of grpc::Status::error_details()) say.
struct RefusalDetails {
  std::optional<absl::Duration> retry_after;  // RetryInfo
  std::string quota;  // QuotaFailure's first violation, Displayable (sanitize.h): "candidates per hour: 100,000"
};
// Empty when `details` is empty or does not parse (never an error: the details are advice); a RetryInfo below
// zero is left out.
RefusalDetails ParseRefusalDetails(const std::string& details);

// The "next step" of an error line for these codes, or nullopt for other codes (the caller's own advice).
// RESOURCE_EXHAUSTED with a QuotaFailure: the key's quota and when to retry ("retry at 14:05:31 UTC (in
// 6m12s)"); without one, the server's capacity (streams at once, memory).
std::optional<std::string> RefusalAdvice(absl::StatusCode code, const RefusalDetails& details, absl::Time now);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_STATUS_DETAILS_H_
