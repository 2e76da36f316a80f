// A lookup stage as one table entry, as a permutation kind is one (permute/kinds/): everything the server,
// the flags, the request defaults and the simulated stages need to know about a stage, in the stage's own
// folder, which registers it (SQUATSTREAM_REGISTER_STAGE) the way Envoy registers an extension's factory:
// nothing outside the folder names the stage. The table (workers/stage_table.h) orders the registered
// stages by what they need.
//
// Adding a stage: its id and result in the API (proto/), a folder under workers/ with its Enricher and a
// `<name>_stage.cc` that defines its flags and its StageDef and registers it, whose CMakeLists.txt declares
// that library with squatstream_stage(); and the folder's one line in workers/CMakeLists.txt.
#ifndef SQUATSTREAM_WORKERS_STAGE_H_
#define SQUATSTREAM_WORKERS_STAGE_H_

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/io_context.hpp"
#include "workers/enricher.h"

namespace prometheus {
class Registry;
}

namespace squatstream::workers {

// The settings of every stage, each of its own type (declared in the stage's folder), one value per type:
// the server carries them without naming a stage. Copies are deep. Not thread-safe; start-up only.
class StageOptions {
 public:
  // The value of type T, default-constructed on first use.
  template <typename T>
  T& Get() {
    std::any& value = values_[std::type_index(typeid(T))];
    if (!value.has_value()) value = T{};
    return *std::any_cast<T>(&value);
  }
  // The value of type T, or T's defaults when none was set.
  template <typename T>
  T Get() const {
    auto it = values_.find(std::type_index(typeid(T)));
    return it == values_.end() ? T{} : *std::any_cast<T>(&it->second);
  }

 private:
  absl::flat_hash_map<std::type_index, std::any> values_;
};

// A stage's simulated twin's settings (squatstreamd --stub_enrichers).
struct StubConfig {
  // Mean simulated latency; each lookup takes between 0.5x and 1.5x of it, fixed per candidate.
  absl::Duration latency = absl::ZeroDuration();
  // Fraction of candidates, in [0, 1], whose lookup fails with UNAVAILABLE.
  double failure_rate = 0;
  // DNS only: fraction of candidates, in [0, 1], that exist (the rest get NXDOMAIN).
  double registered_rate = 1;
};

// Resolves a host name to addresses (A then AAAA); an empty list when it has none or the lookup failed.
// `done` runs on any thread.
using HostLookup =
    std::function<void(const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done)>;

// What a stage is built with. Stages are built in the table's order, so a stage finds here what the stages
// before it provide.
struct StageEnvironment {
  asio::io_context& io;              // the I/O executor's: lookups, timers, strands
  prometheus::Registry& registry;    // the stage registers its own metrics here, once
  const StageOptions& options;       // every stage's settings (the flags', or a test's)
  HostLookup host_lookup = nullptr;  // set by the real DNS stage (through its resolver); empty otherwise
};

// A rule saying a candidate has nothing for the stage to look up because a stage it needs found nothing: the
// skipped result (Skipped(...)), else nullopt. The pipeline applies it before the stage runs, real or
// simulated alike, so both skip the same names.
using SkipRule = std::optional<LookupResult> (*)(const LookupInput& input);

// The simulated twin's result: a pure function of the candidate (`hash`, stable across processes) and its
// record so far. Values are plausible but never real (documentation addresses, .example names).
using Simulation = void (*)(const LookupInput& input, std::uint64_t hash, const StubConfig& config,
                            v1::Enrichment* out);

struct StageDef {
  v1::Enricher id = v1::ENRICHER_UNSPECIFIED;  // its name (EnricherName) labels metrics and --stub_enrichers
  std::vector<v1::Enricher> needs{};           // stages whose results it reads: they run first
  SkipRule skip = nullptr;                     // null: never skipped
  Simulation simulate = nullptr;
  StubConfig stub_defaults{};  // the twin's defaults (the --stub_<name>_* flags' defaults)
  // Reads the stage's flags (defined beside it) into `options` and `stub`; INVALID_ARGUMENT naming the flag.
  absl::Status (*read_flags)(StageOptions& options, StubConfig& stub) = nullptr;
  // Builds the real stage: its metrics, its clients. Fails (naming what) on settings it cannot run with.
  absl::StatusOr<std::unique_ptr<Enricher>> (*create)(StageEnvironment& env) = nullptr;
};

// A real stage made of an enricher and what it reports to (`Owned`: its metrics), which must outlive it: built
// first, destroyed last. Forwards every call to the enricher.
template <typename Owned>
class OwningStage final : public Enricher {
 public:
  OwningStage(std::unique_ptr<Owned> owned, std::unique_ptr<Enricher> enricher)
      : owned_(std::move(owned)), enricher_(std::move(enricher)) {}

  v1::Enricher id() const override { return enricher_->id(); }
  std::size_t MaxResultBytes() const override { return enricher_->MaxResultBytes(); }
  void Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
              Callback done) override {
    enricher_->Lookup(input, std::move(executor), cancel, std::move(done));
  }
  std::optional<LookupResult> TryLookupNow(const LookupInput& input) override { return enricher_->TryLookupNow(input); }
  void Shutdown() override { enricher_->Shutdown(); }
  void Reload() override { enricher_->Reload(); }

 private:
  std::unique_ptr<Owned> owned_;  // declared first: destroyed after the enricher
  std::unique_ptr<Enricher> enricher_;
};

// Adds a stage to the table at start-up (a static initializer; the stage's library is linked whole, so the
// registration is never dropped). Use SQUATSTREAM_REGISTER_STAGE.
class StageRegistration {
 public:
  explicit StageRegistration(const StageDef& (*stage)());
};

}  // namespace squatstream::workers

// Registers the StageDef that `function` (a `const StageDef& F()`, in scope) returns.
#define SQUATSTREAM_REGISTER_STAGE(function) \
  static const ::squatstream::workers::StageRegistration kSquatstreamStageRegistration(function)

#endif  // SQUATSTREAM_WORKERS_STAGE_H_
