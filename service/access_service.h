// AccessService: the gRPC adapter of API-key management (access/key_admin.h does the work, on the keys'
// store). Synchronous handlers (a store round trip each); every call needs the `admin` scope and is counted
// as the other services' calls are.
#ifndef SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_
#define SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_

#include "access/key_book.h"
#include "service/service_context.h"
#include "squatstream/v1/access.grpc.pb.h"
#include "store/store.h"

namespace squatstream::service {

class AccessService final : public v1::AccessService::Service {
 public:
  // `store` holds the keys and `book` reads them for this server (reloaded at once after a key is created or
  // revoked here, so that this replica agrees before the call returns; the others within their refresh); both
  // null when the server runs with --auth=none (every call is then FAILED_PRECONDITION). All outlive the service.
  AccessService(ServiceContext& context, store::Store* store, access::KeyBook* book)
      : context_(context), store_(store), book_(book) {}

  grpc::Status CreateApiKey(grpc::ServerContext* call, const v1::CreateApiKeyRequest* request,
                            v1::CreateApiKeyResponse* response) override;
  grpc::Status ListApiKeys(grpc::ServerContext* call, const v1::ListApiKeysRequest* request,
                           v1::ListApiKeysResponse* response) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* call, const v1::RevokeApiKeyRequest* request,
                            v1::ApiKey* response) override;

 private:
  ServiceContext& context_;
  store::Store* store_;
  access::KeyBook* book_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ACCESS_SERVICE_H_
