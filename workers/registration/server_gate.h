// Politeness towards each registry server (RDAP host or WHOIS server): at most `max_concurrent` requests at
// once, at most `rate_per_second` started per second (a token bucket of one second's worth), and a pause
// after the server pushed back — its Retry-After on HTTP 429, or an exponential backoff (1 s, 2 s, 4 s ...
// up to `max_backoff`) after refused connections and server errors. Requests wait their turn: the streams
// waiting for a server take turns (LookupInput::stream), each stream's requests in order — so one stream
// with thousands of names under one registry delays another stream's request by one turn, not its queue.
// With shared limiters (workers/net/shared_limits.h: Redis, every replica's), a request also takes a place of
// "registry:<server>" (max_concurrent, leased) and a unit of its rate (one per 1/rate_per_second, a burst of
// one: at most the rate in any 1-s window, over every replica); when they refuse, the server's timer is armed
// for when they say (no polling loop), and the turns stay as they are.
// Strand-only: every call from the one strand given.
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_SERVER_GATE_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_SERVER_GATE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "workers/net/shared_limits.h"

namespace squatstream::workers::registration {

struct GateOptions {
  double rate_per_second = 2;
  int max_concurrent = 2;
  std::chrono::seconds max_backoff{60};
  // How long a shared place is held at most (a replica that died frees it then): a little above the request
  // timeout.
  std::chrono::milliseconds lease{std::chrono::seconds(35)};
};

enum class GateOutcome { kOk, kThrottled, kFailed };

class ServerGate {
 public:
  using Clock = std::chrono::steady_clock;
  // `rate` and `concurrency` (may be null: this gate's own bucket and count only) are asked in addition to
  // the gate's own limits, from the strand; they must outlive the gate (shared ownership).
  ServerGate(asio::any_io_executor strand, GateOptions options, std::shared_ptr<net::RateLimiter> rate = nullptr,
             std::shared_ptr<net::ConcurrencyLimiter> concurrency = nullptr);

  // Runs `go` (on the strand, never inline) when `server` may be asked: a slot and a token are taken then,
  // and Release must follow. `go(waited)` says whether it had to queue. A request whose `*abandoned` is
  // true by its turn is dropped without taking anything.
  void Acquire(const std::string& server, std::uint64_t stream, std::shared_ptr<bool> abandoned,
               absl::AnyInvocable<void(bool) &&> go);
  // Gives the slot back; kThrottled pauses the server for `retry_after` (at least the backoff), kFailed
  // backs off exponentially, kOk resets the backoff.
  void Release(const std::string& server, GateOutcome outcome, std::chrono::seconds retry_after);

  // Drops every waiting request (their `go` never runs) and cancels the timers: at shutdown.
  void Shutdown();

  // Requests waiting, over every server (for a gauge).
  std::size_t waiting() const { return waiting_; }

 private:
  struct Waiter {
    std::shared_ptr<bool> abandoned;
    absl::AnyInvocable<void(bool) &&> go;
    bool queued;
  };
  struct Server {
    explicit Server(const asio::any_io_executor& ex) : timer(ex) {}
    double tokens = 1;
    Clock::time_point refilled = Clock::now();
    int in_flight = 0;
    int failures = 0;
    Clock::time_point paused_until{};
    absl::flat_hash_map<std::uint64_t, std::deque<Waiter>> queues;  // by stream
    std::deque<std::uint64_t> turns;                                // the streams with waiters, next first
    std::size_t queued = 0;                                         // waiters over every stream
    asio::steady_timer timer;
    bool timer_armed = false;
    std::vector<std::string> holders;  // the shared places held by the requests in flight
  };
  void Pump(const std::string& name, Server& s);
  // Pumps again at `ready` (unless the timer is armed already).
  void ArmTimer(const std::string& name, Server& s, Clock::time_point ready);
  // Asks the shared limiters for one request to `name`; false (nothing held, the timer armed) when they
  // refuse. `*holder` is the place taken ("" without a concurrency limiter).
  bool TakeShared(const std::string& name, Server& s, Clock::time_point now, std::string* holder);
  // Drops the abandoned waiters at the head of the next stream's queue (and streams left empty); false when
  // no one waits.
  bool SkipAbandoned(Server& s);

  asio::any_io_executor strand_;
  GateOptions options_;
  std::shared_ptr<net::RateLimiter> rate_;
  std::shared_ptr<net::ConcurrencyLimiter> concurrency_;
  absl::flat_hash_map<std::string, std::unique_ptr<Server>> servers_;
  std::size_t waiting_ = 0;
};

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_SERVER_GATE_H_
