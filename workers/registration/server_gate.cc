#include "workers/registration/server_gate.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "asio/post.hpp"

namespace squatstream::workers::registration {

ServerGate::ServerGate(asio::any_io_executor strand, GateOptions options, std::shared_ptr<net::RateLimiter> rate,
                       std::shared_ptr<net::ConcurrencyLimiter> concurrency)
    : strand_(std::move(strand)), options_(options), rate_(std::move(rate)), concurrency_(std::move(concurrency)) {
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
  if (!s.holders.empty()) {
    // The requests in flight to one server are alike: any one of their places goes back.
    concurrency_->Release("registry:" + server, s.holders.back());
    s.holders.pop_back();
  }
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
    for (const std::string& holder : server->holders) concurrency_->Release("registry:" + name, holder);
    server->holders.clear();
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
      ArmTimer(name, s, ready);
      return;
    }
    std::string holder;
    if (!TakeShared(name, s, now, &holder)) return;
    if (!holder.empty()) s.holders.push_back(std::move(holder));
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

void ServerGate::ArmTimer(const std::string& name, Server& s, Clock::time_point ready) {
  if (s.timer_armed) return;
  s.timer_armed = true;
  s.timer.expires_at(ready);
  s.timer.async_wait([this, name](std::error_code ec) {
    if (ec) return;
    auto it = servers_.find(name);
    if (it == servers_.end()) return;
    it->second->timer_armed = false;
    for (auto& [stream, queue] : it->second->queues) {
      for (Waiter& w : queue) w.queued = true;  // they waited for the pause, a token or a shared limit
    }
    Pump(name, *it->second);
  });
}

bool ServerGate::TakeShared(const std::string& name, Server& s, Clock::time_point now, std::string* holder) {
  if (rate_ == nullptr && concurrency_ == nullptr) return true;
  // Another replica's requests hold the places: ask again after a while (a release there is not seen here).
  constexpr auto kPlacesBusyRetry = std::chrono::milliseconds(100);
  const std::string key = "registry:" + name;
  if (concurrency_ != nullptr) {
    std::string h = net::UniqueHolder();
    if (!concurrency_->TryAcquire(key, options_.max_concurrent, h, absl::FromChrono(options_.lease))) {
      ArmTimer(name, s, now + kPlacesBusyRetry);
      return false;
    }
    *holder = std::move(h);
  }
  if (rate_ != nullptr) {
    // A burst of one: one request per 1/rate, so no 1-s window holds more than the rate, over every replica.
    const net::RateDecision decision = rate_->Take(key, 1, absl::Seconds(1) / options_.rate_per_second);
    if (!decision.allowed) {
      if (!holder->empty()) concurrency_->Release(key, std::exchange(*holder, std::string()));
      const absl::Duration wait =
          std::clamp(decision.retry_after, absl::Milliseconds(1), absl::Minutes(1));  // infinite: never here
      ArmTimer(name, s, now + absl::ToChronoNanoseconds(wait));
      return false;
    }
  }
  return true;
}

}  // namespace squatstream::workers::registration
