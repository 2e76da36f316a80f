#include "workers/stub/stub_enricher.h"

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "asio/bind_cancellation_slot.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "workers/stub/simulation.h"

namespace squatstream::workers {
namespace {

// FNV-1a, 64 bits: stable across processes and platforms (unlike std::hash or absl::Hash), which is what
// makes the stubs deterministic.
std::uint64_t StableHash(absl::string_view s, std::uint64_t salt) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ salt;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  // Final avalanche (from splitmix64) so that nearby names spread over all bits.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// The candidate's fate (failure, latency), apart from the value's hash so that the two are independent.
std::uint64_t Fate(const StageDef& stage, absl::string_view domain) {
  return StableHash(domain, static_cast<std::uint64_t>(stage.id) + 0x9e3779b97f4a7c15ULL);
}

}  // namespace

StubEnricher::StubEnricher(const StageDef& stage, StubConfig config) : stage_(stage), config_(config) {}

absl::Duration StubEnricher::LatencyOf(const LookupInput& input) const {
  if (config_.latency <= absl::ZeroDuration()) return absl::ZeroDuration();
  return config_.latency * (0.5 + stub::Unit(Fate(stage_, input.domain_ascii) ^ 0x5555));
}

LookupResult StubEnricher::Compute(const LookupInput& input) const {
  LookupResult result;
  if (stub::Unit(Fate(stage_, input.domain_ascii)) < config_.failure_rate) {
    result.status = absl::UnavailableError(
        absl::StrFormat("simulated %s lookup failure for %s", EnricherName(stage_.id), input.domain_ascii));
    return result;
  }
  if (stage_.simulate != nullptr) {
    stage_.simulate(input, StableHash(input.domain_ascii, static_cast<std::uint64_t>(stage_.id)), config_,
                    &result.value);
  }
  result.value.set_simulated(true);
  return result;
}

std::optional<LookupResult> StubEnricher::TryLookupNow(const LookupInput& input) {
  if (config_.latency > absl::ZeroDuration()) return std::nullopt;  // every result waits (0.5x-1.5x of it)
  return Compute(input);
}

void StubEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
                          Callback done) {
  LookupResult result = Compute(input);
  const absl::Duration latency = LatencyOf(input);
  if (latency <= absl::ZeroDuration()) {
    asio::post(executor,
               [done = std::move(done), result = std::move(result)]() mutable { std::move(done)(std::move(result)); });
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(executor, absl::ToChronoNanoseconds(latency));
  timer->async_wait(asio::bind_cancellation_slot(
      cancel, [timer, done = std::move(done), result = std::move(result)](const asio::error_code& ec) mutable {
        if (ec) {
          result.status = absl::CancelledError("lookup cancelled");
          result.value.Clear();
        }
        std::move(done)(std::move(result));
      }));
}

}  // namespace squatstream::workers
