// EnrichmentService: the gRPC service; each EnrichDomain call gets its own EnrichDomainReactor.
#ifndef SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_
#define SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_

#include "service/service_context.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

namespace squatstream::service {

class EnrichmentService final : public v1::EnrichmentService::CallbackService {
 public:
  // `context` must outlive the service.
  explicit EnrichmentService(ServiceContext& context) : context_(context) {}

  grpc::ServerWriteReactor<v1::EnrichDomainResponse>* EnrichDomain(grpc::CallbackServerContext* call,
                                                                   const v1::EnrichDomainRequest* request) override;

 private:
  ServiceContext& context_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ENRICHMENT_SERVICE_H_
