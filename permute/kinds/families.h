// Every kind's generator and may-produce check, grouped by family as the files in permute/kinds/ define
// them; the registry (registry.cc) puts them in its table. Internal to permute.
//
// A label-level kind has
//   void XVariants(const Label& l, LabelEmit emit): calls emit for every variant of the label `l` the kind
//     defines, in a fixed order;
//   bool XMayProduce(const LabelDiff& d): whether the kind may turn d.l into d.v, a superset of what
//     XVariants offers (ignoring budgets and validity), for an ASCII input label.
// A name-level kind has
//   void XNames(const ParsedDomain& d, NameEmit emit): calls emit for every whole name (UTF-8) the kind
//     defines for `d`;
//   bool XMayProduce(const ParsedDomain& d, absl::string_view name): the same superset, for an ASCII `d`.
// The checks let the Generator hand a candidate out as soon as every kind that may also make it has run;
// Generator::late_merges() counts any way they miss, and the tests check each against its generator.
#ifndef SQUATSTREAM_PERMUTE_KINDS_FAMILIES_H_
#define SQUATSTREAM_PERMUTE_KINDS_FAMILIES_H_

#include <span>
#include <string_view>

#include "absl/strings/string_view.h"
#include "permute/domain.h"
#include "permute/kinds/common.h"

namespace squatstream::permute::internal {

// Typing slips (typos.cc).
void AdditionVariants(const Label& l, LabelEmit emit);
bool AdditionMayProduce(const LabelDiff& d);
void BitsquattingVariants(const Label& l, LabelEmit emit);
bool BitsquattingMayProduce(const LabelDiff& d);
void HyphenationVariants(const Label& l, LabelEmit emit);
bool HyphenationMayProduce(const LabelDiff& d);
void OmissionVariants(const Label& l, LabelEmit emit);
bool OmissionMayProduce(const LabelDiff& d);
void RepetitionVariants(const Label& l, LabelEmit emit);
bool RepetitionMayProduce(const LabelDiff& d);
void SubdomainVariants(const Label& l, LabelEmit emit);
bool SubdomainMayProduce(const LabelDiff& d);
void TranspositionVariants(const Label& l, LabelEmit emit);
bool TranspositionMayProduce(const LabelDiff& d);
void VowelSwapVariants(const Label& l, LabelEmit emit);
bool VowelSwapMayProduce(const LabelDiff& d);
void PluralVariants(const Label& l, LabelEmit emit);
bool PluralMayProduce(const LabelDiff& d);
void StripDashVariants(const Label& l, LabelEmit emit);
bool StripDashMayProduce(const LabelDiff& d);
void VowelShuffleVariants(const Label& l, LabelEmit emit);
bool VowelShuffleMayProduce(const LabelDiff& d);
void DoubleVowelInsertionVariants(const Label& l, LabelEmit emit);
bool DoubleVowelInsertionMayProduce(const LabelDiff& d);

// Keyboard neighbours (keyboard.cc).
void InsertionVariants(const Label& l, LabelEmit emit);
bool InsertionMayProduce(const LabelDiff& d);
void ReplacementVariants(const Label& l, LabelEmit emit);
bool ReplacementMayProduce(const LabelDiff& d);
void DvorakVariants(const Label& l, LabelEmit emit);
bool DvorakMayProduce(const LabelDiff& d);
void DoubleReplacementVariants(const Label& l, LabelEmit emit);
bool DoubleReplacementMayProduce(const LabelDiff& d);

// Look-alike characters: Unicode and ASCII homoglyphs (homoglyph.cc), multi-character look-alikes, whole
// Cyrillic labels and an internationalized label's ASCII twin (lookalikes.cc).
void HomoglyphVariants(const Label& l, LabelEmit emit);
bool HomoglyphMayProduce(const LabelDiff& d);
void MappedVariants(const Label& l, LabelEmit emit);
bool MappedMayProduce(const LabelDiff& d);
void CyrillicVariants(const Label& l, LabelEmit emit);
bool CyrillicMayProduce(const LabelDiff& d);
void AsciiLookAlikeVariants(const Label& l, LabelEmit emit);
bool AsciiLookAlikeMayProduce(const LabelDiff& d);

// Words: number words, dictionary words, sound-alikes (words.cc).
void NumberWordVariants(const Label& l, LabelEmit emit);
bool NumberWordMayProduce(const LabelDiff& d);
void DictionaryVariants(const Label& l, LabelEmit emit);
bool DictionaryMayProduce(const LabelDiff& d);
void HomophoneVariants(const Label& l, LabelEmit emit);
bool HomophoneMayProduce(const LabelDiff& d);

// The suffix and the name around the label (suffix.cc).
void TldSwapNames(const ParsedDomain& d, NameEmit emit);
bool TldSwapMayProduce(const ParsedDomain& d, absl::string_view name);
void VariousNames(const ParsedDomain& d, NameEmit emit);
bool VariousMayProduce(const ParsedDomain& d, absl::string_view name);
void FauxTldNames(const ParsedDomain& d, NameEmit emit);
bool FauxTldMayProduce(const ParsedDomain& d, absl::string_view name);
void TldAppendNames(const ParsedDomain& d, NameEmit emit);
bool TldAppendMayProduce(const ParsedDomain& d, absl::string_view name);
void MissingDotNames(const ParsedDomain& d, NameEmit emit);
bool MissingDotMayProduce(const ParsedDomain& d, absl::string_view name);
void KeywordTldNames(const ParsedDomain& d, NameEmit emit);
bool KeywordTldMayProduce(const ParsedDomain& d, absl::string_view name);

// Tables two families share.
// The ASCII look-alikes of one character that Unicode's confusables data does not list (homoglyph.cc; the
// ascii-lookalike kind uses them too).
std::span<const std::u32string_view> AsciiHomoglyphs(char32_t c);
// Words squatters put before or after a brand (words.cc; keyword-tld uses them too).
std::span<const std::u32string_view> DictionaryWords();
// The suffixes tld-swap (and keyword-tld) put the label under, the most used first (suffix.cc).
std::span<const absl::string_view> SwapSuffixes();

}  // namespace squatstream::permute::internal

#endif  // SQUATSTREAM_PERMUTE_KINDS_FAMILIES_H_
