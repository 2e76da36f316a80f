// WaitFor: the watch tests' wait for a state — polls `done` until it holds or `limit` passed (never a fixed
// sleep standing in for the state).
#ifndef SQUATSTREAM_TESTS_WATCH_WAIT_FOR_H_
#define SQUATSTREAM_TESTS_WATCH_WAIT_FOR_H_

#include <chrono>
#include <functional>
#include <thread>

namespace squatstream::watch::testing {

// True once `done()` held; false when `limit` passed first.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the poll interval, inside the bound
  }
  return true;
}

}  // namespace squatstream::watch::testing

#endif  // SQUATSTREAM_TESTS_WATCH_WAIT_FOR_H_
