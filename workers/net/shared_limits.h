// The limits that must hold across every replica of the service, not per process: a rate (GCRA: `limit`
// units per `period`, a burst of `limit`) and a concurrency (at most `limit` holders at once). The stages
// (a registry server's rate and concurrency, a mail exchanger's probe rate, the banner stage's per-address
// cap) and the per-key quotas (access/) ask through these interfaces; which backend answers is chosen at
// start: the in-process one here (one replica, or no Redis), or access/'s Redis client, whose counters all
// replicas share (and which falls back to this replica's share of each limit while Redis cannot be asked).
// Keys are plain names such as "rdap:rdap.example" or "quota:candidates:sqs_ab12cd34"; the backend
// namespaces them. No gRPC, no Redis here.
#ifndef SQUATSTREAM_WORKERS_NET_SHARED_LIMITS_H_
#define SQUATSTREAM_WORKERS_NET_SHARED_LIMITS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace squatstream::workers::net {

// What a Take answered: allowed (the units are taken), or not and when `cost` units would fit.
struct RateDecision {
  bool allowed = false;
  absl::Duration retry_after = absl::ZeroDuration();  // zero when allowed
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes `cost` units of `key`'s budget of `limit` per `period` (GCRA, a burst of `limit`) when they fit
  // now; otherwise takes nothing and says when they would. A `cost` above `limit` never fits: retry_after
  // is then InfiniteDuration(). Thread-safe; may block for one round trip to its backend (bounded by its
  // timeout), so callers on an I/O strand ask for rates of a few per second, not per packet.
  virtual RateDecision Take(std::string_view key, std::int64_t limit, absl::Duration period,
                            std::int64_t cost = 1) = 0;  // NOLINT(google-default-arguments): one unit, the usual
};

class ConcurrencyLimiter {
 public:
  virtual ~ConcurrencyLimiter() = default;
  // Holds one of `key`'s `limit` places for `holder` (unique per request, e.g. replica id + counter) when
  // one is free; false otherwise. A place not released within `lease` is freed by itself (a replica that
  // died); a `holder` that holds a place of `key` already keeps it and its lease starts again (renewal: true).
  // Thread-safe; may block for one round trip, as above.
  virtual bool TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder,
                          absl::Duration lease) = 0;
  // Gives the place back; a holder that holds nothing is ignored.
  virtual void Release(std::string_view key, const std::string& holder) = 0;
};

// A cache that every replica reads and fills (registration answers: N replicas ask a registry once per TTL).
// The in-process caches of the stages stay the first level; this is the second, behind them. Values are
// opaque bytes (a serialized message). Thread-safe; may block for one round trip (bounded by the backend's
// timeout); a backend that cannot be asked answers "not there" and drops the Put.
class SharedCache {
 public:
  virtual ~SharedCache() = default;
  virtual std::optional<std::string> Get(std::string_view key) = 0;
  virtual void Put(std::string_view key, std::string_view value, absl::Duration ttl) = 0;
};

// The limiters and cache the stages ask, passed to them as one of the StageOptions
// (`options.Get<workers::net::SharedLimits>()`, set by the daemon from its LimitsSide before the stages are
// created). A null member leaves that limit to the stage's own in-process bookkeeping, exactly as before
// these existed (the default: tests and callers that set nothing); a null cache means no second level.
struct SharedLimits {
  std::shared_ptr<RateLimiter> rate;
  std::shared_ptr<ConcurrencyLimiter> concurrency;
  std::shared_ptr<SharedCache> cache;
};

// A holder name unique to this process and call (a random 64-bit replica id and a counter), for TryAcquire.
// Thread-safe.
std::string UniqueHolder();

// The in-process backends: exact for one replica. Thread-safe. Their memory is bounded by the keys in use:
// keys whose budget is full again, or with no place held, are forgotten once there are a few thousand.
std::unique_ptr<RateLimiter> MakeLocalRateLimiter();
std::unique_ptr<ConcurrencyLimiter> MakeLocalConcurrencyLimiter();
// The same, reading the time from `now` (tests; `now` must be thread-safe).
std::unique_ptr<RateLimiter> MakeLocalRateLimiter(std::function<absl::Time()> now);
std::unique_ptr<ConcurrencyLimiter> MakeLocalConcurrencyLimiter(std::function<absl::Time()> now);

}  // namespace squatstream::workers::net

#endif  // SQUATSTREAM_WORKERS_NET_SHARED_LIMITS_H_
