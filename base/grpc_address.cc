#include "base/grpc_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"

namespace squatstream::base {

std::string HostOf(absl::string_view address) {
  address = absl::StripPrefix(address, "dns:");
  address = absl::StripPrefix(address, "ipv4:");
  address = absl::StripPrefix(address, "ipv6:");
  if (absl::StartsWith(address, "[")) {
    const std::size_t close = address.find(']');
    return std::string(address.substr(1, close == absl::string_view::npos ? absl::string_view::npos : close - 1));
  }
  const std::size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return std::string(address);
  if (address.find(':') != colon) return std::string(address);  // an unbracketed IPv6 literal without a port
  return std::string(address.substr(0, colon));
}

bool IsLoopbackAddress(const std::string& grpc_address) {
  if (absl::StartsWith(grpc_address, "unix:") || absl::StartsWith(grpc_address, "unix-abstract:")) return true;
  std::string host = absl::AsciiStrToLower(HostOf(grpc_address));
  if (absl::EndsWith(host, ".")) host.pop_back();
  if (host == "localhost" || absl::EndsWith(host, ".localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;  // empty (every interface), or a name other than localhost
}

}  // namespace squatstream::base
