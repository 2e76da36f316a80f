// The permutation kinds: their identities, names, budgets, and a small set type.
//
// Every kind is one entry of the kind registry (permute/kinds/registry.h), which holds its name, level,
// budget, generator and may-produce check; the functions here read that table. Pure and immutable: safe to
// call from any thread.
#ifndef SQUATSTREAM_PERMUTE_KIND_H_
#define SQUATSTREAM_PERMUTE_KIND_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace squatstream::permute {

// Values match squatstream.v1.PermutationKind so the service can convert with a cast. They run from 1 to
// kMaxValue without gaps: a new kind takes the next value, moves kMaxValue to itself and gets an entry in
// the registry (which fails to compile until it has one).
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
  kDvorak = 24,
  kDoubleReplacement = 25,
  kDoubleVowelInsertion = 26,
  kHomophone = 27,
  kKeywordTld = 28,
  kAsciiLookAlike = 29,
  kMaxValue = kAsciiLookAlike,  // the last kind
};

// How many kinds there are (values 1..kKindCount).
inline constexpr std::size_t kKindCount = static_cast<std::size_t>(Kind::kMaxValue);

// A set of kinds (bit i = Kind value i).
class KindSet {
 public:
  void Insert(Kind k) { bits_ |= std::uint64_t{1} << static_cast<int>(k); }
  bool Contains(Kind k) const { return (bits_ >> static_cast<int>(k)) & 1; }
  std::vector<Kind> ToVector() const;  // in Kind value order (run order: InRunOrder)
  // Calls fn(kind) for each kind in the set, in Kind value order (no allocation, unlike ToVector).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (std::uint64_t b = bits_; b != 0; b &= b - 1) fn(static_cast<Kind>(std::countr_zero(b)));
  }

 private:
  static_assert(kKindCount < 64, "KindSet holds the kinds in one 64-bit word");
  std::uint64_t bits_ = 0;
};

// Every kind, in run order: the order a Generator runs them in by default, the kinds whose names are most
// often registered first (tld-swap, the plain typing slips), the kinds making internationalized names last
// (the table and each rank's reason: kRunOrder in permute/kinds/registry.cc; docs/STAGES.md "Run order").
std::span<const Kind> AllKinds();

// The kinds of `kinds` in run order (a selection is a set: whatever order it was given in, it runs in this
// one).
std::vector<Kind> InRunOrder(KindSet kinds);

// The kind with this number (a squatstream.v1.PermutationKind value), or nullopt when no kind has it (0,
// or a value beyond kKindCount).
std::optional<Kind> KindFromNumber(int number);

// Lower-case name of a kind, e.g. "vowel-swap"; "unknown" for a value that is no kind.
absl::string_view KindName(Kind kind);

// Parses a kind name as KindName prints it. Returns INVALID_ARGUMENT for an unknown name.
absl::StatusOr<Kind> ParseKindName(absl::string_view name);

// The most candidates one kind contributes for one domain (SIZE_MAX: the kind is bounded by its definition,
// linearly in the label's length).
std::size_t KindBudget(Kind kind);

// The most variants one kind tries for one domain: twice its budget (SIZE_MAX for the kinds without one).
// The budget counts the names a kind makes; this counts its work, so that a label whose variants are nearly
// all refused (too long once punycoded, as in a label of 53-63 letters, or mixing scripts) cannot make the
// homoglyph or vowel-shuffle kind try millions of them. Where it binds, the kind makes fewer names than its
// budget, the same ones every time.
std::size_t KindWorkLimit(Kind kind);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_KIND_H_
