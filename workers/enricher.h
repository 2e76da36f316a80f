// The Enricher contract: one asynchronous lookup stage about one candidate domain.
//
// A stage's table entry (workers/stage.h) declares the stages whose results it reads: the pipeline runs a
// candidate's stages in dependency order and hands each the record so far, on which those results are. Results are the
// API's own messages (squatstream.v1.Enrichment, protobuf only): this layer knows nothing of gRPC. Implementations:
// workers/stub (deterministic simulations, for benchmarks and offline use) and workers/dns (c-ares).
#ifndef SQUATSTREAM_WORKERS_ENRICHER_H_
#define SQUATSTREAM_WORKERS_ENRICHER_H_

#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asio/any_io_executor.hpp"
#include "asio/cancellation_signal.hpp"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::workers {

// Lower-case name of an enricher, from its API name: ENRICHER_DNS -> "dns". Metrics label by it.
std::string EnricherName(v1::Enricher id);
// Parses a name as EnricherName prints it; INVALID_ARGUMENT for an unknown one.
absl::StatusOr<v1::Enricher> ParseEnricherName(absl::string_view name);

// What a lookup works on: the candidate, and its record so far (the results of the stages it needs, each
// with its status). Valid only during the Lookup / TryLookupNow call: copy what the lookup keeps.
struct LookupInput {
  absl::string_view domain_ascii;
  const v1::Record& record;
  // The stream asking (unique in the process): stages whose shared resources one stream could hold (the
  // banner stage's connection slots) share them fairly between streams. 0: none in particular.
  std::uint64_t stream = 0;
  // The request asked for the MX check beyond the greeting (EnrichDomainRequest.probe_mail): the banner stage
  // sends MAIL FROM and RCPT TO only then.
  bool probe_mail = false;
};

// How a lookup ended. Skipped: there was nothing to look up (a stage it needs found nothing: NXDOMAIN, no
// address) — no latency, counted as skipped. Failed: the lookup could not answer (timeout, refused,
// malformed answer ...). Done: it answered — NOT_FOUND after a real lookup (the registry or the database
// has no such entry) is an answer too. The status on the record says which answer.
enum class LookupOutcome { kDone, kSkipped, kFailed };

struct LookupResult {
  absl::Status status;   // OK, CANCELLED when cancelled, NOT_FOUND when there was nothing (to look up), or
                         // the lookup's failure
  v1::Enrichment value;  // the result (its oneof), meaningful only when status is OK; `simulated` set by stubs
  bool skipped = false;  // set by Skipped() only

  LookupOutcome outcome() const {
    if (skipped) return LookupOutcome::kSkipped;
    return status.ok() || absl::IsNotFound(status) ? LookupOutcome::kDone : LookupOutcome::kFailed;
  }
};

// The result of a lookup with nothing to look up: NOT_FOUND with `reason`, outcome skipped.
LookupResult Skipped(absl::string_view reason);

class Enricher {
 public:
  using Callback = absl::AnyInvocable<void(LookupResult) &&>;

  virtual ~Enricher() = default;

  virtual v1::Enricher id() const = 0;

  // The most a result of this stage holds, serialized (its Enrichment's value, status message included):
  // what the pipeline reserves of a stream's memory grant for the stage before it starts, and what it holds
  // the stage to — a result over it is dropped (RESOURCE_EXHAUSTED, `truncated` saying why). A stage whose
  // results strangers shape bounds them itself below this (DNS answers, banners, registry answers).
  virtual std::size_t MaxResultBytes() const { return kDefaultMaxResultBytes; }
  static constexpr std::size_t kDefaultMaxResultBytes = 4096;

  // Starts a lookup. Calls `done` exactly once, through `executor` and never inline from Lookup itself. If
  // `cancel` is emitted before the lookup ends, `done` follows promptly with CANCELLED — posted, never from
  // inside the handler (the caller's emit may be walking what `done` changes). The caller must emit
  // `cancel` from `executor`'s context (a strand), which is also where `done` runs, so the two never race.
  // Thread-safe: one enricher serves every stream.
  virtual void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
                      Callback done) = 0;

  // The result when it is known without waiting — a zero-latency stub, or a stage with nothing to look up
  // because a stage it needs found nothing (NOT_FOUND, see NeedAddresses) — else nullopt and the caller uses
  // Lookup. Thread-safe.
  virtual std::optional<LookupResult> TryLookupNow(const LookupInput& /*input*/) { return std::nullopt; }

  // Ends what the stage runs beside its lookups (refreshes, connections, its client threads) so that the
  // executor has nothing left to wait for; lookups still running end CANCELLED. Called once, by the server,
  // before its executor stops; idempotent.
  virtual void Shutdown() {}
  // Reads again the files the stage serves from (SIGHUP), if it has any. Thread-safe.
  virtual void Reload() {}
};

// The DNS stage's result on `record`, or null when it has none that succeeded.
const v1::DnsResult* DnsResultOf(const v1::Record& record);

// For a stage that needs the candidate's addresses: nullopt when the DNS result on `input.record` has some,
// else the NOT_FOUND result to report ("no address: NXDOMAIN" ...).
std::optional<LookupResult> NeedAddresses(const LookupInput& input);
// For a stage that talks to the candidate's servers, its web servers or its mail exchangers (banner): nullopt
// when the DNS result has addresses or mail exchangers, else the NOT_FOUND result to report.
std::optional<LookupResult> NeedAddressesOrMail(const LookupInput& input);
// For a stage that asks about the registered name (registration data): the skipped result when DNS said
// the name does not exist (UNREGISTERED) or only a parent's wildcard answers for it (WILDCARD), else nullopt
// (DNS found it, could not say, or did not run).
std::optional<LookupResult> NeedMayBeRegistered(const LookupInput& input);

}  // namespace squatstream::workers

#endif  // SQUATSTREAM_WORKERS_ENRICHER_H_
