// LimitsSide: which backend answers workers/net/shared_limits.h's limits and cache in this process. Without
// --redis_address, the in-process limiters (exact for one replica) and no shared cache; with it, access/'s Redis
// backend, whose counters every replica shares, its heartbeat thread, and its metrics. Redis being down at start
// does not stop the start: the limits begin in fallback (each replica's share) and say so in one line.
#ifndef SQUATSTREAM_DAEMON_LIMITS_SIDE_H_
#define SQUATSTREAM_DAEMON_LIMITS_SIDE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "access/redis_limits.h"
#include "prometheus/registry.h"
#include "workers/net/shared_limits.h"

namespace squatstream::daemon {

// What this file's flags say (--redis_address, --redis_password_file, --redis_timeout, --redis_fallback_replicas).
struct LimitsOptions {
  std::string redis_address;        // host:port; "" keeps the limits in this process
  std::string redis_password_file;  // "" sends no AUTH
  absl::Duration redis_timeout = absl::Milliseconds(50);
  int redis_fallback_replicas = 0;  // > 0: the fallback's divisor; 0: the replicas last seen alive
};

// The flags' values. Checked later, by LimitsSide::Start.
LimitsOptions LimitsOptionsFromFlags();

class LimitsSide {
 public:
  // Builds the backends. INVALID_ARGUMENT (the server does not start) only for bad options: a malformed address, a
  // password file that cannot be read (its contents never in the message), a timeout or a replica count out of
  // range, a password file without an address. `registry` receives the Redis metrics (with Redis only); it must
  // outlive the side. Prints one line to stderr when Redis cannot be asked at start.
  static absl::StatusOr<std::unique_ptr<LimitsSide>> Start(const LimitsOptions& options,
                                                           prometheus::Registry& registry);
  ~LimitsSide();  // Stop()
  LimitsSide(const LimitsSide&) = delete;
  LimitsSide& operator=(const LimitsSide&) = delete;

  // The backends, shared with whoever asks (stages, quotas); never null, except shared_cache() without Redis.
  // Each stays valid (answering from Redis or its fallback) after Stop().
  const std::shared_ptr<workers::net::RateLimiter>& rate_limiter() const { return rate_; }
  const std::shared_ptr<workers::net::ConcurrencyLimiter>& concurrency_limiter() const { return concurrency_; }
  const std::shared_ptr<workers::net::SharedCache>& shared_cache() const { return cache_; }
  // True with --redis_address.
  bool global() const { return redis_ != nullptr; }
  // What the stages get (StageOptions' workers::net::SharedLimits): the Redis backends with --redis_address;
  // without it, none (each stage keeps its own in-process bookkeeping, as before shared limits existed).
  workers::net::SharedLimits stage_limits() const {
    if (!global()) return {};
    return {.rate = rate_, .concurrency = concurrency_, .cache = cache_};
  }

  // Stops and joins the heartbeat thread (this replica leaves the replicas' set). Idempotent; before the
  // executors stop.
  void Stop();

 private:
  LimitsSide() = default;

  std::shared_ptr<workers::net::RateLimiter> rate_;
  std::shared_ptr<workers::net::ConcurrencyLimiter> concurrency_;
  std::shared_ptr<workers::net::SharedCache> cache_;
  std::shared_ptr<access::RedisLimits> redis_;  // null without Redis; owns the heartbeat thread
};

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_LIMITS_SIDE_H_
