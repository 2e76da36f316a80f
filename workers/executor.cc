#include "workers/executor.h"

#include <algorithm>

namespace squatstream::workers {

Executor::Executor(int threads) : work_(asio::make_work_guard(io_)) {
  const int n = std::max(1, threads);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
}

Executor::~Executor() { Join(); }

void Executor::Join() {
  work_.reset();  // run() returns once the queued work is done
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

}  // namespace squatstream::workers
