// AccessService: the gRPC adapter of API-key management (access/key_admin.h does the work, on the keys'
// store). Synchronous handlers (a store round trip each); every call needs the `admin` scope and is counted
// as the other services' calls are.
#ifndef SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_
#define SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_

#include "service/service_context.h"
#include "squatstream/v1/access.grpc.pb.h"
#include "store/store.h"

namespace squatstream::service {

class AccessService final : public v1::AccessService::Service {
 public:
  // `store` holds the keys; null when the server runs with --auth=none (every call is then
  // FAILED_PRECONDITION). Both outlive the service.
  AccessService(ServiceContext& context, store::Store* store) : context_(context), store_(store) {}

  grpc::Status CreateApiKey(grpc::ServerContext* call, const v1::CreateApiKeyRequest* request,
                            v1::CreateApiKeyResponse* response) override;
  grpc::Status ListApiKeys(grpc::ServerContext* call, const v1::ListApiKeysRequest* request,
                           v1::ListApiKeysResponse* response) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* call, const v1::RevokeApiKeyRequest* request,
                            v1::ApiKey* response) override;

 private:
  ServiceContext& context_;
  store::Store* store_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_
