// Gatekeeper: who may call and how much — the one place both adapters (gRPC now, HTTP next) ask before doing
// any work. It authenticates the `authorization` value with the KeyBook, checks the method's scope, and
// charges the caller's quotas: candidates per hour (reserved at a stream's start by its cap, the unused part
// given back at its end), concurrent streams, and watches. The rate and the places are asked through
// workers/net/shared_limits.h, so with Redis a key's quotas hold across every replica. Refusals are absl
// statuses: UNAUTHENTICATED and PERMISSION_DENIED from the KeyBook, RESOURCE_EXHAUSTED for a quota with
// google.rpc.RetryInfo and google.rpc.QuotaFailure as payloads (service/status.cc turns payloads into the
// status details) — distinct in words and metrics from the server's own capacity refusals. No gRPC here.
#ifndef SQUATSTREAM_ACCESS_GATEKEEPER_H_
#define SQUATSTREAM_ACCESS_GATEKEEPER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "access/key_book.h"
#include "access/scopes.h"
#include "base/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "workers/net/shared_limits.h"

namespace squatstream::access {

// A key's quotas when it names none (squatstreamd's --quota_* flags).
struct QuotaDefaults {
  std::int64_t candidates_per_hour = 1'000'000;
  std::int64_t concurrent_streams = 16;
  std::int64_t watches = 100;
};

// Who is calling: a key's principal, or nobody with --auth=none (no quota applies then).
struct Caller {
  std::optional<Principal> key;
  // For logs and audit: "sqs_<id>" or "anonymous". Never the secret.
  std::string Name() const;
};

// Builds the RESOURCE_EXHAUSTED status of a quota: `message` for people, RetryInfo (when `retry_after` is
// finite and positive) and QuotaFailure{subject, description} as payloads under their type URLs.
absl::Status QuotaExceeded(absl::string_view message, absl::Duration retry_after, absl::string_view subject,
                           absl::string_view description);
// The type URLs service/status.cc recognises (any payload becomes a detail; these are the ones we send).
inline constexpr absl::string_view kRetryInfoTypeUrl = "type.googleapis.com/google.rpc.RetryInfo";
inline constexpr absl::string_view kQuotaFailureTypeUrl = "type.googleapis.com/google.rpc.QuotaFailure";

class Gatekeeper;

// What one stream holds of its caller's quotas: a place among its concurrent streams and the candidates
// reserved. Its destructor gives back the place and the candidates not used (Settle says how many were);
// renewal of the place's lease is the Gatekeeper's. Not thread-safe; one owner (the stream's Admission).
class StreamQuota {
 public:
  ~StreamQuota();
  StreamQuota(const StreamQuota&) = delete;
  StreamQuota& operator=(const StreamQuota&) = delete;
  // The candidates the stream used (at most what was reserved); the rest goes back at the end.
  void Settle(std::int64_t used) { used_ = used; }

 private:
  friend class Gatekeeper;
  StreamQuota(Gatekeeper& gatekeeper, std::string key_id, std::int64_t reserved, std::int64_t per_hour,
              std::string holder);
  Gatekeeper& gatekeeper_;
  std::string key_id_;
  std::int64_t reserved_;
  std::int64_t per_hour_;
  std::int64_t used_;
  std::string holder_;
};

// Thread-safe. Outlives every call and every StreamQuota.
class Gatekeeper {
 public:
  // `book` null: --auth=none, every call is let through as an anonymous caller and no quota applies.
  // `rates` and `places` are the shared limiters (in-process or Redis); `replica` names this process in the
  // holders of places (unique across replicas). Registers squatstream_auth_failures_total and
  // squatstream_quota_refusals_total in `registry`.
  Gatekeeper(const KeyBook* book, QuotaDefaults defaults, std::shared_ptr<workers::net::RateLimiter> rates,
             std::shared_ptr<workers::net::ConcurrencyLimiter> places, std::string replica,
             prometheus::Registry& registry);
  ~Gatekeeper();  // stops the lease renewal
  Gatekeeper(const Gatekeeper&) = delete;
  Gatekeeper& operator=(const Gatekeeper&) = delete;

  bool enabled() const { return book_ != nullptr; }

  // The caller of `method` (e.g. "EnrichDomain") that presented `authorization` (the metadata's value, empty
  // when absent), when it holds `scope`; UNAUTHENTICATED or PERMISSION_DENIED otherwise (counted by reason).
  absl::StatusOr<Caller> Admit(std::string_view authorization, Scope scope, std::string_view method);

  // A stream of `caller` that may look up to `candidates`: reserves them from the key's hourly quota and
  // takes a place among its concurrent streams; RESOURCE_EXHAUSTED naming the quota otherwise (nothing
  // taken). Null for an anonymous caller.
  absl::StatusOr<std::unique_ptr<StreamQuota>> AdmitStream(const Caller& caller, std::int64_t candidates);

  // One more watch for `caller`, who owns `owned` already: RESOURCE_EXHAUSTED at the key's watch quota.
  absl::Status AdmitWatch(const Caller& caller, std::int64_t owned);

 private:
  friend class StreamQuota;
  void EndStream(const StreamQuota& quota);
  void Renew();  // the lease renewal thread's loop
  std::int64_t Quota(const std::optional<std::int64_t>& own, std::int64_t fallback) const;
  void CountRefusal(int quota);

  static constexpr absl::Duration kPlaceLease = absl::Seconds(30);  // renewed every third of it

  const KeyBook* book_;
  QuotaDefaults defaults_;
  std::shared_ptr<workers::net::RateLimiter> rates_;
  std::shared_ptr<workers::net::ConcurrencyLimiter> places_;
  std::string replica_;
  std::atomic<std::uint64_t> next_holder_{0};
  prometheus::Counter* auth_failures_[6] = {};   // by AuthFailure; the last is "scope"
  prometheus::Counter* quota_refusals_[3] = {};  // candidates_per_hour, concurrent_streams, watches
  // The places held by streams in progress (holder → key), renewed by `renewer_` so that a replica that dies
  // frees them within the lease; a map under one lock because streams begin and end on many threads.
  Mutex mu_;
  absl::flat_hash_map<std::string, std::pair<std::string, std::int64_t>> held_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread renewer_;
};

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_GATEKEEPER_H_
