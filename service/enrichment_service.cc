#include "service/enrichment_service.h"

#include <chrono>

#include "asio/post.hpp"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "service/call_access.h"
#include "service/enrich_domain_reactor.h"
#include "service/request.h"
#include "service/status.h"

namespace squatstream::service {

grpc::ServerWriteReactor<grpc::ByteBuffer>* EnrichmentService::EnrichDomain(grpc::CallbackServerContext* call,
                                                                            const grpc::ByteBuffer* request) {
  return new EnrichDomainReactor(context_, call, request);  // frees itself in OnDone
}

grpc::ServerUnaryReactor* EnrichmentService::ClassifyDomain(grpc::CallbackServerContext* call,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  const auto started = std::chrono::steady_clock::now();
  const GrpcMethodMetrics& m = context_.metrics->classify_domain;
  m.started->Increment();
  m.msg_received->Increment();
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  if (absl::StatusOr<access::Caller> caller = AdmitCall(context_, *call, access::Scope::kClassify, "ClassifyDomain");
      !caller.ok()) {
    m.handled[static_cast<std::size_t>(caller.status().code()) % kGrpcCodeCount]->Increment();
    m.handling_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  // A target not in the cache generates all of its permutations (milliseconds): on the CPU executor, not on one
  // of gRPC's threads. `request` and `response` stay valid until the reactor finishes.
  asio::post(context_.cpu_executor->context(),
             [this, request, response, reactor, started] { Classify(request, response, reactor, started); });
  return reactor;
}

void EnrichmentService::Classify(const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                 grpc::ServerUnaryReactor* reactor, std::chrono::steady_clock::time_point started) {
  const GrpcMethodMetrics& m = context_.metrics->classify_domain;
  absl::Status status = [&]() -> absl::Status {
    bool hit = false;
    absl::StatusOr<v1::ClassifyDomainResponse> answer = service::Classify(*request, *context_.classifier_cache, &hit);
    if (!answer.ok()) return answer.status();
    (hit ? context_.metrics->classify_cache_hits : context_.metrics->classify_cache_misses)->Increment();
    bool own = false;
    if (!grpc::SerializationTraits<v1::ClassifyDomainResponse>::Serialize(*answer, response, &own).ok()) {
      return absl::InternalError("could not serialize the response");
    }
    m.msg_sent->Increment();
    return absl::OkStatus();
  }();
  m.handled[static_cast<std::size_t>(status.code()) % kGrpcCodeCount]->Increment();
  m.handling_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace squatstream::service
