#include "service/enrichment_service.h"

#include "service/enrich_domain_reactor.h"

namespace squatstream::service {

grpc::ServerWriteReactor<grpc::ByteBuffer>* EnrichmentService::EnrichDomain(grpc::CallbackServerContext* call,
                                                                            const grpc::ByteBuffer* request) {
  return new EnrichDomainReactor(context_, call, request);  // frees itself in OnDone
}

}  // namespace squatstream::service
