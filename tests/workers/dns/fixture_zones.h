// The fixture zones the DNS tests serve with nsd: an authoritative `com` (NXDOMAIN for everything absent)
// holding look-alikes of example.com with only MX, only NS (a delegation), only AAAA, and a CNAME; a zone
// of its own for a fully set-up look-alike (NS, A, AAAA, MX, TXT); and a `net` with a wildcard.
#ifndef SQUATSTREAM_TESTS_WORKERS_DNS_FIXTURE_ZONES_H_
#define SQUATSTREAM_TESTS_WORKERS_DNS_FIXTURE_ZONES_H_

#include <map>
#include <string>

namespace squatstream::workers::dns::testing {

inline std::map<std::string, std::string> FixtureZones() {
  return {
      {"com",
       "$ORIGIN com.\n$TTL 300\n"
       "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n"
       "@ IN NS ns.test.\n"
       "exmple IN MX 10 mail.exmple.com.\n"   // only MX (omission)
       "examplr IN NS ns1.elsewhere.test.\n"  // only a delegation (replacement)
       "exanple IN AAAA 2001:db8::1\n"        // only AAAA (replacement)
       "wxample IN CNAME exampel.com.\n"},    // a CNAME to another look-alike (replacement)
      {"exampel.com",                         // transposition, fully set up
       "$ORIGIN exampel.com.\n$TTL 300\n"
       "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n"
       "@ IN NS ns1.exampel.com.\n"
       "@ IN A 192.0.2.10\n"
       "@ IN AAAA 2001:db8::10\n"
       "@ IN MX 20 mx2.exampel.com.\n"
       "@ IN MX 10 mx1.exampel.com.\n"
       "@ IN TXT \"v=spf1 -all\"\n"
       "ns1 IN A 192.0.2.11\n"},
      {"net",
       "$ORIGIN net.\n$TTL 300\n"
       "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n"
       "@ IN NS ns.test.\n"
       "* IN A 198.51.100.1\n"},  // every name under net answers: a wildcard
  };
}

}  // namespace squatstream::workers::dns::testing

#endif  // SQUATSTREAM_TESTS_WORKERS_DNS_FIXTURE_ZONES_H_
