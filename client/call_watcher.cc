#include "client/call_watcher.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "client/cli.h"

namespace squatstream::client {
namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CallWatcher::CallWatcher(grpc::ClientContext* context, absl::Duration idle_timeout, const sigset_t& signals)
    : context_(context), idle_timeout_(idle_timeout), signals_(signals) {
  Touch();
  thread_ = std::thread([this] { Run(); });
}

CallWatcher::~CallWatcher() { Stop(); }

void CallWatcher::Touch() { last_message_ns_.store(NowNs(), std::memory_order_relaxed); }

void CallWatcher::Stop() {
  done_.store(true);
  if (thread_.joinable()) thread_.join();
}

void CallWatcher::Run() {
  const timespec tick{.tv_sec = 0, .tv_nsec = 100'000'000};
  while (!done_.load()) {
    if (sigtimedwait(&signals_, nullptr, &tick) == SIGINT) {
      if (interrupted_.exchange(true)) {
        static constexpr char kAgain[] = "\nsquatstream: interrupted again: exiting now\n";
        (void)!write(STDERR_FILENO, kAgain, sizeof(kAgain) - 1);
        std::_Exit(static_cast<int>(ExitCode::kInterrupted));
      }
      context_->TryCancel();
      continue;
    }
    if (idle_timeout_ > absl::ZeroDuration() && !idle_timed_out_.load() && !interrupted_.load() &&
        absl::Nanoseconds(NowNs() - last_message_ns_.load(std::memory_order_relaxed)) > idle_timeout_) {
      idle_timed_out_.store(true);
      context_->TryCancel();
    }
  }
}

}  // namespace squatstream::client
