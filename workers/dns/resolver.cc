#include "workers/dns/resolver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asio/bind_executor.hpp"
#include "asio/post.hpp"

namespace squatstream::workers::dns {
namespace {

constexpr int kClassIn = 1;
constexpr RrType kTypes[] = {RrType::kA,  RrType::kNs,  RrType::kCname, RrType::kSoa,
                             RrType::kMx, RrType::kTxt, RrType::kAaaa};
constexpr const char* kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                   "NOTIMP",  "REFUSED", "TIMEOUT",  "ERROR"};

absl::Status AresFailure(int status) {
  switch (status) {
    case ARES_ETIMEOUT:
      return absl::DeadlineExceededError("no answer in time");
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return absl::CancelledError("query cancelled");
    default:
      return absl::UnavailableError(absl::StrCat("DNS query failed: ", ares_strerror(status)));
  }
}

std::string CacheKey(const std::string& name, RrType type) { return absl::StrCat(static_cast<int>(type), "/", name); }

// What a try tells the pacing: a response (whatever its rcode, but for the two a busy resolver gives) is an
// answer; so is a malformed one (the zone's doing, not the resolver's load).
Outcome TryOutcome(const QueryResult& r) {
  if (r.response.ok()) {
    if (r.response->rcode == kServFail) return Outcome::kServerFailure;
    if (r.response->rcode == kRefused) return Outcome::kRefusal;
    return Outcome::kAnswered;
  }
  if (absl::IsDeadlineExceeded(r.response.status())) return Outcome::kTimeout;
  if (absl::IsInvalidArgument(r.response.status())) return Outcome::kAnswered;
  return Outcome::kError;
}

}  // namespace

// One c-ares socket watched by asio. The descriptor is released (never closed: c-ares closes its sockets).
struct Resolver::Watch {
  Watch(asio::io_context& io, ares_socket_t socket, ares_channel owner) : descriptor(io), fd(socket), channel(owner) {}
  asio::posix::stream_descriptor descriptor;
  ares_socket_t fd;
  ares_channel channel;  // the server's channel the socket belongs to
  bool want_read = false, want_write = false;
  bool reading = false, writing = false;  // an async_wait is pending
  bool closed = false;
};

ResolverMetrics::ResolverMetrics(prometheus::Registry& registry) {
  auto& queries_family = prometheus::BuildCounter()
                             .Name("squatstream_dns_queries_total")
                             .Help(
                                 "DNS queries answered, by record type and rcode (TIMEOUT: no answer in time; ERROR: "
                                 "no usable answer). Cache hits excluded.")
                             .Register(registry);
  for (RrType type : kTypes) {
    for (const char* rcode : kRcodes) {
      queries[absl::StrCat(RrTypeName(static_cast<std::uint16_t>(type)), "/", rcode)] =
          &queries_family.Add({{"type", RrTypeName(static_cast<std::uint16_t>(type))}, {"rcode", rcode}});
    }
  }
  latency_seconds =
      &prometheus::BuildHistogram()
           .Name("squatstream_dns_query_duration_seconds")
           .Help("Time from sending a DNS query to its answer (or its last try's timeout).")
           .Register(registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  auto& cache = prometheus::BuildCounter()
                    .Name("squatstream_dns_cache_lookups_total")
                    .Help("DNS queries by whether the shared cache answered them (hit) or they were sent (miss).")
                    .Register(registry);
  cache_hits = &cache.Add({{"result", "hit"}});
  cache_joined = &cache.Add({{"result", "joined"}});
  cache_misses = &cache.Add({{"result", "miss"}});
  cache_bytes = &prometheus::BuildGauge()
                     .Name("squatstream_dns_cache_bytes")
                     .Help("What the shared DNS cache holds, in bytes (bounded by --dns_cache_mb).")
                     .Register(registry)
                     .Add({});
  auto& verdicts_family = prometheus::BuildCounter()
                              .Name("squatstream_dns_verdicts_total")
                              .Help(
                                  "Candidates by what DNS says of them: registered, unregistered (NXDOMAIN), unknown "
                                  "(SERVFAIL, REFUSED, timeout), wildcard.")
                              .Register(registry);
  verdict_registered = &verdicts_family.Add({{"verdict", "registered"}});
  verdict_unregistered = &verdicts_family.Add({{"verdict", "unregistered"}});
  verdict_unknown = &verdicts_family.Add({{"verdict", "unknown"}});
  verdict_wildcard = &verdicts_family.Add({{"verdict", "wildcard"}});
  wildcard_zones = &prometheus::BuildGauge()
                        .Name("squatstream_dns_wildcard_zones")
                        .Help("Distinct zones seen answering a random label (a wildcard), since start.")
                        .Register(registry)
                        .Add({});
  rate_limit_qps = &prometheus::BuildGauge()
                        .Name("squatstream_dns_rate_limit_qps")
                        .Help("The process-wide limit on DNS queries sent per second (0: none).")
                        .Register(registry)
                        .Add({});
  inflight = &prometheus::BuildGauge()
                  .Name("squatstream_dns_inflight_queries")
                  .Help("DNS queries sent and not yet answered.")
                  .Register(registry)
                  .Add({});
  queued = &prometheus::BuildGauge()
                .Name("squatstream_dns_queued_queries")
                .Help("DNS queries waiting for the rate limit or the in-flight cap.")
                .Register(registry)
                .Add({});
  pace_qps = &prometheus::BuildGauge()
                  .Name("squatstream_dns_pace_qps")
                  .Help(
                      "The rate DNS queries are sent to each resolver address at, in queries/s (adaptive pacing's "
                      "current rate; with fixed pacing, --dns_rate_limit).")
                  .Register(registry);
  pace_state = &prometheus::BuildGauge()
                    .Name("squatstream_dns_pace_state")
                    .Help(
                        "1 on the pacing state of each resolver address: slow_start, increase, backoff (the rate "
                        "went down in the last round), ceiling (at --dns_rate_limit), fixed (--dns_pacing=fixed).")
                    .Register(registry);
  pace_base_latency = &prometheus::BuildGauge()
                           .Name("squatstream_dns_pace_base_latency_seconds")
                           .Help(
                               "The lowest median answer latency of each resolver address's recent rounds (30 s): "
                               "the adaptive pacing's latency guard backs off at twice it plus 10 ms.")
                           .Register(registry);
  pace_backoffs = &prometheus::BuildCounter()
                       .Name("squatstream_dns_pace_backoffs_total")
                       .Help(
                           "Times adaptive pacing lowered the rate of a resolver address, by why: timeout, "
                           "refused, servfail, error (failures above the address's usual share), latency.")
                       .Register(registry);
}

prometheus::Counter* ResolverMetrics::Queries(std::uint16_t type, const std::string& rcode) {
  auto it = queries.find(absl::StrCat(RrTypeName(type), "/", rcode));
  if (it == queries.end()) it = queries.find(absl::StrCat(RrTypeName(type), "/ERROR"));
  return it == queries.end() ? nullptr : it->second;
}

std::string QueryResult::RcodeText() const {
  if (response.ok()) {
    const std::string name = RcodeName(response->rcode);
    return absl::StartsWith(name, "RCODE") ? "ERROR" : name;
  }
  return absl::IsDeadlineExceeded(response.status()) ? "TIMEOUT" : "ERROR";
}

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(asio::io_context& io, const ResolverOptions& options,
                                                           ResolverMetrics* metrics) {
  static std::once_flag init;
  static int init_status = ARES_SUCCESS;
  std::call_once(init, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("c-ares: ", ares_strerror(init_status)));
  }
  if (options.tries < 1 || options.tries > 10 || options.timeout.count() < 1 ||
      options.timeout > std::chrono::minutes(1) || options.max_inflight < 1 || !(options.rate_limit_qps >= 0) ||
      !(options.pace.start_qps > 0) || !(options.pace.floor_qps > 0)) {
    return absl::InvalidArgumentError(
        "DNS tries must lie in [1, 10], the timeout in [1ms, 1min], the in-flight cap be at least 1, the rate "
        "limit a number >= 0 and the pacing's start and floor rates numbers > 0");
  }
  std::unique_ptr<Resolver> r(new Resolver(io, options, metrics));
  ares_options o{};
  // See SERVFAIL and REFUSED as they are. (Not ARES_FLAG_STAYOPEN: c-ares 1.18 then reuses a TCP
  // connection the server closed after its answer, and the next truncated answer's retry failed.)
  o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
  o.ednspsz = 1232;
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = 1;  // the tries are the resolver's own (Send), each paced
  o.socket_receive_buffer_size = options.socket_buffer_bytes;
  o.socket_send_buffer_size = options.socket_buffer_bytes;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF |
                   ARES_OPT_SOCK_SNDBUF;
  if (absl::Status s = r->AddServers(o, mask); !s.ok()) return s;
  metrics->rate_limit_qps->Set(options.rate_limit_qps);
  return r;
}

absl::Status Resolver::AddServers(const ares_options& base, int mask) {
  std::vector<std::string> addresses = options_.servers;
  if (addresses.empty()) {  // /etc/resolv.conf's, as c-ares reads it
    ares_options o = base;
    ares_channel probe = nullptr;
    if (int s = ares_init_options(&probe, &o, mask); s != ARES_SUCCESS) {
      return absl::UnavailableError(absl::StrCat("c-ares cannot start: ", ares_strerror(s)));
    }
    ares_addr_port_node* list = nullptr;
    ares_get_servers_ports(probe, &list);
    for (const ares_addr_port_node* n = list; n != nullptr; n = n->next) {
      char text[INET6_ADDRSTRLEN] = {};
      ares_inet_ntop(n->family, &n->addr, text, sizeof(text));
      const int port = n->udp_port == 0 ? 53 : n->udp_port;
      addresses.push_back(n->family == AF_INET6 ? absl::StrCat("[", text, "]:", port) : absl::StrCat(text, ":", port));
    }
    ares_free_data(list);
    ares_destroy(probe);
    if (addresses.empty())
      return absl::UnavailableError("no DNS server: --dns_servers is empty and so is /etc/resolv.conf");
  }
  for (const std::string& address : addresses) {
    auto server = std::make_unique<Server>();
    server->address = address;
    server->resolver = this;
    server->index = servers_.size();
    ares_options o = base;
    o.sock_state_cb = [](void* data, ares_socket_t fd, int readable, int writable) {
      auto* s = static_cast<Server*>(data);
      s->resolver->OnSocketState(*s, fd, readable != 0, writable != 0);
    };
    o.sock_state_cb_data = server.get();
    if (int s = ares_init_options(&server->channel, &o, mask | ARES_OPT_SOCK_STATE_CB); s != ARES_SUCCESS) {
      return absl::UnavailableError(absl::StrCat("c-ares cannot start: ", ares_strerror(s)));
    }
    if (int s = ares_set_servers_ports_csv(server->channel, address.c_str()); s != ARES_SUCCESS) {
      ares_destroy(server->channel);
      return absl::InvalidArgumentError(
          absl::StrFormat("DNS server \"%s\": %s (write host:port, [v6]:port)", address, ares_strerror(s)));
    }
    if (options_.pacing == ResolverOptions::Pacing::kAdaptive) {
      PaceOptions pace = options_.pace;
      pace.ceiling_qps = options_.rate_limit_qps;
      server->pace = std::make_unique<PaceController>(pace, std::chrono::steady_clock::now());
    }
    const prometheus::Labels labels{{"server", address}};
    server->qps = &metrics_->pace_qps->Add(labels);
    for (std::size_t i = 0; i < server->state.size(); ++i) {
      server->state[i] = &metrics_->pace_state->Add(
          {{"server", address}, {"state", i < kPaceStateNames.size() ? kPaceStateNames[i] : "fixed"}});
    }
    server->base_latency = &metrics_->pace_base_latency->Add(labels);
    for (std::size_t i = 0; i < server->backoffs.size(); ++i) {
      server->backoffs[i] = &metrics_->pace_backoffs->Add({{"server", address}, {"reason", kBackoffReasonNames[i]}});
    }
    PublishPace(*server);
    servers_.push_back(std::move(server));
  }
  return absl::OkStatus();
}

std::vector<std::string> Resolver::servers() const {
  std::vector<std::string> out;
  out.reserve(servers_.size());
  for (const auto& s : servers_) out.push_back(s->address);
  return out;
}

void Resolver::Paced(Server& s, std::chrono::steady_clock::time_point now, Try& attempt, Outcome outcome) {
  attempt.counted = true;
  if (std::optional<BackoffReason> reason = s.pace->OnAnswer(now, attempt.epoch, outcome, now - attempt.sent)) {
    s.backoffs[static_cast<std::size_t>(*reason)]->Increment();
  }
  PublishPace(s);
}

void Resolver::CountLate(Server& s, std::chrono::steady_clock::time_point now) {
  const auto late = s.pace->LateAfter();
  while (!s.tries.empty()) {
    Try& oldest = *s.tries.front();
    if (!oldest.done) {
      if (late == std::chrono::steady_clock::duration::zero() || now - oldest.sent < late) break;
      if (!oldest.counted) Paced(s, now, oldest, Outcome::kTimeout);  // lost, as far as pacing goes
    }
    s.tries.pop_front();
  }
}

void Resolver::ArmLate() {
  if (late_armed_ || shut_down_) return;
  std::optional<std::chrono::steady_clock::time_point> soonest;
  for (const auto& s : servers_) {
    if (!s->pace || s->tries.empty()) continue;
    const auto late = s->pace->LateAfter();
    if (late == std::chrono::steady_clock::duration::zero()) continue;  // no latency known yet
    const auto at = s->tries.front()->sent + late;  // the front may be done: the wake-up is early, harmless
    if (!soonest || at < *soonest) soonest = at;
  }
  if (!soonest) return;
  late_armed_ = true;
  late_timer_.expires_at(*soonest);
  late_timer_.async_wait([this](const asio::error_code& ec) {
    late_armed_ = false;
    if (ec || shut_down_) return;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& s : servers_) {
      if (s->pace) CountLate(*s, now);
    }
    ArmLate();
  });
}

void Resolver::PublishPace(Server& s) {
  const std::size_t state = s.pace ? static_cast<std::size_t>(s.pace->state()) : kPaceStateNames.size();
  for (std::size_t i = 0; i < s.state.size(); ++i) s.state[i]->Set(i == state ? 1 : 0);
  s.qps->Set(s.pace ? s.pace->rate() : options_.rate_limit_qps);
  if (s.pace) s.base_latency->Set(std::chrono::duration<double>(s.pace->base_latency()).count());
}

bool Resolver::Bucket::Ready(double rate, std::chrono::steady_clock::time_point now) {
  if (rate <= 0) return true;
  const double burst = std::max(1.0, rate / 20);  // at most 50 ms worth at once
  tokens = std::min(burst, tokens + std::chrono::duration<double>(now - at).count() * rate);
  at = now;
  return tokens >= 1;
}

std::chrono::steady_clock::duration Resolver::Bucket::Wait(double rate) const {
  if (rate <= 0) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::max(0.0, (1 - tokens) / rate)));
}

Resolver::Resolver(asio::io_context& io, const ResolverOptions& options, ResolverMetrics* metrics)
    : strand_(asio::make_strand(io)),
      options_(options),
      metrics_(metrics),
      timeout_timer_(strand_),
      refill_timer_(strand_),
      late_timer_(strand_),
      ceiling_{std::max(1.0, options.rate_limit_qps / 20), std::chrono::steady_clock::now()} {}

Resolver::~Resolver() {
  for (const auto& s : servers_) ares_destroy(s->channel);  // after Shutdown: nothing pending, no socket watched
}

void Resolver::Shutdown() {
  std::promise<void> done;
  asio::post(strand_, [this, &done] {
    shut_down_ = true;
    queue_.clear();
    follow_ups_.clear();
    held_.clear();
    waiters_.clear();
    metrics_->queued->Set(0);
    // The descriptors first, while their sockets are open: ares_cancel closes them, and a released fd
    // number may be reused at once by another thread.
    for (auto& [fd, w] : watches_) {
      w->closed = true;
      w->descriptor.release();  // cancels its waits; c-ares keeps (and then closes) the socket
    }
    watches_.clear();
    for (const auto& s : servers_) ares_cancel(s->channel);  // in-flight queries end with ECANCELLED: dropped
    timeout_timer_.cancel();
    refill_timer_.cancel();
    late_timer_.cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void Resolver::Query(std::string name, RrType type, std::shared_ptr<bool> cancelled, Callback done, Priority priority) {
  asio::post(strand_, [this, name = std::move(name), type, cancelled = std::move(cancelled), done = std::move(done),
                       priority]() mutable {
    if (*cancelled || shut_down_) return;
    std::string key = CacheKey(name, type);
    if (const DnsMessage* hit = CacheFind(key)) {
      metrics_->cache_hits->Increment();
      QueryResult result{*hit, true};
      std::move(done)(std::move(result));  // already a posted handler: not inline from Query
      return;
    }
    std::vector<Waiter>& waiters = waiters_[key];
    waiters.push_back({std::move(cancelled), std::move(done)});
    if (waiters.size() > 1) {  // the same query is queued or in flight
      metrics_->cache_joined->Increment();
      return;
    }
    metrics_->cache_misses->Increment();
    Pending pending;
    pending.name = std::move(name);
    pending.type = type;
    pending.key = std::move(key);
    (priority == Priority::kFollowUp ? follow_ups_ : queue_).push_back(std::move(pending));
    SendQueued();
  });
}

std::optional<std::size_t> Resolver::PickServer(const Pending& p, std::chrono::steady_clock::time_point now) {
  std::optional<std::size_t> same;  // the last try's server, if none other is ready
  for (std::size_t k = 0; k < servers_.size(); ++k) {
    const std::size_t i = (next_server_ + k) % servers_.size();
    Server& s = *servers_[i];
    if (!s.bucket.Ready(s.pace ? s.pace->rate() : 0, now)) continue;
    if (servers_.size() > 1 && p.tries > 0 && i == p.last_server) {
      same = i;
      continue;
    }
    next_server_ = (i + 1) % servers_.size();
    return i;
  }
  return same;
}

void Resolver::ArmRefill(std::chrono::steady_clock::duration wait) {
  // One timer for every reason to send later (a token, a try held out of a backoff): armed for the soonest.
  const auto at = std::chrono::steady_clock::now() + wait;
  if (refill_armed_ && refill_at_ <= at) return;
  refill_armed_ = true;
  refill_at_ = at;
  const std::uint64_t generation = ++refill_generation_;
  refill_timer_.expires_at(at);  // a wait armed for later ends aborted; its generation is stale
  refill_timer_.async_wait([this, generation](const asio::error_code& ec) {
    if (generation != refill_generation_) return;
    refill_armed_ = false;
    if (ec || shut_down_) return;
    SendQueued();
  });
}

void Resolver::SendQueued() {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& s : servers_) {
    if (s->pace) CountLate(*s, now);
  }
  // Tries again whose server is out of its backoff (or that waited long enough) go first, in the order held.
  std::size_t released = 0;
  while (!held_.empty()) {
    const Pending& p = held_.front();
    const Server& last = *servers_[p.last_server];
    const bool answering = last.pace == nullptr || servers_.size() > 1 ||
                           (last.pace->state() != PaceState::kBackoff && last.last_answer > p.held_at);
    if (!answering && now < p.not_after) {
      ArmRefill(held_.front().not_after - now);
      break;
    }
    follow_ups_.insert(follow_ups_.begin() + static_cast<std::ptrdiff_t>(released++), std::move(held_.front()));
    held_.pop_front();
  }
  while (inflight_ < options_.max_inflight) {
    std::deque<Pending>& queue = follow_ups_.empty() ? queue_ : follow_ups_;
    if (queue.empty()) break;
    auto waiters = waiters_.find(queue.front().key);
    if (std::all_of(waiters->second.begin(), waiters->second.end(), [](const Waiter& w) { return *w.cancelled; })) {
      waiters_.erase(waiters);  // every caller was cancelled while it waited: never sent
      queue.pop_front();
      continue;
    }
    if (!ceiling_.Ready(options_.rate_limit_qps, now)) {
      ArmRefill(ceiling_.Wait(options_.rate_limit_qps));
      break;
    }
    const std::optional<std::size_t> server = PickServer(queue.front(), now);
    if (!server) {  // every server's rate binds: each may rise
      auto wait = std::chrono::steady_clock::duration::max();
      for (const auto& s : servers_) {
        if (s->pace) s->pace->OnLimited();
        wait = std::min(wait, s->bucket.Wait(s->pace ? s->pace->rate() : 0));
      }
      ArmRefill(wait);
      break;
    }
    Server& s = *servers_[*server];
    ceiling_.Take(options_.rate_limit_qps);
    s.bucket.Take(s.pace ? s.pace->rate() : 0);
    Pending p = std::move(queue.front());
    queue.pop_front();
    Send(std::move(p), *server);
  }
  metrics_->queued->Set(static_cast<double>(queue_.size() + follow_ups_.size() + held_.size()));
}

void Resolver::Send(Pending p, std::size_t server) {
  ++inflight_;
  metrics_->inflight->Increment();
  ++p.tries;
  p.last_server = server;
  Server& s = *servers_[server];
  const auto sent = std::chrono::steady_clock::now();
  auto attempt = std::make_shared<Try>(Try{sent, s.pace ? s.pace->OnSent() : 0});
  if (s.pace) s.tries.push_back(attempt);
  auto* q = new InFlight{this, std::move(p), server, std::move(attempt)};
  // c-ares may answer inline (a query it cannot send fails at once), which frees q: not used after this.
  ares_query(s.channel, q->query.name.c_str(), kClassIn, static_cast<int>(q->query.type), &Resolver::OnAnswer, q);
  ArmTimerAt(sent + options_.timeout);  // its try's end
  ArmLate();
}

void Resolver::OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<InFlight> q(static_cast<InFlight*>(arg));
  Resolver* self = q->resolver;
  --self->inflight_;
  self->metrics_->inflight->Decrement();
  QueryResult result{absl::UnknownError("")};
  if (abuf != nullptr && alen > 0) {
    result.response = ParseDnsMessage(absl::MakeConstSpan(abuf, static_cast<std::size_t>(alen)));
  } else {
    result.response = AresFailure(status);
  }
  const bool cancelled = absl::IsCancelled(result.response.status());
  const Outcome outcome = TryOutcome(result);
  if (!cancelled) {
    const auto now = std::chrono::steady_clock::now();
    self->metrics_->latency_seconds->Observe(std::chrono::duration<double>(now - q->attempt->sent).count());
    if (prometheus::Counter* c =
            self->metrics_->Queries(static_cast<std::uint16_t>(q->query.type), result.RcodeText())) {
      c->Increment();
    }
    Server& server = *self->servers_[q->server];
    if (outcome == Outcome::kAnswered) server.last_answer = now;
    if (server.pace) {
      if (!q->attempt->counted) {
        self->Paced(server, now, *q->attempt, outcome);
      } else if (outcome == Outcome::kAnswered) {
        server.pace->OnLateAnswer(now);
      }
      self->CountLate(server, now);
    }
  }
  q->attempt->done = true;
  if (self->shut_down_) return;
  if (!result.response.ok() && absl::IsUnavailable(result.response.status())) {
    q->query.unreachable = result.response.status();
  } else if (absl::IsDeadlineExceeded(result.response.status()) && !q->query.unreachable.ok()) {
    result.response = q->query.unreachable;  // refused before, silent now: not there, rather than slow
  }
  if (!cancelled && outcome != Outcome::kAnswered && q->query.tries < self->options_.tries) {
    // Asked again, paced (at the rate that may just have gone down), ahead of new names — once the server
    // answers again out of its backoff (SendQueued), or two timeouts and two seconds from now at the latest.
    q->query.held_at = std::chrono::steady_clock::now();
    q->query.not_after = q->query.held_at + 2 * self->options_.timeout + std::chrono::seconds(2);
    self->held_.push_back(std::move(q->query));
    asio::post(self->strand_, [self] {
      if (!self->shut_down_) self->SendQueued();
    });
    return;
  }
  if (result.response.ok()) self->CacheStore(q->query.key, *result.response);
  auto waiters = self->waiters_.extract(q->query.key);
  if (waiters.empty()) {
    asio::post(self->strand_, [self] {
      if (!self->shut_down_) self->SendQueued();
    });
    return;
  }
  // Called from inside c-ares (ares_process_fd, ares_query): hand the result over in a fresh handler, so
  // that the callbacks may start queries of their own. Each waiter but the last gets a copy, the last the
  // result itself (an entry of waiters_ is never empty: made with its first waiter, erased whole); each
  // one's flag is read just before its turn (an earlier callback may cancel it).
  asio::post(self->strand_, [self, waiters = std::move(waiters.mapped()), result = std::move(result)]() mutable {
    if (self->shut_down_) return;
    for (std::size_t i = 0; i + 1 < waiters.size(); ++i) {
      if (!*waiters[i].cancelled) std::move(waiters[i].done)(result);
    }
    if (!*waiters.back().cancelled) std::move(waiters.back().done)(std::move(result));
    self->SendQueued();
  });
}

void Resolver::ArmTimeout() {
  // Asked only when the timer is not armed (it fired, or nothing was pending): ares_timeout walks every
  // query in flight, and asking it after each event took an eighth of the resolver's time at 1,000 in
  // flight. While armed, Send moves the timer earlier for a query whose first try ends sooner (a retry
  // waits longer than a first try, so a query sent later can expire first).
  if (shut_down_ || timeout_armed_) return;
  std::optional<std::chrono::microseconds> soonest;
  for (const auto& s : servers_) {
    timeval tv{};
    if (ares_timeout(s->channel, nullptr, &tv) == nullptr) continue;  // nothing pending
    const auto in = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    if (!soonest || in < *soonest) soonest = in;
  }
  if (soonest) ArmTimerAt(std::chrono::steady_clock::now() + *soonest);
}

void Resolver::ArmTimerAt(std::chrono::steady_clock::time_point at) {
  if (shut_down_ || (timeout_armed_ && timeout_at_ <= at)) return;
  timeout_armed_ = true;
  timeout_at_ = at;
  const std::uint64_t generation = ++timer_generation_;
  timeout_timer_.expires_at(at);
  timeout_timer_.async_wait([this, generation](const asio::error_code& ec) {
    if (generation != timer_generation_) return;  // moved earlier since: that wait owns the timer
    timeout_armed_ = false;
    if (ec || shut_down_) return;
    for (const auto& s : servers_) ares_process_fd(s->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    ArmTimeout();
  });
}

void Resolver::OnSocketState(Server& server, ares_socket_t fd, bool readable, bool writable) {
  if (shut_down_) return;
  auto it = watches_.find(fd);
  if (!readable && !writable) {  // c-ares is about to close it
    if (it != watches_.end()) {
      it->second->closed = true;
      it->second->descriptor.release();
      watches_.erase(it);
    }
    return;
  }
  if (it == watches_.end()) {
    auto w = std::make_shared<Watch>(static_cast<asio::io_context&>(strand_.context()), fd, server.channel);
    asio::error_code ec;
    w->descriptor.assign(fd, ec);  // no exception through c-ares's frames: unwatched, its queries time out
    if (ec) return;
    it = watches_.emplace(fd, std::move(w)).first;
  }
  const std::shared_ptr<Watch>& w = it->second;
  w->want_read = readable;
  w->want_write = writable;
  if (readable && !w->reading) WaitOn(w, false);
  if (writable && !w->writing) WaitOn(w, true);
}

void Resolver::WaitOn(const std::shared_ptr<Watch>& w, bool write) {
  (write ? w->writing : w->reading) = true;
  w->descriptor.async_wait(
      write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read,
      asio::bind_executor(strand_, [this, w, write](const asio::error_code& ec) {
        (write ? w->writing : w->reading) = false;
        if (ec || w->closed || shut_down_) return;
        ares_process_fd(w->channel, write ? ARES_SOCKET_BAD : w->fd, write ? w->fd : ARES_SOCKET_BAD);
        // c-ares may have closed the socket (w->closed) or changed what it waits for.
        if (!w->closed && (write ? w->want_write : w->want_read) && !(write ? w->writing : w->reading)) {
          WaitOn(w, write);
        }
        ArmTimeout();
      }));
}

const DnsMessage* Resolver::CacheFind(const std::string& key) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (it->second.expires <= std::chrono::steady_clock::now()) {
    CacheErase(it);
    return nullptr;
  }
  return &it->second.response;
}

void Resolver::CacheErase(absl::flat_hash_map<std::string, CacheEntry>::iterator it) {
  cache_bytes_ -= it->second.bytes;
  cache_order_.erase(it->second.age);
  cache_.erase(it);
  metrics_->cache_bytes->Set(static_cast<double>(cache_bytes_));
}

void Resolver::CacheStore(const std::string& key, const DnsMessage& response) {
  if (options_.cache_entries == 0 || options_.cache_bytes == 0) return;
  const std::optional<std::uint32_t> ttl = response.CacheTtl();
  if (!ttl || *ttl == 0) return;
  const auto expires = std::chrono::steady_clock::now() + std::chrono::seconds(*ttl);
  // The response (bounded by the parser: dns_message.h), the key in the table and in the age list, the nodes.
  const std::size_t bytes = response.HeldBytes() + 2 * (key.capacity() + 1) + sizeof(CacheEntry) + 64;
  if (auto it = cache_.find(key); it != cache_.end()) CacheErase(it);
  if (bytes > options_.cache_bytes) return;
  // Full (entries or bytes): the oldest entries go.
  while (!cache_order_.empty() &&
         (cache_.size() >= options_.cache_entries || cache_bytes_ + bytes > options_.cache_bytes)) {
    CacheErase(cache_.find(cache_order_.front()));
  }
  cache_order_.push_back(key);
  cache_.emplace(key, CacheEntry{response, expires, std::prev(cache_order_.end()), bytes});
  cache_bytes_ += bytes;
  metrics_->cache_bytes->Set(static_cast<double>(cache_bytes_));
}

}  // namespace squatstream::workers::dns
