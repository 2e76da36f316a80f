// The banner stage (ENRICHER_BANNER): what the candidate's servers say when asked.
//
// Needs DNS. On the first IPv4 and the first IPv6 address DNS returned: GET / over http and https, each
// following redirects hop by hop (each hop's URL, status, Server, Location and, over TLS, the certificate
// chain as presented with its verification for the name against the system trust store), the final page's
// title; the SSH identification line; on the first mail exchanger (by preference) the SMTP greeting, EHLO
// and an MX check (MAIL FROM:<>, RCPT TO a random mailbox, QUIT). The final page is compared with the input
// domain's own page (fetched once per input domain and shared: TLSH, 0-100) and checked for parking signs.
//
// This stage dials addresses that strangers choose through DNS: every address is checked against the
// AddressPolicy before a socket exists (loopback, private, link-local, metadata ... refused by default;
// `--dial_allow_cidrs` opens ranges), and it is the address DNS returned that is dialled — the name stays
// the Host header and the TLS SNI, nothing is resolved twice. A redirect to another host is resolved
// through the DNS stage's resolver only (never the system's: with DNS a stub, it is not followed) and
// checked again. Connections
// are capped in all and per address; every phase (connect and TLS, first byte, whole request) has a
// timeout and every read a byte cap.
#ifndef SQUATSTREAM_WORKERS_BANNER_BANNER_ENRICHER_H_
#define SQUATSTREAM_WORKERS_BANNER_BANNER_ENRICHER_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "base/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "workers/banner/certificate.h"
#include "workers/enricher.h"
#include "workers/net/address_policy.h"
#include "workers/net/http_client.h"
#include "workers/net/shared_limits.h"
#include "workers/stage.h"

namespace squatstream::workers::banner {

struct BannerOptions {
  int http_port = 80;
  int https_port = 443;
  int smtp_port = 25;
  int ssh_port = 22;
  bool http = true;  // probe http and https
  bool smtp = true;
  bool ssh = true;
  bool similarity = true;                              // compare with the input domain's page
  std::chrono::milliseconds connect_timeout{3000};     // TCP connect, and TLS handshake with it
  std::chrono::milliseconds first_byte_timeout{5000};  // request sent to first byte; SMTP/SSH: each reply
  std::chrono::milliseconds request_timeout{10000};    // one HTTP request, one SMTP/SSH conversation
  absl::Duration deadline = absl::Seconds(25);         // the whole lookup; probes still running are cut
  int max_redirects = 5;
  std::size_t max_body_bytes = std::size_t{256} << 10;  // of a page (read no further)
  std::size_t max_line_bytes = 16384;                   // of an SMTP / SSH conversation
  int max_connections = 256;                            // open at once, all probes
  int max_per_address = 4;                              // open at once to one address
  absl::Duration original_ttl = absl::Minutes(10);      // how long an input domain's page hash is kept
  std::string ca_file;                                  // "": the system trust store
  net::AddressPolicy policy;
  // SMTP probes started to one mail exchanger, per second over every replica ("mx:<host>", a burst of one),
  // asked of shared.rate; a probe refused waits its turn within the deadline. Without shared.rate: no such
  // limit (the per-address cap only, as before).
  double smtp_rate_per_mx = 2;
  net::SharedLimits shared;  // every replica's limiters (workers/net/shared_limits.h); null members: none
};

struct BannerMetrics {
  explicit BannerMetrics(prometheus::Registry& registry);
  // protocol: http, https, smtp, ssh; outcome: ok, refused, timeout, denied (the SSRF guard), error,
  // cancelled. Thread-safe (made at start).
  prometheus::Counter* Connection(const std::string& protocol, const std::string& outcome);
  prometheus::Counter* BytesRead(const std::string& protocol);
  prometheus::Counter* Denied(const std::string& protocol);

  absl::flat_hash_map<std::string, prometheus::Counter*> connections;
  absl::flat_hash_map<std::string, prometheus::Counter*> bytes_read;
  absl::flat_hash_map<std::string, prometheus::Counter*> denied;
  prometheus::Gauge* open;
  prometheus::Gauge* max_connections;   // the cap
  prometheus::Counter* waits;           // connections that waited for a free slot (global or per-address cap)
  prometheus::Counter* original_pages;  // input domains' pages fetched
};

// Resolves a host name to addresses: the DNS stage's lookups (workers/stage.h).
using HostResolver = HostLookup;

// How many connections may be open: in all, and to one address. Waiters queue per stream (LookupInput::stream)
// and, within a stream, per address, in order. A slot freed in all goes to the waiting streams in turn, those
// holding less than an equal share first, and within a stream to its addresses in turn: so one stream whose
// candidates point at addresses that never answer holds the slots only until they free, and another stream's
// probes get the next ones, up to an equal share — not after the first stream's queue. A slot freed at an
// address while there is room in all goes to the oldest waiter there, whatever its stream: thousands of
// look-alikes parked on one address wait for that address only, in the order they came.
// Thread-safe: one mutex (a grant or a release is a few map operations; lookups take it once per
// connection, far from contended next to the connection itself).
class ConnectionGate {
 public:
  ConnectionGate(int max_total, int max_per_address, BannerMetrics* metrics);
  // Runs `go` (on `executor`) when a slot for `address` is free and it is `stream`'s turn; `go` must end with
  // Release(stream, address). `abandoned` set on the executor's strand before then: the slot is handed on,
  // `go` not run.
  void Acquire(std::uint64_t stream, const std::string& address, asio::any_io_executor executor,
               std::shared_ptr<bool> abandoned, absl::AnyInvocable<void() &&> go);
  void Release(std::uint64_t stream, const std::string& address);

 private:
  struct Waiter {
    std::uint64_t stream;
    std::string address;
    asio::any_io_executor executor;
    std::shared_ptr<bool> abandoned;
    absl::AnyInvocable<void() &&> go;
    std::uint64_t seq = 0;  // arrival order, over every stream
  };
  // One stream's waiters: by address, the addresses in turn order.
  struct StreamQueue {
    absl::flat_hash_map<std::string, std::deque<Waiter>> by_address;
    std::deque<std::string> addresses;
  };
  bool RoomAt(const std::string& address) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Grant(Waiter w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grants the stream's first waiter (in its addresses' turn order) whose address has room; false if none.
  bool GrantOne(StreamQueue& q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grants the oldest waiter at `address`, whatever its stream; false if none waits there.
  bool GrantOldestAt(const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_total_;
  const int max_per_address_;
  BannerMetrics* metrics_;
  Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_address_ ABSL_GUARDED_BY(mu_);        // open, by address
  absl::flat_hash_map<std::string, int> queued_at_ ABSL_GUARDED_BY(mu_);          // waiting, by address
  absl::flat_hash_map<std::uint64_t, StreamQueue> waiting_ ABSL_GUARDED_BY(mu_);  // by stream
  absl::flat_hash_map<std::uint64_t, int> held_ ABSL_GUARDED_BY(mu_);             // open, by stream
  std::deque<std::uint64_t> streams_waiting_ ABSL_GUARDED_BY(mu_);                // the keys of waiting_, in turn order
};

// Cuts a banner record a stranger inflated: URLs at 2 KiB, messages at 1 KiB; past 64 KiB, chains beyond
// their leaf, then later hops' certificates, then EHLO lines, then hops' URLs past 256 bytes, then
// certificate names past 16. The stage does this to every record.
void BoundBannerResult(v1::BannerResult* b);

class BannerEnricher final : public Enricher {
 public:
  // `resolver` may be empty (DNS is a stub): MX hosts, redirects to other hosts and the input domain's page
  // are then not resolved (nor asked of any other resolver), so not probed. Fails when the trust store
  // cannot load.
  static absl::StatusOr<std::unique_ptr<BannerEnricher>> Create(const BannerOptions& options,
                                                                asio::any_io_executor executor, HostResolver resolver,
                                                                BannerMetrics* metrics);
  ~BannerEnricher() override;

  v1::Enricher id() const override { return v1::ENRICHER_BANNER; }
  // BoundBannerResult's bound, and the status message beside it.
  std::size_t MaxResultBytes() const override { return kMaxBannerBytes + (std::size_t{4} << 10); }
  static constexpr std::size_t kMaxBannerBytes = std::size_t{64} << 10;
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override;

  // Ends every transfer (HTTP callbacks run CANCELLED) and joins libcurl's thread. Call before the executor
  // stops; idempotent.
  void Shutdown() override;

  struct Shared;  // what lookups share: options, clients, gate, the input domains' pages

 private:
  explicit BannerEnricher(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<Shared> shared_;
};

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_BANNER_ENRICHER_H_
