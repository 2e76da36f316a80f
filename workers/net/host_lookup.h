// Where the names strangers choose are turned into addresses: a redirect's host, an RDAP base or link, a WHOIS
// server or referral. Through the DNS stage's resolver (c-ares with the operator's --dns_servers, its cache and
// rate limit) and nowhere else: never the system's resolver, nor /etc/hosts — libcurl and asio are only ever
// given the address found here, never a name to resolve. Then the address policy, before anything is dialled.
#ifndef SQUATSTREAM_WORKERS_NET_HOST_LOOKUP_H_
#define SQUATSTREAM_WORKERS_NET_HOST_LOOKUP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "workers/net/address_policy.h"

namespace squatstream::workers::net {

// A name's addresses (A, then AAAA when it has no A); an empty list when it has none or the lookup failed.
// `done` runs once, on any thread, possibly inline. The same type as workers::HostLookup (workers/stage.h),
// which the real DNS stage provides; empty when the DNS stage is simulated.
using HostLookup =
    std::function<void(const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done)>;

// The address a host spells as a literal — "192.0.2.1", "2001:db8::1" or "[2001:db8::1]", and "127.0.0.1."
// (an IPv4 literal with a trailing dot is that address, as WHATWG's URL parser reads it) — as inet_ntop
// writes it; "" for a name.
std::string AddressLiteral(absl::string_view host);

// The addresses to dial for `host` (a URL's host or a WHOIS server's, any case, a trailing dot allowed),
// those `policy` refuses left out (null: none checked), in the lookup's order:
//   - an address literal is itself: nothing is resolved;
//   - a name is asked of `lookup` (lower case, without its trailing dot);
//   - FAILED_PRECONDITION for a name when `lookup` is empty (the DNS stage is simulated): it is not resolved
//     at all rather than by a resolver the operator did not choose;
//   - UNAVAILABLE when the name has no address; PERMISSION_DENIED (the first refusal) when the policy refuses
//     every one; INVALID_ARGUMENT for an empty host.
// `done` runs once: inline for a literal, an empty lookup or an empty host, else wherever `lookup` calls back.
void ResolveHost(const HostLookup& lookup, absl::string_view host, const AddressPolicy* policy,
                 absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>) &&> done);

}  // namespace squatstream::workers::net

#endif  // SQUATSTREAM_WORKERS_NET_HOST_LOOKUP_H_
