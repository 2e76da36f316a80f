#include "access/redis_limits.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace squatstream::access {
namespace {

using workers::net::RateDecision;

constexpr absl::string_view kPrefix = "squatstream:";
// While Redis cannot be asked, the longest wait a refusal by this replica's share announces: Redis may be back, and
// the limit itself, sooner than the share would refill (a quota's share refills over an hour).
constexpr absl::Duration kShareRetry = absl::Seconds(30);

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// GCRA (a burst of `limit`, then one unit every period/limit). KEYS[1]: the key's theoretical arrival time (µs,
// Redis's clock). ARGV: limit, period (µs), cost. Returns {1, 0} when taken, {0, µs until it would fit}
// otherwise. A negative cost gives units back (never before now). The key expires when its budget is whole again.
const RedisScript kGcraScript{R"lua(
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + cost * interval
if cost < 0 then
  if new_tat < now then new_tat = now end
elseif new_tat - period > now then
  return {0, math.ceil(new_tat - period - now)}
end
if new_tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', math.ceil(new_tat)), 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {1, 0}
)lua"};

// Leased places: a sorted set of holders scored by their lease's end (ms, Redis's clock). KEYS[1]: the set.
// ARGV: limit, holder, lease (ms). Drops the expired, renews a holder already in, adds a new one below the limit.
// Returns 1 when held. The set expires with its longest lease.
const RedisScript kAcquireScript{R"lua(
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
)lua"};

// Heartbeat: KEYS[1] the replicas' set scored by last beat (ms). ARGV: this replica, the horizon (ms) past
// which a replica is not counted. Returns the replicas alive.
const RedisScript kHeartbeatScript{R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local horizon = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - horizon)
redis.call('PEXPIRE', KEYS[1], horizon)
return redis.call('ZCARD', KEYS[1])
)lua"};

std::string Key(absl::string_view kind, std::string_view key) { return absl::StrCat(kPrefix, kind, ":", Absl(key)); }

std::string DefaultReplicaId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  return absl::StrFormat("%s:%d:%08x", host, getpid(), random());
}

class RedisRateLimiter final : public workers::net::RateLimiter {
 public:
  explicit RedisRateLimiter(std::shared_ptr<RedisLimits> limits) : limits_(std::move(limits)) {}
  RateDecision Take(std::string_view key, std::int64_t limit, absl::Duration period, std::int64_t cost) override {
    return limits_->Take(key, limit, period, cost);
  }

 private:
  const std::shared_ptr<RedisLimits> limits_;
};

class RedisConcurrencyLimiter final : public workers::net::ConcurrencyLimiter {
 public:
  explicit RedisConcurrencyLimiter(std::shared_ptr<RedisLimits> limits) : limits_(std::move(limits)) {}
  bool TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder, absl::Duration lease) override {
    return limits_->TryAcquire(key, limit, holder, lease);
  }
  void Release(std::string_view key, const std::string& holder) override { limits_->Release(key, holder); }

 private:
  const std::shared_ptr<RedisLimits> limits_;
};

class RedisSharedCache final : public workers::net::SharedCache {
 public:
  explicit RedisSharedCache(std::shared_ptr<RedisLimits> limits) : limits_(std::move(limits)) {}
  std::optional<std::string> Get(std::string_view key) override { return limits_->Get(key); }
  void Put(std::string_view key, std::string_view value, absl::Duration ttl) override { limits_->Put(key, value, ttl); }

 private:
  const std::shared_ptr<RedisLimits> limits_;
};

}  // namespace

std::shared_ptr<RedisLimits> RedisLimits::Create(std::unique_ptr<RedisClient> client, RedisLimitsOptions options,
                                                 std::unique_ptr<workers::net::RateLimiter> local_rate,
                                                 std::unique_ptr<workers::net::ConcurrencyLimiter> local_concurrency,
                                                 RedisMetrics metrics) {
  if (options.replica_id.empty()) options.replica_id = DefaultReplicaId();
  return std::shared_ptr<RedisLimits>(new RedisLimits(std::move(client), std::move(options), std::move(local_rate),
                                                      std::move(local_concurrency), metrics));
}

RedisLimits::RedisLimits(std::unique_ptr<RedisClient> client, RedisLimitsOptions options,
                         std::unique_ptr<workers::net::RateLimiter> local_rate,
                         std::unique_ptr<workers::net::ConcurrencyLimiter> local_concurrency, RedisMetrics metrics)
    : client_(std::move(client)),
      options_(std::move(options)),
      local_rate_(std::move(local_rate)),
      local_concurrency_(std::move(local_concurrency)),
      metrics_(metrics) {}

RedisLimits::~RedisLimits() { Stop(); }

std::unique_ptr<workers::net::RateLimiter> RedisLimits::MakeRateLimiter() {
  return std::make_unique<RedisRateLimiter>(shared_from_this());
}
std::unique_ptr<workers::net::ConcurrencyLimiter> RedisLimits::MakeConcurrencyLimiter() {
  return std::make_unique<RedisConcurrencyLimiter>(shared_from_this());
}
std::unique_ptr<workers::net::SharedCache> RedisLimits::MakeSharedCache() {
  return std::make_unique<RedisSharedCache>(shared_from_this());
}

int RedisLimits::fallback_divisor() const {
  if (options_.fallback_replicas > 0) return options_.fallback_replicas;
  return std::max(1, replicas_seen_.load());
}

void RedisLimits::Answered(bool answered) {
  falling_back_.store(!answered);
  if (metrics_.fallback != nullptr) metrics_.fallback->Set(answered ? 0 : 1);
}

bool RedisLimits::Heartbeat() {
  const std::int64_t horizon_ms = std::max<std::int64_t>(1, absl::ToInt64Milliseconds(options_.heartbeat_interval * 3));
  absl::StatusOr<RedisValue> count = client_->Eval(kHeartbeatScript, {absl::StrCat(kPrefix, "replicas")},
                                                   {options_.replica_id, std::to_string(horizon_ms)});
  if (!count.ok() || count->type != RedisValue::Type::kInteger) {
    if (!client_->up()) Answered(false);
    return false;
  }
  replicas_seen_.store(static_cast<int>(std::clamp<std::int64_t>(count->integer, 1, 1 << 20)));
  Answered(true);
  return true;
}

bool RedisLimits::Start() {
  {
    MutexLock lock(mu_);
    if (heartbeat_.joinable() || stopping_) return !falling_back();
  }
  const bool answered = Heartbeat();
  MutexLock lock(mu_);
  if (!heartbeat_.joinable() && !stopping_) heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  return answered;
}

void RedisLimits::HeartbeatLoop() {
  for (;;) {
    {
      MutexLock lock(mu_);
      const absl::Time next = absl::Now() + options_.heartbeat_interval;
      while (!stopping_ && absl::Now() < next) {
        stop_cv_.WaitFor(mu_, absl::ToChronoNanoseconds(next - absl::Now()));
      }
      if (stopping_) return;
    }
    Heartbeat();  // a round trip: not under the lock Stop() takes
  }
}

void RedisLimits::Stop() {
  std::thread heartbeat;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    heartbeat = std::move(heartbeat_);
  }
  stop_cv_.NotifyAll();
  if (heartbeat.joinable()) {
    heartbeat.join();
    // Leave the set at once, so the others' share grows without waiting for this entry to age out.
    (void)client_->Command({"ZREM", absl::StrCat(kPrefix, "replicas"), options_.replica_id});
  }
}

RateDecision RedisLimits::Take(std::string_view key, std::int64_t limit, absl::Duration period, std::int64_t cost) {
  if (limit <= 0 || period <= absl::ZeroDuration() || cost > limit) {
    return {.allowed = false, .retry_after = absl::InfiniteDuration()};
  }
  if (cost == 0) return {.allowed = true};
  const std::int64_t period_us = std::max<std::int64_t>(1, absl::ToInt64Microseconds(period));
  absl::StatusOr<RedisValue> reply = client_->Eval(
      kGcraScript, {Key("rate", key)}, {std::to_string(limit), std::to_string(period_us), std::to_string(cost)});
  if (reply.ok() && reply->type == RedisValue::Type::kArray && reply->elements.size() == 2) {
    Answered(true);
    if (reply->elements[0].integer == 1) return {.allowed = true};
    return {.allowed = false, .retry_after = absl::Microseconds(std::max<std::int64_t>(1, reply->elements[1].integer))};
  }
  if (reply.ok() || client_->up()) {
    // The server answered, but not as the script does (a key of another type): refuse rather than guess.
    Answered(true);
    return {.allowed = false, .retry_after = period};
  }
  Answered(false);
  // This replica's share: limit/n per period when that is a whole unit or more, else one unit every n·period/limit
  // (the same rate, a burst of one). Together the n replicas take at most the limit.
  const int n = fallback_divisor();
  std::int64_t share_limit = limit;
  absl::Duration share_period = period;
  if (n > 1) {
    if (limit >= n) {
      share_limit = limit / n;
    } else {
      share_limit = 1;
      share_period = period * n / limit;
    }
  }
  RateDecision local = local_rate_->Take(key, share_limit, share_period, cost);
  if (!local.allowed && cost <= limit &&
      (local.retry_after == absl::InfiniteDuration() || local.retry_after > kShareRetry)) {
    // Refused by this replica's share of the limit, not by the limit: it may fit once Redis is back, which the
    // client tries again every second or so — an hour's wait (a quota's period) would be the share's, not the
    // limit's.
    local.retry_after = kShareRetry;
  }
  return local;
}

bool RedisLimits::TryAcquire(std::string_view key, std::int64_t limit, const std::string& holder,
                             absl::Duration lease) {
  if (limit <= 0) return false;
  const std::int64_t lease_ms = std::max<std::int64_t>(1, absl::ToInt64Milliseconds(lease));
  absl::StatusOr<RedisValue> reply = client_->Eval(kAcquireScript, {Key("concurrency", key)},
                                                   {std::to_string(limit), holder, std::to_string(lease_ms)});
  if (reply.ok() && reply->type == RedisValue::Type::kInteger) {
    Answered(true);
    return reply->integer == 1;
  }
  if (reply.ok() || client_->up()) {
    Answered(true);
    return false;
  }
  Answered(false);
  const std::int64_t share = limit / fallback_divisor();  // 0 when there are more replicas than places: none here
  if (share <= 0) return false;
  return local_concurrency_->TryAcquire(key, share, holder, lease);
}

void RedisLimits::Release(std::string_view key, const std::string& holder) {
  // Both: a place taken during a fallback is held locally, one taken before it in Redis.
  local_concurrency_->Release(key, holder);
  absl::StatusOr<RedisValue> reply = client_->Command({"ZREM", Key("concurrency", key), holder});
  // Not answered: the place is freed in Redis when its lease ends.
  if (reply.ok() || client_->up()) Answered(true);
}

std::optional<std::string> RedisLimits::Get(std::string_view key) {
  absl::StatusOr<RedisValue> reply = client_->Command({"GET", Key("cache", key)});
  if (!reply.ok()) {
    if (!client_->up()) Answered(false);
    return std::nullopt;
  }
  Answered(true);
  if (reply->type != RedisValue::Type::kString) return std::nullopt;
  return std::move(reply->str);
}

void RedisLimits::Put(std::string_view key, std::string_view value, absl::Duration ttl) {
  const std::int64_t ttl_ms = absl::ToInt64Milliseconds(ttl);
  if (ttl_ms <= 0) return;
  absl::StatusOr<RedisValue> reply =
      client_->Command({"SET", Key("cache", key), std::string(value), "PX", std::to_string(ttl_ms)});
  if (reply.ok() || client_->up()) {
    Answered(true);
  } else {
    Answered(false);
  }
}

}  // namespace squatstream::access
