#include "workers/net/address_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace squatstream::workers::net {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

Bytes MapV4(const std::uint8_t v4[4]) {
  Bytes b{};
  b[10] = b[11] = 0xff;
  std::memcpy(&b[12], v4, 4);
  return b;
}

bool Parse(absl::string_view text, Bytes* out) {
  if (text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    *out = MapV4(v4);
    return true;
  }
  return inet_pton(AF_INET6, buf, out->data()) == 1;
}

struct Refused {
  const char* cidr;
  const char* what;
};

// IPv4 ranges as written in ::ffff:0:0/96 (checked on the embedded IPv4 address), then IPv6 ones.
constexpr Refused kV4[] = {
    {"0.0.0.0/8", "unspecified (\"this network\")"},
    {"10.0.0.0/8", "private"},
    {"100.100.100.200/32", "a cloud metadata address"},  // before its range: the more specific name
    {"100.64.0.0/10", "shared (CGNAT)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local (cloud metadata: 169.254.169.254)"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "6to4 relay anycast"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
};
constexpr Refused kV6[] = {
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"::/96", "IPv4-compatible (deprecated, RFC 4291)"},  // ::127.0.0.1 dials 127.0.0.1 on some stacks
    {"::ffff:0:0:0/96", "IPv4-translated (RFC 2765)"},    // SIIT's form of an IPv4 host: never a public one
    {"64:ff9b:1::/48", "local-use NAT64"},
    {"100::/64", "discard-only"},
    {"2001:db8::/32", "documentation"},
    {"2001:2::/48", "benchmarking"},
    {"fd00:ec2::254/128", "a cloud metadata address"},
    {"fc00::/7", "unique local (private)"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local (deprecated)"},
    {"ff00::/8", "multicast"},
};

const std::vector<std::pair<Cidr, const char*>>& RefusedRanges() {
  static const auto* ranges = [] {
    auto* r = new std::vector<std::pair<Cidr, const char*>>();
    for (const Refused& x : kV4) r->emplace_back(*ParseCidr(x.cidr), x.what);
    for (const Refused& x : kV6) r->emplace_back(*ParseCidr(x.cidr), x.what);
    return r;
  }();
  return *ranges;
}

std::string Show(const Bytes& b) {
  char buf[INET6_ADDRSTRLEN] = {};
  static const std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b.data(), kMappedPrefix, 12) == 0) {
    inet_ntop(AF_INET, &b[12], buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, b.data(), buf, sizeof(buf));
  }
  return buf;
}

}  // namespace

bool Cidr::Contains(const Bytes& a) const {
  const int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.data(), address.data(), static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[static_cast<std::size_t>(full)] & mask) == (address[static_cast<std::size_t>(full)] & mask);
}

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  const std::size_t slash = text.find('/');
  Cidr c;
  if (!Parse(text.substr(0, slash), &c.address)) {
    return absl::InvalidArgumentError(absl::StrFormat("\"%s\" is not an address or CIDR", text));
  }
  const bool v4 = !absl::StrContains(text.substr(0, slash), ':');
  c.prefix = 128;
  if (slash != absl::string_view::npos) {
    int bits = 0;
    if (!absl::SimpleAtoi(text.substr(slash + 1), &bits) || bits < 0 || bits > (v4 ? 32 : 128)) {
      return absl::InvalidArgumentError(absl::StrFormat("\"%s\": bad prefix length", text));
    }
    c.prefix = v4 ? 96 + bits : bits;
  }
  return c;
}

absl::StatusOr<AddressPolicy> AddressPolicy::WithAllowed(const std::vector<std::string>& allowed) {
  AddressPolicy p;
  for (const std::string& a : allowed) {
    absl::StatusOr<Cidr> c = ParseCidr(a);
    if (!c.ok()) return c.status();
    p.allowed_.push_back(*c);
  }
  return p;
}

absl::Status AddressPolicy::Check(const Bytes& address, const std::string& shown) const {
  // The allow list matches the address as dialled. An opened IPv4 range does not open its NAT64 or 6to4
  // forms: those are other addresses, reached through a translator or relay the operator did not name, so
  // they are let through only when listed themselves (64:ff9b::7f00:2/128, 2002:7f00:2::/48).
  for (const Cidr& a : allowed_) {
    if (a.Contains(address)) return absl::OkStatus();
  }
  // Forms that embed an IPv4 address are refused as it would be: NAT64 (64:ff9b::/96, last 32 bits) and
  // 6to4 (2002::/16, bits 16-47); ::ffff:0:0/96 is how IPv4 is held here already.
  Bytes judged = address;
  static const Cidr kNat64 = *ParseCidr("64:ff9b::/96");
  static const Cidr k6to4 = *ParseCidr("2002::/16");
  if (kNat64.Contains(address)) judged = MapV4(&address[12]);
  if (k6to4.Contains(address)) judged = MapV4(&address[2]);
  for (const auto& [range, what] : RefusedRanges()) {
    if (range.Contains(judged)) {
      return absl::PermissionDeniedError(
          absl::StrFormat("%s is %s (%s/%d): not dialled", shown, what, Show(range.address),
                          range.address[10] == 0xff && range.prefix >= 96 ? range.prefix - 96 : range.prefix));
    }
  }
  return absl::OkStatus();
}

absl::Status AddressPolicy::CheckText(absl::string_view ip) const {
  Bytes b;
  if (!Parse(ip, &b)) return absl::InvalidArgumentError(absl::StrFormat("\"%s\" is not an IP address", ip));
  return Check(b, std::string(ip));
}

absl::Status AddressPolicy::Check(const sockaddr* address) const {
  Bytes b{};
  if (address->sa_family == AF_INET) {
    b = MapV4(reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr));
  } else if (address->sa_family == AF_INET6) {
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, 16);
  } else {
    return absl::PermissionDeniedError("not an IP address: not dialled");
  }
  return Check(b, Show(b));
}

}  // namespace squatstream::workers::net
