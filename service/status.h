// The one conversion from absl::Status (used everywhere inside) to grpc::Status (only at the boundary).
#ifndef SQUATSTREAM_SERVICE_STATUS_H_
#define SQUATSTREAM_SERVICE_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace squatstream::service {

// Same code (the canonical codes are numbered alike), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_STATUS_H_
