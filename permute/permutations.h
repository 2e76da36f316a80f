// The permutation engine: look-alike candidates of a ParsedDomain, one kind at a time.
//
// Pure library, no I/O. A Generator yields candidates incrementally: it runs one kind when its queue is
// empty, so the first candidates are available after the first kind, not after the whole set. Every
// candidate is a valid IDNA2008 hostname, differs from the input, and appears once (the first kind that
// produced it names it). The order is stable for a given input and options.
#ifndef SQUATSTREAM_PERMUTE_PERMUTATIONS_H_
#define SQUATSTREAM_PERMUTE_PERMUTATIONS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "permute/domain.h"

namespace squatstream::permute {

// Values match squatstream.v1.PermutationKind so the service can convert with a cast.
enum class Kind : std::uint8_t {
  kAddition = 1,
  kBitsquatting = 2,
  kHomoglyph = 3,
  kHyphenation = 4,
  kInsertion = 5,
  kOmission = 6,
  kRepetition = 7,
  kReplacement = 8,
  kSubdomain = 9,
  kTransposition = 10,
  kVowelSwap = 11,
  kTldSwap = 12,
  kPlural = 13,
  kVarious = 14,
  kFauxTld = 15,
  kTldAppend = 16,
  kMissingDot = 17,
  kStripDash = 18,
  kMapped = 19,
  kVowelShuffle = 20,
  kCyrillic = 21,
  kNumberWord = 22,
  kDictionary = 23,
};

// Every kind, in generation order.
std::span<const Kind> AllKinds();

// Lower-case name of a kind, e.g. "vowel-swap".
absl::string_view KindName(Kind kind);

// Parses a kind name as KindName prints it. Returns INVALID_ARGUMENT for an unknown name.
absl::StatusOr<Kind> ParseKindName(absl::string_view name);

struct Candidate {
  Kind kind;
  std::string ascii;    // lower-case punycode form
  std::string unicode;  // Unicode form (equal to ascii when no label is internationalized)
};

struct GeneratorOptions {
  std::vector<Kind> kinds;  // kinds to generate, in this order; empty means AllKinds()
  std::size_t max_candidates = SIZE_MAX;
};

// Yields the candidates of one domain. Not thread-safe: one owner drives it.
class Generator {
 public:
  Generator(ParsedDomain domain, GeneratorOptions options);

  // Returns the next candidate, or nullopt once every kind ran or max_candidates were returned.
  std::optional<Candidate> Next();

  // Candidates returned so far.
  std::size_t generated() const { return generated_; }

 private:
  // Runs the next kind into queue_. Returns false when no kind is left.
  bool RunNextKind();
  // Validates a candidate name and appends it to queue_ unless seen before.
  void Offer(Kind kind, absl::string_view name);

  ParsedDomain domain_;
  GeneratorOptions options_;
  std::size_t next_kind_ = 0;
  std::vector<Candidate> queue_;
  std::size_t queue_pos_ = 0;
  std::size_t generated_ = 0;
  absl::flat_hash_set<std::string> seen_;  // ASCII forms already queued, and the input itself
};

// Every kind whose candidates for `target` include `candidate_ascii` (an ASCII form), in AllKinds() order;
// empty when it is not a permutation of `target` (or is `target` itself).
std::vector<Kind> Classify(const ParsedDomain& target, absl::string_view candidate_ascii);

// Convenience for tests and tools: every candidate of `domain` with `options`, in order.
std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_PERMUTATIONS_H_
