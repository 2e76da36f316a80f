#include "service/watch_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "permute/domain.h"
#include "service/request.h"
#include "service/status.h"

namespace squatstream::service {
namespace {

// A watched domain's two forms, or INVALID_ARGUMENT naming the fault (EnrichDomain's parsing).
absl::StatusOr<permute::ParsedDomain> ParseWatchDomain(const std::string& domain) {
  if (domain.empty()) return absl::InvalidArgumentError("domain: required");
  absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain(domain);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrFormat("domain: %s", parsed.status().message()));
  return parsed;
}

// The ASCII form of a domain named in a request (a watch's name), any form accepted.
absl::StatusOr<std::string> WatchName(const std::string& domain) {
  absl::StatusOr<permute::ParsedDomain> parsed = ParseWatchDomain(domain);
  if (!parsed.ok()) return parsed.status();
  return parsed->ascii;
}

// The settings' scan as EnrichDomain would check it: kinds, stages, the cap.
absl::Status CheckScan(ServiceContext& context, const std::string& domain, const v1::WatchSettings& settings) {
  v1::EnrichDomainRequest request;
  request.set_domain(domain);
  request.mutable_kinds()->CopyFrom(settings.kinds());
  request.mutable_enrichers()->CopyFrom(settings.enrichers());
  request.set_max_candidates(settings.max_candidates());
  absl::StatusOr<StreamSpec> spec = ParseRequest(request, context.limits.request);
  if (!spec.ok()) return spec.status();
  return context.enrichers->Plan(spec->enrichers).status();
}

}  // namespace

grpc::Status WatchService::CreateWatch(grpc::ServerContext*, const v1::CreateWatchRequest* request,
                                       v1::Watch* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<permute::ParsedDomain> domain = ParseWatchDomain(request->domain());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if (absl::Status s = CheckScan(context_, domain->ascii, request->settings()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Watch> created = (*manager)->Create(domain->ascii, domain->unicode, request->settings());
  if (!created.ok()) return ToGrpcStatus(created.status());
  *response = *std::move(created);
  return grpc::Status::OK;
}

grpc::Status WatchService::GetWatch(grpc::ServerContext*, const v1::GetWatchRequest* request, v1::Watch* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<v1::Watch> got = (*manager)->Get(*name);
  if (!got.ok()) return ToGrpcStatus(got.status());
  *response = *std::move(got);
  return grpc::Status::OK;
}

grpc::Status WatchService::ListWatches(grpc::ServerContext*, const v1::ListWatchesRequest* request,
                                       v1::ListWatchesResponse* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<v1::ListWatchesResponse> listed = (*manager)->List(*request);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

grpc::Status WatchService::UpdateWatch(grpc::ServerContext*, const v1::UpdateWatchRequest* request,
                                       v1::Watch* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  if (absl::Status s = CheckScan(context_, *name, request->settings()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Watch> updated = (*manager)->Update(
      *name, request->settings(), std::vector<std::string>(request->update_mask().begin(), request->update_mask().end()));
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  *response = *std::move(updated);
  return grpc::Status::OK;
}

grpc::Status WatchService::DeleteWatch(grpc::ServerContext*, const v1::DeleteWatchRequest* request,
                                       v1::DeleteWatchResponse*) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  return ToGrpcStatus((*manager)->Delete(*name));
}

grpc::Status WatchService::ScanWatchNow(grpc::ServerContext*, const v1::ScanWatchNowRequest* request,
                                        v1::Watch* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<v1::Watch> scheduled = (*manager)->ScanNow(*name);
  if (!scheduled.ok()) return ToGrpcStatus(scheduled.status());
  *response = *std::move(scheduled);
  return grpc::Status::OK;
}

grpc::Status WatchService::ListObservations(grpc::ServerContext*, const v1::ListObservationsRequest* request,
                                            v1::ListObservationsResponse* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->watch());
  if (!name.ok()) return ToGrpcStatus(name.status());
  v1::ListObservationsRequest normalized = *request;
  normalized.set_watch(*name);
  absl::StatusOr<v1::ListObservationsResponse> listed = (*manager)->ListObservations(normalized);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

grpc::Status WatchService::StreamEvents(grpc::ServerContext* call, const v1::StreamEventsRequest* request,
                                        grpc::ServerWriter<v1::WatchEvent>* writer) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  std::string name;
  if (!request->watch().empty()) {
    absl::StatusOr<std::string> parsed = WatchName(request->watch());
    if (!parsed.ok()) return ToGrpcStatus(parsed.status());
    name = *parsed;
  }
  constexpr int kPage = 500;
  std::uint64_t cursor = request->since_id();
  for (;;) {
    if (call->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    absl::StatusOr<std::vector<v1::WatchEvent>> events = (*manager)->Events(name, cursor, kPage);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const v1::WatchEvent& event : *events) {
      if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      cursor = event.id();
    }
    if (static_cast<int>(events->size()) == kPage) continue;
    if (!request->follow()) return grpc::Status::OK;
    // Wakes when events are written here; polls for other replicas' (and notices a cancelled call) meanwhile.
    (*manager)->WaitForEvents(absl::Seconds(1));
  }
}

grpc::Status WatchService::Annotate(grpc::ServerContext*, const v1::AnnotateRequest* request,
                                    v1::Observation* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<std::string> name = WatchName(request->watch());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<permute::ParsedDomain> candidate = permute::ParseDomain(request->candidate());
  if (!candidate.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrFormat("candidate: %s", candidate.status().message())));
  }
  if (request->triage() == v1::TRIAGE_UNSPECIFIED) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("triage: required (TRIAGE_OWNED, TRIAGE_IGNORED, TRIAGE_FALSE_POSITIVE or "
                                   "TRIAGE_MALICIOUS)"));
  }
  absl::StatusOr<v1::Observation> annotated =
      (*manager)->Annotate(*name, candidate->ascii, request->triage(), request->note());
  if (!annotated.ok()) return ToGrpcStatus(annotated.status());
  *response = *std::move(annotated);
  return grpc::Status::OK;
}

}  // namespace squatstream::service
