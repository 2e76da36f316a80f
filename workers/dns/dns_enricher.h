// The DNS stage: which candidates exist, and where they point.
//
// Per candidate (as dnstwist does, NS first): NS; on NXDOMAIN the verdict is UNREGISTERED (with the zone
// whose SOA said so) and nothing more is asked; on NOERROR, A, AAAA, MX, CNAME and TXT in parallel; on
// SERVFAIL, REFUSED or no answer, UNKNOWN — never counted as registered (dnstwist's #154, #221). A name with
// answers but no delegation of its own whose addresses equal what a random label under the same parent gets
// is a WILDCARD (the parent's probe is an ordinary query, so the resolver's cache keeps it for its TTL,
// across streams; concurrent candidates share the one in flight).
#ifndef SQUATSTREAM_WORKERS_DNS_DNS_ENRICHER_H_
#define SQUATSTREAM_WORKERS_DNS_DNS_ENRICHER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "workers/dns/resolver.h"
#include "workers/enricher.h"

namespace squatstream::workers::dns {

class DnsEnricher final : public Enricher {
 public:
  // `resolver` and `metrics` must outlive every lookup.
  DnsEnricher(Resolver* resolver, ResolverMetrics* metrics);

  // What a result's answers other than addresses may hold, counted as they are added (each value twice: its
  // query's answers and the result's lists, name servers or mail exchangers); answers past it are counted, not
  // kept. Addresses (at most 16 A and 16 AAAA, 39 characters each, twice: ~3 KiB) and the rest of the result
  // (rcodes, the zone names of ~1 KiB at most) stay within the 8 KiB more of MaxResultBytes.
  static constexpr std::size_t kMaxResultBytes = std::size_t{16} << 10;

  v1::Enricher id() const override { return v1::ENRICHER_DNS; }
  std::size_t MaxResultBytes() const override { return kMaxResultBytes + (std::size_t{8} << 10); }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override;

 private:
  struct Candidate;
  static void AddQuery(Candidate& c, RrType type, const QueryResult& r, v1::DnsQuery* out,
                       std::vector<const ResourceRecord*>* kept = nullptr);
  void OnNs(const std::shared_ptr<Candidate>& c, QueryResult result);
  void OnRecords(const std::shared_ptr<Candidate>& c);
  void Finish(const std::shared_ptr<Candidate>& c, absl::Status status);

  Resolver* const resolver_;
  ResolverMetrics* const metrics_;
  const std::string probe_label_;
  absl::flat_hash_set<std::string> wildcard_zones_;  // resolver strand only
};

}  // namespace squatstream::workers::dns

#endif  // SQUATSTREAM_WORKERS_DNS_DNS_ENRICHER_H_
