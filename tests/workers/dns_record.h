// A record as the DNS stage leaves it, for the tests and benchmarks of the stages that need DNS: `domain`
// with a successful DNS enrichment of `verdict` and `addresses` (A/AAAA answers, in order).
#ifndef SQUATSTREAM_TESTS_WORKERS_DNS_RECORD_H_
#define SQUATSTREAM_TESTS_WORKERS_DNS_RECORD_H_

#include <string>
#include <vector>

#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::testing {

inline v1::Record RecordAfterDns(const std::string& domain, v1::DnsVerdict verdict,
                                 const std::vector<std::string>& addresses = {}) {
  v1::Record record;
  record.set_domain_ascii(domain);
  v1::Enrichment* dns = record.add_enrichments();
  dns->set_enricher(v1::ENRICHER_DNS);
  dns->mutable_status();  // OK
  dns->mutable_dns()->set_verdict(verdict);
  for (const std::string& a : addresses) dns->mutable_dns()->add_addresses(a);
  return record;
}

}  // namespace squatstream::testing

#endif  // SQUATSTREAM_TESTS_WORKERS_DNS_RECORD_H_
