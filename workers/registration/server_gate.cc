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

void ServerGate::Acquire(const std::string& server, std::uint64_t stream, std::shared_ptr<bool> abandoned,
                         absl::AnyInvocable<void(bool) &&> go) {
  // Servers are named by registries' answers: forget idle ones (nothing in flight or queued, no pause
  // pending) once there are many, so the table stays bounded.
  constexpr std::size_t kMaxServers = 1024;
  if (servers_.size() >= kMaxServers && !servers_.contains(server)) {
    const Clock::time_point now = Clock::now();
    absl::erase_if(servers_, [&](const auto& kv) {
      const Server& s = *kv.second;
      return s.in_flight == 0 && s.queued == 0 && !s.timer_armed && s.paused_until <= now;
    });
  }
  auto& slot = servers_[server];
  if (slot == nullptr) slot = std::make_unique<Server>(strand_);
  Server& s = *slot;
  const bool must_queue = s.queued > 0 || s.in_flight >= options_.max_concurrent;
  auto [queue, new_stream] = s.queues.try_emplace(stream);
  if (new_stream) s.turns.push_back(stream);
  queue->second.push_back(Waiter{std::move(abandoned), std::move(go), must_queue});
  ++s.queued;
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
    server->queues.clear();
    server->turns.clear();
    server->queued = 0;
    server->timer.cancel();
  }
  waiting_ = 0;
}

bool ServerGate::SkipAbandoned(Server& s) {
  while (!s.turns.empty()) {
    auto queue = s.queues.find(s.turns.front());
    while (!queue->second.empty() && *queue->second.front().abandoned) {
      queue->second.pop_front();
      --s.queued;
      --waiting_;
    }
    if (!queue->second.empty()) return true;
    s.queues.erase(queue);
    s.turns.pop_front();
  }
  return false;
}

void ServerGate::Pump(const std::string& name, Server& s) {
  for (;;) {
    if (!SkipAbandoned(s) || s.in_flight >= options_.max_concurrent) return;
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
        for (auto& [stream, queue] : it->second->queues) {
          for (Waiter& w : queue) w.queued = true;  // they waited for the pause or a token
        }
        Pump(name, *it->second);
      });
      return;
    }
    s.tokens -= 1;
    ++s.in_flight;
    // The next stream's first waiter; the stream goes to the back of the turns if it has more.
    const std::uint64_t stream = s.turns.front();
    s.turns.pop_front();
    auto queue = s.queues.find(stream);
    Waiter w = std::move(queue->second.front());
    queue->second.pop_front();
    if (queue->second.empty()) {
      s.queues.erase(queue);
    } else {
      s.turns.push_back(stream);
    }
    --s.queued;
    --waiting_;
    asio::post(strand_, [go = std::move(w.go), queued = w.queued]() mutable { std::move(go)(queued); });
  }
}

}  // namespace squatstream::workers::registration
