// The kind registry: one entry per kind, in one table indexed by the Kind value, holding everything the
// engine knows of a kind: its name, level, budget, generator and may-produce check. The table is in
// registry.cc, the functions it points to are in the family files beside it (families.h lists them).
// Internal to permute; the public view is permute/kind.h. Immutable: safe to read from any thread.
//
// A new kind: its value in permute/kind.h (moving Kind::kMaxValue), its generator and check in a family
// file (declared in families.h), its entry at its value's place in the table, and its place in the run
// order (kRunOrder), by how often its names are registered. Until the entry and the place are there,
// registry.cc does not compile (the table's size is kKindCount, entry i must be the kind with value i + 1,
// and the run order must hold every kind once), and an entry cannot leave out a function: LabelKind and NameKind take
// them by reference.
#ifndef SQUATSTREAM_PERMUTE_KINDS_REGISTRY_H_
#define SQUATSTREAM_PERMUTE_KINDS_REGISTRY_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "permute/domain.h"
#include "permute/kind.h"
#include "permute/kinds/common.h"

namespace squatstream::permute::internal {

// What a kind permutes: the registrable label (and, on request, each subdomain label), or the whole name.
enum class Level : std::uint8_t { kLabel, kName };

// Which non-ASCII names a label-level kind makes from an ASCII label. The Generator hands out a non-ASCII
// candidate of an ASCII input once every kind that may also make it has run, and asks only these kinds.
enum class NonAsciiNames : std::uint8_t {
  kNone,     // none: ASCII names only
  kListed,   // a few (at most one per label), which the Generator lists in advance by running the kind
  kChecked,  // many: the Generator asks the kind's may-produce check
};

// The budget of the kinds whose definition bounds them, linearly in the label's length.
inline constexpr std::size_t kUnbounded = SIZE_MAX;

using LabelVariantsFn = void(const Label& l, LabelEmit emit);
using LabelMayProduceFn = bool(const LabelDiff& d);
using NameVariantsFn = void(const ParsedDomain& d, NameEmit emit);
using NameMayProduceFn = bool(const ParsedDomain& d, absl::string_view name);

struct KindEntry {
  Kind id;
  absl::string_view name;  // as KindName prints it
  Level level;
  std::size_t budget;  // KindBudget
  NonAsciiNames non_ascii;
  // Level kLabel: the label generator and its check; level kName: the name generator and its check. The
  // other pair is null. Read them through the functions below.
  LabelVariantsFn* label_variants;
  LabelMayProduceFn* label_may_produce;
  NameVariantsFn* name_variants;
  NameMayProduceFn* name_may_produce;

  // Calls emit for each variant of the label `l` this label-level kind defines (nothing for a name-level
  // kind). emit returns false once the kind's budget is spent.
  void Variants(const Label& l, LabelEmit emit) const {
    if (level == Level::kLabel) label_variants(l, emit);
  }
  // Calls emit for each whole name (UTF-8) this name-level kind defines for `d` (nothing for a label kind).
  void Names(const ParsedDomain& d, NameEmit emit) const {
    if (level == Level::kName) name_variants(d, emit);
  }
  // Whether this label-level kind may turn the ASCII label d.l into d.v: a superset of what Variants
  // offers, ignoring budgets and validity (false for a name-level kind).
  bool MayProduce(const LabelDiff& d) const {
    if (level != Level::kLabel || (!d.v_ascii && non_ascii == NonAsciiNames::kNone)) return false;
    return label_may_produce(d);
  }
  // Whether this name-level kind may make the ASCII name `candidate` from the ASCII domain `d`: a superset
  // of what Names offers (false for a label-level kind).
  bool MayProduce(const ParsedDomain& d, absl::string_view candidate) const {
    return level == Level::kName && name_may_produce(d, candidate);
  }
};

// An entry of the table. The functions are taken by reference, so that none can be left out.
constexpr KindEntry LabelKind(Kind id, absl::string_view name, std::size_t budget, NonAsciiNames non_ascii,
                              LabelVariantsFn& variants, LabelMayProduceFn& may_produce) {
  return {id, name, Level::kLabel, budget, non_ascii, &variants, &may_produce, nullptr, nullptr};
}
constexpr KindEntry NameKind(Kind id, absl::string_view name, std::size_t budget, NameVariantsFn& variants,
                             NameMayProduceFn& may_produce) {
  return {id, name, Level::kName, budget, NonAsciiNames::kNone, nullptr, nullptr, &variants, &may_produce};
}

// Every kind's entry: kKindTable[i] is the kind with value i + 1 (the run order is kRunOrder's).
extern const std::array<KindEntry, kKindCount> kKindTable;

// The order the kinds run in, and so the order their candidates are handed out and a stream asks DNS about
// them: the kinds whose names are most often registered first (registry.cc says why each is where it is;
// docs/STAGES.md, "Run order"). Every kind once.
extern const std::array<Kind, kKindCount> kRunOrder;

// What EntryOf answers for a value that is no kind: a label-level kind named "unknown" that makes nothing.
extern const KindEntry kUnknownKind;

inline const KindEntry& EntryOf(Kind kind) {
  const auto value = static_cast<std::size_t>(kind);
  return value >= 1 && value <= kKindCount ? kKindTable[value - 1] : kUnknownKind;
}

}  // namespace squatstream::permute::internal

#endif  // SQUATSTREAM_PERMUTE_KINDS_REGISTRY_H_
