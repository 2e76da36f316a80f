// The banner stage's line-protocol probes over asio, each on one address DNS returned (checked against the
// AddressPolicy before a socket exists; never resolved again): SMTP (RFC 5321: the 220 greeting, EHLO, an MX
// check that reads every reply: MAIL FROM:<>, RCPT TO a random mailbox, QUIT — never DATA) and SSH (RFC
// 4253 4.2: the identification line). Every phase has a timeout, every read a byte cap; replies are read
// by replies.h's parsers.
#ifndef SQUATSTREAM_WORKERS_BANNER_LINE_PROBES_H_
#define SQUATSTREAM_WORKERS_BANNER_LINE_PROBES_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asio/any_io_executor.hpp"
#include "asio/ip/address.hpp"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/banner/replies.h"
#include "workers/net/address_policy.h"

namespace squatstream::workers::banner {

struct LineProbeOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds reply_timeout{5000};  // each reply (the greeting: its first byte included)
  std::chrono::milliseconds whole_timeout{15000};
  std::size_t max_bytes = 16384;  // read in all
  const net::AddressPolicy* policy = nullptr;
  // Told, when a conversation ends, how many bytes it read ("smtp" or "ssh"). May be empty.
  std::function<void(const std::string& protocol, std::size_t bytes)> bytes_read;
};

// Both run on `strand` and call `done` once, there (never inline); the probe's `status` says how it ended
// (PERMISSION_DENIED: the policy refused the address, nothing dialled; DEADLINE_EXCEEDED naming the phase;
// UNAVAILABLE: refused / reset; INVALID_ARGUMENT: not the protocol). The function returned cancels (done
// runs with CANCELLED) and must be called on the strand.
// ProbeSmtp reads the greeting and EHLO; with `probe_mail` (the request's opt-in) it goes on to MAIL FROM:<> and
// RCPT TO a random mailbox at `candidate`, as dnstwist does only with -m.
std::function<void()> ProbeSmtp(const asio::any_io_executor& strand, const asio::ip::address& address, int port,
                                const std::string& mx, const std::string& candidate, bool probe_mail,
                                const LineProbeOptions& options, absl::AnyInvocable<void(v1::SmtpProbe) &&> done);
std::function<void()> ProbeSsh(const asio::any_io_executor& strand, const asio::ip::address& address, int port,
                               const LineProbeOptions& options, absl::AnyInvocable<void(v1::SshProbe) &&> done);

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_LINE_PROBES_H_
