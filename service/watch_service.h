// WatchService: the gRPC adapter of the watch side (watch/watch_manager.h does the work). Synchronous handlers:
// each call is a few store round trips on gRPC's own thread pool, never on the executor that runs the streams'
// lookups; StreamEvents holds its thread while it follows (it wakes when events are written here, and polls
// for those written by other replicas). Requests are checked as EnrichDomain checks them (the same domain
// parsing, kinds and stages), statuses converted once (service/status.h).
#ifndef SQUATSTREAM_SERVICE_WATCH_SERVICE_H_
#define SQUATSTREAM_SERVICE_WATCH_SERVICE_H_

#include <functional>

#include "absl/status/statusor.h"
#include "access/gatekeeper.h"
#include "service/service_context.h"
#include "squatstream/v1/watch.grpc.pb.h"
#include "watch/watch_manager.h"

namespace squatstream::service {

class WatchService final : public v1::WatchService::Service {
 public:
  // `manager` returns the watch side, or why there is none now (UNAVAILABLE while the store cannot be opened,
  // FAILED_PRECONDITION when the server keeps no store). `context` outlives the service.
  WatchService(ServiceContext& context, std::function<absl::StatusOr<watch::WatchManager*>()> manager)
      : context_(context), manager_(std::move(manager)) {}

  grpc::Status CreateWatch(grpc::ServerContext* call, const v1::CreateWatchRequest* request,
                           v1::Watch* response) override;
  grpc::Status GetWatch(grpc::ServerContext* call, const v1::GetWatchRequest* request, v1::Watch* response) override;
  grpc::Status ListWatches(grpc::ServerContext* call, const v1::ListWatchesRequest* request,
                           v1::ListWatchesResponse* response) override;
  grpc::Status UpdateWatch(grpc::ServerContext* call, const v1::UpdateWatchRequest* request,
                           v1::Watch* response) override;
  grpc::Status DeleteWatch(grpc::ServerContext* call, const v1::DeleteWatchRequest* request,
                           v1::DeleteWatchResponse* response) override;
  grpc::Status ScanWatchNow(grpc::ServerContext* call, const v1::ScanWatchNowRequest* request,
                            v1::Watch* response) override;
  grpc::Status ListObservations(grpc::ServerContext* call, const v1::ListObservationsRequest* request,
                                v1::ListObservationsResponse* response) override;
  grpc::Status StreamEvents(grpc::ServerContext* call, const v1::StreamEventsRequest* request,
                            grpc::ServerWriter<v1::WatchEvent>* writer) override;
  grpc::Status Annotate(grpc::ServerContext* call, const v1::AnnotateRequest* request,
                        v1::Observation* response) override;

 private:
  // The calls themselves; the overrides above count them (grpc_server_* metrics) around these.
  grpc::Status DoCreateWatch(const access::Caller& caller, grpc::ServerContext* call,
                             const v1::CreateWatchRequest* request, v1::Watch* response);
  grpc::Status DoGetWatch(grpc::ServerContext* call, const v1::GetWatchRequest* request, v1::Watch* response);
  grpc::Status DoListWatches(grpc::ServerContext* call, const v1::ListWatchesRequest* request,
                             v1::ListWatchesResponse* response);
  grpc::Status DoUpdateWatch(grpc::ServerContext* call, const v1::UpdateWatchRequest* request, v1::Watch* response);
  grpc::Status DoDeleteWatch(grpc::ServerContext* call, const v1::DeleteWatchRequest* request,
                             v1::DeleteWatchResponse* response);
  grpc::Status DoScanWatchNow(grpc::ServerContext* call, const v1::ScanWatchNowRequest* request, v1::Watch* response);
  grpc::Status DoListObservations(grpc::ServerContext* call, const v1::ListObservationsRequest* request,
                                  v1::ListObservationsResponse* response);
  grpc::Status DoStreamEvents(grpc::ServerContext* call, const v1::StreamEventsRequest* request,
                              grpc::ServerWriter<v1::WatchEvent>* writer);
  grpc::Status DoAnnotate(grpc::ServerContext* call, const v1::AnnotateRequest* request, v1::Observation* response);

  ServiceContext& context_;
  std::function<absl::StatusOr<watch::WatchManager*>()> manager_;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_WATCH_SERVICE_H_
