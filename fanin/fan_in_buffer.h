// FanInBuffer: many producers append, one consumer takes everything at once by swapping vectors.
//
// The design from ../shared/seed/fan-in-blog.txt (a Mutex<Vec> the consumer swaps for an empty one),
// bounded: at most `capacity` units are held or reserved, so memory stays bounded however slowly the
// consumer drains. An item weighs one unit unless the buffer is given a weight function (the pipeline's
// records weigh what their bytes take in the memory budget's slots); a reservation is of any number of units
// (a candidate in flight reserves what its record may grow to), and a filled one is charged its item's weight. Producer
// threads may block in Push; asynchronous producers (which must not block an executor thread) reserve a slot with
// TryReserve and are called back when space frees. Producers with many items hand them over in batches (PushAll,
// PushReservedAll): one lock acquisition per batch.
//
// Lock shape: one Mutex guards the vector and counters; every critical section is a push_back, a
// batch's insert, a swap or a counter update, so producers hold it for nanoseconds. The Mutex is base/mutex.h's,
// a std::mutex underneath, so the ThreadSanitizer preset instruments all of this target. Callbacks run
// outside that lock, under a second lock per callback that only its setter and ClearCallbacks also take, so
// that after ClearCallbacks returns no callback is running or will run.
#ifndef SQUATSTREAM_FANIN_FAN_IN_BUFFER_H_
#define SQUATSTREAM_FANIN_FAN_IN_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"

namespace squatstream::fanin {

template <typename T>
class FanInBuffer {
 public:
  struct DrainResult {
    std::size_t taken = 0;         // items moved out by this call
    std::size_t depth_before = 0;  // items held just before this call
    bool finished = false;         // closed (not cancelled), and nothing is left or reserved
  };

  // An item's weight in units (at least 1 counted); thread-safe (producers and the consumer call it).
  using Weigh = std::function<std::size_t(const T& item)>;

  // `capacity` (at least 1) bounds the units held plus the units reserved; `weigh` null: one per item.
  explicit FanInBuffer(std::size_t capacity, Weigh weigh = nullptr)
      : capacity_(std::max<std::size_t>(1, capacity)), weigh_(std::move(weigh)) {}

  FanInBuffer(const FanInBuffer&) = delete;
  FanInBuffer& operator=(const FanInBuffer&) = delete;

  // Callbacks, both optional. The data callback runs once after a Drain that took nothing, when enough
  // items arrived (one, or the Drain's min_items), the producer flushed, or the buffer closed; the space
  // callback runs once after a TryReserve that failed for lack of space, when space frees or the buffer is
  // cancelled. They run on the thread that caused them, possibly
  // inside Push, PushReserved, Close, Drain, ReleaseReservation or Cancel, so they must not block. The space
  // callback must not call back into the buffer; the data callback may (it usually drains).
  void SetDataCallback(std::function<void()> on_data) {
    MutexLock l(data_cb_mu_);
    on_data_ = std::move(on_data);
  }
  void SetSpaceCallback(std::function<void()> on_space) {
    MutexLock l(space_cb_mu_);
    on_space_ = std::move(on_space);
  }

  // Optional: told every change of the number of items held, as a signed delta (+n when items are pushed,
  // -n when drained or discarded by Cancel or the destructor), so that a gauge summed over buffers reads
  // the items held at every moment — including a consumer that stopped draining. Deltas are reported
  // outside the lock, possibly from several threads at once and in any order: the observer must be
  // thread-safe and order-insensitive (an atomic add). Set it before the buffer is used; it must outlive it.
  // It is told the units held too, alongside (held, not reserved: what a reader that stopped reading holds).
  void SetDepthObserver(std::function<void(double items, double units)> on_depth) { on_depth_ = std::move(on_depth); }

  ~FanInBuffer() {
    std::size_t held = 0, units = 0;
    {
      MutexLock l(mu_);
      held = HeldLocked();
      units = items_units_ + spill_units_;
    }
    ReportDepth(-static_cast<double>(held), -static_cast<double>(units));
  }

  // After this returns, no callback is running and none will run.
  void ClearCallbacks() {
    SetDataCallback(nullptr);
    SetSpaceCallback(nullptr);
  }

  // Appends `item`, waiting while the buffer is full. Returns false, dropping the item, once the buffer is
  // cancelled or closed. For producer threads that may block.
  bool Push(T item) {
    bool notify = false;
    const std::size_t units = WeightOf(item);
    {
      MutexLock l(mu_);
      while (!stopped_ && !FitsLocked(units)) space_cv_.Wait(mu_);
      if (stopped_) return false;
      items_units_ += units;
      items_.push_back(std::move(item));
      notify = DataDueLocked();
    }
    ReportDepth(1, static_cast<double>(units));
    if (notify) NotifyData();
    return true;
  }

  // Appends every item of *items in order, waiting while the buffer is full: a batch larger than the free
  // space goes in pieces as space frees. One lock acquisition per piece rather than per item, which is what
  // keeps many producers from queueing on the lock (bench/fanin_bench, docs/BENCHMARKS.md). Returns false
  // once the buffer is cancelled or closed; what was not appended by then is dropped. *items is left empty.
  bool PushAll(std::vector<T>* items) {
    bool appended_all = true;
    std::vector<std::size_t> units(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) units[i] = WeightOf((*items)[i]);
    for (std::size_t next = 0; next < items->size();) {
      bool notify = false;
      std::size_t n = 0;
      std::size_t piece_units = 0;
      {
        MutexLock l(mu_);
        while (!stopped_ && !FitsLocked(units[next])) space_cv_.Wait(mu_);
        if (stopped_) {
          appended_all = false;
          break;
        }
        // This piece: as many as fit (at least the first, which FitsLocked admitted).
        piece_units = units[next];
        n = 1;
        while (next + n < items->size() && UsedLocked() + piece_units + units[next + n] <= capacity_) {
          piece_units += units[next + n++];
        }
        items_units_ += piece_units;
        const auto begin = items->begin() + static_cast<std::ptrdiff_t>(next);
        items_.insert(items_.end(), std::make_move_iterator(begin),
                      std::make_move_iterator(begin + static_cast<std::ptrdiff_t>(n)));
        next += n;
        notify = DataDueLocked();
      }
      ReportDepth(static_cast<double>(n), static_cast<double>(piece_units));
      if (notify) NotifyData();
    }
    items->clear();
    return appended_all;
  }

  // Reserves `units` without blocking. Returns false when they do not fit with `headroom` units left free
  // beside them (then on_space runs once space frees) or the buffer is stopped; an empty buffer admits one
  // reservation of any size, so that a reservation larger than the capacity still goes, alone. A reservation
  // must be filled by PushReserved or released by ReleaseReservation, with its units (in any parts).
  bool TryReserve(std::size_t units = 1, std::size_t headroom = 0) {
    MutexLock l(mu_);
    if (stopped_) return false;
    if (!FitsLocked(units + headroom)) {
      space_waiter_ = true;
      return false;
    }
    reserved_ += units;
    return true;
  }
  // Reserves `units` whether they fit or not (false only once stopped): for a producer that must go on
  // alone — the caller bounds how far past the capacity this takes the buffer.
  bool ForceReserve(std::size_t units) {
    MutexLock l(mu_);
    if (stopped_) return false;
    reserved_ += units;
    return true;
  }

  // Fills a reservation of `reserved_units` made by TryReserve with `item`, charged its weight instead;
  // never blocks. Returns false, dropping the item, once the buffer is cancelled.
  bool PushReserved(T item, std::size_t reserved_units = 1) {
    bool notify = false;
    bool shrank = false;  // the item weighs less than its reservation: space freed
    bool freed = false;   // ... and a TryReserve waits for it
    const std::size_t units = WeightOf(item);
    {
      MutexLock l(mu_);
      reserved_ -= reserved_units;
      if (cancelled_) return false;
      items_units_ += units;
      shrank = units < reserved_units;
      freed = shrank && std::exchange(space_waiter_, false);
      items_.push_back(std::move(item));
      notify = DataDueLocked();
    }
    ReportDepth(1, static_cast<double>(units));
    if (notify) NotifyData();
    if (shrank) space_cv_.NotifyAll();
    if (freed) NotifySpace();
    return true;
  }

  // Fills items->size() reservations of `reserved_units` each (made by TryReserve) at once, in order, under
  // one lock acquisition; never blocks. Returns false, dropping the items, once the buffer is cancelled.
  // *items is left empty.
  bool PushReservedAll(std::vector<T>* items, std::size_t reserved_units = 1) {
    bool notify = false;
    bool appended = false;
    bool shrank = false;
    bool freed = false;
    const std::size_t n = items->size();
    std::size_t units = 0;
    for (const T& item : *items) units += WeightOf(item);
    {
      MutexLock l(mu_);
      reserved_ -= n * reserved_units;
      if (!cancelled_) {
        items_units_ += units;
        items_.insert(items_.end(), std::make_move_iterator(items->begin()), std::make_move_iterator(items->end()));
        notify = DataDueLocked();
        shrank = units < n * reserved_units;
        freed = shrank && std::exchange(space_waiter_, false);
        appended = true;
      }
    }
    items->clear();
    if (appended) ReportDepth(static_cast<double>(n), static_cast<double>(units));
    if (notify) NotifyData();
    if (shrank) space_cv_.NotifyAll();
    if (freed) NotifySpace();
    return appended;
  }

  // The producer has nothing more coming right away: what is held should go now, even below a consumer's
  // min_items (a consumer waiting for it is called back). Until a drain empties the buffer.
  void Flush() {
    bool notify = false;
    {
      MutexLock l(mu_);
      if (HeldLocked() == 0) return;
      flushed_ = true;
      notify = std::exchange(data_waiter_, false);
    }
    if (notify) NotifyData();
  }

  // Gives back a reservation of `units` made by TryReserve without filling it.
  void ReleaseReservation(std::size_t units = 1) {
    bool notify = false;
    {
      MutexLock l(mu_);
      reserved_ -= units;
      notify = std::exchange(space_waiter_, false);
    }
    space_cv_.NotifyAll();  // a release of many units may admit several
    if (notify) NotifySpace();
  }

  // Replaces *out with up to `max_items` items (at least 1), oldest first, weighing at most `max_units`
  // together (but at least one item). When the buffer holds no more than that, this is a swap of the two
  // vectors: *out's storage becomes the buffer's next storage. When it holds more, everything is swapped out
  // at once into a consumer-side vector that later calls take from first, `max_items` at a time (so a call
  // costs O(max_items), whatever the depth). With `min_items`, it
  // takes nothing while fewer are held, unless the producer flushed or the buffer closed: the consumer is
  // called back once there are that many (batches grow while the producer is busy; Flush bounds the wait).
  // One consumer at a time.
  DrainResult Drain(std::vector<T>* out, std::size_t max_items, std::size_t min_items = 1,
                    std::size_t max_units = static_cast<std::size_t>(-1)) {
    out->clear();
    max_items = std::max<std::size_t>(1, max_items);
    min_items = std::clamp<std::size_t>(min_items, 1, std::min(max_items, capacity_));
    DrainResult result;
    bool notify_space = false;
    std::size_t from = 0;  // the slice of spill_ this call takes
    std::size_t count = 0;
    std::size_t taken_units = 0;
    {
      MutexLock l(mu_);
      result.depth_before = HeldLocked();
      if (cancelled_) {
        spill_.clear();  // only the consumer touches spill_'s elements; Cancel only zeroed the count
        spill_pos_ = 0;
      } else if (HeldLocked() < min_items && !stopped_ && !flushed_) {
        // Not enough yet: wait for min_items, a flush or the close.
      } else if (spill_left_ == 0 && items_.size() <= max_items && items_units_ <= max_units) {
        out->swap(items_);
        result.taken = out->size();
        taken_units = items_units_;
        items_units_ = 0;
      } else {
        if (spill_left_ == 0) {
          spill_.clear();  // storage reused: items_ gets spill_'s (empty) vector back
          spill_.swap(items_);
          spill_pos_ = 0;
          spill_left_ = spill_.size();
          spill_units_ = items_units_;
          items_units_ = 0;
        }
        from = spill_pos_;
        // Weighed under the lock (the consumer's elements; at most max_items of them).
        for (const std::size_t limit = std::min(max_items, spill_left_); count < limit; ++count) {
          const std::size_t w = WeightOf(spill_[spill_pos_ + count]);
          if (count > 0 && taken_units + w > max_units) break;
          taken_units += w;
        }
        spill_pos_ += count;
        spill_left_ -= count;
        spill_units_ -= taken_units;
        result.taken = count;
      }
      if (result.taken == 0) {
        // After Cancel the consumer is gone: nothing is finished, and no callback is owed.
        result.finished = stopped_ && !cancelled_ && reserved_ == 0;
        data_waiter_ = !stopped_ || (!cancelled_ && reserved_ > 0);
        data_threshold_ = min_items;
      } else {
        notify_space = std::exchange(space_waiter_, false);
        if (HeldLocked() == 0) flushed_ = false;
      }
    }
    // spill_'s elements belong to the consumer: moved out without the lock.
    if (count > 0) {
      out->reserve(count);
      const auto begin = spill_.begin() + static_cast<std::ptrdiff_t>(from);
      out->insert(out->end(), std::make_move_iterator(begin),
                  std::make_move_iterator(begin + static_cast<std::ptrdiff_t>(count)));
    }
    if (result.taken > 0) {
      ReportDepth(-static_cast<double>(result.taken), -static_cast<double>(taken_units));
      space_cv_.NotifyAll();
    }
    if (notify_space) NotifySpace();
    return result;
  }

  // Producers are done: later pushes fail; the consumer drains what is left and then sees `finished`.
  void Close() {
    bool notify = false;
    {
      MutexLock l(mu_);
      stopped_ = true;
      notify = std::exchange(data_waiter_, false);
    }
    space_cv_.NotifyAll();
    if (notify) NotifyData();
  }

  // The consumer is gone: held items are discarded, pushes fail, blocked producers wake.
  void Cancel() {
    std::vector<T> discarded;
    bool notify = false;
    std::size_t held = 0, held_units = 0;
    {
      MutexLock l(mu_);
      held = HeldLocked();
      held_units = items_units_ + spill_units_;
      stopped_ = true;
      cancelled_ = true;
      discarded.swap(items_);
      spill_left_ = 0;
      items_units_ = 0;
      spill_units_ = 0;  // spill_'s elements are the consumer's: its next Drain (or the destructor) frees them
      notify = std::exchange(space_waiter_, false);
    }
    ReportDepth(-static_cast<double>(held), -static_cast<double>(held_units));
    space_cv_.NotifyAll();
    if (notify) NotifySpace();
  }

  // Items held now. Thread-safe; for metrics and tests.
  std::size_t size() const {
    MutexLock l(mu_);
    return HeldLocked();
  }

  std::size_t capacity() const { return capacity_; }
  // Units held and reserved now. Thread-safe; for metrics and tests.
  std::size_t units() const {
    MutexLock l(mu_);
    return UsedLocked();
  }

 private:
  std::size_t HeldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return items_.size() + spill_left_; }
  std::size_t WeightOf(const T& item) const { return !weigh_ ? 1 : std::max<std::size_t>(1, weigh_(item)); }
  // Whether `units` more fit: within the capacity, or the buffer holds and reserves nothing.
  bool FitsLocked(std::size_t units) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::size_t used = UsedLocked();
    return used == 0 || used + units <= capacity_;
  }
  std::size_t UsedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return items_units_ + spill_units_ + reserved_; }

  // After a push: whether the waiting consumer's callback is due now (and no longer owed).
  bool DataDueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!data_waiter_ || HeldLocked() < data_threshold_) return false;
    data_waiter_ = false;
    return true;
  }

  void ReportDepth(double items, double units) {
    if (on_depth_ && items != 0) on_depth_(items, units);
  }

  void NotifyData() {
    MutexLock l(data_cb_mu_);
    if (on_data_) on_data_();
  }
  void NotifySpace() {
    MutexLock l(space_cb_mu_);
    if (on_space_) on_space_();
  }

  const std::size_t capacity_;
  const Weigh weigh_;
  mutable Mutex mu_;
  CondVar space_cv_;
  std::vector<T> items_ ABSL_GUARDED_BY(mu_);
  std::vector<T> spill_;  // swapped out by a Drain that could not take everything; elements: consumer only
  std::size_t spill_pos_ ABSL_GUARDED_BY(mu_) = 0;       // spill_'s next item to take
  std::size_t spill_left_ ABSL_GUARDED_BY(mu_) = 0;      // spill_'s items not taken yet (held, for the bound)
  std::size_t items_units_ ABSL_GUARDED_BY(mu_) = 0;     // what items_ weigh
  std::size_t spill_units_ ABSL_GUARDED_BY(mu_) = 0;     // what spill_'s items not taken yet weigh
  std::size_t reserved_ ABSL_GUARDED_BY(mu_) = 0;        // units
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;            // closed or cancelled: no more pushes
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;          // consumer gone: reserved pushes are dropped too
  bool data_waiter_ ABSL_GUARDED_BY(mu_) = false;        // a Drain took nothing; on_data owed
  std::size_t data_threshold_ ABSL_GUARDED_BY(mu_) = 1;  // items held that make on_data due
  bool flushed_ ABSL_GUARDED_BY(mu_) = false;            // Flush since the buffer was last emptied
  bool space_waiter_ ABSL_GUARDED_BY(mu_) = false;       // a TryReserve found no space; on_space owed

  std::function<void(double, double)> on_depth_;  // set before use, then read only

  Mutex data_cb_mu_;
  std::function<void()> on_data_ ABSL_GUARDED_BY(data_cb_mu_);
  Mutex space_cb_mu_;
  std::function<void()> on_space_ ABSL_GUARDED_BY(space_cb_mu_);
};

}  // namespace squatstream::fanin

#endif  // SQUATSTREAM_FANIN_FAN_IN_BUFFER_H_
