#include "service/enrichment_service.h"

#include "service/enrich_domain_reactor.h"

namespace squatstream::service {

grpc::ServerWriteReactor<v1::EnrichDomainResponse>* EnrichmentService::EnrichDomain(
    grpc::CallbackServerContext* call, const v1::EnrichDomainRequest* request) {
  return new EnrichDomainReactor(context_, call, request);  // frees itself in OnDone
}

}  // namespace squatstream::service
