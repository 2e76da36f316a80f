// The gRPC side of access/'s Gatekeeper: reads a call's `authorization` metadata and asks whether its caller
// may call the method, so that every handler admits its caller in one line before any work.
#ifndef SQUATSTREAM_SERVICE_CALL_ACCESS_H_
#define SQUATSTREAM_SERVICE_CALL_ACCESS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "access/gatekeeper.h"
#include "access/scopes.h"
#include "grpcpp/server_context.h"
#include "service/service_context.h"

namespace squatstream::service {

// The value of the call's `authorization` metadata; empty when it has none. Valid while the call is.
std::string_view AuthorizationOf(const grpc::ServerContextBase& call);

// The caller of `method`, when the server's Gatekeeper lets it through with `scope`; its refusal otherwise
// (UNAUTHENTICATED, PERMISSION_DENIED). An anonymous caller when the server runs with --auth=none.
absl::StatusOr<access::Caller> AdmitCall(ServiceContext& context, const grpc::ServerContextBase& call,
                                         access::Scope scope, std::string_view method);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_CALL_ACCESS_H_
