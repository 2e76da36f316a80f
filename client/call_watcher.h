// The thread that ends a streaming call from the outside: SIGINT (Ctrl-C) cancels the call (a second SIGINT
// ends the process at once, exit 130), and so does the server's silence for longer than the idle timeout.
// Both the scan (client/main.cc) and `watch events --follow` (client/watch_cli.cc) run their stream under one.
#ifndef SQUATSTREAM_CLIENT_CALL_WATCHER_H_
#define SQUATSTREAM_CLIENT_CALL_WATCHER_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/time/time.h"
#include "grpcpp/client_context.h"

namespace squatstream::client {

// SIGINT must be blocked in every thread (main blocks it before any other starts, gRPC's included), so that
// only this thread's sigtimedwait takes it. Cancels `context` (which must outlive the watcher) with
// TryCancel. Stop() is awaited (the destructor calls it).
class CallWatcher {
 public:
  // `idle_timeout` 0: never idle. `signals`: the set holding SIGINT that main blocked.
  CallWatcher(grpc::ClientContext* context, absl::Duration idle_timeout, const sigset_t& signals);
  ~CallWatcher();
  CallWatcher(const CallWatcher&) = delete;
  CallWatcher& operator=(const CallWatcher&) = delete;

  // A message came: the idle clock starts again. Any thread.
  void Touch();
  // Ends the thread and waits for it. Idempotent.
  void Stop();
  bool interrupted() const { return interrupted_.load(); }
  bool idle_timed_out() const { return idle_timed_out_.load(); }

 private:
  void Run();

  grpc::ClientContext* const context_;
  const absl::Duration idle_timeout_;
  const sigset_t signals_;
  std::atomic<std::int64_t> last_message_ns_{0};
  std::atomic<bool> done_{false}, interrupted_{false}, idle_timed_out_{false};
  std::thread thread_;
};

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_CALL_WATCHER_H_
