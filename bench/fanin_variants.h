// The fan-in variants the benchmark compares. Each has the same three operations:
//   asio::awaitable<void> Produce(worker, count, emit)  a worker task's body: sends `count` messages
//   bool Receive(std::vector<Msg>* out)                 consumer: blocks until it has at least one message
//                                                       (replacing *out), false once every message was taken
//   void ProducersDone()                                called after the last worker finished
// The production buffers (fanin/fan_in_buffer.h; bench/lane_buffer.h, the per-thread-lanes variant) are wrapped, not
// copied.
#ifndef SQUATSTREAM_BENCH_FANIN_VARIANTS_H_
#define SQUATSTREAM_BENCH_FANIN_VARIANTS_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "asio/any_io_executor.hpp"
#include "asio/async_result.hpp"
#include "asio/awaitable.hpp"
#include "asio/post.hpp"
#include "asio/use_awaitable.hpp"
#include "bench/lane_buffer.h"
#include "concurrentqueue/concurrentqueue.h"
#include "fanin/fan_in_buffer.h"

namespace squatstream::bench {

struct Msg {
  std::uint32_t worker;
  std::uint32_t seq;
};

inline constexpr std::size_t kBound = 1 << 16;  // the bound of every bounded variant, in messages
inline constexpr int kExecutorThreads = 2;      // threads of the executor the worker tasks run on

// A consumer-side wait that producers only pay for when the consumer sleeps: they check one flag (after a
// fence) every `kCheckEvery` messages and when they finish.
class Waker {
 public:
  static constexpr std::uint32_t kCheckEvery = 64;
  // Consumer: call Prepare, re-check for data, then Wait(token) if there was none.
  std::uint32_t Prepare() {
    const std::uint32_t e = epoch_.load(std::memory_order_acquire);
    waiting_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return e;
  }
  void Wait(std::uint32_t token) { epoch_.wait(token, std::memory_order_acquire); }
  void Cancel() { waiting_.store(false, std::memory_order_relaxed); }
  // Producer (or anyone who made data or completion visible).
  void Wake() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiting_.load(std::memory_order_relaxed) && waiting_.exchange(false, std::memory_order_relaxed)) {
      epoch_.fetch_add(1, std::memory_order_release);
      epoch_.notify_one();
    }
  }

 private:
  std::atomic<bool> waiting_{false};
  std::atomic<std::uint32_t> epoch_{0};
};

// (1) The mpsc-channel analogue: mutex + condition variable, one message per receive.
class Channel {
 public:
  explicit Channel(std::size_t /*workers*/) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    for (std::uint32_t s = 0; s < count; ++s) {
      std::unique_lock<std::mutex> l(mu_);
      queue_.push_back({worker, s});
      if (waiting_) {
        waiting_ = false;
        l.unlock();
        cv_.notify_one();
      }
    }
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    out->clear();
    std::unique_lock<std::mutex> l(mu_);
    while (queue_.empty() && !done_) {
      waiting_ = true;
      cv_.wait(l);
    }
    if (queue_.empty()) return false;
    out->push_back(queue_.front());
    queue_.pop_front();
    return true;
  }
  void ProducersDone() {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Msg> queue_;
  bool waiting_ = false;
  bool done_ = false;
};

// (2) The seed's design: std::mutex + vector, the consumer swaps the whole vector. Unbounded, as in the seed.
// (3) The same with absl::Mutex.
template <typename MutexT>
class SwapBuffer {
 public:
  explicit SwapBuffer(std::size_t /*workers*/) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    for (std::uint32_t s = 0; s < count; ++s) {
      bool wake;
      {
        std::lock_guard<MutexT> l(mu_);
        items_.push_back({worker, s});
        wake = std::exchange(waiting_, false);
      }
      if (wake) waker_.Wake();
    }
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    out->clear();
    for (;;) {
      std::uint32_t token = 0;
      {
        std::lock_guard<MutexT> l(mu_);
        out->swap(items_);
        if (!out->empty()) return true;
        if (done_) return false;
        waiting_ = true;
        token = waker_.Prepare();
      }
      waker_.Wait(token);
    }
  }
  void ProducersDone() {
    {
      std::lock_guard<MutexT> l(mu_);
      done_ = true;
    }
    waker_.Wake();
  }

 private:
  MutexT mu_;
  std::vector<Msg> items_;
  bool waiting_ = false;
  bool done_ = false;
  Waker waker_;
};
using StdMutexSwap = SwapBuffer<std::mutex>;

class AbslMutexAdapter {  // absl::Mutex with the lower-case names std::lock_guard wants
 public:
  void lock() { mu_.Lock(); }
  void unlock() { mu_.Unlock(); }

 private:
  absl::Mutex mu_;
};
using AbslMutexSwap = SwapBuffer<AbslMutexAdapter>;

// (4) An executor-aware async lock, the analogue of tokio::sync::Mutex: a task that finds it held is
// suspended and queued; unlock resumes the next waiter through its executor.
class AsyncMutex {
 public:
  template <typename CompletionToken>
  auto AsyncLock(asio::any_io_executor executor, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void()>(
        [this, executor](auto handler) {
          std::unique_lock<std::mutex> l(state_mu_);
          if (!locked_) {
            locked_ = true;
            l.unlock();
            std::move(handler)();  // uncontended: continue at once
            return;
          }
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          waiters_.push_back([shared, executor] { asio::post(executor, [shared] { std::move (*shared)(); }); });
        },
        token);
  }
  // For the consumer thread, which is not a task: waits on a condition variable for its turn.
  void LockBlocking() {
    std::unique_lock<std::mutex> l(state_mu_);
    if (!locked_) {
      locked_ = true;
      return;
    }
    bool granted = false;
    std::condition_variable cv;
    waiters_.push_back([&] {
      std::lock_guard<std::mutex> g(state_mu_);
      granted = true;
      cv.notify_one();
    });
    cv.wait(l, [&] { return granted; });
  }
  void Unlock() {
    std::unique_lock<std::mutex> l(state_mu_);
    if (waiters_.empty()) {
      locked_ = false;
      return;
    }
    auto next = std::move(waiters_.front());  // ownership passes to the next waiter; locked_ stays true
    waiters_.pop_front();
    l.unlock();
    next();
  }

 private:
  std::mutex state_mu_;
  bool locked_ = false;
  std::deque<std::function<void()>> waiters_;
};

class AsyncLockSwap {
 public:
  explicit AsyncLockSwap(std::size_t /*workers*/) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    auto executor = co_await asio::this_coro::executor;
    for (std::uint32_t s = 0; s < count; ++s) {
      co_await mu_.AsyncLock(executor, asio::use_awaitable);
      items_.push_back({worker, s});
      mu_.Unlock();
      if ((s & (Waker::kCheckEvery - 1)) == 0) waker_.Wake();
    }
    waker_.Wake();
  }
  bool Receive(std::vector<Msg>* out) {
    out->clear();
    for (;;) {
      const std::uint32_t token = waker_.Prepare();
      mu_.LockBlocking();
      out->swap(items_);
      mu_.Unlock();
      if (!out->empty()) {
        waker_.Cancel();
        return true;
      }
      if (done_.load(std::memory_order_acquire)) {
        mu_.LockBlocking();  // a last look: everything pushed before ProducersDone is here
        out->swap(items_);
        mu_.Unlock();
        return !out->empty();
      }
      waker_.Wait(token);
    }
  }
  void ProducersDone() {
    done_.store(true, std::memory_order_release);
    waker_.Wake();
  }

 private:
  AsyncMutex mu_;
  std::vector<Msg> items_;  // guarded by mu_
  std::atomic<bool> done_{false};
  Waker waker_;
};

// (5) Lock-free swap by atomic pointer exchange (the seed's AtomicPtr idea): producers push nodes onto an
// intrusive stack with compare-and-swap; the consumer exchanges the head for null, taking everything at
// once, and reverses it into arrival order. Each worker's nodes come from its own block, allocated once.
class AtomicExchange {
 public:
  explicit AtomicExchange(std::size_t workers) : blocks_(workers) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    blocks_[worker] = std::make_unique<Node[]>(count);
    Node* nodes = blocks_[worker].get();
    for (std::uint32_t s = 0; s < count; ++s) {
      Node* n = &nodes[s];
      n->msg = {worker, s};
      n->next = head_.load(std::memory_order_relaxed);
      while (!head_.compare_exchange_weak(n->next, n, std::memory_order_release, std::memory_order_relaxed)) {
      }
      if ((s & (Waker::kCheckEvery - 1)) == 0) waker_.Wake();
    }
    waker_.Wake();
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    out->clear();
    for (;;) {
      const std::uint32_t token = waker_.Prepare();
      const bool done = done_.load(std::memory_order_acquire);
      Node* list = head_.exchange(nullptr, std::memory_order_acquire);
      if (list != nullptr) {
        waker_.Cancel();
        for (Node* n = list; n != nullptr; n = n->next) out->push_back(n->msg);
        std::reverse(out->begin(), out->end());
        return true;
      }
      if (done) return false;
      waker_.Wait(token);
    }
  }
  void ProducersDone() {
    done_.store(true, std::memory_order_release);
    waker_.Wake();
  }

 private:
  struct Node {
    Msg msg;
    Node* next;
  };
  std::atomic<Node*> head_{nullptr};
  std::vector<std::unique_ptr<Node[]>> blocks_;  // one per worker, each written only by its worker
  std::atomic<bool> done_{false};
  Waker waker_;
};

// (6) Per-thread lanes: squatstream's LaneBuffer. A worker task never suspends while it produces (a full lane
// makes it yield its thread), so at most one session per executor thread is open at a time: kExecutorThreads
// lanes, each kBound / kExecutorThreads messages, the same total bound as every other bounded variant.
// Measured (interleaved best of 4, W = 256/1024/8192): 32,768-message lanes ran 1.3x the 4,096-message
// lanes they replaced, and taking everything per receive beat capping a receive at 8,192 or 16,384.
inline constexpr std::size_t kLaneCapacity = kBound / kExecutorThreads;
class Lanes {
 public:
  explicit Lanes(std::size_t /*workers*/) : buffer_(kLaneCapacity) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    fanin::LaneBuffer<Msg>::Producer producer(buffer_);
    for (std::uint32_t s = 0; s < count; ++s) producer.Push({worker, s});
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    for (;;) {
      auto r = buffer_.Drain(out, SIZE_MAX);
      if (r.taken > 0) return true;
      if (r.finished) return false;
      buffer_.WaitForData();
    }
  }
  void ProducersDone() { buffer_.Close(); }
  std::size_t bound() const { return buffer_.bound(); }

 private:
  fanin::LaneBuffer<Msg> buffer_;
};

// (7) moodycamel::ConcurrentQueue (Debian libconcurrentqueue-dev) with a producer token per worker and bulk
// dequeue: the outside reference. Unbounded.
class Moodycamel {
 public:
  explicit Moodycamel(std::size_t /*workers*/) {}
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    moodycamel::ProducerToken token(queue_);
    for (std::uint32_t s = 0; s < count; ++s) {
      queue_.enqueue(token, Msg{worker, s});
      if ((s & (Waker::kCheckEvery - 1)) == 0) waker_.Wake();
    }
    waker_.Wake();
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    out->resize(kBulk);
    for (;;) {
      const std::uint32_t token = waker_.Prepare();
      const bool done = done_.load(std::memory_order_acquire);
      const std::size_t n = queue_.try_dequeue_bulk(out->begin(), kBulk);
      if (n > 0) {
        waker_.Cancel();
        out->resize(n);
        return true;
      }
      if (done) {
        out->clear();
        return false;
      }
      waker_.Wait(token);
    }
  }
  void ProducersDone() {
    done_.store(true, std::memory_order_release);
    waker_.Wake();
  }

 private:
  static constexpr std::size_t kBulk = 1 << 16;
  moodycamel::ConcurrentQueue<Msg> queue_;
  std::atomic<bool> done_{false};
  Waker waker_;
};

// The production FanInBuffer (bounded std::mutex + swap) that squatstreamd's streams use today.
class ProductionFanIn {
 public:
  explicit ProductionFanIn(std::size_t /*workers*/) : buffer_(kBound) {
    buffer_.SetDataCallback([this] { waker_.Wake(); });
  }
  asio::awaitable<void> Produce(std::uint32_t worker, std::uint32_t count) {
    // A producer hands its items over kStage at a time (PushAll: one lock acquisition per batch).
    std::vector<Msg> staged;
    staged.reserve(kStage);
    for (std::uint32_t s = 0; s < count; ++s) {
      staged.push_back({worker, s});
      if (staged.size() == kStage) buffer_.PushAll(&staged);
    }
    buffer_.PushAll(&staged);
    co_return;
  }
  bool Receive(std::vector<Msg>* out) {
    for (;;) {
      const std::uint32_t token = waker_.Prepare();
      auto r = buffer_.Drain(out, SIZE_MAX);  // arms the data callback when empty
      if (r.taken > 0) {
        waker_.Cancel();
        return true;
      }
      if (r.finished) return false;
      waker_.Wait(token);
    }
  }
  void ProducersDone() { buffer_.Close(); }
  std::size_t bound() const { return kBound; }

 private:
  static constexpr std::size_t kStage = 256;
  Waker waker_;  // before buffer_: the buffer's callback uses it
  fanin::FanInBuffer<Msg> buffer_;
};

}  // namespace squatstream::bench

#endif  // SQUATSTREAM_BENCH_FANIN_VARIANTS_H_
