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

// The run order: the likely hits first. A stream asks DNS about its candidates in the order the Generator hands
// them out, which is this order (a candidate goes out once every kind that may also make it has run), and
// max_candidates keeps the first ones: so the kinds whose names are most often registered — by the brand
// itself, defensively, or by a squatter — come first, and a stream with registered_only finds its first
// records early. The ranks are a judgement, from what the kinds make and what scans of look-alikes find
// (registered names cluster in other TLDs and in the plain typing slips; bit flips and internationalized
// look-alikes are rarely registered): no kind is ever dropped, each only waits its turn. ASCII before IDN:
// the two kinds that make internationalized names from an ASCII label (NonAsciiNames) run last. Explained
// for users in docs/STAGES.md ("Run order"); a request that names kinds runs them in this order too.
constexpr std::array<Kind, kKindCount> kRunOrder = {
    // An internationalized label's ASCII twin (аррӏе.com -> apple.com): the name the input imitates, nearly
    // always registered. Makes nothing from an ASCII label, so an ASCII input starts with tld-swap.
    Kind::kAsciiLookAlike,
    // The very label under another suffix (the most used first: kSwapSuffixes in suffix.cc): brands register
    // these defensively and squatters buy what is left — the most often registered look-alikes there are.
    Kind::kTldSwap,
    // The dot after "www" left out (wwwexample.com): one of the oldest typo registrations.
    Kind::kMissingDot,
    // The suffix folded into the label (examplecom.com, example-com.com): the dot typed as nothing or "-".
    Kind::kVarious,
    // The typing slips, most common first: a letter left out, doubled, two swapped, a neighbouring key hit.
    Kind::kOmission,
    Kind::kRepetition,
    Kind::kTransposition,
    Kind::kReplacement,
    // A hyphen put in (ex-ample.com), or taken out of a hyphenated label (my-bank -> mybank): plausible
    // spellings a brand or a squatter registers.
    Kind::kHyphenation,
    Kind::kStripDash,
    // A letter added at the end, a neighbouring key slipped in beside one, a vowel for another.
    Kind::kAddition,
    Kind::kInsertion,
    Kind::kVowelSwap,
    // Spellings that sound right: the plural (often a real business's name), sound-alikes (ph <-> f).
    Kind::kPlural,
    Kind::kHomophone,
    // A word with the label (combosquats: examplelogin.com), then under another suffix (loginexample.net).
    Kind::kDictionary,
    Kind::kKeywordTld,
    // Suffix tricks that need a second-level registration or read oddly: example.com.it, example-co-uk.com.
    Kind::kTldAppend,
    Kind::kFauxTld,
    // Look-alike letter groups in ASCII (rn for m), number words (one <-> 1), a dot inside the label
    // (ex.ample.com: a name under another registered domain).
    Kind::kMapped,
    Kind::kNumberWord,
    Kind::kSubdomain,
    // Rarer slips: a Dvorak neighbour, both letters of a pair replaced, a vowel doubled, the vowels reordered.
    Kind::kDvorak,
    Kind::kDoubleReplacement,
    Kind::kDoubleVowelInsertion,
    Kind::kVowelShuffle,
    // One bit flipped in memory: random-looking names, few registered; the last of the ASCII kinds.
    Kind::kBitsquatting,
    // The internationalized look-alikes, rarely registered (registries refuse mixed scripts, many refuse
    // confusables): the homoglyphs (up to 20,000 names), then the whole label in Cyrillic (one name).
    // Homoglyph first because it also makes a few ASCII names (rn for m) that earlier kinds make too: those
    // wait for it, and so go out right after it ran, ahead of its own names and before any IDN name.
    Kind::kHomoglyph,
    Kind::kCyrillic,
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

// The run order holds every kind exactly once (a kind left out would never run by default).
constexpr bool RunOrderHoldsEveryKindOnce() {
  std::array<bool, kKindCount + 1> seen{};
  for (const Kind k : kRunOrder) {
    const auto value = static_cast<std::size_t>(k);
    if (value < 1 || value > kKindCount || seen[value]) return false;
    seen[value] = true;
  }
  return true;
}
static_assert(RunOrderHoldsEveryKindOnce(), "kRunOrder must list every kind exactly once");

// ASCII before IDN: the kinds that make internationalized names from an ASCII label run after every other.
constexpr bool InternationalizedKindsRunLast() {
  bool idn_seen = false;
  for (const Kind k : kRunOrder) {
    const bool idn = kKindTable[static_cast<std::size_t>(k) - 1].non_ascii != NonAsciiNames::kNone;
    if (idn_seen && !idn) return false;
    idn_seen = idn_seen || idn;
  }
  return true;
}
static_assert(InternationalizedKindsRunLast(), "the kinds making internationalized names must run last");

}  // namespace
}  // namespace squatstream::permute::internal
