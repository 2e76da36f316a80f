// The registration stage (ENRICHER_WHOIS): who registered the candidate's registered domain, when, until
// when, through which registrar, with which statuses and name servers, and whom to tell about abuse.
//
// Asked only for names DNS says exist or could not say (REGISTERED, UNKNOWN: not UNREGISTERED or WILDCARD),
// about the registered domain (ICANN suffix plus one label), one question per name however many candidates
// or streams want it: a shared cache (TTL; a shorter one for "not registered") and joined lookups in
// flight. RDAP (RFC 7480-7484, 9082/9083) where the IANA bootstrap (RFC 9224: the committed snapshot,
// refreshed from a URL) names a service for the TLD — following redirects and the registrar's "related"
// link, whose answer fills what the registry's lacks; WHOIS (RFC 3912) otherwise: IANA's server for the
// TLD's, the TLD's for the registrar's referral. Every host asked — named by the bootstrap, a redirect, a
// related link or a referral — is resolved through the DNS stage's resolver, never the system's (redirects
// are followed by net::HttpClient, hop by hop). Registries rate-limit hard: every server is asked through a
// ServerGate (concurrency cap, rate, Retry-After and backoff). A lookup never outlives its deadline, waits
// included: it ends DEADLINE_EXCEEDED saying what it was waiting for.
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_ENRICHER_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_ENRICHER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "base/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "workers/enricher.h"
#include "workers/net/host_lookup.h"
#include "workers/net/http_client.h"
#include "workers/net/shared_limits.h"
#include "workers/registration/registration_parsers.h"
#include "workers/registration/server_gate.h"

namespace squatstream::workers::registration {

struct RegistrationOptions {
  std::string bootstrap_file;                                         // "": the snapshot built into the binary
  std::string bootstrap_url = "https://data.iana.org/rdap/dns.json";  // refreshed from here; "": never
  absl::Duration bootstrap_refresh = absl::Hours(24);                 // and this often (0: never)
  std::string whois_server = "whois.iana.org";                        // where WHOIS starts (it refers to the TLD's)
  absl::Duration deadline = absl::Seconds(15);                     // one lookup's, waiting for a server's turn included
  absl::Duration request_timeout = absl::Seconds(10);              // one HTTP or WHOIS request's
  GateOptions gate = {.rate_per_second = 1, .max_concurrent = 2};  // per server
  std::size_t cache_entries = 100000;                              // 0: no cache
  std::size_t cache_bytes = std::size_t{64} << 20;                 // and at most this much held
  absl::Duration cache_ttl = absl::Hours(24);
  absl::Duration negative_ttl = absl::Hours(1);  // for "not registered" answers
  bool follow_related = true;                    // ask the registrar's RDAP server too
  std::size_t max_rdap_bytes = std::size_t{1} << 20;
  std::size_t max_whois_bytes = std::size_t{64} << 10;
  net::AddressPolicy policy;      // every address dialled (RDAP, redirects, related links, WHOIS) is checked
  int max_throttled_retries = 2;  // asks again after a 429, within the deadline
  // Every replica's limits and cache (null members: this process's gate and cache only, as before): each
  // server's rate and places ("registry:<server>"), and answers under "registration:<name>" (the serialized
  // WhoisResult, with cache_ttl or negative_ttl) behind the in-process cache. Asked from the strand.
  net::SharedLimits shared;
};

struct RegistrationMetrics {
  explicit RegistrationMetrics(prometheus::Registry& registry);
  // A request to a server, by protocol (rdap, whois, bootstrap), server host and outcome (ok, not_found,
  // rate_limited, timeout, unavailable, malformed, too_large, error). Strand only.
  prometheus::Counter* Request(const std::string& protocol, const std::string& server, const std::string& outcome);

  prometheus::Family<prometheus::Counter>* requests;
  absl::flat_hash_map<std::string, prometheus::Counter*> request_counters;
  absl::flat_hash_set<std::string> servers_seen;  // the server label's values
  const std::string kOther = "other";
  prometheus::Counter* cache_hits;
  prometheus::Counter* cache_misses;
  prometheus::Counter* cache_joined;
  prometheus::Gauge* cache_bytes;
  prometheus::Counter* gate_waits;  // requests that waited for a server's turn (rate limit, cap or pause)
  prometheus::Gauge* gate_waiting;
  prometheus::Gauge* bootstrap_tlds;
  prometheus::Gauge* bootstrap_publication;  // the bootstrap file's publication time, Unix seconds
};

class RegistrationEnricher final : public Enricher {
 public:
  // Loads the bootstrap (INVALID_ARGUMENT if it does not parse) and starts its refresh. `executor` runs the
  // stage's strand; `metrics` must outlive the enricher. `lookup` (the DNS stage's resolver) resolves every
  // host asked — RDAP hosts, redirects and related links, the bootstrap's, WHOIS servers and referrals — and
  // nothing else does (workers/net/host_lookup.h); empty (DNS simulated): only hosts given as address
  // literals are asked, the others end FAILED_PRECONDITION.
  static absl::StatusOr<std::unique_ptr<RegistrationEnricher>> Create(const RegistrationOptions& options,
                                                                      const asio::any_io_executor& executor,
                                                                      RegistrationMetrics* metrics,
                                                                      net::HostLookup lookup = nullptr);
  ~RegistrationEnricher() override;

  v1::Enricher id() const override { return v1::ENRICHER_WHOIS; }
  // BoundWhoisResult's bound (registration_parsers.h), and the status message beside it.
  std::size_t MaxResultBytes() const override { return kMaxWhoisResultBytes + (std::size_t{4} << 10); }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;
  // Answers names not to be asked about, and names in the cache.
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override;

  // Stops the refresh and every request (lookups still waiting end CANCELLED; requests queued for a server's
  // turn are dropped, WHOIS connections closed), so the executor has nothing left to wait for. Call before
  // the executor stops; idempotent.
  void Shutdown() override;

  std::string bootstrap_publication() const;

 private:
  struct Waiter;
  struct Fetch;
  enum class WhoisStep { kIana, kRegistry, kRegistrar };

  RegistrationEnricher(const RegistrationOptions& options, const asio::any_io_executor& executor,
                       RegistrationMetrics* metrics, net::HostLookup lookup);
  void SetBootstrap(RdapBootstrap bootstrap);
  void RefreshBootstrap();
  std::optional<LookupResult> Skip(const LookupInput& input, std::string* registered);
  // Skip, else the cache: the answer when there is one without asking; `registered` is set either way
  // (unless skipped for having none).
  std::optional<LookupResult> Now(const LookupInput& input, std::string* registered);
  std::optional<v1::WhoisResult> CacheFind(const std::string& name);
  void CacheStore(const std::string& name, const v1::WhoisResult& result);
  // The shared cache (options_.shared.cache) behind the in-process one: nullopt without it, on a miss, or
  // for bytes that do not parse. Strand only (one round trip to the backend).
  std::optional<v1::WhoisResult> SharedCacheFind(const std::string& name);
  void SharedCacheStore(const std::string& name, const v1::WhoisResult& result);

  void Start(const std::shared_ptr<Fetch>& fetch);
  void AskRdap(const std::shared_ptr<Fetch>& fetch, const std::string& url, bool related);
  void OnRdap(const std::shared_ptr<Fetch>& fetch, const std::string& url, bool related,
              const net::HttpResponse& response);
  void AskWhois(const std::shared_ptr<Fetch>& fetch, const std::string& server, WhoisStep step);
  void OnWhois(const std::shared_ptr<Fetch>& fetch, const std::string& server, WhoisStep step,
               absl::StatusOr<struct WhoisReply> reply);
  void Succeed(const std::shared_ptr<Fetch>& fetch);
  void Finish(const std::shared_ptr<Fetch>& fetch, const absl::StatusOr<v1::WhoisResult>& result);
  void Deliver(const std::shared_ptr<Waiter>& waiter, const absl::StatusOr<v1::WhoisResult>& result);
  // After a waiter gave up (cancelled, deadline): a fetch no one waits for any more stops asking.
  void AbandonIfUnwanted(const std::string& name);
  std::chrono::milliseconds RequestTimeout(const Fetch& fetch) const;
  // Whether a request for `fetch` is still worth sending now; if not, ends the fetch (shut down, or too
  // close to its deadline).
  bool Worthwhile(const std::shared_ptr<Fetch>& fetch);

  const RegistrationOptions options_;
  RegistrationMetrics* const metrics_;
  asio::strand<asio::any_io_executor> strand_;
  const net::HostLookup lookup_;  // the DNS stage's: every host asked is resolved here
  net::HttpClient http_;
  ServerGate gate_;                                                     // strand only
  asio::steady_timer refresh_timer_;                                    // strand only
  absl::flat_hash_map<std::string, std::shared_ptr<Fetch>> in_flight_;  // strand only
  absl::flat_hash_map<std::string, std::string> tld_whois_;             // strand only: IANA's answers, per TLD
  bool shut_down_ = false;                                              // strand only
  std::atomic<bool> shutdown_called_{false};

  mutable Mutex mu_;
  std::shared_ptr<const RdapBootstrap> bootstrap_ ABSL_GUARDED_BY(mu_);
  struct CacheEntry {
    v1::WhoisResult result;
    std::chrono::steady_clock::time_point expires;
    std::size_t bytes;
  };
  absl::flat_hash_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
  std::size_t cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point last_sweep_ ABSL_GUARDED_BY(mu_){};
};

// Destruction: call Shutdown() first and let the executor run out (its handlers hold `this`); the server does
// both before the stages go.

// The IANA bootstrap snapshot committed in workers/registration/data/ and built into the binary.
absl::string_view BootstrapSnapshot();

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_REGISTRATION_ENRICHER_H_
