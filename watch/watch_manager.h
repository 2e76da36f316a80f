// WatchManager: the watch side's operations, without gRPC — what WatchService (service/watch_service.h) and the
// HTTP API call: watches created, read, listed, changed and deleted in the store (settings checked: the interval
// against the server's minimum, the webhook against the address policy), scans asked for, observations listed,
// triage written, events read after a cursor, and the wait of a follower for the next event.
//
// The caller has already checked what the scan path checks (the domain's form, kinds, stages, the cap: the same
// validation as EnrichDomain) and passes the domain's two forms. Errors are absl statuses naming the fault:
// INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND, PERMISSION_DENIED (a refused webhook address), UNAVAILABLE (the
// store). Thread-safe.
#ifndef SQUATSTREAM_WATCH_WATCH_MANAGER_H_
#define SQUATSTREAM_WATCH_WATCH_MANAGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "squatstream/v1/watch.pb.h"
#include "store/store.h"
#include "watch/scheduler.h"
#include "workers/net/address_policy.h"

namespace squatstream::watch {

struct WatchManagerOptions {
  absl::Duration min_interval = absl::Hours(1);      // --watch_min_interval
  absl::Duration default_interval = absl::Hours(6);  // a watch created without one
  // What a webhook may point at (the stages' policy); null: anything.
  const workers::net::AddressPolicy* webhook_policy = nullptr;
  // How often a follower looks for events written by other replicas (those written here wake it at once).
  absl::Duration events_poll = absl::Milliseconds(500);
};

class WatchManager {
 public:
  // `store` outlives the manager; `scheduler` may be null (nothing woken).
  WatchManager(store::Store& store, Scheduler* scheduler, WatchManagerOptions options);

  absl::StatusOr<v1::Watch> Create(const std::string& domain_ascii, const std::string& domain_unicode,
                                   v1::WatchSettings settings, const std::string& owner_key_id = "");
  // How many watches the API key `key_id` created (its watch quota counts them).
  absl::StatusOr<std::int64_t> CountOwnedBy(const std::string& key_id);
  absl::StatusOr<v1::Watch> Get(const std::string& domain);
  absl::StatusOr<v1::ListWatchesResponse> List(const v1::ListWatchesRequest& request);
  // `mask`: WatchSettings field names; empty: those set in `settings`. An interval change reschedules the next
  // scan to the last scan (or now) + the new interval.
  absl::StatusOr<v1::Watch> Update(const std::string& domain, const v1::WatchSettings& settings,
                                   const std::vector<std::string>& mask);
  absl::Status Delete(const std::string& domain);
  absl::StatusOr<v1::Watch> ScanNow(const std::string& domain);
  absl::StatusOr<v1::ListObservationsResponse> ListObservations(const v1::ListObservationsRequest& request);
  absl::StatusOr<v1::Observation> Annotate(const std::string& watch, const std::string& candidate_ascii,
                                           v1::Triage triage, const std::string& note);

  // Events after `after_id` ("" watch: every watch's; NOT_FOUND for an unknown one), at most `limit`.
  absl::StatusOr<std::vector<v1::WatchEvent>> Events(const std::string& watch, std::uint64_t after_id, int limit);
  // OK when `since_id` is at most the last event id ever written (Store::LastEventId); else OUT_OF_RANGE naming it —
  // a cursor from another store, or mistyped, would otherwise wait in silence for ids that are not coming.
  absl::Status CheckCursor(std::uint64_t since_id);
  // Blocks until events may have been written since the call (NotifyEvents), or `at_most` passed.
  void WaitForEvents(absl::Duration at_most);
  // Events were written here: wakes the waiting followers. Any thread.
  void NotifyEvents();

  // The API's view of a stored watch (the secret never shown).
  static v1::Watch ToProto(const store::WatchRow& row);

 private:
  absl::Status CheckSettings(const v1::WatchSettings& settings) const;

  store::Store& store_;
  Scheduler* const scheduler_;
  const WatchManagerOptions options_;
  Mutex mu_;
  CondVar events_cv_;
  std::uint64_t events_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_WATCH_MANAGER_H_
