// stalled_readers: a client that opens N EnrichDomain streams and never reads them — the slow or stuck
// readers a server must survive — holds them for a while, then cancels them all. Used by
// stalled_readers_test.py, which watches the server's memory and metrics meanwhile (a client that never
// reads cannot tell a refused stream from an admitted one; the server's counters can).
//
// usage: stalled_readers ADDRESS STREAMS DOMAIN MAX_CANDIDATES HOLD_SECONDS      Exit 0 unless the arguments
// are bad.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: stalled_readers ADDRESS STREAMS DOMAIN MAX_CANDIDATES HOLD_SECONDS\n");
    return 2;
  }
  const int streams = std::atoi(argv[2]);
  squatstream::v1::EnrichDomainRequest request;
  request.set_domain(argv[3]);
  request.set_max_candidates(static_cast<std::uint32_t>(std::atoi(argv[4])));
  const auto hold = std::chrono::seconds(std::atoi(argv[5]));

  // One channel per stream, as separate clients would have: each gets its own flow-control window.
  struct Open {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<squatstream::v1::EnrichmentService::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<squatstream::v1::EnrichDomainResponse>> reader;
  };
  std::vector<std::unique_ptr<Open>> open;
  for (int i = 0; i < streams; ++i) {
    auto o = std::make_unique<Open>();
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own
    o->channel = grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args);
    o->stub = squatstream::v1::EnrichmentService::NewStub(o->channel);
    o->context.set_deadline(std::chrono::system_clock::now() + hold + std::chrono::seconds(60));
    o->reader = o->stub->EnrichDomain(&o->context, request);  // never read
    open.push_back(std::move(o));
  }
  std::this_thread::sleep_for(hold);  // the stall itself: the point of this program is to wait
  for (auto& o : open) o->context.TryCancel();
  for (auto& o : open) o->reader->Finish();
  std::printf("stalled_readers: %d streams held and cancelled\n", streams);
  return 0;
}
