#include "service/status.h"

#include <string>

#include "google/rpc/status.pb.h"

namespace squatstream::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Payloads (keyed by their type URL, valued by a serialized message) become the status details that gRPC
  // sends in grpc-status-details-bin: a quota refusal's google.rpc.RetryInfo and QuotaFailure.
  google::rpc::Status details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    google::protobuf::Any* any = details.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  const std::string message(status.message());
  if (details.details_size() == 0) return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message, details.SerializeAsString());
}

}  // namespace squatstream::service
