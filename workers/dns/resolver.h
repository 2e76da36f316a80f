// Resolver: DNS queries through c-ares, driven by the asio executor — c-ares's sockets are watched with
// asio descriptors (its socket-state callback) and its timeouts run on an asio timer, so no thread waits
// and no call blocks. All of the channel's work runs on one strand (c-ares 1.18's channel is not
// thread-safe), like massdns's single event loop.
//
// Around the channel: a shared cache of responses honouring their TTLs and negative TTLs (RFC 2308), a
// process-wide rate limit in queries/s (a token bucket) and a cap on queries in flight; queries beyond
// either wait in a queue. The program must ignore SIGPIPE (c-ares writes TCP queries with writev, and a
// server may close the connection). A query asked while the same one is queued or in flight joins it; a query
// still queued whose every caller was cancelled is never sent.
#ifndef SQUATSTREAM_WORKERS_DNS_RESOLVER_H_
#define SQUATSTREAM_WORKERS_DNS_RESOLVER_H_

#include <ares.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
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

namespace squatstream::workers::dns {

struct ResolverOptions {
  // "host:port" entries ("[::1]:53" for IPv6); empty: the system's /etc/resolv.conf.
  std::vector<std::string> servers;
  std::chrono::milliseconds timeout{2500};  // per try
  int tries = 2;
  double rate_limit_qps = 100;                      // queries sent per second, process-wide; 0: no limit
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

  // Asks for `type` records of `name` (no search list, no trailing dot). `done` runs on the resolver's
  // strand (never inline), unless `*cancelled` is true by the time the query would be sent or answered, in
  // which case it is dropped without running. `cancelled` is read and written on the strand only.
  void Query(std::string name, RrType type, std::shared_ptr<bool> cancelled, Callback done);

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
    RrType type;
    std::string key;
  };
  struct InFlight {
    Resolver* resolver;
    Pending query;
    std::chrono::steady_clock::time_point sent;
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

  // Strand only.
  void Send(Pending p);
  void SendQueued();
  bool TakeToken();
  void ArmRefill();
  void ArmTimeout();
  void ArmTimerAt(std::chrono::steady_clock::time_point at);
  void OnSocketState(ares_socket_t fd, bool readable, bool writable);
  void WaitOn(const std::shared_ptr<Watch>& w, bool write);
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  const DnsMessage* CacheFind(const std::string& key);
  void CacheStore(const std::string& key, const DnsMessage& response);

  asio::strand<asio::io_context::executor_type> strand_;
  const ResolverOptions options_;
  ResolverMetrics* const metrics_;
  ares_channel channel_ = nullptr;
  absl::flat_hash_map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  asio::steady_timer timeout_timer_;
  bool timeout_armed_ = false;
  std::chrono::steady_clock::time_point timeout_at_;  // when armed
  std::uint64_t timer_generation_ = 0;                // the wait that owns the timer
  asio::steady_timer refill_timer_;
  bool refill_armed_ = false;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point tokens_at_;
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
