// EnrichmentService: the gRPC service; each EnrichDomain call gets its own EnrichDomainReactor.
// The methods are registered raw (ByteBuffer in and out) so that the service parses requests itself and
// can answer a domain that is not valid UTF-8 with INVALID_ARGUMENT (see request_wire.proto).
#ifndef SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_
#define SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_

#include <chrono>

#include "service/service_context.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

namespace squatstream::service {

class EnrichmentService final
    : public v1::EnrichmentService::WithRawCallbackMethod_EnrichDomain<
          v1::EnrichmentService::WithRawCallbackMethod_ClassifyDomain<v1::EnrichmentService::Service>> {
 public:
  // `context` must outlive the service.
  explicit EnrichmentService(ServiceContext& context) : context_(context) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* EnrichDomain(grpc::CallbackServerContext* call,
                                                           const grpc::ByteBuffer* request) override;

  // Unary; answered on the CPU executor (a target not cached generates all of its permutations).
  grpc::ServerUnaryReactor* ClassifyDomain(grpc::CallbackServerContext* call, const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  void Classify(const grpc::ByteBuffer* request, grpc::ByteBuffer* response, grpc::ServerUnaryReactor* reactor,
                std::chrono::steady_clock::time_point started);

  ServiceContext& context_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_
