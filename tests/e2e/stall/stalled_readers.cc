// stalled_readers: a client that opens N EnrichDomain streams and never reads them — the slow or stuck
// readers a server must survive — holds them until its standard input closes (or HOLD_SECONDS pass, a bound
// for a test that dies), then cancels them all. Used by stalled_readers_test.py, which watches the server's
// memory and metrics meanwhile (a client that never reads cannot tell a refused stream from an admitted one;
// the server's counters can) and closes the pipe once it has checked what it waits for.
//
// usage: stalled_readers ADDRESS STREAMS DOMAINS MAX_CANDIDATES HOLD_SECONDS
// DOMAINS: one domain, or several separated by commas (the request's `domains`). Exit 0 unless the arguments
// are bad.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

namespace {

// Waits until standard input reaches its end (the test closed the pipe) or `limit` passes.
void HoldUntilStdinCloses(std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  char buffer[256];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd in{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    const int ready = poll(&in, 1, static_cast<int>(left.count()));
    if (ready < 0) return;
    if (ready == 0) continue;
    if (read(STDIN_FILENO, buffer, sizeof buffer) <= 0) return;  // end of input (or an error): let go
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: stalled_readers ADDRESS STREAMS DOMAINS MAX_CANDIDATES HOLD_SECONDS\n");
    return 2;
  }
  const int streams = std::atoi(argv[2]);
  squatstream::v1::EnrichDomainRequest request;
  const std::vector<std::string> domains = absl::StrSplit(argv[3], ',');
  if (domains.size() == 1) {
    request.set_domain(domains.front());
  } else {
    for (const std::string& d : domains) request.add_domains(d);
  }
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
    // A reader that never reads takes no more than its initial window (64 KiB): without BDP probing the
    // transport does not grow the window on its own, so what the server can push into a stalled stream is
    // bounded by the protocol, not by how fast the machine runs.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    o->channel = grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args);
    o->stub = squatstream::v1::EnrichmentService::NewStub(o->channel);
    o->context.set_deadline(std::chrono::system_clock::now() + hold + std::chrono::seconds(60));
    o->reader = o->stub->EnrichDomain(&o->context, request);  // never read
    open.push_back(std::move(o));
  }
  std::printf("stalled_readers: %d streams opened\n", streams);
  std::fflush(stdout);
  HoldUntilStdinCloses(hold);  // the stall itself, until the test has seen what it waits for
  for (auto& o : open) o->context.TryCancel();
  for (auto& o : open) o->reader->Finish();
  std::printf("stalled_readers: %d streams held and cancelled\n", streams);
  return 0;
}
