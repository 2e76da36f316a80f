// Look-alikes beyond single characters: multi-character ASCII look-alikes (rn for m), a whole label in
// Cyrillic letters, and an internationalized label's ASCII twin. Each kind's generator next to its
// may-produce check (see families.h).
#include <vector>

#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

// Multi-character look-alikes (as twistrs maps them), each direction listed.
constexpr Replacement kMapped[] = {
    {U"m", U"rn"}, {U"rn", U"m"}, {U"m", U"nn"}, {U"nn", U"m"},
    {U"d", U"cl"}, {U"cl", U"d"}, {U"w", U"vv"}, {U"vv", U"w"},
};

// Cyrillic letters that render like Latin ones (the letters dnstwist's cyrillic kind uses); 0 = none.
char32_t CyrillicLookAlike(char32_t c) {
  switch (c) {
    case U'a':
      return U'а';
    case U'b':
      return U'ь';
    case U'c':
      return U'с';
    case U'd':
      return U'ԁ';
    case U'e':
      return U'е';
    case U'g':
      return U'ԍ';
    case U'h':
      return U'һ';
    case U'i':
      return U'і';
    case U'j':
      return U'ј';
    case U'k':
      return U'к';
    case U'l':
      return U'ӏ';
    case U'm':
      return U'м';
    case U'o':
      return U'о';
    case U'p':
      return U'р';
    case U'q':
      return U'ԛ';
    case U's':
      return U'ѕ';
    case U't':
      return U'т';
    case U'v':
      return U'ѵ';
    case U'w':
      return U'ԝ';
    case U'x':
      return U'х';
    case U'y':
      return U'у';
    default:
      return 0;
  }
}

}  // namespace

// mapped: multi-character look-alikes, one occurrence at a time.
void MappedVariants(const Label& l, LabelEmit emit) {
  for (const auto& [from, to] : kMapped) ReplaceEach(l, from, to, emit);
}
bool MappedMayProduce(const LabelDiff& d) { return ReplacedByAny(d, kMapped); }

// cyrillic: the whole label, when every letter has a Cyrillic look-alike.
void CyrillicVariants(const Label& l, LabelEmit emit) {
  Label v = l;
  bool any_letter = false;
  for (char32_t& c : v) {
    if (c >= U'a' && c <= U'z') {
      const char32_t cyr = CyrillicLookAlike(c);
      if (cyr == 0) return;
      c = cyr;
      any_letter = true;
    }
  }
  if (any_letter) emit(v);
}
bool CyrillicMayProduce(const LabelDiff& d) {
  if (d.m != d.n) return false;
  for (std::size_t i = 0; i < d.n; ++i) {
    const bool letter = d.l[i] >= U'a' && d.l[i] <= U'z';
    if (d.v[i] != (letter ? CyrillicLookAlike(d.l[i]) : d.l[i])) return false;
  }
  return true;
}

// ascii-lookalike: every non-ASCII character replaced by an ASCII one it looks like. Per character:
// Unicode's ASCII look-alikes (ü -> u, Cyrillic р -> p), then the single ASCII letters the ASCII table
// confuses with those (palochka ӏ -> i, and so also l and 1).
void AsciiLookAlikeVariants(const Label& l, LabelEmit emit) {
  const std::size_t n = l.size();
  std::vector<Label> options(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (l[i] < 0x80) continue;
    Label& o = options[i];
    o = AsciiLookAlikes(l[i]);
    if (o.empty()) return;  // a character with no ASCII look-alike: no all-ASCII twin
    for (char32_t a : Label(o)) {
      for (std::u32string_view g : AsciiHomoglyphs(a)) {
        if (g.size() == 1 && g[0] < 0x80 && o.find(g[0]) == Label::npos) o.push_back(g[0]);
      }
    }
  }
  Label all = l;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!options[i].empty()) {
      all[i] = options[i].front();
      any = true;
    }
  }
  if (!any) return;
  emit(all);
  for (std::size_t i = 0; i < n; ++i) {  // one character at a time given its other look-alikes
    for (std::size_t k = 1; k < options[i].size(); ++k) {
      Label v = all;
      v[i] = options[i][k];
      emit(v);
    }
  }
}
// From an ASCII label (the only input the checks serve) the kind makes nothing.
bool AsciiLookAlikeMayProduce(const LabelDiff& /*d*/) { return false; }

}  // namespace squatstream::permute::internal
