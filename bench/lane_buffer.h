// LaneBuffer: many producers, one consumer, no shared lock on the producer path.
//
// Each producer session claims a lane — a bounded single-producer/single-consumer ring — and keeps it until
// it ends; a thread's sessions reuse the same lane, so in practice there is one lane per thread ("per-thread
// lanes"). A producer writes into its own ring and publishes its tail every kPublishEvery items and when the
// session ends, so the cost per item is a store into memory only that producer writes. The consumer sweeps
// every lane and takes everything published (the "swap" of the seed's design, per lane).
//
// Bounded: lanes x lane_capacity items at most; a producer whose lane is full waits (yielding) until the
// consumer drains it, or until the buffer is cancelled. Order: FIFO per session (so per producer task).
// Close() says no session will start any more; the consumer sees `finished` once every session ended and
// every item was taken. Cancel() makes producers give up and drops what is held.
// Header-only and free of Abseil's compiled code, so the TSan preset instruments all of it.
#ifndef SQUATSTREAM_BENCH_LANE_BUFFER_H_
#define SQUATSTREAM_BENCH_LANE_BUFFER_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace squatstream::fanin {
namespace internal {

// Raises `value` to at least `at_least`; never lowers it, whatever other threads stored meanwhile.
inline void RaiseTo(std::atomic<std::size_t>& value, std::size_t at_least) {
  std::size_t seen = value.load(std::memory_order_relaxed);
  while (seen < at_least &&
         !value.compare_exchange_weak(seen, at_least, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

}  // namespace internal

template <typename T>
class LaneBuffer {
 public:
  static constexpr std::size_t kMaxLanes = 64;
  static constexpr std::uint64_t kPublishEvery = 64;
  static constexpr int kSpinsBeforeSleep = 64;

  struct DrainResult {
    std::size_t taken = 0;
    bool finished = false;  // closed, every session ended, nothing left
  };

  // `lane_capacity` is rounded up to a power of two (at least kPublishEvery).
  explicit LaneBuffer(std::size_t lane_capacity) : capacity_(RoundUp(lane_capacity)), mask_(capacity_ - 1) {}

  LaneBuffer(const LaneBuffer&) = delete;
  LaneBuffer& operator=(const LaneBuffer&) = delete;

 private:
  struct Lane;  // declared before Producer, which points at one (clang resolves the name at the point of use)

 public:
  // A producer session: claims a lane on construction, publishes and releases it on destruction. Use it
  // from one thread; do not hold two at once on one thread for long (each holds a lane).
  class Producer {
   public:
    explicit Producer(LaneBuffer& buffer)
        : buffer_(buffer), lane_(buffer.ClaimLane()), slots_(lane_->slots.get()), mask_(buffer.mask_) {
      tail_ = lane_->tail.load(std::memory_order_relaxed);
      head_cache_ = lane_->head.load(std::memory_order_acquire);
    }
    ~Producer() {
      Publish();
      buffer_.ReleaseLane(lane_);
    }
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    // Appends `item`, waiting while the lane is full. Returns false once it notices the buffer was cancelled
    // (checked when it publishes or waits, so a few more pushes may return true and be dropped).
    bool Push(const T& item) {
      if (tail_ - head_cache_ > mask_) {  // full
        head_cache_ = lane_->head.load(std::memory_order_acquire);
        while (tail_ - head_cache_ > mask_) {
          Publish();  // the consumer must see what is here before it can make room
          if (buffer_.cancelled_.load(std::memory_order_relaxed)) return false;
          // Yielding, not sleeping: measured, a futex sleep here halved throughput at W=8192 (the wake-up
          // latency outweighs the core it frees).
          std::this_thread::yield();
          head_cache_ = lane_->head.load(std::memory_order_acquire);
        }
      }
      slots_[tail_ & mask_] = item;
      ++tail_;
      if ((tail_ & (kPublishEvery - 1)) == 0) {
        Publish();
        return !buffer_.cancelled_.load(std::memory_order_relaxed);
      }
      return true;
    }

    // Makes every pushed item visible to the consumer now.
    void Publish() {
      // seq_cst, with the consumer's seq_cst store of waiting_ and loads of tails: one of the two always
      // sees the other (no lost wake-up). Every kPublishEvery items, so its cost is spread thin.
      lane_->tail.store(tail_, std::memory_order_seq_cst);
      buffer_.WakeConsumer();
    }

   private:
    LaneBuffer& buffer_;
    typename LaneBuffer::Lane* const lane_;
    T* const slots_;
    const std::uint64_t mask_;
    std::uint64_t tail_ = 0;
    std::uint64_t head_cache_ = 0;
  };

  // Moves up to `max_items` published items into *out (cleared first), lane by lane. One consumer.
  DrainResult Drain(std::vector<T>* out, std::size_t max_items) {
    out->clear();
    DrainResult r;
    if (cancelled_.load(std::memory_order_relaxed)) return r;
    // Read before sweeping: if every session had ended and the buffer was closed before the sweep, an empty
    // sweep means nothing can arrive any more.
    const bool quiet = closed_.load(std::memory_order_acquire) && sessions_.load(std::memory_order_acquire) == 0;
    const std::size_t lanes = lanes_used_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < lanes && out->size() < max_items; ++i) {
      Lane& lane = lanes_[i];
      const std::uint64_t tail = lane.tail.load(std::memory_order_acquire);
      const std::uint64_t head = lane.head.load(std::memory_order_relaxed);
      const std::uint64_t n = std::min<std::uint64_t>(tail - head, max_items - out->size());
      if (n == 0) continue;
      // Copy the ring's (at most two) contiguous pieces.
      const T* ring = lane.slots.get();
      const std::uint64_t first = std::min<std::uint64_t>(n, capacity_ - (head & mask_));
      out->insert(out->end(), ring + (head & mask_), ring + (head & mask_) + first);
      out->insert(out->end(), ring, ring + (n - first));
      lane.head.store(head + n, std::memory_order_release);
    }
    r.taken = out->size();
    r.finished = r.taken == 0 && quiet;
    return r;
  }

  // Blocks until something may have been published, the buffer closed, or it was cancelled. Spurious
  // returns are allowed; callers drain and call again.
  void WaitForData() {
    // A short yielding spin first: producers publish every kPublishEvery items, so data is usually a few
    // microseconds away, and a futex sleep and wake costs more than that.
    for (int i = 0; i < kSpinsBeforeSleep; ++i) {
      if (AnyPublished() || cancelled_.load(std::memory_order_relaxed) ||
          (closed_.load(std::memory_order_acquire) && sessions_.load(std::memory_order_acquire) == 0)) {
        return;
      }
      std::this_thread::yield();
    }
    const std::uint32_t epoch = epoch_.load(std::memory_order_acquire);
    waiting_.store(true, std::memory_order_seq_cst);
    if (AnyPublished() || cancelled_.load(std::memory_order_relaxed) ||
        (closed_.load(std::memory_order_acquire) && sessions_.load(std::memory_order_acquire) == 0)) {
      waiting_.store(false, std::memory_order_relaxed);
      return;
    }
    epoch_.wait(epoch, std::memory_order_acquire);
  }

  // No session will start any more.
  void Close() {
    closed_.store(true, std::memory_order_release);
    Bump();
  }

  // The consumer is gone: producers stop, held items are dropped.
  void Cancel() {
    cancelled_.store(true, std::memory_order_relaxed);
    Bump();
  }

  // Items the buffer can hold at most (lanes in use x lane capacity); for tests and reports.
  std::size_t bound() const { return lanes_used_.load() * capacity_; }

 private:
  struct alignas(64) Lane {
    std::atomic<bool> in_use{false};
    std::unique_ptr<T[]> slots;
    alignas(64) std::atomic<std::uint64_t> tail{0};  // published by the producer
    alignas(64) std::atomic<std::uint64_t> head{0};  // advanced by the consumer
  };

  static std::size_t RoundUp(std::size_t n) {
    std::size_t c = kPublishEvery;
    while (c < n) c <<= 1;
    return c;
  }

  Lane* ClaimLane() {
    sessions_.fetch_add(1, std::memory_order_acq_rel);
    // Try this thread's lane first, so a thread keeps writing the same memory.
    thread_local std::size_t hint = 0;
    for (;;) {
      const std::size_t used = lanes_used_.load(std::memory_order_acquire);
      for (std::size_t k = 0; k < used; ++k) {
        Lane& lane = lanes_[(hint + k) % used];
        bool expected = false;
        if (!lane.in_use.load(std::memory_order_relaxed) &&
            lane.in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
          hint = static_cast<std::size_t>(&lane - lanes_);
          return &lane;
        }
      }
      if (used < kMaxLanes) {
        // Open lane `used`: whoever wins its in_use flag owns it and makes it visible. `used` may be stale
        // by now (the lane opened, used and released meanwhile, later lanes opened too), so lanes_used_
        // only ever grows: a plain store of used + 1 could hide a later lane whose producer is writing,
        // and once its ring filled, that producer would wait forever (seen: a hung stress test).
        Lane& lane = lanes_[used];
        bool expected = false;
        if (lane.in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
          if (lane.slots == nullptr) {  // not zeroed: every slot is written before it is read
            lane.slots = std::make_unique_for_overwrite<T[]>(capacity_);
          }
          internal::RaiseTo(lanes_used_, used + 1);
          hint = used;
          return &lane;
        }
        continue;
      }
      std::this_thread::yield();  // every lane busy: only when more sessions than lanes are open at once
    }
  }

  void ReleaseLane(Lane* lane) {
    lane->in_use.store(false, std::memory_order_release);
    sessions_.fetch_sub(1, std::memory_order_acq_rel);
    Bump();  // a consumer waiting for the last session to end must re-check
  }

  bool AnyPublished() const {
    const std::size_t lanes = lanes_used_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < lanes; ++i) {
      if (lanes_[i].tail.load(std::memory_order_seq_cst) != lanes_[i].head.load(std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void WakeConsumer() {
    if (waiting_.load(std::memory_order_seq_cst) && waiting_.exchange(false, std::memory_order_seq_cst)) {
      epoch_.fetch_add(1, std::memory_order_release);
      epoch_.notify_one();
    }
  }

  void Bump() {
    waiting_.store(false, std::memory_order_seq_cst);
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    epoch_.notify_one();
  }

  const std::size_t capacity_;
  const std::uint64_t mask_;
  Lane lanes_[kMaxLanes];
  std::atomic<std::size_t> lanes_used_{0};
  std::atomic<int> sessions_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> waiting_{false};
  std::atomic<std::uint32_t> epoch_{0};
};

}  // namespace squatstream::fanin

#endif  // SQUATSTREAM_BENCH_LANE_BUFFER_H_
