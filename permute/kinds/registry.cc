#include "permute/kinds/registry.h"

#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

// The budgets of the kinds that grow faster than linearly in the label's length (deterministic: the first
// names in generation order).
constexpr std::size_t kHomoglyphBudget = 20000;
constexpr std::size_t kVowelShuffleBudget = 120;
constexpr std::size_t kKeywordTldBudget = 600;

constexpr NonAsciiNames kAsciiOnly = NonAsciiNames::kNone;

void NoVariants(const Label& /*l*/, LabelEmit /*emit*/) {}
bool NeverMayProduce(const LabelDiff& /*d*/) { return false; }

}  // namespace

constexpr std::array<KindEntry, kKindCount> kKindTable = {
    LabelKind(Kind::kAddition, "addition", kUnbounded, kAsciiOnly, AdditionVariants, AdditionMayProduce),
    LabelKind(Kind::kBitsquatting, "bitsquatting", kUnbounded, kAsciiOnly, BitsquattingVariants,
              BitsquattingMayProduce),
    LabelKind(Kind::kHomoglyph, "homoglyph", kHomoglyphBudget, NonAsciiNames::kChecked, HomoglyphVariants,
              HomoglyphMayProduce),
    LabelKind(Kind::kHyphenation, "hyphenation", kUnbounded, kAsciiOnly, HyphenationVariants, HyphenationMayProduce),
    LabelKind(Kind::kInsertion, "insertion", kUnbounded, kAsciiOnly, InsertionVariants, InsertionMayProduce),
    LabelKind(Kind::kOmission, "omission", kUnbounded, kAsciiOnly, OmissionVariants, OmissionMayProduce),
    LabelKind(Kind::kRepetition, "repetition", kUnbounded, kAsciiOnly, RepetitionVariants, RepetitionMayProduce),
    LabelKind(Kind::kReplacement, "replacement", kUnbounded, kAsciiOnly, ReplacementVariants, ReplacementMayProduce),
    LabelKind(Kind::kSubdomain, "subdomain", kUnbounded, kAsciiOnly, SubdomainVariants, SubdomainMayProduce),
    LabelKind(Kind::kTransposition, "transposition", kUnbounded, kAsciiOnly, TranspositionVariants,
              TranspositionMayProduce),
    LabelKind(Kind::kVowelSwap, "vowel-swap", kUnbounded, kAsciiOnly, VowelSwapVariants, VowelSwapMayProduce),
    NameKind(Kind::kTldSwap, "tld-swap", kUnbounded, TldSwapNames, TldSwapMayProduce),
    LabelKind(Kind::kPlural, "plural", kUnbounded, kAsciiOnly, PluralVariants, PluralMayProduce),
    NameKind(Kind::kVarious, "various", kUnbounded, VariousNames, VariousMayProduce),
    NameKind(Kind::kFauxTld, "faux-tld", kUnbounded, FauxTldNames, FauxTldMayProduce),
    NameKind(Kind::kTldAppend, "tld-append", kUnbounded, TldAppendNames, TldAppendMayProduce),
    NameKind(Kind::kMissingDot, "missing-dot", kUnbounded, MissingDotNames, MissingDotMayProduce),
    LabelKind(Kind::kStripDash, "strip-dash", kUnbounded, kAsciiOnly, StripDashVariants, StripDashMayProduce),
    LabelKind(Kind::kMapped, "mapped", kUnbounded, kAsciiOnly, MappedVariants, MappedMayProduce),
    LabelKind(Kind::kVowelShuffle, "vowel-shuffle", kVowelShuffleBudget, kAsciiOnly, VowelShuffleVariants,
              VowelShuffleMayProduce),
    // One name per label at most (every letter replaced), so the Generator lists them in advance.
    LabelKind(Kind::kCyrillic, "cyrillic", kUnbounded, NonAsciiNames::kListed, CyrillicVariants, CyrillicMayProduce),
    LabelKind(Kind::kNumberWord, "number-word", kUnbounded, kAsciiOnly, NumberWordVariants, NumberWordMayProduce),
    LabelKind(Kind::kDictionary, "dictionary", kUnbounded, kAsciiOnly, DictionaryVariants, DictionaryMayProduce),
    LabelKind(Kind::kDvorak, "dvorak", kUnbounded, kAsciiOnly, DvorakVariants, DvorakMayProduce),
    LabelKind(Kind::kDoubleReplacement, "double-replacement", kUnbounded, kAsciiOnly, DoubleReplacementVariants,
              DoubleReplacementMayProduce),
    LabelKind(Kind::kDoubleVowelInsertion, "double-vowel-insertion", kUnbounded, kAsciiOnly,
              DoubleVowelInsertionVariants, DoubleVowelInsertionMayProduce),
    LabelKind(Kind::kHomophone, "homophone", kUnbounded, kAsciiOnly, HomophoneVariants, HomophoneMayProduce),
    NameKind(Kind::kKeywordTld, "keyword-tld", kKeywordTldBudget, KeywordTldNames, KeywordTldMayProduce),
    // Makes ASCII names from an internationalized label, nothing from an ASCII one.
    LabelKind(Kind::kAsciiLookAlike, "ascii-lookalike", kUnbounded, kAsciiOnly, AsciiLookAlikeVariants,
              AsciiLookAlikeMayProduce),
};

const KindEntry kUnknownKind =
    LabelKind(static_cast<Kind>(0), "unknown", kUnbounded, kAsciiOnly, NoVariants, NeverMayProduce);

namespace {

// A table with fewer initializers than kKindCount fills the rest with empty entries (id 0): this catches
// them as well as entries out of place.
constexpr bool EveryEntryIsInItsPlace() {
  for (std::size_t i = 0; i < kKindTable.size(); ++i) {
    if (static_cast<std::size_t>(kKindTable[i].id) != i + 1) return false;
  }
  return true;
}
static_assert(EveryEntryIsInItsPlace(), "kKindTable[i] must be the entry of the kind with value i + 1");

// An entry's functions need no check here: LabelKind and NameKind take them by reference, so an entry
// without its level's functions does not compile. (Comparing their addresses with null is not a constant
// expression for GCC under AddressSanitizer, the asan preset.)
constexpr bool EveryEntryHasANameAndABudget() {
  for (const KindEntry& e : kKindTable) {
    if (e.name.empty() || e.budget == 0) return false;
  }
  return true;
}
static_assert(EveryEntryHasANameAndABudget(), "every entry needs a name and a budget");

constexpr bool NamesAreDistinct() {
  for (std::size_t i = 0; i < kKindTable.size(); ++i) {
    for (std::size_t j = i + 1; j < kKindTable.size(); ++j) {
      if (kKindTable[i].name == kKindTable[j].name) return false;
    }
  }
  return true;
}
static_assert(NamesAreDistinct(), "two kinds share a name");

}  // namespace
}  // namespace squatstream::permute::internal
