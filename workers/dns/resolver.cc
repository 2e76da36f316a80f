#include "workers/dns/resolver.h"

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

}  // namespace

// One c-ares socket watched by asio. The descriptor is released (never closed: c-ares closes its sockets).
struct Resolver::Watch {
  Watch(asio::io_context& io, ares_socket_t socket) : descriptor(io), fd(socket) {}
  asio::posix::stream_descriptor descriptor;
  ares_socket_t fd;
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
      options.timeout > std::chrono::minutes(1) || options.max_inflight < 1 || !(options.rate_limit_qps >= 0)) {
    return absl::InvalidArgumentError(
        "DNS tries must lie in [1, 10], the timeout in [1ms, 1min], the in-flight cap be at least 1 and the rate "
        "limit a number >= 0");
  }
  std::unique_ptr<Resolver> r(new Resolver(io, options, metrics));
  ares_options o{};
  // See SERVFAIL and REFUSED as they are. (Not ARES_FLAG_STAYOPEN: c-ares 1.18 then reuses a TCP
  // connection the server closed after its answer, and the next truncated answer's retry failed.)
  o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
  o.ednspsz = 1232;
  o.timeout = static_cast<int>(options.timeout.count());
  o.tries = options.tries;
  o.sock_state_cb = [](void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Resolver*>(data)->OnSocketState(fd, readable != 0, writable != 0);
  };
  o.sock_state_cb_data = r.get();
  o.socket_receive_buffer_size = options.socket_buffer_bytes;
  o.socket_send_buffer_size = options.socket_buffer_bytes;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
                   ARES_OPT_SOCK_RCVBUF | ARES_OPT_SOCK_SNDBUF;
  if (int s = ares_init_options(&r->channel_, &o, mask); s != ARES_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("c-ares cannot start: ", ares_strerror(s)));
  }
  if (!options.servers.empty()) {
    const std::string csv = absl::StrJoin(options.servers, ",");
    if (int s = ares_set_servers_ports_csv(r->channel_, csv.c_str()); s != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrFormat("DNS servers \"%s\": %s (write host:port, [v6]:port)", csv, ares_strerror(s)));
    }
  }
  metrics->rate_limit_qps->Set(options.rate_limit_qps);
  return r;
}

Resolver::Resolver(asio::io_context& io, const ResolverOptions& options, ResolverMetrics* metrics)
    : strand_(asio::make_strand(io)),
      options_(options),
      metrics_(metrics),
      timeout_timer_(strand_),
      refill_timer_(strand_),
      tokens_(std::max(1.0, options.rate_limit_qps / 20)),
      tokens_at_(std::chrono::steady_clock::now()) {}

Resolver::~Resolver() {
  if (channel_ != nullptr) ares_destroy(channel_);  // after Shutdown: nothing pending, no socket watched
}

void Resolver::Shutdown() {
  std::promise<void> done;
  asio::post(strand_, [this, &done] {
    shut_down_ = true;
    queue_.clear();
    waiters_.clear();
    metrics_->queued->Set(0);
    // The descriptors first, while their sockets are open: ares_cancel closes them, and a released fd
    // number may be reused at once by another thread.
    for (auto& [fd, w] : watches_) {
      w->closed = true;
      w->descriptor.release();  // cancels its waits; c-ares keeps (and then closes) the socket
    }
    watches_.clear();
    ares_cancel(channel_);  // in-flight queries end with ECANCELLED: dropped
    timeout_timer_.cancel();
    refill_timer_.cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void Resolver::Query(std::string name, RrType type, std::shared_ptr<bool> cancelled, Callback done) {
  asio::post(strand_,
             [this, name = std::move(name), type, cancelled = std::move(cancelled), done = std::move(done)]() mutable {
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
               queue_.push_back({std::move(name), type, std::move(key)});
               SendQueued();
             });
}

bool Resolver::TakeToken() {
  if (options_.rate_limit_qps <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  const double burst = std::max(1.0, options_.rate_limit_qps / 20);  // at most 50 ms worth at once
  tokens_ =
      std::min(burst, tokens_ + std::chrono::duration<double>(now - tokens_at_).count() * options_.rate_limit_qps);
  tokens_at_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void Resolver::ArmRefill() {
  if (refill_armed_) return;
  refill_armed_ = true;
  const double wait_s = std::max(0.0, (1 - tokens_) / options_.rate_limit_qps);
  refill_timer_.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(wait_s)));
  refill_timer_.async_wait([this](const asio::error_code& ec) {
    refill_armed_ = false;
    if (ec || shut_down_) return;
    SendQueued();
  });
}

void Resolver::SendQueued() {
  while (!queue_.empty() && inflight_ < options_.max_inflight) {
    auto waiters = waiters_.find(queue_.front().key);
    if (std::all_of(waiters->second.begin(), waiters->second.end(), [](const Waiter& w) { return *w.cancelled; })) {
      waiters_.erase(waiters);  // every caller was cancelled while it waited: never sent
      queue_.pop_front();
      continue;
    }
    if (!TakeToken()) {
      ArmRefill();
      break;
    }
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    Send(std::move(p));
  }
  metrics_->queued->Set(static_cast<double>(queue_.size()));
}

void Resolver::Send(Pending p) {
  ++inflight_;
  metrics_->inflight->Increment();
  const auto sent = std::chrono::steady_clock::now();
  auto* q = new InFlight{this, std::move(p), sent};
  // c-ares may answer inline (a query it cannot send fails at once), which frees q: not used after this.
  ares_query(channel_, q->query.name.c_str(), kClassIn, static_cast<int>(q->query.type), &Resolver::OnAnswer, q);
  ArmTimerAt(sent + options_.timeout);  // its first try's end
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
  if (!absl::IsCancelled(result.response.status())) {
    self->metrics_->latency_seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - q->sent).count());
    if (prometheus::Counter* c =
            self->metrics_->Queries(static_cast<std::uint16_t>(q->query.type), result.RcodeText())) {
      c->Increment();
    }
    if (result.response.ok()) self->CacheStore(q->query.key, *result.response);
  }
  if (self->shut_down_) return;
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
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) return;  // nothing pending
  ArmTimerAt(std::chrono::steady_clock::now() + std::chrono::seconds(tv.tv_sec) +
             std::chrono::microseconds(tv.tv_usec));
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
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // expires what timed out, retries
    ArmTimeout();
  });
}

void Resolver::OnSocketState(ares_socket_t fd, bool readable, bool writable) {
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
    auto w = std::make_shared<Watch>(static_cast<asio::io_context&>(strand_.context()), fd);
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
        ares_process_fd(channel_, write ? ARES_SOCKET_BAD : w->fd, write ? w->fd : ARES_SOCKET_BAD);
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
