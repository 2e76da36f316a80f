// squatstream: stream the enriched look-alikes of one or more domains from squatstreamd and print them; or,
// as `squatstream names`, list the candidates the engine makes, here, without a server.
//
//   squatstream [--server=HOST:PORT] [--format=table|json|csv|list] [--kinds=a,b] [--enrichers=geo,whois]
//               [--registered|--unregistered] [--max_candidates=N] [--deadline=0] DOMAIN...
//   squatstream names [--format=...] [--kinds=...] [--max_candidates=N] DOMAIN...
//   squatstream watch add|list|scan|rm|events|triage|show ...   (client/watch_cli.h)
//
// Records go to stdout, written as they arrive and flushed at the end whatever the end was (an error, the idle
// timeout, Ctrl-C). stderr gets a progress bar (when it is a terminal), the summary and at most a few lines on
// what went wrong. The exit code says which end it was (client/cli.h, docs/CLI.md).
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/flag_usage.h"
#include "client/call_watcher.h"
#include "client/channel.h"
#include "client/cli.h"
#include "client/output.h"
#include "client/progress.h"
#include "client/sanitize.h"
#include "client/watch_cli.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

ABSL_FLAG(std::string, server, "", "squatstreamd address (default $SQUATSTREAM_SERVER or 127.0.0.1:50051).");
ABSL_FLAG(std::string, format, "table",
          "Output: table (fits the terminal; --wide: no limit), json (one JSON object per line), csv, or list "
          "(the names only, one a line).");
ABSL_FLAG(std::string, kinds, "",
          "Comma-separated permutation kinds (e.g. addition,tld-swap; any case, - or _); default all.");
ABSL_FLAG(std::string, enrichers, "", "Comma-separated enrichers (dns,geo,whois,banner); default all.");
ABSL_FLAG(bool, registered, false,
          "Only names DNS finds registered (or cannot tell: SERVFAIL, timeout); the rest are counted, not printed.");
ABSL_FLAG(bool, unregistered, false,
          "Only names DNS finds unregistered (NXDOMAIN); filtered here, so every record still travels.");
ABSL_FLAG(int, max_candidates, 0,
          "Cap on candidates per domain; 0 uses the server's default (names: no cap). The summary says when the "
          "cap cut candidates.");
ABSL_FLAG(bool, subdomains, false, "Also permute subdomain labels (login.example.com -> 1ogin.example.com).");
ABSL_FLAG(bool, mail, false,
          "Probe each mail exchanger beyond its greeting (MAIL FROM, RCPT TO a random mailbox): whether it takes "
          "mail for any name. Off: greeting and EHLO only (dnstwist's -m).");
ABSL_FLAG(bool, mxcheck, false, "The same as --mail (dnstwist's --mxcheck).");
ABSL_FLAG(bool, wide, false, "Table: no width limit (default: the terminal's width when stdout is a terminal).");
ABSL_FLAG(absl::Duration, deadline, absl::ZeroDuration(),
          "Give up after this long (the results so far are kept, exit 5); 0: no deadline.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(2),
          "Give up when the server sends nothing for this long (it sends progress at least once a second while "
          "it works; exit 5); 0: never.");

namespace v1 = squatstream::v1;
namespace client = squatstream::client;
using client::CallWatcher;
using client::ExitCode;

namespace {

[[noreturn]] void Exit(ExitCode code) {
  std::fflush(stdout);
  std::exit(static_cast<int>(code));
}

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "squatstream: %s — see squatstream --help\n", message.c_str());
  Exit(ExitCode::kUsage);
}

// The table's width: the terminal's columns when stdout is one (else $COLUMNS), 0 (no limit) with --wide or
// when stdout is a pipe or a file.
std::size_t OutputWidth() {
  if (absl::GetFlag(FLAGS_wide) || isatty(STDOUT_FILENO) == 0) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  std::size_t columns = 0;
  const char* env = std::getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(env, &columns)) return columns;
  return 0;
}

// Writes out what was printed so far; a failed write (a full disk, a closed pipe) is an error, not silence.
void FlushOrFail() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    std::fprintf(stderr, "squatstream: cannot write the output: %s\n", std::strerror(errno));
    std::exit(static_cast<int>(ExitCode::kOutputFailed));
  }
}

// Prints records as they come: the header before the first one only (none when nothing came).
class RecordWriter {
 public:
  explicit RecordWriter(client::OutputOptions options) : options_(std::move(options)) {}

  void Write(const v1::Record& record) {
    if (written_++ == 0) buffer_ += client::FormatHeader(options_);
    buffer_ += client::FormatRecord(options_, record);
  }
  // Writes what Write buffered, at once (once per message, so that a big batch is one write, and a reader at
  // the other end of a pipe has each message's records as they came).
  // Returns false when the write failed (a full disk, a closed pipe: errno says why).
  bool Flush() {
    if (buffer_.empty()) return true;
    const bool ok = std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) == buffer_.size() &&
                    std::fflush(stdout) == 0 && std::ferror(stdout) == 0;
    buffer_.clear();
    return ok;
  }
  bool pending() const { return !buffer_.empty(); }
  std::uint64_t written() const { return written_; }

 private:
  client::OutputOptions options_;
  std::string buffer_;
  std::uint64_t written_ = 0;
};

std::string SummaryDomain(const std::vector<std::string>& domains) {
  if (domains.size() <= 1) return domains.empty() ? "" : client::Displayable(domains[0]);
  return absl::StrCat(client::Displayable(domains[0]), " and ", domains.size() - 1, " more");
}

// `squatstream names DOMAIN...`: the engine's candidates, no server.
int RunNames(const std::vector<std::string>& domains, client::Format format,
             const std::vector<v1::PermutationKind>& kinds) {
  client::OutputOptions options;
  options.format = format;
  options.lookups = false;  // no stage columns
  options.batch = domains.size() > 1;
  options.width = OutputWidth();
  RecordWriter writer(options);
  const absl::Status status =
      client::GenerateNames(domains, kinds, static_cast<std::size_t>(absl::GetFlag(FLAGS_max_candidates)),
                            absl::GetFlag(FLAGS_subdomains), [&](const v1::Record& r) {
                              writer.Write(r);
                              if (writer.written() % 256 == 0) writer.Flush();
                            });
  writer.Flush();
  FlushOrFail();
  if (!status.ok()) {
    std::fprintf(stderr, "squatstream: INVALID_ARGUMENT: %s — correct it and run again\n",
                 std::string(status.message()).c_str());
    return static_cast<int>(ExitCode::kBadInput);
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT blocked before any thread starts (gRPC's included): only the CallWatcher takes it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // `squatstream watch VERB ...` reads its own command line, per verb (client/watch_cli.h).
  if (const std::vector<std::string> all(argv, argv + argc);
      std::optional<std::size_t> at = client::FindWatchCommand(all)) {
    std::vector<std::string> rest(all.begin() + 1, all.end());
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(*at - 1));
    return client::RunWatch(rest, signals);
  }

  // absl's --helpfull (the flags reference, scripts/gen-flags-doc.py) opens with this; --help is ClientUsage().
  absl::SetProgramUsageMessage(
      "squatstream [flags] DOMAIN [DOMAIN...]: stream the enriched look-alikes of one or more domains.\n"
      "squatstream names [flags] DOMAIN [DOMAIN...]: list the candidates only, made here (no server, no lookups).");
  const std::vector<std::string> args = squatstream::base::ParseCommandLineOrExit(argc, argv, client::ClientUsage());
  const bool names_mode = args.size() > 1 && args[1] == "names";
  std::vector<std::string> arguments(args.begin() + (names_mode ? 2 : 1), args.end());
  if (arguments.empty()) {
    UsageError(names_mode ? "give at least one domain, e.g.: squatstream names example.com"
                          : "give at least one domain, e.g.: squatstream example.com");
  }
  absl::StatusOr<client::Format> format = client::ParseFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) UsageError(std::string(format.status().message()));
  absl::StatusOr<std::vector<v1::PermutationKind>> kinds = client::ParseKinds(absl::GetFlag(FLAGS_kinds));
  if (!kinds.ok()) UsageError(std::string(kinds.status().message()));
  absl::StatusOr<std::vector<v1::Enricher>> enrichers = client::ParseEnrichers(absl::GetFlag(FLAGS_enrichers));
  if (!enrichers.ok()) UsageError(std::string(enrichers.status().message()));
  if (absl::GetFlag(FLAGS_max_candidates) < 0) UsageError("--max_candidates must not be negative");
  const bool registered = absl::GetFlag(FLAGS_registered), unregistered = absl::GetFlag(FLAGS_unregistered);
  if (registered && unregistered) UsageError("--registered and --unregistered exclude each other: give one");
  if (absl::GetFlag(FLAGS_deadline) < absl::ZeroDuration()) UsageError("--deadline must not be negative");

  std::vector<std::string> domains;
  for (const std::string& a : arguments) {
    client::DomainArgument d = client::ReduceUrl(a);
    if (!d.note.empty()) std::fprintf(stderr, "%s\n", d.note.c_str());
    domains.push_back(std::move(d.domain));
  }
  if (names_mode) {
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);  // nothing to cancel: Ctrl-C ends it as usual
    return RunNames(domains, *format, *kinds);
  }

  std::string server = absl::GetFlag(FLAGS_server);
  if (server.empty()) {
    const char* env = std::getenv("SQUATSTREAM_SERVER");
    server = env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
  }

  v1::EnrichDomainRequest request;
  // Every argument in `domains` (not the first in `domain`): the server's "domains[N]" then names argument N+1.
  for (const std::string& d : domains) request.add_domains(d);
  for (v1::PermutationKind k : *kinds) request.add_kinds(k);
  for (v1::Enricher e : *enrichers) request.add_enrichers(e);
  request.set_max_candidates(static_cast<std::uint32_t>(absl::GetFlag(FLAGS_max_candidates)));
  request.set_permute_subdomains(absl::GetFlag(FLAGS_subdomains));
  request.set_registered_only(registered);
  request.set_probe_mail(absl::GetFlag(FLAGS_mail) || absl::GetFlag(FLAGS_mxcheck));

  client::OutputOptions options;
  options.format = *format;
  options.stages = *enrichers;  // as selected (empty: every stage); the table adds DNS
  options.batch = domains.size() > 1;
  options.width = OutputWidth();
  RecordWriter writer(options);

  const client::CallSettings settings{.server = server,
                                      .deadline = absl::GetFlag(FLAGS_deadline),
                                      .idle_timeout = absl::GetFlag(FLAGS_idle_timeout),
                                      .sent = domains};
  auto stub = v1::EnrichmentService::NewStub(client::MakeChannel(server));
  grpc::ClientContext context;
  if (settings.deadline > absl::ZeroDuration()) {
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(settings.deadline));
  }

  const bool progress = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first_batch;
  std::uint64_t batches = 0;
  client::DnsTally dns;
  v1::Progress last;
  bool simulated = false;
  std::string attribution;  // the geo databases' credit, printed once at the end
  CallWatcher watcher(&context, settings.idle_timeout, signals);
  std::unique_ptr<grpc::ClientReader<v1::EnrichDomainResponse>> reader = stub->EnrichDomain(&context, request);
  v1::EnrichDomainResponse response;
  bool dns_gave_up = false, output_failed = false;
  while (reader->Read(&response)) {
    watcher.Touch();
    if (batches++ == 0) first_batch = std::chrono::steady_clock::now();
    if (response.has_progress()) last = response.progress();
    for (const v1::Record& r : response.records()) {
      dns.Add(r);
      for (const v1::Enrichment& e : r.enrichments()) {
        simulated |= e.simulated();
        if (attribution.empty() && e.has_geo() && !e.simulated()) attribution = e.geo().attribution();
      }
      if (unregistered && client::DnsVerdictOf(r) != v1::DNS_VERDICT_UNREGISTERED) continue;
      writer.Write(r);
    }
    // The bar off the line first, so that the rows (on the same terminal) start at its beginning.
    if (progress && writer.pending()) std::fputs("\r\033[K", stderr);
    if (!writer.Flush() && !output_failed) {
      std::fprintf(stderr, "\nsquatstream: cannot write the output: %s\n", std::strerror(errno));
      output_failed = true;
      context.TryCancel();
    }
    // The idle clock counts the server's silence only, not the time a slow reader of stdout took.
    watcher.Touch();
    if (!dns_gave_up && dns.checked >= client::kDnsGiveUpAfter && dns.failed == dns.checked) {
      dns_gave_up = true;  // the server's resolver is down: say so now, not after thousands of names
      context.TryCancel();
    }
    if (progress) {
      // Over the previous line, and what it held beyond this one cleared.
      std::fprintf(stderr, "\r%s\033[K", client::ProgressLine(last, dns.registered).c_str());
    }
  }
  const grpc::Status status = reader->Finish();
  watcher.Stop();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  FlushOrFail();
  if (progress) std::fputs("\r\033[K", stderr);

  client::StreamEnd end;
  end.code = static_cast<absl::StatusCode>(status.error_code());
  end.message = status.error_message();
  end.details = status.error_details();
  end.received_any = batches > 0;
  end.interrupted = watcher.interrupted();
  end.idle_timed_out = watcher.idle_timed_out();
  end.dns_gave_up = dns_gave_up;
  end.output_failed = output_failed;
  // With --registered the server sends the failures (their verdict is UNKNOWN) but not the names it found
  // unregistered: every candidate checked is among those DNS answered.
  end.dns_checked = registered ? std::max(dns.checked, last.enriched()) : dns.checked;
  end.dns_failed = dns.failed;

  if (end.received_any || end.code == absl::StatusCode::kOk) {
    client::StreamSummary summary;
    summary.domain = SummaryDomain(domains);
    summary.records = writer.written();
    summary.progress = last;
    summary.batches = batches;
    summary.seconds = seconds;
    if (batches > 0) summary.first_batch_ms = std::chrono::duration<double, std::milli>(first_batch - start).count();
    summary.stopped = client::StopReason(end, settings);
    std::fprintf(stderr, "%s\n", client::SummaryLine(summary).c_str());
    if (std::optional<std::string> cap = client::CapLine(last, domains.size())) {
      std::fprintf(stderr, "%s\n", cap->c_str());
    }
    if (std::optional<std::string> failed =
            client::DnsFailureLine(end.dns_failed, end.dns_checked, dns.first_failure)) {
      std::fprintf(stderr, "%s\n", failed->c_str());
    }
    if (simulated && *format == client::Format::kTable) {
      std::fputs("squatstream: values marked * are simulated (the server runs stub enrichers for them)\n", stderr);
    }
    // What the server sends for stderr goes through the same sanitiser as the records (a status message may
    // quote what a stranger's server said).
    if (!attribution.empty()) std::fprintf(stderr, "squatstream: %s\n", client::Displayable(attribution).c_str());
  } else if (end.interrupted) {
    std::fputs("squatstream: interrupted before any result\n", stderr);
  }
  if (const std::string error = client::ErrorLine(end, settings); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
  }
  return static_cast<int>(client::ExitCodeFor(end));
}
