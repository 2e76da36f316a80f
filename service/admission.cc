#include "service/admission.h"

#include "absl/strings/str_format.h"

namespace squatstream::service {

absl::Status Admission::TakeSlot(int keep_free) {
  // A draining server takes no new stream: UNAVAILABLE tells the client to retry elsewhere.
  if (context_.streams.draining()) return absl::UnavailableError("server shutting down");
  const int limit = context_.limits.max_concurrent_streams;
  if (context_.active_streams.fetch_add(1) >= limit - keep_free) {
    context_.active_streams.fetch_sub(1);
    if (keep_free > 0) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "%d of the server's %d concurrent streams are kept for interactive streams; retry later", keep_free, limit));
    }
    return absl::ResourceExhaustedError(
        absl::StrFormat("server is at its limit of %d concurrent streams; retry later", limit));
  }
  slot_ = true;
  context_.streams_admitted.fetch_add(1, std::memory_order_relaxed);
  context_.metrics->pipeline.active_streams->Increment();
  return absl::OkStatus();
}

absl::Status Admission::TakeGrant(const MemoryBudget::Generation& generation, std::size_t buffer_need) {
  MemoryBudget& budget = *context_.budget;
  if (MemoryBudget::Least(generation.total(), buffer_need) > budget.MaxGrant()) {  // never, however idle
    return absl::ResourceExhaustedError(absl::StrFormat(
        "this request needs more of the server's memory budget (%d MiB) than one stream may hold; ask for fewer "
        "candidates or domains",
        budget.bytes() >> 20));
  }
  const MemoryBudget::Grant grant = budget.Take(generation.total(), buffer_need);
  if (grant.buffer == 0) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the server's memory budget (%d MiB) is held by other streams; retry later, or ask for fewer candidates",
        budget.bytes() >> 20));
  }
  granted_slots_ = grant.total;
  granted_buffer_ = grant.buffer;
  granted_running_ = generation.running;
  running_left_ = std::make_shared<std::atomic<std::size_t>>(generation.running);
  context_.metrics->pipeline.fanin_capacity_bytes->Increment(
      static_cast<double>(granted_buffer_ * MemoryBudget::kBytesPerSlot));
  return absl::OkStatus();
}

absl::Status Admission::Register(CuttableStream* stream) {
  if (!context_.streams.Add(stream)) return absl::UnavailableError("server shutting down");
  registered_ = stream;
  return absl::OkStatus();
}

std::function<void()> Admission::GenerationDone() const {
  return [budget = context_.budget, left = running_left_, held = granted_slots_] {
    if (const std::size_t slots = left->exchange(0); slots > 0) budget->Return(held, slots);
  };
}

absl::Status Admission::TakeQuota(const access::Caller& caller, std::int64_t candidates,
                                  std::function<std::int64_t()> used) {
  if (context_.gatekeeper == nullptr) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<access::StreamQuota>> quota = context_.gatekeeper->AdmitStream(caller, candidates);
  if (!quota.ok()) return quota.status();
  quota_ = *std::move(quota);
  quota_used_ = std::move(used);
  return absl::OkStatus();
}

void Admission::Release() {
  if (quota_ != nullptr) {
    quota_->Settle(quota_used_ ? quota_used_() : 0);
    quota_.reset();  // the place and the unused candidates go back
    quota_used_ = nullptr;
  }
  if (granted_slots_ > 0) {
    const std::size_t returned = granted_running_ - running_left_->exchange(0);
    context_.budget->Release(granted_slots_ - returned);
    context_.metrics->pipeline.fanin_capacity_bytes->Decrement(
        static_cast<double>(granted_buffer_ * MemoryBudget::kBytesPerSlot));
    granted_slots_ = 0;
  }
  if (slot_) {
    slot_ = false;
    context_.active_streams.fetch_sub(1);
    context_.metrics->pipeline.active_streams->Decrement();
  }
}

void Admission::Unregister() {
  if (registered_ == nullptr) return;
  context_.streams.Remove(registered_);
  registered_ = nullptr;
}

}  // namespace squatstream::service
