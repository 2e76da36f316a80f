// Minimal in-process limiters for access/'s own tests and benchmark only, standing in for workers/net's
// MakeLocalRateLimiter/MakeLocalConcurrencyLimiter (written beside shared_limits.h by another change) until
// those are linked here. Exact for one process; GCRA with a burst of `limit`, leased places. Not for the server.
#ifndef SQUATSTREAM_ACCESS_INTERNAL_MINIMAL_LOCAL_LIMITS_H_
#define SQUATSTREAM_ACCESS_INTERNAL_MINIMAL_LOCAL_LIMITS_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "workers/net/shared_limits.h"

namespace squatstream::access::internal {

class MinimalLocalRateLimiter final : public workers::net::RateLimiter {
 public:
  workers::net::RateDecision Take(std::string_view key, std::int64_t limit, absl::Duration period,
                                  std::int64_t cost) override {
    if (limit <= 0 || period <= absl::ZeroDuration() || cost > limit) {
      return {.allowed = false, .retry_after = absl::InfiniteDuration()};
    }
    const absl::Time now = absl::Now();
    const absl::Duration interval = period / limit;
    MutexLock lock(mu_);
    absl::Time& tat = tat_[std::string(key)];
    const absl::Time start = std::max(tat, now);
    const absl::Time next = start + interval * cost;
    if (cost > 0 && next - period > now) return {.allowed = false, .retry_after = next - period - now};
    tat = std::max(next, now);
    return {.allowed = true};
  }

 private:
  Mutex mu_;  // one lock for the map: tests only
  std::map<std::string, absl::Time> tat_ ABSL_GUARDED_BY(mu_);
};

class MinimalLocalConcurrencyLimiter final : public workers::net::ConcurrencyLimiter {
 public:
  bool TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder, absl::Duration lease) override {
    const absl::Time now = absl::Now();
    MutexLock lock(mu_);
    auto& holders = places_[std::string(key)];
    std::erase_if(holders, [&](const auto& entry) { return entry.second <= now; });
    if (!holders.contains(holder) && static_cast<std::int64_t>(holders.size()) >= limit) return false;
    holders[holder] = now + lease;
    return true;
  }
  void Release(std::string_view key, const std::string& holder) override {
    MutexLock lock(mu_);
    auto it = places_.find(std::string(key));
    if (it != places_.end()) it->second.erase(holder);
  }

 private:
  Mutex mu_;  // one lock for the map: tests only
  std::map<std::string, std::map<std::string, absl::Time>> places_ ABSL_GUARDED_BY(mu_);
};

}  // namespace squatstream::access::internal

#endif  // SQUATSTREAM_ACCESS_INTERNAL_MINIMAL_LOCAL_LIMITS_H_
