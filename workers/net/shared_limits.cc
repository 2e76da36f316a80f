// The in-process backends of shared_limits.h: a GCRA rate limiter and leased concurrency places, exact for
// one process. Time is counted in integers (nanoseconds times the limit), so `limit` per `period` is never
// rounded up into one more unit per window.
#include "workers/net/shared_limits.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/mutex.h"

namespace squatstream::workers::net {
namespace {

// Past this many keys, a Take first forgets the keys whose budget is full again (an absent key is a full
// budget), so a limiter keyed by address does not grow with every address ever seen.
constexpr std::size_t kPruneAbove = 4096;

class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(std::function<absl::Time()> now) : now_(std::move(now)) {}

  RateDecision Take(std::string_view key, std::int64_t limit, absl::Duration period, std::int64_t cost) override {
    if (cost == 0) return {.allowed = true};
    if (cost < 0) {  // units given back (a reservation's unused part): never beyond a full budget
      if (limit <= 0 || period <= absl::ZeroDuration() || period == absl::InfiniteDuration()) return {.allowed = true};
      const absl::int128 period_ns = absl::ToInt64Nanoseconds(period);
      const absl::int128 now = static_cast<absl::int128>(absl::ToUnixNanos(now_())) * limit;
      MutexLock lock(mu_);
      auto it = tat_.find(absl::string_view(key.data(), key.size()));
      if (it != tat_.end()) it->second.tat = std::max(now, it->second.tat + period_ns * cost);
      return {.allowed = true};
    }
    if (limit <= 0 || period <= absl::ZeroDuration() || period == absl::InfiniteDuration() || cost > limit) {
      return {.allowed = false, .retry_after = absl::InfiniteDuration()};
    }
    // Scaled time: one unit is 1/limit ns, so one unit of budget is `period_ns` units and the burst
    // (`limit` units of budget) is period_ns * limit: all integers, no rounding.
    const absl::int128 period_ns = absl::ToInt64Nanoseconds(period);
    const absl::int128 scale = limit;
    const absl::int128 now = static_cast<absl::int128>(absl::ToUnixNanos(now_())) * scale;
    const absl::int128 burst = period_ns * scale;
    MutexLock lock(mu_);
    if (tat_.size() > kPruneAbove) {
      absl::erase_if(tat_, [&](const auto& entry) { return entry.second.tat <= now; });
    }
    auto it = tat_.find(absl::string_view(key.data(), key.size()));
    const absl::int128 tat = it == tat_.end() ? now : std::max(it->second.tat, now);
    const absl::int128 next = tat + period_ns * cost;
    const absl::int128 allow_at = next - burst;
    if (allow_at > now) {
      const absl::int128 wait_ns = (allow_at - now + scale - 1) / scale;  // rounded up: never early
      return {.allowed = false, .retry_after = absl::Nanoseconds(static_cast<std::int64_t>(wait_ns))};
    }
    if (it == tat_.end()) {
      tat_.emplace(std::string(key), Entry{next});
    } else {
      it->second.tat = next;
    }
    return {.allowed = true};
  }

 private:
  struct Entry {
    absl::int128 tat;  // theoretical arrival time, scaled (see Take)
  };
  const std::function<absl::Time()> now_;
  // One lock over every key: a Take is a few integer operations, far below the rate of the callers (a few
  // per second per key); a sharded map would buy nothing measurable.
  Mutex mu_;
  absl::flat_hash_map<std::string, Entry> tat_ ABSL_GUARDED_BY(mu_);
};

class LocalConcurrencyLimiter final : public ConcurrencyLimiter {
 public:
  explicit LocalConcurrencyLimiter(std::function<absl::Time()> now) : now_(std::move(now)) {}

  bool TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder, absl::Duration lease) override {
    const absl::Time now = now_();
    MutexLock lock(mu_);
    if (places_.size() > kPruneAbove) {
      for (auto& [name, holders] : places_) {
        absl::erase_if(holders, [&](const auto& entry) { return entry.second <= now; });
      }
      absl::erase_if(places_, [](const auto& entry) { return entry.second.empty(); });
    }
    auto& holders = places_[std::string(key)];
    absl::erase_if(holders, [&](const auto& entry) { return entry.second <= now; });
    auto held = holders.find(holder);
    if (held != holders.end()) {
      held->second = now + lease;  // renewal
      return true;
    }
    if (limit <= 0 || static_cast<std::int64_t>(holders.size()) >= limit) {
      if (holders.empty()) places_.erase(std::string(key));
      return false;
    }
    holders.emplace(holder, now + lease);
    return true;
  }

  void Release(std::string_view key, const std::string& holder) override {
    MutexLock lock(mu_);
    auto it = places_.find(absl::string_view(key.data(), key.size()));
    if (it == places_.end()) return;
    it->second.erase(holder);
    if (it->second.empty()) places_.erase(it);
  }

 private:
  const std::function<absl::Time()> now_;
  // One lock over every key, as above: an acquire touches a handful of holders.
  Mutex mu_;
  // key → holder → end of its lease
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, absl::Time>> places_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string UniqueHolder() {
  static const std::uint64_t replica = absl::Uniform<std::uint64_t>(absl::BitGen());
  static std::atomic<std::uint64_t> counter{0};
  return absl::StrFormat("%016x:%d", replica, counter.fetch_add(1, std::memory_order_relaxed));
}

std::unique_ptr<RateLimiter> MakeLocalRateLimiter() {
  return MakeLocalRateLimiter([] { return absl::Now(); });
}
std::unique_ptr<RateLimiter> MakeLocalRateLimiter(std::function<absl::Time()> now) {
  return std::make_unique<LocalRateLimiter>(std::move(now));
}
std::unique_ptr<ConcurrencyLimiter> MakeLocalConcurrencyLimiter() {
  return MakeLocalConcurrencyLimiter([] { return absl::Now(); });
}
std::unique_ptr<ConcurrencyLimiter> MakeLocalConcurrencyLimiter(std::function<absl::Time()> now) {
  return std::make_unique<LocalConcurrencyLimiter>(std::move(now));
}

}  // namespace squatstream::workers::net
