// squatstream-load: drives N concurrent EnrichDomain streams against squatstreamd for a duration and prints
// throughput and latency figures — for sizing a deployment and for the observability tests.
//
//   squatstream-load [--server=HOST:PORT] [--concurrency=8] [--duration=10s] [--domain=example.com[,...]]
//                    [--max_candidates=0] [--enrichers=dns,geo] [--registered]
//
// Each of the N workers opens one stream after another on a shared channel until the duration is over.
// Prints one summary line per field (records/s, streams, time to first batch and stream time percentiles,
// failures by status code) and exits non-zero if any stream failed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "client/channel.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "squatstreamd address.");
ABSL_FLAG(int, concurrency, 8, "Streams in flight at once.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to keep opening streams.");
ABSL_FLAG(std::vector<std::string>, domain, {"example.com"},
          "Domain the streams ask for; with several (a,b,c), worker i asks for the i-th (modulo), so that with as "
          "many workers as domains no two streams in flight ask about the same names.");
ABSL_FLAG(int, max_candidates, 0, "Candidate cap per stream (0: the server's default).");
ABSL_FLAG(std::vector<std::string>, enrichers, {},
          "Enrichers every stream asks for (dns,geo,whois,banner); default all.");
ABSL_FLAG(bool, registered, false, "Ask for registered names only (registered_only).");

namespace v1 = squatstream::v1;

namespace {

struct Totals {
  squatstream::Mutex mu;
  std::vector<double> ttfb_ms;
  std::vector<double> stream_ms;
  std::map<int, int> failures;  // by grpc status code
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  std::uint64_t candidates = 0;  // looked up (the streams' last progress), filtered ones included
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void Worker(v1::EnrichmentService::Stub* stub, const v1::EnrichDomainRequest& request,
            std::chrono::steady_clock::time_point end, Totals* totals) {
  while (std::chrono::steady_clock::now() < end) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    const auto start = std::chrono::steady_clock::now();
    auto reader = stub->EnrichDomain(&context, request);
    v1::EnrichDomainResponse response;
    double ttfb = -1;
    std::uint64_t records = 0, messages = 0, candidates = 0;
    while (reader->Read(&response)) {
      candidates = response.progress().enriched();
      if (ttfb < 0) ttfb = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      records += static_cast<std::uint64_t>(response.records_size());
      ++messages;
    }
    const grpc::Status status = reader->Finish();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    squatstream::MutexLock l(totals->mu);
    totals->records += records;
    totals->messages += messages;
    if (!status.ok()) {
      ++totals->failures[static_cast<int>(status.error_code())];
      continue;
    }
    totals->candidates += candidates;
    if (ttfb >= 0) totals->ttfb_ms.push_back(ttfb);
    totals->stream_ms.push_back(ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // --help lists the flags of client/load_main.cc (absl's default looks for a file named after the program: none
  // matched).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "client/load_main.cc") || absl::EndsWith(file, "client/channel.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage("squatstream-load [flags]: drive concurrent EnrichDomain streams for a duration.");
  absl::ParseCommandLine(argc, argv);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  v1::EnrichDomainRequest request;
  request.set_max_candidates(static_cast<std::uint32_t>(std::max(0, absl::GetFlag(FLAGS_max_candidates))));
  request.set_registered_only(absl::GetFlag(FLAGS_registered));
  for (const std::string& name : absl::GetFlag(FLAGS_enrichers)) {
    v1::Enricher e;
    if (!v1::Enricher_Parse("ENRICHER_" + absl::AsciiStrToUpper(name), &e)) {
      std::fprintf(stderr, "squatstream-load: unknown enricher \"%s\"\n", name.c_str());
      return 2;
    }
    request.add_enrichers(e);
  }

  auto channel = squatstream::client::MakeChannel(absl::GetFlag(FLAGS_server));
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "squatstream-load: cannot connect to %s\n", absl::GetFlag(FLAGS_server).c_str());
    return 2;
  }
  auto stub = v1::EnrichmentService::NewStub(channel);
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  std::vector<std::thread> workers;
  const std::vector<std::string> domains = absl::GetFlag(FLAGS_domain);
  if (domains.empty()) {
    std::fprintf(stderr, "squatstream-load: --domain names no domain\n");
    return 2;
  }
  std::vector<v1::EnrichDomainRequest> requests(static_cast<std::size_t>(concurrency), request);
  for (std::size_t i = 0; i < requests.size(); ++i) requests[i].set_domain(domains[i % domains.size()]);
  workers.reserve(requests.size());
  for (int i = 0; i < concurrency; ++i) {
    workers.emplace_back(Worker, stub.get(), std::cref(requests[static_cast<std::size_t>(i)]), end, &totals);
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int failed = 0;
  for (const auto& [code, n] : totals.failures) failed += n;
  std::printf("streams_ok           %zu\n", totals.stream_ms.size());
  std::printf("streams_failed       %d\n", failed);
  for (const auto& [code, n] : totals.failures) std::printf("failed_code_%-8d %d\n", code, n);
  std::printf("records              %llu\n", static_cast<unsigned long long>(totals.records));
  std::printf("messages             %llu\n", static_cast<unsigned long long>(totals.messages));
  std::printf("seconds              %.3f\n", seconds);
  std::printf("records_per_second   %.0f\n", static_cast<double>(totals.records) / seconds);
  std::printf("candidates           %llu\n", static_cast<unsigned long long>(totals.candidates));
  std::printf("candidates_per_second %.0f\n", static_cast<double>(totals.candidates) / seconds);
  std::printf("streams_per_second   %.1f\n", static_cast<double>(totals.stream_ms.size()) / seconds);
  std::printf("ttfb_ms_p50          %.2f\n", Percentile(totals.ttfb_ms, 0.50));
  std::printf("ttfb_ms_p99          %.2f\n", Percentile(totals.ttfb_ms, 0.99));
  std::printf("stream_ms_p50        %.2f\n", Percentile(totals.stream_ms, 0.50));
  std::printf("stream_ms_p99        %.2f\n", Percentile(totals.stream_ms, 0.99));
  return failed == 0 ? 0 : 1;
}
