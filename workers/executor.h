// Executor: the asio io_context that runs every enrichment lookup, and the threads that run it.
//
// Lookups are asynchronous operations (timers for the stub enrichers, sockets for real ones) on this
// context, so thousands can be in flight on a couple of threads. The destructor is the awaited stop: it
// lets queued work finish (callers cancel their operations first) and joins the threads.
#ifndef SQUATSTREAM_WORKERS_EXECUTOR_H_
#define SQUATSTREAM_WORKERS_EXECUTOR_H_

#include <optional>
#include <thread>
#include <vector>

#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"

namespace squatstream::workers {

class Executor {
 public:
  // Starts `threads` threads (at least one) running the context.
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Lets queued work finish and joins the threads, keeping the context (so that I/O objects made on it can
  // still be destroyed after their last handler ran). Idempotent; the destructor calls it.
  void Join();

  // The context, for creating strands and I/O objects. Thread-safe.
  asio::io_context& context() { return io_; }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_EXECUTOR_H_
