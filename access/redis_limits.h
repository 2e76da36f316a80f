// The Redis backend of workers/net/shared_limits.h: the limits every replica shares (GCRA rates, leased
// concurrency places) and the second-level cache, each kept in one Redis under "squatstream:" keys and changed
// by one Lua script per decision (atomic; the time is Redis's TIME, so the replicas' clocks do not matter).
//
// While Redis cannot be asked (an error, a timeout, or the client's backoff after one), every decision is taken
// by an in-process limiter with this replica's share of the limit: the limit divided by the replicas last seen
// alive (each replica heartbeats into a sorted set every second and reads the count back), or by
// `fallback_replicas` when it is set — so the replicas together never take more than the limit. The cache then
// answers "not there" and drops Puts. Recovery is by itself: the client tries Redis again after its backoff
// (at most once a second), and the first answer ends the fallback.
#ifndef SQUATSTREAM_ACCESS_REDIS_LIMITS_H_
#define SQUATSTREAM_ACCESS_REDIS_LIMITS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "access/redis_client.h"
#include "base/mutex.h"
#include "workers/net/shared_limits.h"

namespace squatstream::access {

struct RedisLimitsOptions {
  // This replica's name in the heartbeat set (unique per process: host name + pid + a random suffix is made
  // when empty).
  std::string replica_id;
  // > 0: the fallback divides each limit by this; 0: by the replicas last seen alive (1 before any was seen).
  int fallback_replicas = 0;
  // How often the heartbeat thread writes; a replica not heard from for 3 of these is no longer counted.
  absl::Duration heartbeat_interval = absl::Seconds(1);
};

// The shared state of the three backends: the client, the fallback limiters, the replica count, the heartbeat
// thread. Create it once per process; the limiters it hands out hold a reference to it (shared_ptr).
class RedisLimits : public std::enable_shared_from_this<RedisLimits> {
 public:
  // `local_rate` and `local_concurrency` answer while Redis cannot be asked (workers/net's MakeLocal* in the
  // server). Does not talk to Redis: call Start() for the heartbeat thread (tests may call Heartbeat() instead).
  static std::shared_ptr<RedisLimits> Create(std::unique_ptr<RedisClient> client, RedisLimitsOptions options,
                                             std::unique_ptr<workers::net::RateLimiter> local_rate,
                                             std::unique_ptr<workers::net::ConcurrencyLimiter> local_concurrency,
                                             RedisMetrics metrics);
  ~RedisLimits();  // Stop()

  // The backends (each holds this object alive). Thread-safe.
  std::unique_ptr<workers::net::RateLimiter> MakeRateLimiter();
  std::unique_ptr<workers::net::ConcurrencyLimiter> MakeConcurrencyLimiter();
  std::unique_ptr<workers::net::SharedCache> MakeSharedCache();

  // Writes this replica's heartbeat and reads the number of live replicas (one round trip); false when Redis
  // could not be asked. Also what the thread does every interval.
  bool Heartbeat();
  // Starts the heartbeat thread (a first heartbeat is written before it returns: its outcome is returned, so the
  // caller can say in one line that the limits start in fallback). Idempotent.
  bool Start();
  // Stops and joins the heartbeat thread; its entry is removed from the set when Redis can be asked. Idempotent.
  void Stop();

  // True while decisions are taken by the fallback limiters (the last attempt to ask Redis failed).
  bool falling_back() const { return falling_back_.load(); }
  // The replicas last seen alive (0 before any heartbeat was answered).
  int replicas_seen() const { return replicas_seen_.load(); }
  // The divisor the fallback uses now.
  int fallback_divisor() const;
  RedisClient& client() { return *client_; }

  // Decisions (the backends call these).
  workers::net::RateDecision Take(std::string_view key, std::int64_t limit, absl::Duration period, std::int64_t cost);
  bool TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder, absl::Duration lease);
  void Release(std::string_view key, const std::string& holder);
  std::optional<std::string> Get(std::string_view key);
  void Put(std::string_view key, std::string_view value, absl::Duration ttl);

 private:
  RedisLimits(std::unique_ptr<RedisClient> client, RedisLimitsOptions options,
              std::unique_ptr<workers::net::RateLimiter> local_rate,
              std::unique_ptr<workers::net::ConcurrencyLimiter> local_concurrency, RedisMetrics metrics);
  // Records whether Redis answered (the fallback gauge follows).
  void Answered(bool answered);
  void HeartbeatLoop();

  const std::unique_ptr<RedisClient> client_;
  const RedisLimitsOptions options_;
  const std::unique_ptr<workers::net::RateLimiter> local_rate_;
  const std::unique_ptr<workers::net::ConcurrencyLimiter> local_concurrency_;
  const RedisMetrics metrics_;
  std::atomic<bool> falling_back_{false};
  std::atomic<int> replicas_seen_{0};

  // Guards only the heartbeat thread's life (start, stop and its wake-up); decisions take no lock here (the
  // client has its own).
  Mutex mu_;
  CondVar stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread heartbeat_ ABSL_GUARDED_BY(mu_);
};

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_REDIS_LIMITS_H_
