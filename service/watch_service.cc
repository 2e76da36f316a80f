#include "service/watch_service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "permute/domain.h"
#include "service/call_access.h"
#include "service/metrics.h"
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

// The settings' scan as EnrichDomain would check it: kinds, stages, the cap (each fault named as
// "settings.kinds[0]: ...").
absl::Status CheckScan(ServiceContext& context, const std::string& domain, const v1::WatchSettings& settings) {
  for (int i = 0; i < settings.kinds_size(); ++i) {
    if (!v1::PermutationKind_IsValid(settings.kinds(i)) || settings.kinds(i) == v1::PERMUTATION_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrFormat("settings.kinds[%d]: unknown kind %d", i, settings.kinds(i)));
    }
  }
  for (int i = 0; i < settings.enrichers_size(); ++i) {
    if (!v1::Enricher_IsValid(settings.enrichers(i)) || settings.enrichers(i) == v1::ENRICHER_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrFormat("settings.enrichers[%d]: unknown stage %d", i, settings.enrichers(i)));
    }
  }
  v1::EnrichDomainRequest request;
  request.set_domain(domain);
  request.mutable_kinds()->CopyFrom(settings.kinds());
  request.mutable_enrichers()->CopyFrom(settings.enrichers());
  request.set_max_candidates(settings.max_candidates());
  absl::StatusOr<StreamSpec> spec = ParseRequest(request, context.limits.request);
  if (!spec.ok()) return absl::Status(spec.status().code(), absl::StrCat("settings: ", spec.status().message()));
  return context.enrichers->Plan(spec->enrichers).status();
}

// What UpdateWatch changes of the scan: the fields its mask names (or, without a mask, those set), for CheckScan.
v1::WatchSettings MaskedScan(const v1::UpdateWatchRequest& request) {
  v1::WatchSettings scan;
  const auto named = [&](const char* field) {
    return std::find(request.update_mask().begin(), request.update_mask().end(), field) != request.update_mask().end();
  };
  const bool all = request.update_mask().empty();
  if (all || named("kinds")) scan.mutable_kinds()->CopyFrom(request.settings().kinds());
  if (all || named("enrichers")) scan.mutable_enrichers()->CopyFrom(request.settings().enrichers());
  if (all || named("max_candidates")) scan.set_max_candidates(request.settings().max_candidates());
  return scan;
}

// INVALID_ARGUMENT unless every value of `values` is one of the enum's (and not its UNSPECIFIED).
template <typename Values>
absl::Status CheckEnums(const Values& values, bool (*valid)(int), const char* field, bool zero_allowed = false) {
  for (int i = 0; i < values.size(); ++i) {
    if (!valid(values.Get(i)) || (values.Get(i) == 0 && !zero_allowed)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s[%d]: unknown value %d", field, i, values.Get(i)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status WatchService::DoCreateWatch(const access::Caller& caller, grpc::ServerContext*,
                                         const v1::CreateWatchRequest* request, v1::Watch* response) {
  absl::StatusOr<permute::ParsedDomain> domain = ParseWatchDomain(request->domain());
  if (!domain.ok()) return ToGrpcStatus(domain.status());
  if (absl::Status s = CheckScan(context_, domain->ascii, request->settings()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  const std::string owner = caller.key ? caller.key->id : "";
  if (caller.key) {
    absl::StatusOr<std::int64_t> owned = (*manager)->CountOwnedBy(owner);
    if (!owned.ok()) return ToGrpcStatus(owned.status());
    if (absl::Status s = context_.gatekeeper->AdmitWatch(caller, *owned); !s.ok()) return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Watch> created = (*manager)->Create(domain->ascii, domain->unicode, request->settings(), owner);
  if (!created.ok()) return ToGrpcStatus(created.status());
  *response = *std::move(created);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoGetWatch(grpc::ServerContext*, const v1::GetWatchRequest* request, v1::Watch* response) {
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<v1::Watch> got = (*manager)->Get(*name);
  if (!got.ok()) return ToGrpcStatus(got.status());
  *response = *std::move(got);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoListWatches(grpc::ServerContext*, const v1::ListWatchesRequest* request,
                                         v1::ListWatchesResponse* response) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<v1::ListWatchesResponse> listed = (*manager)->List(*request);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoUpdateWatch(grpc::ServerContext*, const v1::UpdateWatchRequest* request,
                                         v1::Watch* response) {
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  if (absl::Status s = CheckScan(context_, *name, MaskedScan(*request)); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Watch> updated =
      (*manager)->Update(*name, request->settings(),
                         std::vector<std::string>(request->update_mask().begin(), request->update_mask().end()));
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  *response = *std::move(updated);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoDeleteWatch(grpc::ServerContext*, const v1::DeleteWatchRequest* request,
                                         v1::DeleteWatchResponse*) {
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  return ToGrpcStatus((*manager)->Delete(*name));
}

grpc::Status WatchService::DoScanWatchNow(grpc::ServerContext*, const v1::ScanWatchNowRequest* request,
                                          v1::Watch* response) {
  absl::StatusOr<std::string> name = WatchName(request->domain());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<v1::Watch> scheduled = (*manager)->ScanNow(*name);
  if (!scheduled.ok()) return ToGrpcStatus(scheduled.status());
  *response = *std::move(scheduled);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoListObservations(grpc::ServerContext*, const v1::ListObservationsRequest* request,
                                              v1::ListObservationsResponse* response) {
  absl::StatusOr<std::string> name = WatchName(request->watch());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  for (const absl::Status& s : {CheckEnums(request->verdicts(), v1::DnsVerdict_IsValid, "verdicts"),
                                CheckEnums(request->triage(), v1::Triage_IsValid, "triage", /*zero_allowed=*/true),
                                CheckEnums(request->kinds(), v1::PermutationKind_IsValid, "kinds")}) {
    if (!s.ok()) return ToGrpcStatus(s);
  }
  v1::ListObservationsRequest normalized = *request;
  normalized.set_watch(*name);
  absl::StatusOr<v1::ListObservationsResponse> listed = (*manager)->ListObservations(normalized);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

grpc::Status WatchService::DoStreamEvents(grpc::ServerContext* call, const v1::StreamEventsRequest* request,
                                          grpc::ServerWriter<v1::WatchEvent>* writer) {
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  std::string name;
  if (!request->watch().empty()) {
    absl::StatusOr<std::string> parsed = WatchName(request->watch());
    if (!parsed.ok()) return ToGrpcStatus(parsed.status());
    name = *parsed;
  }
  if (absl::Status s = (*manager)->CheckCursor(request->since_id()); !s.ok()) return ToGrpcStatus(s);
  constexpr int kPage = 500;
  std::uint64_t cursor = request->since_id();
  for (;;) {
    if (call->IsCancelled()) return ToGrpcStatus(absl::CancelledError("cancelled by the client"));
    absl::StatusOr<std::vector<v1::WatchEvent>> events = (*manager)->Events(name, cursor, kPage);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const v1::WatchEvent& event : *events) {
      if (!writer->Write(event)) return ToGrpcStatus(absl::CancelledError("the client went away"));
      context_.metrics->watch_service.stream_events.msg_sent->Increment();
      cursor = event.id();
    }
    if (static_cast<int>(events->size()) == kPage) continue;
    if (!request->follow()) return grpc::Status::OK;
    // Wakes when events are written here; polls for other replicas' (and notices a cancelled call) meanwhile.
    (*manager)->WaitForEvents(absl::Seconds(1));
  }
}

grpc::Status WatchService::DoAnnotate(grpc::ServerContext*, const v1::AnnotateRequest* request,
                                      v1::Observation* response) {
  absl::StatusOr<std::string> name = WatchName(request->watch());
  if (!name.ok()) return ToGrpcStatus(name.status());
  absl::StatusOr<watch::WatchManager*> manager = manager_();
  if (!manager.ok()) return ToGrpcStatus(manager.status());
  absl::StatusOr<permute::ParsedDomain> candidate = permute::ParseDomain(request->candidate());
  if (!candidate.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrFormat("candidate: %s", candidate.status().message())));
  }
  if (!v1::Triage_IsValid(request->triage()) || request->triage() == v1::TRIAGE_UNSPECIFIED) {
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

// Each call counted as EnrichmentService's are (grpc_server_* with grpc_service="squatstream.v1.WatchService").
grpc::Status WatchService::CreateWatch(grpc::ServerContext* call, const v1::CreateWatchRequest* request,
                                       v1::Watch* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchWrite, "CreateWatch",
                      context_.metrics->watch_service.create_watch, true,
                      [&](const access::Caller& caller) { return DoCreateWatch(caller, call, request, response); });
}

grpc::Status WatchService::GetWatch(grpc::ServerContext* call, const v1::GetWatchRequest* request,
                                    v1::Watch* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchRead, "GetWatch", context_.metrics->watch_service.get_watch,
                      true, [&](const access::Caller&) { return DoGetWatch(call, request, response); });
}

grpc::Status WatchService::ListWatches(grpc::ServerContext* call, const v1::ListWatchesRequest* request,
                                       v1::ListWatchesResponse* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchRead, "ListWatches",
                      context_.metrics->watch_service.list_watches, true,
                      [&](const access::Caller&) { return DoListWatches(call, request, response); });
}

grpc::Status WatchService::UpdateWatch(grpc::ServerContext* call, const v1::UpdateWatchRequest* request,
                                       v1::Watch* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchWrite, "UpdateWatch",
                      context_.metrics->watch_service.update_watch, true,
                      [&](const access::Caller&) { return DoUpdateWatch(call, request, response); });
}

grpc::Status WatchService::DeleteWatch(grpc::ServerContext* call, const v1::DeleteWatchRequest* request,
                                       v1::DeleteWatchResponse* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchWrite, "DeleteWatch",
                      context_.metrics->watch_service.delete_watch, true,
                      [&](const access::Caller&) { return DoDeleteWatch(call, request, response); });
}

grpc::Status WatchService::ScanWatchNow(grpc::ServerContext* call, const v1::ScanWatchNowRequest* request,
                                        v1::Watch* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchWrite, "ScanWatchNow",
                      context_.metrics->watch_service.scan_watch_now, true,
                      [&](const access::Caller&) { return DoScanWatchNow(call, request, response); });
}

grpc::Status WatchService::ListObservations(grpc::ServerContext* call, const v1::ListObservationsRequest* request,
                                            v1::ListObservationsResponse* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchRead, "ListObservations",
                      context_.metrics->watch_service.list_observations, true,
                      [&](const access::Caller&) { return DoListObservations(call, request, response); });
}

grpc::Status WatchService::StreamEvents(grpc::ServerContext* call, const v1::StreamEventsRequest* request,
                                        grpc::ServerWriter<v1::WatchEvent>* writer) {
  return AdmittedCall(context_, *call, access::Scope::kWatchRead, "StreamEvents",
                      context_.metrics->watch_service.stream_events, false,
                      [&](const access::Caller&) { return DoStreamEvents(call, request, writer); });
}

grpc::Status WatchService::Annotate(grpc::ServerContext* call, const v1::AnnotateRequest* request,
                                    v1::Observation* response) {
  return AdmittedCall(context_, *call, access::Scope::kWatchWrite, "Annotate", context_.metrics->watch_service.annotate,
                      true, [&](const access::Caller&) { return DoAnnotate(call, request, response); });
}

}  // namespace squatstream::service
