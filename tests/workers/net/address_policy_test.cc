// The address policy every dial to a stranger-named host goes through: one case per refused range, in its
// IPv4 and IPv6 forms (mapped, NAT64, 6to4, translated), public addresses allowed, and named CIDRs opened —
// matched against the address as dialled.
#include "workers/net/address_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::workers::net {
namespace {

using ::testing::HasSubstr;

struct Case {
  const char* address;
  const char* why;  // in the refusal's message
};

TEST(AddressPolicyTest, EveryRefusedRangeInEveryForm) {
  const AddressPolicy policy;
  const Case refused[] = {
      {"0.0.0.0", "unspecified"},
      {"10.1.2.3", "private (10.0.0.0/8)"},
      {"100.64.0.1", "CGNAT"},
      {"100.100.100.200", "cloud metadata"},
      {"127.0.0.1", "loopback (127.0.0.0/8)"},
      {"169.254.169.254", "link-local"},
      {"172.16.5.4", "private (172.16.0.0/12)"},
      {"192.0.0.8", "IETF protocol assignments"},
      {"192.0.2.1", "documentation"},
      {"192.88.99.1", "6to4 relay"},
      {"192.168.1.1", "private (192.168.0.0/16)"},
      {"198.18.0.1", "benchmarking"},
      {"198.51.100.7", "documentation"},
      {"203.0.113.9", "documentation"},
      {"224.0.0.251", "multicast"},
      {"240.0.0.1", "reserved"},
      {"255.255.255.255", "reserved"},
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"::127.0.0.1", "IPv4-compatible"},  // the deprecated compatible form (RFC 4291)
      {"::10.0.0.1", "IPv4-compatible"},
      {"::ffff:10.0.0.1", "private"},            // IPv4-mapped
      {"::ffff:169.254.169.254", "link-local"},  // the metadata address, mapped
      {"64:ff9b::7f00:1", "loopback"},           // NAT64 of 127.0.0.1
      {"64:ff9b::a9fe:a9fe", "link-local"},      // NAT64 of 169.254.169.254
      {"2002:c0a8:0101::1", "private"},          // 6to4 of 192.168.1.1
      {"2002:7f00:1::", "loopback"},             // 6to4 of 127.0.0.1
      {"::ffff:0:7f00:1", "IPv4-translated"},    // RFC 2765's form of 127.0.0.1
      {"::ffff:0:808:808", "IPv4-translated"},   // refused whole: no public host has one
      {"64:ff9b:1::1", "local-use NAT64"},
      {"100::1", "discard-only"},
      {"2001:db8::1", "documentation"},
      {"2001:2::1", "benchmarking"},
      {"fc00::1", "unique local"},
      {"fd12:3456::1", "unique local"},
      {"fd00:ec2::254", "cloud metadata"},  // AWS's IPv6 metadata address (inside fc00::/7 too)
      {"fe80::1", "link-local"},
      {"fec0::1", "site-local"},
      {"ff02::1", "multicast"},
  };
  for (const Case& c : refused) {
    const absl::Status s = policy.CheckText(c.address);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.address;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.why)) << c.address;
    EXPECT_THAT(std::string(s.message()), HasSubstr("not dialled")) << c.address;
  }
  for (const char* ok : {"1.1.1.1", "8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "2001:4860:4860::8888",
                         "64:ff9b::808:808", "2002:808:808::1", "::ffff:1.1.1.1"}) {
    EXPECT_TRUE(policy.CheckText(ok).ok()) << ok << ": " << policy.CheckText(ok);
  }
  EXPECT_EQ(policy.CheckText("example.com").code(), absl::StatusCode::kInvalidArgument);
}

TEST(AddressPolicyTest, SocketAddressesAndOpenedRanges) {
  absl::StatusOr<AddressPolicy> opened = AddressPolicy::WithAllowed({"127.0.0.0/8", "fd00:1::/32"});
  ASSERT_TRUE(opened.ok()) << opened.status();
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
  EXPECT_TRUE(opened->Check(reinterpret_cast<const sockaddr*>(&v4)).ok());
  EXPECT_FALSE(AddressPolicy().Check(reinterpret_cast<const sockaddr*>(&v4)).ok());
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fd00:1::5", &v6.sin6_addr);
  EXPECT_TRUE(opened->Check(reinterpret_cast<const sockaddr*>(&v6)).ok());
  inet_pton(AF_INET6, "fd00:2::5", &v6.sin6_addr);
  EXPECT_FALSE(opened->Check(reinterpret_cast<const sockaddr*>(&v6)).ok());
  EXPECT_FALSE(opened->CheckText("64:ff9b::7f00:1").ok());  // NAT64 of an opened address: not the address
  EXPECT_FALSE(opened->CheckText("10.0.0.1").ok());
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "nonsense", "10.0.0.0/x"}) {
    EXPECT_EQ(AddressPolicy::WithAllowed({bad}).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// The allow list matches the address as dialled: an opened IPv4 range opens that range, dialled as IPv4 (or
// as its IPv4-mapped IPv6 form, the same address to the kernel) — not its NAT64 or 6to4 forms, which reach it
// through a translator or relay, nor its IPv4-translated form, unless those are listed themselves.
TEST(AddressPolicyTest, AnOpenedRangeOpensOnlyTheAddressesAsDialled) {
  absl::StatusOr<AddressPolicy> opened = AddressPolicy::WithAllowed({"127.0.0.2/32"});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(opened->CheckText("127.0.0.2").ok());
  EXPECT_TRUE(opened->CheckText("::ffff:127.0.0.2").ok());  // IPv4-mapped: the kernel dials 127.0.0.2
  const Case still_refused[] = {
      {"127.0.0.3", "loopback (127.0.0.0/8)"},        // beside the range
      {"64:ff9b::7f00:2", "loopback (127.0.0.0/8)"},  // NAT64 of 127.0.0.2
      {"2002:7f00:2::", "loopback (127.0.0.0/8)"},    // 6to4 of 127.0.0.2
      {"2002:7f00:2:1::5", "loopback (127.0.0.0/8)"},
      {"::ffff:0:7f00:2", "IPv4-translated (RFC 2765) (::ffff:0:0:0/96)"},
      {"::127.0.0.2", "IPv4-compatible"},
  };
  for (const Case& c : still_refused) {
    const absl::Status s = opened->CheckText(c.address);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.address;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.why)) << c.address;
  }
  // The same dialled as socket addresses (what libcurl's and asio's connects are checked with).
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "64:ff9b::7f00:2", &v6.sin6_addr);
  EXPECT_EQ(opened->Check(reinterpret_cast<const sockaddr*>(&v6)).code(), absl::StatusCode::kPermissionDenied);
  inet_pton(AF_INET6, "2002:7f00:2::", &v6.sin6_addr);
  EXPECT_EQ(opened->Check(reinterpret_cast<const sockaddr*>(&v6)).code(), absl::StatusCode::kPermissionDenied);
  inet_pton(AF_INET6, "::ffff:127.0.0.2", &v6.sin6_addr);
  EXPECT_TRUE(opened->Check(reinterpret_cast<const sockaddr*>(&v6)).ok());

  // Listed themselves, each form is opened — and only the one listed.
  absl::StatusOr<AddressPolicy> forms =
      AddressPolicy::WithAllowed({"64:ff9b::7f00:2/128", "2002:7f00:2::/48", "::ffff:0:7f00:2/128"});
  ASSERT_TRUE(forms.ok()) << forms.status();
  EXPECT_TRUE(forms->CheckText("64:ff9b::7f00:2").ok());
  EXPECT_TRUE(forms->CheckText("2002:7f00:2::1").ok());
  EXPECT_TRUE(forms->CheckText("::ffff:0:7f00:2").ok());
  EXPECT_FALSE(forms->CheckText("127.0.0.2").ok());
  EXPECT_FALSE(forms->CheckText("64:ff9b::7f00:3").ok());
  EXPECT_FALSE(forms->CheckText("2002:7f00:3::1").ok());
  EXPECT_FALSE(forms->CheckText("::ffff:0:7f00:3").ok());
}

}  // namespace
}  // namespace squatstream::workers::net
