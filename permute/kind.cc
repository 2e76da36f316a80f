#include "permute/kind.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "permute/kinds/registry.h"

namespace squatstream::permute {

std::vector<Kind> KindSet::ToVector() const {
  std::vector<Kind> out;
  ForEach([&](Kind k) { out.push_back(k); });
  return out;
}

std::span<const Kind> AllKinds() { return internal::kRunOrder; }

std::vector<Kind> InRunOrder(KindSet kinds) {
  std::vector<Kind> out;
  for (const Kind k : internal::kRunOrder) {
    if (kinds.Contains(k)) out.push_back(k);
  }
  return out;
}

std::optional<Kind> KindFromNumber(int number) {
  if (number < 1 || static_cast<std::size_t>(number) > kKindCount) return std::nullopt;
  return static_cast<Kind>(number);
}

absl::string_view KindName(Kind kind) { return internal::EntryOf(kind).name; }

absl::StatusOr<Kind> ParseKindName(absl::string_view name) {
  for (const internal::KindEntry& e : internal::kKindTable) {
    if (e.name == name) return e.id;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown permutation kind \"%s\"", name));
}

std::size_t KindBudget(Kind kind) { return internal::EntryOf(kind).budget; }

std::size_t KindWorkLimit(Kind kind) {
  const std::size_t budget = KindBudget(kind);
  return budget == SIZE_MAX ? SIZE_MAX : 2 * budget;
}

}  // namespace squatstream::permute
