// The project's one mutex type, its scoped lock and its condition variable.
//
// Why one type of our own: clang's -Wthread-safety checks ABSL_GUARDED_BY only against a mutex whose lock
// and unlock carry the capability annotations — libstdc++'s std::mutex carries none, so annotations on it
// were comments — and ThreadSanitizer sees only what is instrumented: Debian's Abseil is not, so an
// absl::Mutex is invisible to the tsan preset. Mutex is a std::mutex (TSan sees it) with the annotations
// (clang checks them; the clang preset builds with -Wthread-safety -Werror). Every lock in the project is
// one of these; why each is shaped as it is is said once, beside the state it guards.
#ifndef SQUATSTREAM_BASE_MUTEX_H_
#define SQUATSTREAM_BASE_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace squatstream {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A condition variable over a Mutex: Wait releases it while blocked and holds it again on return (which
// may be spurious: callers loop on their condition, which clang then checks under the lock).
class CondVar {
 public:
  void Wait(Mutex& mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's MutexLock unlocks it
  }
  // Waits until notified or `timeout` passed (spurious wake-ups too: callers re-check their state).
  void WaitFor(Mutex& mu, std::chrono::steady_clock::duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu.mu_, std::adopt_lock);
    cv_.wait_for(lock, timeout);
    lock.release();
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace squatstream

#endif  // SQUATSTREAM_BASE_MUTEX_H_
