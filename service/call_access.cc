#include "service/call_access.h"

namespace squatstream::service {

std::string_view AuthorizationOf(const grpc::ServerContextBase& call) {
  const auto& metadata = call.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) return {};
  return {found->second.data(), found->second.size()};
}

absl::StatusOr<access::Caller> AdmitCall(ServiceContext& context, const grpc::ServerContextBase& call,
                                         access::Scope scope, std::string_view method) {
  if (context.gatekeeper == nullptr) return access::Caller{};
  return context.gatekeeper->Admit(AuthorizationOf(call), scope, method);
}

}  // namespace squatstream::service
