// libFuzzer target over the parser and the engine: any bytes as a domain (ParseDomain must answer, never
// crash), and for every domain it accepts, the candidates of a kind subset chosen by the input's first byte
// must keep the engine's promises. A broken promise aborts, which libFuzzer reports with the input.
//
// CI runs it briefly (scripts/test.sh, fuzz preset); by hand, longer:
//   cmake --preset fuzz && cmake --build --preset fuzz
//   build/fuzz/tests/fuzz/permute_fuzzer -max_total_time=600 tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "permute/domain.h"
#include "permute/permutations.h"

namespace {

using squatstream::permute::AllKinds;
using squatstream::permute::Candidate;
using squatstream::permute::Generator;
using squatstream::permute::Kind;

[[noreturn]] void Broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "engine promise broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<squatstream::permute::ParsedDomain> parsed = squatstream::permute::ParseDomain(input);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument || parsed.status().message().empty()) {
      Broken("a rejection is not INVALID_ARGUMENT with a message", input);
    }
    return 0;
  }
  // The first byte picks up to eight kinds (bit i: the kinds i, i+8, i+16, ...), so that every kind is
  // reached with short inputs while a run stays fast.
  std::vector<Kind> kinds;
  for (Kind k : AllKinds()) {
    if ((selector >> (static_cast<int>(k) % 8)) & 1) kinds.push_back(k);
  }
  if (kinds.empty()) return 0;
  // Subdomain labels are permuted too for inputs of odd length (a choice the bytes make, half the time).
  Generator generator(*parsed, {.kinds = kinds, .max_candidates = 3000, .subdomains = input.size() % 2 == 1});
  const std::size_t at_start = generator.HeldBytes();
  absl::flat_hash_set<std::string> seen;
  while (std::optional<Candidate> c = generator.Next()) {
    if (c->ascii == parsed->ascii) Broken("the input is a candidate", c->ascii);
    if (!seen.insert(c->ascii).second) Broken("a duplicate", c->ascii);
    if (!c->kinds.Contains(c->kind)) Broken("the first kind is not among the kinds", c->ascii);
    absl::StatusOr<squatstream::permute::NameForms> forms = squatstream::permute::ToNameForms(c->unicode);
    if (!forms.ok()) Broken("not a valid IDNA2008 name", c->unicode + " " + std::string(forms.status().message()));
    if (forms->ascii != c->ascii) Broken("ASCII form differs from libidn2's", c->ascii + " vs " + forms->ascii);
    if (generator.HeldBytes() > squatstream::permute::kDefaultMaxHeldBytes) Broken("held past its bound", input);
  }
  if (generator.HeldBytes() > at_start) Broken("the names were kept after the last one", input);
  if (generator.generated() > 3000) Broken("the cap was exceeded", input);
  // A candidate handed out before a kind that also makes it ran would lack that kind.
  if (generator.late_merges() != 0) Broken("a candidate was handed out before a kind that makes it ran", input);
  return 0;
}
