// Which addresses this service may dial. It dials hosts that strangers name — registrars' RDAP links and
// WHOIS referrals today, candidates' web and mail servers next — so by default never loopback, private
// (RFC 1918, fc00::/7), link-local, CGNAT (100.64/10), unspecified, multicast, reserved, documentation or
// benchmarking ranges, nor IPv6 forms that embed such an IPv4 address (::ffff:0:0/96, 64:ff9b::/96,
// 2002::/16; IPv4-translated ::ffff:0:0:0/96 and IPv4-compatible ::/96 whole) or cloud metadata addresses;
// named CIDRs can be opened (the tests open 127.0.0.0/8), matched against the address as dialled: an opened
// IPv4 range does not open its NAT64 or 6to4 forms unless they are listed too.
// The check is on the address actually dialled, after resolution (no second lookup, no DNS rebinding).
#ifndef SQUATSTREAM_WORKERS_NET_ADDRESS_POLICY_H_
#define SQUATSTREAM_WORKERS_NET_ADDRESS_POLICY_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace squatstream::workers::net {

// An IPv6 address (IPv4 as ::ffff:a.b.c.d) and prefix length over those 128 bits.
struct Cidr {
  std::array<std::uint8_t, 16> address{};
  int prefix = 0;
  bool Contains(const std::array<std::uint8_t, 16>& a) const;
};
// "127.0.0.0/8", "fd00::/8", "192.0.2.1" (a /32); INVALID_ARGUMENT naming the fault.
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);

class AddressPolicy {
 public:
  // The default: every range named above refused.
  AddressPolicy() = default;
  // Opens `allowed` (e.g. {"127.0.0.0/8"}); INVALID_ARGUMENT for a malformed one.
  static absl::StatusOr<AddressPolicy> WithAllowed(const std::vector<std::string>& allowed);

  // OK, or PERMISSION_DENIED saying which range refuses it ("10.1.2.3 is private (10.0.0.0/8)").
  absl::Status Check(const sockaddr* address) const;
  absl::Status CheckText(absl::string_view ip) const;  // an IPv4 or IPv6 address as text

 private:
  absl::Status Check(const std::array<std::uint8_t, 16>& mapped, const std::string& shown) const;
  std::vector<Cidr> allowed_;
};

}  // namespace squatstream::workers::net

#endif  // SQUATSTREAM_WORKERS_NET_ADDRESS_POLICY_H_
