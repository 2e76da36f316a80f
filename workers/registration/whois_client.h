// One WHOIS query (RFC 3912): connect to host[:port] (43 by default), send the query and CRLF, read until
// the server closes — at most `max_bytes` (a server that floods is cut there and its first bytes kept) and
// within `timeout` (a server that never closes ends with DEADLINE_EXCEEDED).
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_WHOIS_CLIENT_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_WHOIS_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"

namespace squatstream::workers::registration {

struct WhoisReply {
  std::string text;
  bool truncated = false;  // the server sent more than max_bytes
};

// `done` runs once, on `executor` (never inline). The server's name (IANA's, or a referral a registry chose)
// is resolved through `lookup`, the DNS stage's resolver, and nothing else (net::ResolveHost: an address
// literal is dialled as it is; with an empty lookup a name is FAILED_PRECONDITION, never asked of the
// system's resolver). UNAVAILABLE when the server has no address or cannot be reached (`refused` in the
// message), DEADLINE_EXCEEDED past the timeout (resolution included), PERMISSION_DENIED when `policy` refuses
// every address the name has (none of those is dialled). `executor` must be a strand; the function returned
// cancels the query (done: CANCELLED; socket and timer released) and must be called on it.
std::function<void()> WhoisQuery(const asio::any_io_executor& executor, const std::string& server,
                                 const std::string& query, std::chrono::milliseconds timeout, std::size_t max_bytes,
                                 const net::AddressPolicy* policy, const net::HostLookup& lookup,
                                 absl::AnyInvocable<void(absl::StatusOr<WhoisReply>) &&> done);

// Splits "host", "host:port", "[v6]:port" (port 43 when absent). False for an empty host or a bad port.
bool SplitServer(const std::string& server, std::string* host, std::string* port);

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_WHOIS_CLIENT_H_
