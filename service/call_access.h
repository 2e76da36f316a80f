// The gRPC side of access/'s Gatekeeper: reads a call's `authorization` metadata and asks whether its caller
// may call the method, so that every handler admits its caller in one line before any work.
#ifndef SQUATSTREAM_SERVICE_CALL_ACCESS_H_
#define SQUATSTREAM_SERVICE_CALL_ACCESS_H_

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"
#include "access/gatekeeper.h"
#include "access/scopes.h"
#include "grpcpp/server_context.h"
#include "service/metrics.h"
#include "service/service_context.h"
#include "service/status.h"

namespace squatstream::service {

// The value of the call's `authorization` metadata; empty when it has none. Valid while the call is.
std::string_view AuthorizationOf(const grpc::ServerContextBase& call);

// The caller of `method`, when the server's Gatekeeper lets it through with `scope`; its refusal otherwise
// (UNAUTHENTICATED, PERMISSION_DENIED). An anonymous caller when the server runs with --auth=none.
absl::StatusOr<access::Caller> AdmitCall(ServiceContext& context, const grpc::ServerContextBase& call,
                                         access::Scope scope, std::string_view method);

// Runs one synchronous call of a caller allowed `scope`, counting it as go-grpc-prometheus does (started, the
// request received, its status, its time, and — unary — the answer sent): `call(const access::Caller&)` returns
// the grpc::Status; a refused caller's status is returned without calling it.
template <typename Call>
grpc::Status AdmittedCall(ServiceContext& context, const grpc::ServerContextBase& server_call, access::Scope scope,
                          std::string_view method, const GrpcMethodMetrics& m, bool unary, Call&& call) {
  const auto started = std::chrono::steady_clock::now();
  m.started->Increment();
  m.msg_received->Increment();
  absl::StatusOr<access::Caller> caller = AdmitCall(context, server_call, scope, method);
  grpc::Status status = caller.ok() ? call(*caller) : ToGrpcStatus(caller.status());
  if (unary && status.ok()) m.msg_sent->Increment();
  m.handled[static_cast<std::size_t>(status.error_code()) % kGrpcCodeCount]->Increment();
  m.handling_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return status;
}

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_CALL_ACCESS_H_
