// squatstream: stream a domain's enriched permutations from squatstreamd and print them.
//
//   squatstream [--server=HOST:PORT] [--format=table|json|csv] [--kinds=a,b] [--enrichers=geo,whois]
//               [--max_candidates=N] [--subdomains] [--deadline=60s] DOMAIN
//
// Records go to stdout; a progress bar (when stderr is a terminal) and the closing summary go to stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/output.h"
#include "client/progress.h"
#include "client/sanitize.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

ABSL_FLAG(std::string, server, "", "squatstreamd address (default $SQUATSTREAM_SERVER or 127.0.0.1:50051).");
ABSL_FLAG(std::string, format, "table", "Output: table, json (one JSON object per line) or csv.");
ABSL_FLAG(std::string, kinds, "", "Comma-separated permutation kinds (e.g. addition,tld-swap); default all.");
ABSL_FLAG(std::string, enrichers, "", "Comma-separated enrichers (dns,geo,whois,banner); default all.");
ABSL_FLAG(bool, registered, false,
          "Only names DNS finds registered (or cannot tell: SERVFAIL, timeout); the rest are counted, not printed.");
ABSL_FLAG(int, max_candidates, 0, "Cap on candidates; 0 uses the server's default.");
ABSL_FLAG(bool, subdomains, false, "Also permute subdomain labels (login.example.com -> 1ogin.example.com).");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(60), "Give up after this long.");

namespace v1 = squatstream::v1;
namespace client = squatstream::client;

namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "squatstream: %s\n", message.c_str());
  std::exit(2);
}

// Maps the CLI's short names to the API's enum values, by the same short names the output prints.
template <typename Enum>
std::vector<Enum> ParseList(const std::string& csv, int max, bool (*valid)(int), std::string (*name)(Enum),
                            const char* what) {
  std::vector<Enum> out;
  for (absl::string_view item : absl::StrSplit(csv, ',', absl::SkipWhitespace())) {
    bool found = false;
    for (int v = 1; v <= max && !found; ++v) {
      if (valid(v) && name(static_cast<Enum>(v)) == item) {
        out.push_back(static_cast<Enum>(v));
        found = true;
      }
    }
    if (!found) Fail("unknown " + std::string(what) + " \"" + std::string(item) + "\"");
  }
  return out;
}

void DrawProgress(const v1::Progress& p) {
  // Over the previous line, and what it held beyond this one cleared.
  std::fprintf(stderr, "\r%s\033[K", client::ProgressLine(p).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // --help lists the flags of client/main.cc (absl's default looks for a file named after the program: none matched).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) { return absl::EndsWith(file, "client/main.cc"); };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "squatstream [flags] DOMAIN [DOMAIN...]: stream the enriched look-alikes of one or more domains.");
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) Fail("give at least one domain, e.g.: squatstream example.com (see --help)");

  auto format = client::ParseFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) Fail(std::string(format.status().message()));
  client::OutputOptions output_options;  // the format alone until main.cc is rewritten for issue 34
  output_options.format = *format;
  std::string server = absl::GetFlag(FLAGS_server);
  if (server.empty()) {
    const char* env = std::getenv("SQUATSTREAM_SERVER");
    server = env != nullptr ? env : "127.0.0.1:50051";
  }

  v1::EnrichDomainRequest request;
  request.set_domain(args[1]);
  for (std::size_t i = 2; i < args.size(); ++i) request.add_domains(args[i]);
  for (v1::PermutationKind k : ParseList<v1::PermutationKind>(absl::GetFlag(FLAGS_kinds), v1::PermutationKind_MAX,
                                                              v1::PermutationKind_IsValid, client::KindName, "kind")) {
    request.add_kinds(k);
  }
  for (v1::Enricher e : ParseList<v1::Enricher>(absl::GetFlag(FLAGS_enrichers), v1::Enricher_MAX, v1::Enricher_IsValid,
                                                client::EnricherName, "enricher")) {
    request.add_enrichers(e);
  }
  if (absl::GetFlag(FLAGS_max_candidates) < 0) Fail("--max_candidates must not be negative");
  request.set_max_candidates(static_cast<std::uint32_t>(absl::GetFlag(FLAGS_max_candidates)));
  request.set_permute_subdomains(absl::GetFlag(FLAGS_subdomains));
  request.set_registered_only(absl::GetFlag(FLAGS_registered));

  auto stub = v1::EnrichmentService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_deadline)));

  const bool progress = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first_batch;
  std::uint64_t records = 0, batches = 0;
  std::fputs(client::FormatHeader(output_options).c_str(), stdout);
  std::unique_ptr<grpc::ClientReader<v1::EnrichDomainResponse>> reader = stub->EnrichDomain(&context, request);
  v1::EnrichDomainResponse response;
  v1::Progress last;
  bool simulated = false;
  std::string attribution;  // the geo databases' credit, printed once at the end
  std::string out;
  while (reader->Read(&response)) {
    last = response.progress();
    if (batches++ == 0) first_batch = std::chrono::steady_clock::now();
    records += static_cast<std::uint64_t>(response.records_size());
    out.clear();
    for (const v1::Record& r : response.records()) {
      out += client::FormatRecord(output_options, r);
      for (const v1::Enrichment& e : r.enrichments()) {
        simulated |= e.simulated();
        if (attribution.empty() && e.has_geo() && !e.simulated()) attribution = e.geo().attribution();
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (progress) DrawProgress(response.progress());
  }
  const grpc::Status status = reader->Finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fflush(stdout);
  if (progress) std::fputs("\r\033[K", stderr);
  client::StreamSummary summary;
  summary.domain = args[1];
  summary.records = records;
  summary.progress = last;
  summary.batches = batches;
  summary.seconds = seconds;
  if (batches > 0) summary.first_batch_ms = std::chrono::duration<double, std::milli>(first_batch - start).count();
  std::fprintf(stderr, "%s\n", client::SummaryLine(summary).c_str());
  if (simulated && *format == client::Format::kTable) {
    std::fputs("squatstream: values marked * are simulated (the server runs stub enrichers for them)\n", stderr);
  }
  // What the server sends for stderr goes through the same sanitiser as the records (a status message may
  // quote what a stranger's server said).
  if (!attribution.empty()) std::fprintf(stderr, "squatstream: %s\n", client::Displayable(attribution).c_str());
  if (!status.ok()) {
    std::fprintf(stderr, "squatstream: error %d: %s\n", static_cast<int>(status.error_code()),
                 client::Displayable(status.error_message()).c_str());
    return 1;
  }
  return 0;
}
