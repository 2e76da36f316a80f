// Admission: what one EnrichDomain stream takes from the server — a slot among the concurrent streams, a
// share of the memory budget, a place in the registry the drain cuts — taken in that order, each refusal
// naming its reason, and given back together. The reactor holds one Admission for its life, so nothing it
// took can be forgotten on any path (a refusal half-way gives back what was taken).
#ifndef SQUATSTREAM_SERVICE_ADMISSION_H_
#define SQUATSTREAM_SERVICE_ADMISSION_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "service/memory_budget.h"
#include "service/service_context.h"
#include "service/stream_registry.h"

namespace squatstream::service {

// Not thread-safe itself: one stream's reactor uses it, one reaction at a time; what it updates (the
// context's counters, the budget, the registry) is thread-safe. GenerationDone's callback may run on any
// thread, once.
class Admission {
 public:
  explicit Admission(ServiceContext& context) : context_(context) {}
  ~Admission() {
    Release();
    Unregister();
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A slot among the concurrent streams: UNAVAILABLE while the server drains, RESOURCE_EXHAUSTED at the
  // stream limit (naming it). `keep_free`: refused unless that many slots stay free after this one (a watch's
  // scan leaves the last slots to interactive streams).
  absl::Status TakeSlot(int keep_free = 0);
  // The stream's share of the memory budget, for its generation and a fan-in buffer of up to `buffer_need`:
  // RESOURCE_EXHAUSTED naming the budget when it does not fit now (or could never fit, however idle the
  // server). After TakeSlot.
  absl::Status TakeGrant(const MemoryBudget::Generation& generation, std::size_t buffer_need);
  // The caller's quotas (access/gatekeeper.h) for a stream that may look up `candidates`: RESOURCE_EXHAUSTED
  // naming the quota when the caller's key reached one (nothing taken); nothing to take for an anonymous caller.
  // `used` says, when the stream ends, how many it used (the rest of the reservation goes back). After
  // TakeGrant: a capacity refusal costs the caller's key nothing.
  absl::Status TakeQuota(const access::Caller& caller, std::int64_t candidates, std::function<std::int64_t()> used);
  // The registry entry the drain cuts: UNAVAILABLE when the drain began since TakeSlot (registering
  // nothing). After TakeGrant.
  absl::Status Register(CuttableStream* stream);

  // The fan-in buffer's bound the grant allows (0 before TakeGrant).
  std::size_t buffer() const { return granted_buffer_; }
  // Gives the running Generator's share back once generation ended, or does nothing when Release came first
  // (the pipeline may call it after the stream finished). Valid after TakeGrant; outlives the Admission.
  std::function<void()> GenerationDone() const;

  // Gives the quota, the grant and then the slot back (a stream admitted in between finds the grant back). Before the
  // stream's status leaves, so that a client that starts its next stream at once finds the slot free.
  // Idempotent.
  void Release();
  // Leaves the registry: after it returns, the drain's CutAll no longer reaches the stream. From the
  // reactor's OnDone — never under the registry's lock (from a Cut). Idempotent.
  void Unregister();

 private:
  ServiceContext& context_;
  bool slot_ = false;
  std::size_t granted_slots_ = 0;    // from the budget
  std::size_t granted_buffer_ = 0;   // of them, the fan-in buffer's bound
  std::size_t granted_running_ = 0;  // of them, the running Generator's bound
  // What of granted_running_ the stream still holds: GenerationDone returns it early.
  std::shared_ptr<std::atomic<std::size_t>> running_left_;
  CuttableStream* registered_ = nullptr;
  std::unique_ptr<access::StreamQuota> quota_;
  std::function<std::int64_t()> quota_used_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ADMISSION_H_
