#include "workers/registration/server_gate.h"

#include <algorithm>
#include <utility>

#include "asio/post.hpp"

namespace squatstream::workers::registration {

ServerGate::ServerGate(asio::any_io_executor strand, GateOptions options)
    : strand_(std::move(strand)), options_(options) {
  options_.rate_per_second = std::max(options_.rate_per_second, 0.001);
  options_.max_concurrent = std::max(options_.max_concurrent, 1);
}

void ServerGate::Acquire(const std::string& server, std::shared_ptr<bool> abandoned,
                         absl::AnyInvocable<void(bool) &&> go) {
  // Servers are named by registries' answers: forget idle ones (nothing in flight or queued, no pause
  // pending) once there are many, so the table stays bounded.
  constexpr std::size_t kMaxServers = 1024;
  if (servers_.size() >= kMaxServers && !servers_.contains(server)) {
    const Clock::time_point now = Clock::now();
    absl::erase_if(servers_, [&](const auto& kv) {
      const Server& s = *kv.second;
      return s.in_flight == 0 && s.queue.empty() && !s.timer_armed && s.paused_until <= now;
    });
  }
  auto& slot = servers_[server];
  if (slot == nullptr) slot = std::make_unique<Server>(strand_);
  Server& s = *slot;
  const bool must_queue = !s.queue.empty() || s.in_flight >= options_.max_concurrent;
  s.queue.push_back(Waiter{std::move(abandoned), std::move(go), must_queue});
  ++waiting_;
  Pump(server, s);
}

void ServerGate::Release(const std::string& server, GateOutcome outcome, std::chrono::seconds retry_after) {
  auto it = servers_.find(server);
  if (it == servers_.end()) return;
  Server& s = *it->second;
  s.in_flight = std::max(0, s.in_flight - 1);
  const Clock::time_point now = Clock::now();
  if (outcome == GateOutcome::kOk) {
    s.failures = 0;
  } else {
    ++s.failures;
    const auto backoff =
        std::min<std::chrono::seconds>(options_.max_backoff, std::chrono::seconds(1LL << std::min(s.failures - 1, 16)));
    // A server's own Retry-After is honoured as given (the HTTP client caps it at an hour); our backoff at
    // max_backoff.
    const auto pause = outcome == GateOutcome::kThrottled ? std::max(backoff, retry_after) : backoff;
    s.paused_until = std::max(s.paused_until, now + pause);
  }
  Pump(server, s);
}

void ServerGate::Shutdown() {
  for (auto& [name, server] : servers_) {
    server->queue.clear();
    server->timer.cancel();
  }
  waiting_ = 0;
}

void ServerGate::Pump(const std::string& name, Server& s) {
  for (;;) {
    while (!s.queue.empty() && *s.queue.front().abandoned) {
      s.queue.pop_front();
      --waiting_;
    }
    if (s.queue.empty() || s.in_flight >= options_.max_concurrent) return;
    const Clock::time_point now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - s.refilled).count();
    s.refilled = now;
    s.tokens = std::min(std::max(1.0, options_.rate_per_second), s.tokens + elapsed * options_.rate_per_second);
    Clock::time_point ready = now;
    if (now < s.paused_until) ready = s.paused_until;
    if (s.tokens < 1) {
      const auto need = std::chrono::duration<double>((1 - s.tokens) / options_.rate_per_second);
      ready = std::max(ready, now + std::chrono::duration_cast<Clock::duration>(need));
    }
    if (ready > now) {
      if (s.timer_armed) return;
      s.timer_armed = true;
      s.timer.expires_at(ready);
      s.timer.async_wait([this, name](std::error_code ec) {
        if (ec) return;
        auto it = servers_.find(name);
        if (it == servers_.end()) return;
        it->second->timer_armed = false;
        for (Waiter& w : it->second->queue) w.queued = true;  // they waited for the pause or a token
        Pump(name, *it->second);
      });
      return;
    }
    s.tokens -= 1;
    ++s.in_flight;
    Waiter w = std::move(s.queue.front());
    s.queue.pop_front();
    --waiting_;
    asio::post(strand_, [go = std::move(w.go), queued = w.queued]() mutable { std::move(go)(queued); });
  }
}

}  // namespace squatstream::workers::registration
