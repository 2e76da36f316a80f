// AccessSide: who may call squatstreamd and how much, wired together — with --auth=api_key, a KeyBook over a
// store connection of its own (the keys live in the same store as the watches: --store), and always the
// Gatekeeper the handlers ask (with --auth=none it lets everyone through, no quota). The limiters (in-process,
// or shared on Redis) are given: daemon/limits_side.h builds them.
#ifndef SQUATSTREAM_DAEMON_ACCESS_SIDE_H_
#define SQUATSTREAM_DAEMON_ACCESS_SIDE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "access/gatekeeper.h"
#include "access/key_book.h"
#include "prometheus/registry.h"
#include "store/store.h"
#include "workers/net/shared_limits.h"

namespace squatstream::daemon {

struct AccessOptions {
  bool api_keys = false;                          // --auth=api_key (else none)
  access::QuotaDefaults quotas;                   // --quota_candidates_per_hour, ...
  absl::Duration key_refresh = absl::Seconds(2);  // how often the keys are read again (revocations)
};

class AccessSide {
 public:
  // With api_keys: opens `store_spec` (FAILED_PRECONDITION when there is none: the keys need a store) and reads
  // every key (the store's error when it cannot: a server that cannot check keys does not start). Registers the
  // access metrics in `registry`.
  static absl::StatusOr<std::unique_ptr<AccessSide>> Start(const AccessOptions& options, const std::string& store_spec,
                                                           std::shared_ptr<workers::net::RateLimiter> rates,
                                                           std::shared_ptr<workers::net::ConcurrencyLimiter> places,
                                                           prometheus::Registry& registry);
  ~AccessSide();

  access::Gatekeeper& gatekeeper() { return *gatekeeper_; }
  // The keys' store (AccessService manages keys through it); null with --auth=none.
  store::Store* store() { return store_.get(); }
  access::KeyBook* key_book() { return book_.get(); }

 private:
  AccessSide() = default;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<access::KeyBook> book_;
  std::unique_ptr<access::Gatekeeper> gatekeeper_;
};

// This process's name among the replicas (host, pid and a random part): the holder of its quota places.
std::string ReplicaName();

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_ACCESS_SIDE_H_
