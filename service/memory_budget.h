// MemoryBudget: the server-wide bound on what streams hold — records buffered plus candidates in flight,
// counted in slots of the streams' fan-in buffers — so that no mix of clients (many streams, slow readers,
// stalled ones) takes the process past the budget plus a fixed overhead. A slot stands for what one
// candidate may cost while its stream holds it (its record under construction with its pending lookups, or
// its serialized record waiting in the buffer): kBytesPerSlot.
//
// A stream is granted its slots when it starts and gives them back when it ends: slots for its generation
// (the permutation engine's bound on what a Generator holds, given back once its last Generator ended —
// though a stream stays charged at least the reserve below — and a little kept to the end) and slots for its fan-in
// buffer, whose bound is that part of the grant — so within the grant backpressure is the buffer's (a full buffer
// pauses the stream's lookups until its client reads). A stream takes what it can use from what is left once every
// stream that could still arrive (up to max_streams) has a reserve kept for it, so that a typical stream always fits:
// the total never exceeds the budget, and a stream whose generation and minimal buffer do not fit in what is left is
// refused (RESOURCE_EXHAUSTED naming the budget) — many large streams at once, held by clients that do not read, are
// what the budget exists to stop.
#ifndef SQUATSTREAM_SERVICE_MEMORY_BUDGET_H_
#define SQUATSTREAM_SERVICE_MEMORY_BUDGET_H_

#include <algorithm>
#include <cstddef>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "permute/generator.h"
#include "prometheus/gauge.h"

namespace squatstream::service {

class MemoryBudget {
 public:
  // What one slot may cost, in bytes of resident memory: what docs/BENCHMARKS.md measured (stalled readers
  // holding a million slots without a budget, "Under load and faults"), with half again as margin for longer names.
  static constexpr std::size_t kBytesPerSlot = 1536;
  // The smallest fair share the server starts with: below it a stream's lookups would crawl.
  static constexpr std::size_t kMinGrant = 256;
  // Generation: a stream's Generators run one at a time, each holding at most its max_held_bytes
  // (permute/generator.h: counted as it grows, checked against the allocator by
  // tests/permute/generator_memory_test.cc) whatever the stream's cap — a capped run's kinds make their
  // names before the cap cuts them — and almost nothing once it ended. Besides the running one: each input
  // domain's Generator before it runs (what its HeldBytes says: 4 KiB of scratch, the text around each label,
  // each label; at most kBytesPerDomain for a name of a few labels — a typical stream's, which the reserve
  // below is made of, so that such a stream never needs more than the reserve) and the candidates generated
  // ahead of dispatch (at most 384, names of up to 253 bytes in two forms).
  static constexpr std::size_t kBytesPerDomain = 8192;
  static constexpr std::size_t kGeneratedAheadBytes = std::size_t{256} << 10;
  struct Generation {
    std::size_t running = 0;  // the running Generator's bound: given back when the last one ended
    std::size_t kept = 0;     // the rest, held to the stream's end
    std::size_t total() const { return running + kept; }
  };
  // `generators_bytes`: what the stream's Generators hold before they run (the sum of their HeldBytes).
  static Generation GenerationSlots(std::size_t max_held_bytes, std::size_t generators_bytes) {
    return {.running = SlotsFor(max_held_bytes), .kept = SlotsFor(generators_bytes + kGeneratedAheadBytes)};
  }

  // `typical_candidates`: a request's default cap. Kept for each stream that could still arrive: what such
  // a stream (one domain) needs (its generation and a minimal buffer), or an equal share of the budget if
  // that is less.
  // `charged_gauge` and `holders_gauge` (optional) follow what the budget charges the streams and how many
  // streams hold a grant, set under its lock (so that a reader sees the two agree with each grant).
  MemoryBudget(std::size_t bytes, std::size_t max_streams, std::size_t typical_candidates,
               prometheus::Gauge* charged_gauge = nullptr, prometheus::Gauge* holders_gauge = nullptr)
      : bytes_(bytes),
        slots_(std::max<std::size_t>(1, bytes / kBytesPerSlot)),
        max_streams_(std::max<std::size_t>(1, max_streams)),
        reserve_(std::min(TypicalNeed(typical_candidates), slots_ / max_streams_)),
        charged_gauge_(charged_gauge),
        holders_gauge_(holders_gauge) {}

  struct Grant {
    std::size_t buffer = 0;  // the stream's fan-in buffer bound; 0: refused
    std::size_t total = 0;   // buffer + generation: what the stream holds until it Returns part or Releases it
  };
  // Grants a new stream `generation` slots (what its generation holds) and buffer slots: as many as it can
  // use (`buffer_need`, at least 1) of what is left beyond the reserves kept for streams that could still
  // arrive, never fewer than min(buffer_need, kMinGrant). Refuses (buffer 0) when that does not fit, or
  // when max_streams streams already hold grants. Thread-safe.
  Grant Take(std::size_t generation, std::size_t buffer_need) {
    buffer_need = std::max<std::size_t>(1, buffer_need);
    MutexLock lock(mu_);
    if (holders_ >= max_streams_) return {};
    const std::size_t free = slots_ - charged_;
    const std::size_t kept_for_others = (max_streams_ - holders_ - 1) * reserve_;
    const std::size_t allowed = free > kept_for_others ? free - kept_for_others : 0;
    const std::size_t floor = std::min(buffer_need, kMinGrant);
    if (generation + floor > allowed) return {};
    const std::size_t buffer = std::min(buffer_need, allowed - generation);
    charged_ += Charge(generation + buffer);  // at most `allowed`: the reserve is, by the invariant below
    ++holders_;
    Publish();
    return {buffer, generation + buffer};
  }

  // A stream that holds `held` slots ends and gives them all back.
  void Release(std::size_t held) {
    MutexLock lock(mu_);
    charged_ -= Charge(held);
    --holders_;
    Publish();
  }
  // A stream that holds `held` slots gives `slots` of them back and goes on (its running Generator's share,
  // once generation ended). It stays charged at least the reserve: when it ends, its place is again one a
  // typical stream must find room in, and that room must not have gone to others meanwhile.
  void Return(std::size_t held, std::size_t slots) {
    MutexLock lock(mu_);
    charged_ -= Charge(held) - Charge(held - slots);
    Publish();
  }

  // What a stream needs for `generation` and a minimal buffer — the least Take grants it.
  static std::size_t Least(std::size_t generation, std::size_t buffer_need) {
    return generation + std::min(std::max<std::size_t>(1, buffer_need), kMinGrant);
  }
  // The most one stream can be granted, on an idle server (the reserves of all others kept).
  std::size_t MaxGrant() const { return slots_ - (max_streams_ - 1) * reserve_; }
  // What a typical stream (the default cap) needs at least; the server refuses to start with a budget that
  // does not hold this for every stream it admits.
  static std::size_t TypicalNeed(std::size_t typical_candidates) {
    return std::min(typical_candidates, kMinGrant) +
           GenerationSlots(permute::kDefaultMaxHeldBytes, kBytesPerDomain).total();
  }

  std::size_t bytes() const { return bytes_; }
  static std::size_t SlotsFor(std::size_t bytes) { return (bytes + kBytesPerSlot - 1) / kBytesPerSlot; }
  std::size_t slots() const { return slots_; }

 private:
  const std::size_t bytes_;
  const std::size_t slots_;
  const std::size_t max_streams_;
  const std::size_t reserve_;
  prometheus::Gauge* const charged_gauge_;
  prometheus::Gauge* const holders_gauge_;
  // What a stream holding `held` slots is charged: at least the reserve (see Return).
  std::size_t Charge(std::size_t held) const { return std::max(held, reserve_); }
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (charged_gauge_ != nullptr) charged_gauge_->Set(static_cast<double>(charged_));
    if (holders_gauge_ != nullptr) holders_gauge_->Set(static_cast<double>(holders_));
  }

  // One lock: a grant is taken once per stream, so there is nothing to gain from lock-free accounting, and
  // the grant reads three counters that must agree.
  // Invariant: charged_ + (max_streams_ - holders_) * reserve_ <= slots_ — every stream that could still
  // arrive finds its reserve, and the slots held (each at most its charge) never exceed the budget.
  Mutex mu_;
  std::size_t charged_ ABSL_GUARDED_BY(mu_) = 0;  // the sum of the holders' Charge
  std::size_t holders_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_MEMORY_BUDGET_H_
