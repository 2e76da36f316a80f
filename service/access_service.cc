#include "service/access_service.h"

#include <chrono>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "access/key_admin.h"
#include "service/call_access.h"
#include "service/metrics.h"
#include "service/status.h"

namespace squatstream::service {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
  out->set_nanos(static_cast<std::int32_t>((t - absl::FromUnixSeconds(absl::ToUnixSeconds(t))) / absl::Nanoseconds(1)));
}

v1::ApiKey ToProto(const store::ApiKeyRow& row) {
  v1::ApiKey key;
  key.set_id("sqs_" + row.id);
  key.set_name(row.name);
  for (const absl::string_view scope : absl::StrSplit(row.scopes, ',', absl::SkipEmpty())) {
    key.add_scopes(std::string(scope));
  }
  SetTime(row.created, key.mutable_created());
  if (row.expires) SetTime(*row.expires, key.mutable_expires());
  if (row.revoked) SetTime(*row.revoked, key.mutable_revoked());
  key.set_quota_candidates_per_hour(row.quota_candidates_per_hour.value_or(0));
  key.set_quota_concurrent_streams(row.quota_concurrent_streams.value_or(0));
  key.set_quota_watches(row.quota_watches.value_or(0));
  return key;
}

// Runs one admin call: counted (grpc_server_* with grpc_service="squatstream.v1.AccessService"), its caller
// admitted with the admin scope, the store required.
template <typename Body>
grpc::Status AdminCall(ServiceContext& context, store::Store* store, const grpc::ServerContext& call,
                       std::string_view method, const GrpcMethodMetrics& m, Body&& body) {
  return AdmittedCall(context, call, access::Scope::kAdmin, method, m, /*unary=*/true, [&](const access::Caller&) {
    if (store == nullptr) {
      return ToGrpcStatus(absl::FailedPreconditionError(
          "this server runs without API keys (--auth=none): start it with --auth=api_key to manage keys"));
    }
    return ToGrpcStatus(body(*store));
  });
}

}  // namespace

grpc::Status AccessService::CreateApiKey(grpc::ServerContext* call, const v1::CreateApiKeyRequest* request,
                                         v1::CreateApiKeyResponse* response) {
  return AdminCall(context_, store_, *call, "CreateApiKey", context_.metrics->access_service.create_api_key,
                   [&](store::Store& store) -> absl::Status {
                     access::NewKeySpec spec;
                     spec.name = request->name();
                     spec.scopes = absl::StrJoin(request->scopes(), ",");
                     if (request->expires_in_seconds() < 0) {
                       return absl::InvalidArgumentError("expires_in_seconds: must be 0 (never) or more");
                     }
                     if (request->expires_in_seconds() > 0)
                       spec.expires_in = absl::Seconds(request->expires_in_seconds());
                     const auto quota = [](std::int64_t v) -> std::optional<std::int64_t> {
                       return v == 0 ? std::nullopt : std::optional<std::int64_t>(v);
                     };
                     spec.quota_candidates_per_hour = quota(request->quota_candidates_per_hour());
                     spec.quota_concurrent_streams = quota(request->quota_concurrent_streams());
                     spec.quota_watches = quota(request->quota_watches());
                     absl::StatusOr<access::CreatedKey> created = access::CreateKey(store, spec, absl::Now());
                     if (!created.ok()) return created.status();
                     *response->mutable_key() = ToProto(created->row);
                     response->set_secret(created->key);
                     if (book_ != nullptr) (void)book_->Reload();  // a failed reload: the refresh tries again
                     return absl::OkStatus();
                   });
}

grpc::Status AccessService::ListApiKeys(grpc::ServerContext* call, const v1::ListApiKeysRequest*,
                                        v1::ListApiKeysResponse* response) {
  return AdminCall(context_, store_, *call, "ListApiKeys", context_.metrics->access_service.list_api_keys,
                   [&](store::Store& store) -> absl::Status {
                     absl::StatusOr<std::vector<store::ApiKeyRow>> rows = store.ListApiKeys();
                     if (!rows.ok()) return rows.status();
                     for (const store::ApiKeyRow& row : *rows) *response->add_keys() = ToProto(row);
                     return absl::OkStatus();
                   });
}

grpc::Status AccessService::RevokeApiKey(grpc::ServerContext* call, const v1::RevokeApiKeyRequest* request,
                                         v1::ApiKey* response) {
  return AdminCall(context_, store_, *call, "RevokeApiKey", context_.metrics->access_service.revoke_api_key,
                   [&](store::Store& store) -> absl::Status {
                     absl::StatusOr<std::string> id = access::ParseKeyId(request->id());
                     if (!id.ok()) return id.status();
                     absl::StatusOr<store::ApiKeyRow> revoked = store.RevokeApiKey(*id, absl::Now());
                     if (!revoked.ok()) return revoked.status();
                     *response = ToProto(*revoked);
                     // Refused here before this answer leaves; on the other replicas within their refresh (2 s).
                     if (book_ != nullptr) (void)book_->Reload();
                     return absl::OkStatus();
                   });
}

}  // namespace squatstream::service
