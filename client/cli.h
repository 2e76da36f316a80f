// What the squatstream CLI decides, apart from printing records (client/output.h) and the bar and summary
// (client/progress.h): how it reads kinds, enrichers and URL arguments, which exit code a stream's end
// gets, and the lines it says on stderr when something went wrong (the error, the cap, DNS failures). A
// library so that each decision is tested (tests/client/cli_test.cc); client/main.cc wires them. Pure
// functions unless said otherwise; thread-safe.
#ifndef SQUATSTREAM_CLIENT_CLI_H_
#define SQUATSTREAM_CLIENT_CLI_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/flag_usage.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::client {

// The process's exit codes (docs/CLI.md, --help).
enum class ExitCode : int {
  kOk = 0,
  kServerError = 1,    // the server failed the stream otherwise (INTERNAL, RESOURCE_EXHAUSTED, ...)
  kUsage = 2,          // a bad or unknown flag, an unknown kind, enricher or format, no domain
  kBadInput = 3,       // a domain refused (by the client, or INVALID_ARGUMENT from the server)
  kUnreachable = 4,    // no connection, or UNAVAILABLE before any message
  kPartial = 5,        // the stream ended before every candidate was checked (deadline, idle, shutdown, ...)
  kLookupsFailed = 6,  // DNS failed (status not OK, not NOT_FOUND) for at least half the names checked, or for
                       // each of the first kDnsGiveUpAfter (the client then stops the scan)
  kOutputFailed = 7,   // the records could not be written (a full disk, a closed pipe): the scan was stopped
  kInterrupted = 130,  // SIGINT
};

// --help of squatstream: the groups (common, output, connection and advanced) and the exit codes. The flags
// are client/main.cc's.
base::UsageSpec ClientUsage();

// A kind or enricher name as the CLI accepts it: lower case, '_' as '-' ("TLD_Swap" -> "tld-swap").
std::string CanonicalName(absl::string_view name);

// The kinds of a comma-separated list (any case, '-' or '_'); empty: none (all, for the server).
// INVALID_ARGUMENT for an unknown name, listing every kind: `unknown kind "typo"; the kinds are: addition, ...`.
absl::StatusOr<std::vector<v1::PermutationKind>> ParseKinds(absl::string_view list);
// The same for enrichers (dns, geo, whois, banner).
absl::StatusOr<std::vector<v1::Enricher>> ParseEnrichers(absl::string_view list);

// A command-line domain: a URL ("https://www.example.com:8443/login?x") becomes its host ("www.example.com")
// and `note` says so; anything else is kept as it is (the server's validation explains what is wrong with it).
struct DomainArgument {
  std::string domain;
  std::string note;  // "" when kept as given
};
DomainArgument ReduceUrl(absl::string_view argument);

// A server message with each "domains[N]" (the request's index) as `argument N+1 ("value")`, the value the
// CLI sent (`sent[N]`, through Displayable); an index out of range stays as it is. The result is Displayable.
std::string RewriteArgumentIndexes(absl::string_view message, const std::vector<std::string>& sent);

// How a stream ended, as main saw it.
struct StreamEnd {
  absl::StatusCode code = absl::StatusCode::kOk;  // the call's status (gRPC's codes are absl's)
  std::string message;                            // its message, as the server (or gRPC) said it
  std::string details;                            // its details (a serialized google.rpc.Status), often empty
  bool received_any = false;                      // at least one message came
  bool interrupted = false;                       // SIGINT cancelled the call
  bool idle_timed_out = false;                    // the idle timeout cancelled it
  bool dns_gave_up = false;                       // the client cancelled it: DNS failed for each of the first names
  bool output_failed = false;                     // the client cancelled it: stdout could not be written
  std::uint64_t dns_checked = 0;                  // names whose DNS result is known here
  std::uint64_t dns_failed = 0;                   // of them, those whose DNS status was neither OK nor NOT_FOUND
};

// When DNS failed for each of this many names, the first ones checked, the client stops the scan (exit 6):
// the server's resolver is down, and a scan of thousands of names would only say so at its end.
inline constexpr std::uint64_t kDnsGiveUpAfter = 50;

// Whether DNS failed for at least half the names checked (and for one at least).
bool MostLookupsFailed(std::uint64_t failed, std::uint64_t checked);

// The exit code of a stream's end: interrupted 130; OK 0 (6 when MostLookupsFailed); the idle timeout 5;
// INVALID_ARGUMENT 3; UNAVAILABLE 4 before any message, 5 after; DEADLINE_EXCEEDED, CANCELLED, ABORTED 5;
// anything else 1.
ExitCode ExitCodeFor(const StreamEnd& end);

// What the error line needs besides the status.
struct CallSettings {
  std::string server;       // the address asked
  absl::Duration deadline;  // 0: none
  absl::Duration idle_timeout;
  std::vector<std::string> sent;  // the domains, in request order
};

// The one error line of a failed stream (no newline), "squatstream: <CODE_NAME>: <cause> — <next step>",
// e.g. "squatstream: UNAVAILABLE: cannot reach squatstreamd at 127.0.0.1:50051 (failed to connect to all
// addresses) — is it running? start it with: squatstreamd --grpc_address=127.0.0.1:50051"; "" for an end that
// needs none (OK, interrupted). Every server text through Displayable.
std::string ErrorLine(const StreamEnd& end, const CallSettings& settings);

// Why a stream stopped before its end, for the summary ("interrupted", "no message for 2m (--idle_timeout)",
// "the deadline (--deadline=30s) passed", "the server is unavailable (UNAVAILABLE)", ...); "" when it ended
// normally.
std::string StopReason(const StreamEnd& end, const CallSettings& settings);

// The line announcing that the candidate cap cut candidates (no newline), or nullopt when it cut none
// (uncapped_total not above total): "squatstream: 10,000 of 12,550 candidates checked: the cap (10,000 per
// domain) cut the rest; raise --max_candidates (this server allows up to 100,000)". `inputs`: the domains
// asked (the cap is per domain).
std::optional<std::string> CapLine(const v1::Progress& progress, std::size_t inputs);

// DNS's outcome for the records received: counts and the first failure's message.
struct DnsTally {
  std::uint64_t checked = 0;     // records with a DNS result
  std::uint64_t failed = 0;      // of them, status neither OK nor NOT_FOUND
  std::uint64_t registered = 0;  // verdict REGISTERED: what the bar calls "found"
  std::string first_failure;     // the first failed record's status message (as sent)
  void Add(const v1::Record& record);
};

// The DNS failure line (no newline), or nullopt when none failed: "squatstream: DNS failed for 812 of 812
// names (first: <message>) — is the server's resolver reachable?" (the advice only when most failed).
std::optional<std::string> DnsFailureLine(std::uint64_t failed, std::uint64_t checked, absl::string_view first);

// The record's DNS verdict (UNSPECIFIED when it has no DNS result).
v1::DnsVerdict DnsVerdictOf(const v1::Record& record);

// `squatstream names`: the candidates of each domain, generated here by the engine (no server, no lookup), as
// records without enrichments (kind, kinds, both name forms, input), each passed to `emit` as it comes.
// `max_candidates` per domain, 0: no cap. INVALID_ARGUMENT naming the argument for a domain the engine refuses
// (nothing emitted for it or after it).
absl::Status GenerateNames(const std::vector<std::string>& domains, const std::vector<v1::PermutationKind>& kinds,
                           std::size_t max_candidates, bool subdomains,
                           const std::function<void(const v1::Record&)>& emit);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_CLI_H_
