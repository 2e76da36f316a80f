#include "daemon/limits_side.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, redis_address, "",
          "Redis (host:port) holding the limits and cache every replica shares: registry rates and concurrency, "
          "probe rates, per-key quotas. Empty: each replica keeps its own limits.");
ABSL_FLAG(std::string, redis_password_file, "",
          "File whose first line is the password for --redis_address (AUTH). Empty: no AUTH.");
ABSL_FLAG(absl::Duration, redis_timeout, squatstream::daemon::LimitsOptions{}.redis_timeout,
          "Longest wait for Redis to connect or answer one command; past it the limits fall back to this replica's "
          "share.");
ABSL_FLAG(int, redis_fallback_replicas, 0,
          "While Redis cannot be asked, each limit is divided by this; 0: by the number of replicas last seen alive.");

namespace squatstream::daemon {

LimitsOptions LimitsOptionsFromFlags() {
  LimitsOptions o;
  o.redis_address = absl::GetFlag(FLAGS_redis_address);
  o.redis_password_file = absl::GetFlag(FLAGS_redis_password_file);
  o.redis_timeout = absl::GetFlag(FLAGS_redis_timeout);
  o.redis_fallback_replicas = absl::GetFlag(FLAGS_redis_fallback_replicas);
  return o;
}

absl::StatusOr<std::unique_ptr<LimitsSide>> LimitsSide::Start(const LimitsOptions& options,
                                                              prometheus::Registry& registry) {
  std::unique_ptr<LimitsSide> side(new LimitsSide());
  if (options.redis_address.empty()) {
    if (!options.redis_password_file.empty()) {
      return absl::InvalidArgumentError(
          "--redis_password_file is given without --redis_address: give the Redis address too, or drop the file");
    }
    side->rate_ = workers::net::MakeLocalRateLimiter();
    side->concurrency_ = workers::net::MakeLocalConcurrencyLimiter();
    return side;
  }
  access::RedisOptions redis;
  if (absl::Status s = access::ParseRedisAddress(options.redis_address, redis); !s.ok()) return s;
  if (options.redis_timeout <= absl::ZeroDuration() || options.redis_timeout > absl::Seconds(10)) {
    return absl::InvalidArgumentError(absl::StrCat("--redis_timeout=", absl::FormatDuration(options.redis_timeout),
                                                   ": give a duration above 0 and at most 10s (e.g. 50ms)"));
  }
  if (options.redis_fallback_replicas < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--redis_fallback_replicas=", options.redis_fallback_replicas,
                                                   ": must be 0 (the replicas last seen) or a count above 0"));
  }
  redis.timeout = options.redis_timeout;
  if (!options.redis_password_file.empty()) {
    absl::StatusOr<std::string> password = access::ReadRedisPasswordFile(options.redis_password_file);
    if (!password.ok()) return password.status();
    redis.password = *std::move(password);
  }
  const access::RedisMetrics metrics = access::RegisterRedisMetrics(registry);
  access::RedisLimitsOptions limits_options;
  limits_options.fallback_replicas = options.redis_fallback_replicas;
  auto client = std::make_unique<access::RedisClient>(redis, metrics);
  const std::string address = client->address();
  side->redis_ = access::RedisLimits::Create(std::move(client), limits_options, workers::net::MakeLocalRateLimiter(),
                                             workers::net::MakeLocalConcurrencyLimiter(), metrics);
  side->rate_ = side->redis_->MakeRateLimiter();
  side->concurrency_ = side->redis_->MakeConcurrencyLimiter();
  side->cache_ = side->redis_->MakeSharedCache();
  if (!side->redis_->Start()) {
    const absl::Status error = side->redis_->client().last_error();
    const std::string divisor = options.redis_fallback_replicas > 0
                                    ? absl::StrCat(options.redis_fallback_replicas, " (--redis_fallback_replicas)")
                                    : std::string("1 until replicas are seen (set --redis_fallback_replicas)");
    std::fprintf(stderr,
                 "squatstreamd: global limits start in fallback: Redis at %s cannot be asked (%s); each limit is "
                 "divided by %s and Redis is asked again every second\n",
                 address.c_str(), std::string(error.message()).c_str(), divisor.c_str());
  }
  return side;
}

LimitsSide::~LimitsSide() { Stop(); }

void LimitsSide::Stop() {
  if (redis_ != nullptr) redis_->Stop();
}

}  // namespace squatstream::daemon
