// End-to-end benchmark of the service as a whole, against two references measured in the same run:
//   service     squatstreamd's Server in-process, zero-latency stub enrichers, batches of up to --batch records
//   per-record  the same service with --max_batch_records=1 (one record per message)
//   raw ceiling a minimal server that writes pre-built batches of the same records with the same batch size:
//               no generation, no workers, no buffer — what gRPC on loopback allows
// A C++ client on loopback streams DOMAIN `--streams` times per configuration, one channel per configuration,
// the three taking turns stream by stream, and reports records/s (all records / all time) and the median
// time to first batch, the CPU time the whole process (servers and client) spent per record during its
// streams (the other servers are idle then), and how many cores that kept busy. Prints a markdown table.
//
// usage: e2e_bench [--domain=internationalbusinessmachines.com] [--streams=30] [--batch=1024]
//                  [--only=ceiling|service|per-record]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "daemon/server.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

ABSL_FLAG(std::string, domain, "internationalbusinessmachines.com", "Domain to stream.");
ABSL_FLAG(int, streams, 30, "Streams per configuration.");
ABSL_FLAG(int, batch, 1024, "Largest batch (records per message) of the service and the raw ceiling.");
ABSL_FLAG(std::string, only, "",
          "Stream only this configuration (ceiling, service or per-record), e.g. under perf; prints its row alone.");

namespace v1 = squatstream::v1;

namespace {

struct Result {
  double records_per_second = 0;
  double median_ttfb_ms = 0;
  double cpu_us_per_record = 0;  // the whole process's CPU time (servers and client) over its streams
  double cores_busy = 0;         // that CPU time over the streams' wall time (getrusage: see BENCHMARKS.md)
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
};

// CPU time (user + system) of this process so far, in seconds.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// One configuration's client: a channel to its server, and what its streams gave so far.
class Client {
 public:
  explicit Client(int port)
      : channel_(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials())),
        stub_(v1::EnrichmentService::NewStub(channel_)) {
    channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  // Streams `domain` once and counts it (unless `warm_up`); aborts on a non-OK stream. With `keep`, the
  // records are kept there.
  void Stream(const std::string& domain, bool warm_up = false, std::vector<v1::Record>* keep = nullptr) {
    grpc::ClientContext context;
    v1::EnrichDomainRequest request;
    request.set_domain(domain);
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    auto reader = stub_->EnrichDomain(&context, request);
    v1::EnrichDomainResponse response;
    double ttfb = 0;
    std::uint64_t records = 0;
    std::uint64_t messages = 0;
    while (reader->Read(&response)) {
      if (messages++ == 0) {
        ttfb = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      }
      records += static_cast<std::uint64_t>(response.records_size());
      if (keep != nullptr) {
        for (auto& rec : *response.mutable_records()) keep->push_back(std::move(rec));
      }
    }
    const grpc::Status status = reader->Finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
    if (!status.ok()) {
      std::fprintf(stderr, "e2e_bench: stream failed: %s\n", status.error_message().c_str());
      std::exit(1);
    }
    if (warm_up) return;
    ttfb_.push_back(ttfb);
    seconds_ += seconds;
    cpu_seconds_ += cpu_seconds;
    result_.records += records;
    result_.messages += messages;
  }

  Result result() const {
    Result r = result_;
    std::vector<double> ttfb = ttfb_;
    std::sort(ttfb.begin(), ttfb.end());
    r.records_per_second = static_cast<double>(r.records) / seconds_;
    r.cpu_us_per_record = 1e6 * cpu_seconds_ / static_cast<double>(r.records);
    r.cores_busy = cpu_seconds_ / seconds_;
    r.median_ttfb_ms = ttfb.empty() ? 0 : ttfb[ttfb.size() / 2];
    return r;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EnrichmentService::Stub> stub_;
  Result result_;
  std::vector<double> ttfb_;
  double seconds_ = 0;
  double cpu_seconds_ = 0;
};

// The raw ceiling's reactor: writes pre-built batches, one write in flight, like the service's reactor.
class RawCeilingReactor final : public grpc::ServerWriteReactor<v1::EnrichDomainResponse> {
 public:
  explicit RawCeilingReactor(const std::vector<v1::EnrichDomainResponse>& batches) : batches_(batches) { Next(); }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ == batches_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&batches_[next_++]);
  }
  const std::vector<v1::EnrichDomainResponse>& batches_;
  std::size_t next_ = 0;
};

// The raw ceiling: the same API, answering every request with the same pre-built batches.
class RawCeilingService final : public v1::EnrichmentService::CallbackService {
 public:
  explicit RawCeilingService(std::vector<v1::EnrichDomainResponse> batches) : batches_(std::move(batches)) {}
  grpc::ServerWriteReactor<v1::EnrichDomainResponse>* EnrichDomain(grpc::CallbackServerContext*,
                                                                   const v1::EnrichDomainRequest*) override {
    return new RawCeilingReactor(batches_);
  }

 private:
  const std::vector<v1::EnrichDomainResponse> batches_;
};

squatstream::daemon::ServerOptions ZeroLatency(std::size_t batch) {
  squatstream::daemon::ServerOptions o = squatstream::daemon::SimulatedServerOptions();
  o.grpc_address = "127.0.0.1:0";
  o.metrics_address = "127.0.0.1:0";
  for (squatstream::v1::Enricher id : o.stub_enrichers) {
    o.stubs[id] = {absl::ZeroDuration(), 0.02, 1.0};  // every name exists: every stage runs
  }
  o.limits.max_batch_records = batch;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string domain = absl::GetFlag(FLAGS_domain);
  const int streams = absl::GetFlag(FLAGS_streams);
  const auto kBatch = static_cast<std::size_t>(std::max(1, absl::GetFlag(FLAGS_batch)));
  const std::string only = absl::GetFlag(FLAGS_only);
  if (!only.empty() && only != "ceiling" && only != "service" && only != "per-record") {
    std::fprintf(stderr, "e2e_bench: --only must be ceiling, service or per-record, not '%s'\n", only.c_str());
    return 2;
  }
  auto runs = [&](const char* configuration) { return only.empty() || only == configuration; };

  // All three servers run at once and the configurations take turns, one stream each: on a shared
  // machine whose speed drifts from second to second, the drift then hits all three alike.
  auto service_server = squatstream::daemon::Server::Start(ZeroLatency(kBatch));
  auto per_record_server = squatstream::daemon::Server::Start(ZeroLatency(1));
  if (!service_server.ok() || !per_record_server.ok()) return 1;
  Client service((*service_server)->grpc_port());
  Client per_record((*per_record_server)->grpc_port());
  std::vector<v1::Record> records;
  service.Stream(domain, /*warm_up=*/true, &records);  // and the records for the ceiling
  per_record.Stream(domain, /*warm_up=*/true);

  std::vector<v1::EnrichDomainResponse> batches;
  for (std::size_t i = 0; i < records.size(); i += kBatch) {
    v1::EnrichDomainResponse& b = batches.emplace_back();
    for (std::size_t k = i; k < std::min(records.size(), i + kBatch); ++k) *b.add_records() = records[k];
    b.mutable_progress()->set_generated(records.size());
    b.mutable_progress()->set_enriched(records.size());
    b.mutable_progress()->set_sent(std::min(records.size(), i + kBatch));
  }
  RawCeilingService raw(std::move(batches));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&raw);
  auto raw_server = builder.BuildAndStart();
  Client ceiling_client(port);
  ceiling_client.Stream(domain, /*warm_up=*/true);

  for (int i = 0; i < streams; ++i) {
    if (runs("ceiling")) ceiling_client.Stream(domain);
    if (runs("service")) service.Stream(domain);
    if (runs("per-record")) per_record.Stream(domain);
  }
  raw_server->Shutdown();
  const Result ceiling = ceiling_client.result();

  std::printf("Domain %s: %zu records per stream, %d streams per configuration (taking turns), batch size %zu.\n\n",
              domain.c_str(), records.size(), streams, kBatch);
  std::printf(
      "| configuration | records/s | messages | median time to first batch | vs raw ceiling | CPU µs per record "
      "(process) | cores busy |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  auto row = [&](const char* configuration, const char* name, const Result& r) {
    if (!runs(configuration)) return;
    const std::string share =
        runs("ceiling") ? absl::StrFormat("%.1f%%", 100.0 * r.records_per_second / ceiling.records_per_second) : "–";
    std::printf("| %s | %.0f | %llu | %.2f ms | %s | %.2f | %.2f |\n", name, r.records_per_second,
                static_cast<unsigned long long>(r.messages), r.median_ttfb_ms, share.c_str(), r.cpu_us_per_record,
                r.cores_busy);
  };
  const Result batched = service.result();
  const Result single = per_record.result();
  row("ceiling", "raw ceiling (pre-built batches)", ceiling);
  row("service", "squatstreamd (batches up to the batch size)", batched);
  row("per-record", "squatstreamd, one record per message", single);
  if (!only.empty()) return 0;
  std::printf("\nservice / per-record: %.1fx\n", batched.records_per_second / single.records_per_second);
  return 0;
}
