// Resolver: DNS queries through c-ares, driven by the asio executor — c-ares's sockets are watched with
// asio descriptors (its socket-state callback) and its timeouts run on an asio timer, so no thread waits
// and no call blocks. All of the channel's work runs on one strand (c-ares 1.18's channel is not
// thread-safe), like massdns's single event loop.
//
// One c-ares channel per resolver address (each its own server, so that each is paced and measured on its
// own). Around them: a shared cache of responses honouring their TTLs and negative TTLs (RFC 2308); pacing —
// adaptive by default, a PaceController per address (pace_controller.h) setting the rate of its token bucket,
// under a process-wide ceiling (`rate_limit_qps`, a token bucket too; with fixed pacing the only limit, as it
// always was) — and a cap on queries in flight. Queries beyond them wait in two queues: follow-ups (the
// queries of a name already found, and tries again) before new names, so that a registered name's record
// completes while thousands of new names wait. The tries of a query are the resolver's own, each paced: a try
// that times out or is answered SERVFAIL or REFUSED is asked again (of another address when there are several)
// while tries are left. The program must ignore SIGPIPE (c-ares writes TCP queries with writev, and a server
// may close the connection). A query asked while the same one is queued or in flight joins it; a query still
// queued whose every caller was cancelled is never sent.
#ifndef SQUATSTREAM_WORKERS_DNS_RESOLVER_H_
#define SQUATSTREAM_WORKERS_DNS_RESOLVER_H_

#include <ares.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/io_context.hpp"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "workers/dns/dns_message.h"
#include "workers/dns/pace_controller.h"

namespace squatstream::workers::dns {

struct ResolverOptions {
  // "host:port" entries ("[::1]:53" for IPv6); empty: the system's /etc/resolv.conf.
  std::vector<std::string> servers;
  std::chrono::milliseconds timeout{2500};  // per try
  // Per query, each one paced; SERVFAIL, REFUSED and timeouts are tried again. Three: a resolver that drops
  // everything for seconds once over its quota (unbound's ip-ratelimit) costs an adaptive probe over it a try.
  int tries = 3;
  enum class Pacing { kAdaptive, kFixed };
  Pacing pacing = Pacing::kAdaptive;
  // Queries sent per second, process-wide: with adaptive pacing the ceiling, with fixed pacing the rate; 0: none.
  double rate_limit_qps = 0;
  PaceOptions pace;                                 // adaptive pacing's (its ceiling_qps is rate_limit_qps)
  int max_inflight = 256;                           // queries sent and not yet answered
  std::size_t cache_entries = 100000;               // responses kept; 0: no cache
  std::size_t cache_bytes = std::size_t{64} << 20;  // and at most this much held (DnsMessage::HeldBytes and keys)
  // Receive and send buffers of c-ares's sockets: a burst of answers to hundreds of queries in flight
  // overflows the kernel's default (~208 KiB) and the dropped ones wait out a timeout (capped by
  // net.core.rmem_max / wmem_max).
  int socket_buffer_bytes = 4 << 20;
};

// The resolver's metrics, registered once (prometheus-cpp's Family::Add is too slow for a hot path).
struct ResolverMetrics {
  explicit ResolverMetrics(prometheus::Registry& registry);
  prometheus::Counter* Queries(std::uint16_t type, const std::string& rcode);

  absl::flat_hash_map<std::string, prometheus::Counter*> queries;  // "A/NOERROR" -> counter
  prometheus::Histogram* latency_seconds;
  prometheus::Counter* cache_hits;
  prometheus::Counter* cache_joined;  // joined the same query queued or in flight
  prometheus::Counter* cache_misses;
  prometheus::Gauge* cache_bytes;  // what the shared cache holds
  // The DNS stage's (dns_enricher.h):
  prometheus::Counter* verdict_registered;
  prometheus::Counter* verdict_unregistered;
  prometheus::Counter* verdict_unknown;
  prometheus::Counter* verdict_wildcard;
  prometheus::Gauge* wildcard_zones;  // distinct zones found answering for random labels (since start)
  prometheus::Gauge* rate_limit_qps;
  prometheus::Gauge* inflight;
  prometheus::Gauge* queued;
  // Pacing, per resolver address (label "server"), added by the resolver for its addresses.
  prometheus::Family<prometheus::Gauge>* pace_qps;
  prometheus::Family<prometheus::Gauge>* pace_state;
  prometheus::Family<prometheus::Gauge>* pace_base_latency;
  prometheus::Family<prometheus::Counter>* pace_backoffs;
};

// What a query ended with: the parsed response, or no response (status: DEADLINE_EXCEEDED for a timeout,
// UNAVAILABLE for a refused connection or other transport failure, INVALID_ARGUMENT for a malformed one).
struct QueryResult {
  absl::StatusOr<DnsMessage> response;
  bool from_cache = false;
  // The rcode name, or TIMEOUT / ERROR when there is no response.
  std::string RcodeText() const;
};

class Resolver {
 public:
  using Callback = absl::AnyInvocable<void(QueryResult) &&>;

  // Fails when c-ares cannot start or a server address is malformed.
  static absl::StatusOr<std::unique_ptr<Resolver>> Create(asio::io_context& io, const ResolverOptions& options,
                                                          ResolverMetrics* metrics);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // kNew: a name not looked at yet; kFollowUp: more about a name being looked at (sent first).
  enum class Priority { kNew, kFollowUp };

  // Asks for `type` records of `name` (no search list, no trailing dot). `done` runs on the resolver's
  // strand (never inline), unless `*cancelled` is true by the time the query would be sent or answered, in
  // which case it is dropped without running. `cancelled` is read and written on the strand only.
  void Query(std::string name, RrType type, std::shared_ptr<bool> cancelled, Callback done,
             Priority priority = Priority::kNew);

  // The resolver addresses asked, as "host:port".
  std::vector<std::string> servers() const;

  // The strand every callback runs on; post here to touch state shared with callbacks.
  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }

  // Stops: sockets released, pending queries cancelled and their callbacks dropped — so call it once every
  // caller is done or cancelled (the server cancels every stream first), and before the io_context stops.
  void Shutdown();

 private:
  struct Waiter {
    std::shared_ptr<bool> cancelled;
    Callback done;
  };
  struct Pending {
    std::string name;
    RrType type = RrType::kA;
    std::string key;
    int tries = 0;                // tries sent so far
    std::size_t last_server = 0;  // of the last try (another is preferred for the next)
    // Why an earlier try could not be sent at all (connection refused: the resolver is not there), so that a
    // last try lost in silence (the kernel rate-limits the ICMP that says "refused") still says so.
    absl::Status unreachable;
    // A try again waits until its server answers again out of a backoff (what it sends before is dropped too:
    // unbound's ip-ratelimit drops everything for up to two seconds once over), but not past not_after.
    std::chrono::steady_clock::time_point held_at{};
    std::chrono::steady_clock::time_point not_after{};
  };
  // One try, as its server's pacing sees it.
  struct Try {
    std::chrono::steady_clock::time_point sent;
    std::uint64_t epoch;   // its server's controller's, when sent
    bool done = false;     // answered, timed out or cancelled
    bool counted = false;  // reported to the controller (as lost, when late)
  };
  struct InFlight {
    Resolver* resolver;
    Pending query;
    std::size_t server;
    std::shared_ptr<Try> attempt;
  };
  // A token bucket: at most 50 ms of its rate at once.
  struct Bucket {
    double tokens = 1;
    std::chrono::steady_clock::time_point at;
    // Whether a token is there (refilled up to now at `rate`); 0: no limit.
    bool Ready(double rate, std::chrono::steady_clock::time_point now);
    void Take(double rate) {
      if (rate > 0) tokens -= 1;
    }
    std::chrono::steady_clock::duration Wait(double rate) const;
  };
  struct Server {
    std::string address;  // host:port
    ares_channel channel = nullptr;
    std::unique_ptr<PaceController> pace;  // null with fixed pacing
    Bucket bucket;
    prometheus::Gauge* qps = nullptr;
    std::array<prometheus::Gauge*, kPaceStateNames.size() + 1> state{};  // the last: "fixed"
    prometheus::Gauge* base_latency = nullptr;
    std::array<prometheus::Counter*, kBackoffReasonNames.size()> backoffs{};
    std::deque<std::shared_ptr<Try>> tries;               // in the order sent; answered ones leave from the front
    std::chrono::steady_clock::time_point last_answer{};  // of a try whose outcome was an answer
    Resolver* resolver = nullptr;                         // for c-ares's socket-state callback
    std::size_t index = 0;
  };
  struct Watch;
  struct CacheEntry {
    DnsMessage response;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator age;  // in cache_order_
    std::size_t bytes = 0;                 // what the entry holds: its response, its key twice, the nodes
  };
  void CacheErase(absl::flat_hash_map<std::string, CacheEntry>::iterator it);

  Resolver(asio::io_context& io, const ResolverOptions& options, ResolverMetrics* metrics);

  absl::Status AddServers(const ares_options& o, int mask);

  // Strand only.
  void Send(Pending p, std::size_t server);
  void SendQueued();
  // The server the next try of `p` goes to, or none while every one waits for its rate.
  std::optional<std::size_t> PickServer(const Pending& p, std::chrono::steady_clock::time_point now);
  void ArmRefill(std::chrono::steady_clock::duration wait);
  void ArmTimeout();
  void ArmTimerAt(std::chrono::steady_clock::time_point at);
  void PublishPace(Server& s);
  // Tells the controller of `s` about tries unanswered past its LateAfter, once each.
  void CountLate(Server& s, std::chrono::steady_clock::time_point now);
  // Arms late_timer_ for the earliest try that would become late.
  void ArmLate();
  void Paced(Server& s, std::chrono::steady_clock::time_point now, Try& attempt, Outcome outcome);
  void OnSocketState(Server& server, ares_socket_t fd, bool readable, bool writable);
  void WaitOn(const std::shared_ptr<Watch>& w, bool write);
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  const DnsMessage* CacheFind(const std::string& key);
  void CacheStore(const std::string& key, const DnsMessage& response);

  asio::strand<asio::io_context::executor_type> strand_;
  const ResolverOptions options_;
  ResolverMetrics* const metrics_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::size_t next_server_ = 0;  // round robin
  absl::flat_hash_map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::steady_clock::time_point timeout_at_;  // when armed
  std::uint64_t timer_generation_ = 0;                // the wait that owns the timer
  asio::steady_timer refill_timer_;
  bool refill_armed_ = false;
  std::chrono::steady_clock::time_point refill_at_;  // when armed
  std::uint64_t refill_generation_ = 0;              // the wait that owns the timer
  asio::steady_timer late_timer_;                    // for CountLate when no answer comes to run it
  bool late_armed_ = false;
  Bucket ceiling_;                  // rate_limit_qps, all servers together
  std::deque<Pending> follow_ups_;  // sent before queue_
  std::deque<Pending> held_;        // tries again waiting out a backoff (Pending::not_after), before follow_ups_
  std::deque<Pending> queue_;
  // The callers of each query queued or in flight: a query asked again meanwhile joins them.
  absl::flat_hash_map<std::string, std::vector<Waiter>> waiters_;
  int inflight_ = 0;
  bool shut_down_ = false;
  absl::flat_hash_map<std::string, CacheEntry> cache_;
  std::list<std::string> cache_order_;  // oldest first
  std::size_t cache_bytes_ = 0;         // the entries' bytes, summed
};

}  // namespace squatstream::workers::dns

#endif  // SQUATSTREAM_WORKERS_DNS_RESOLVER_H_
