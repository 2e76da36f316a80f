// The one conversion of a time to the API's google.protobuf.Timestamp (watches, observations, events).
#ifndef SQUATSTREAM_WATCH_PROTO_TIME_H_
#define SQUATSTREAM_WATCH_PROTO_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace squatstream::watch {

// Sets *out to `t` (nanoseconds kept; the Timestamp's nanos never negative). `t` must be finite.
inline void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  const std::int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
}

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_PROTO_TIME_H_
