#include "workers/net/host_lookup.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace squatstream::workers::net {
namespace {

// `text` parsed as an address of `family` and written back as inet_ntop writes it; "" when it is not one.
std::string Normalized(int family, absl::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return "";
  char in[INET6_ADDRSTRLEN] = {};
  std::memcpy(in, text.data(), text.size());
  unsigned char raw[sizeof(in6_addr)] = {};
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(family, in, raw) != 1 || inet_ntop(family, raw, out, sizeof(out)) == nullptr) return "";
  return out;
}

// Only the addresses `policy` allows; PERMISSION_DENIED (its first refusal, after the name when `host` is
// one) when that leaves none.
absl::StatusOr<std::vector<std::string>> Allowed(const std::string& host, std::vector<std::string> addresses,
                                                 const AddressPolicy* policy) {
  if (addresses.empty()) {
    return absl::UnavailableError(absl::StrFormat("%s has no address (asked of the DNS stage's resolver)", host));
  }
  if (policy == nullptr) return addresses;
  std::vector<std::string> allowed;
  absl::Status refused;
  for (std::string& a : addresses) {
    const absl::Status ok = policy->CheckText(a);
    if (ok.ok()) {
      allowed.push_back(std::move(a));
    } else if (refused.ok()) {
      refused = ok;
    }
  }
  if (allowed.empty()) {
    if (AddressLiteral(host).empty()) {
      return absl::PermissionDeniedError(absl::StrFormat("%s: %s", host, refused.message()));
    }
    return refused;  // it names the address already
  }
  return allowed;
}

}  // namespace

std::string AddressLiteral(absl::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    return Normalized(AF_INET6, host.substr(1, host.size() - 2));
  }
  if (std::string v4 = Normalized(AF_INET, host); !v4.empty()) return v4;
  if (!host.empty() && host.back() == '.') {  // "127.0.0.1.": an IPv4 literal still (WHATWG's URL standard)
    if (std::string v4 = Normalized(AF_INET, host.substr(0, host.size() - 1)); !v4.empty()) return v4;
  }
  return Normalized(AF_INET6, host);
}

void ResolveHost(const HostLookup& lookup, absl::string_view host, const AddressPolicy* policy,
                 absl::AnyInvocable<void(absl::StatusOr<std::vector<std::string>>) &&> done) {
  if (std::string literal = AddressLiteral(host); !literal.empty()) {
    std::move(done)(Allowed(literal, {literal}, policy));
    return;
  }
  std::string name = absl::AsciiStrToLower(host);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) {
    std::move(done)(absl::InvalidArgumentError("no host to dial"));
    return;
  }
  if (!lookup) {
    std::move(done)(absl::FailedPreconditionError(absl::StrFormat(
        "%s is not resolved: the DNS stage is simulated (--stub_enrichers), and no other resolver is asked", name)));
    return;
  }
  lookup(name, [name, policy, done = std::move(done)](std::vector<std::string> addresses) mutable {
    std::move(done)(Allowed(name, std::move(addresses), policy));
  });
}

}  // namespace squatstream::workers::net
