// Whether a gRPC address can only be reached from this machine — asked by squatstreamd (its listening
// address: the exposure warning) and by the client (the address it dials: an API key never crosses a network in
// clear).
#ifndef SQUATSTREAM_BASE_GRPC_ADDRESS_H_
#define SQUATSTREAM_BASE_GRPC_ADDRESS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace squatstream::base {

// The host part of a gRPC address (host:port, [v6]:port, with or without a dns:/ipv4:/ipv6: scheme), without
// brackets; "" for every interface (":50051").
std::string HostOf(absl::string_view address);

// True when `grpc_address` (host:port, or unix:PATH) can only be reached from this machine: a unix socket,
// 127.0.0.0/8, ::1, "localhost". Any other host — 0.0.0.0, [::], an empty host, another address or a name — is
// beyond loopback.
bool IsLoopbackAddress(const std::string& grpc_address);

}  // namespace squatstream::base

#endif  // SQUATSTREAM_BASE_GRPC_ADDRESS_H_
