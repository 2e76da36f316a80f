// Keyboard neighbours: a key next to the intended one typed instead of it or beside it, on the layouts most
// typists use (QWERTY, QWERTZ, AZERTY) and on Dvorak. Each kind's generator next to its may-produce check
// (see families.h).
#include <array>
#include <string>

#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

// Keyboard rows (digits, top, home, bottom); '_' marks a key that types no hostname character. Rows are
// staggered as on a physical keyboard, so the neighbours of row r, column i are columns i-1 and i+1 of the
// same row, i and i+1 of the row above, and i-1 and i of the row below.
struct Layout {
  std::array<std::u32string_view, 4> rows;
};
constexpr Layout kQwerty = {{U"1234567890", U"qwertyuiop", U"asdfghjkl", U"zxcvbnm"}};
constexpr Layout kQwertz = {{U"1234567890", U"qwertzuiop", U"asdfghjkl", U"yxcvbnm"}};
constexpr Layout kAzerty = {{U"1234567890", U"azertyuiop", U"qsdfghjklm", U"wxcvbn"}};
constexpr Layout kDvorak = {{U"1234567890", U"___pyfgcrl", U"aoeuidhtns", U"_qjkxbmwvz"}};

using NeighbourTable = std::array<std::u32string, 128>;

void AddNeighbours(const Layout& layout, NeighbourTable* table) {
  auto key = [&](int row, int col) -> char32_t {
    if (row < 0 || row >= 4 || col < 0) return U'_';
    const std::u32string_view keys = layout.rows[static_cast<std::size_t>(row)];
    return static_cast<std::size_t>(col) < keys.size() ? keys[static_cast<std::size_t>(col)] : U'_';
  };
  for (int r = 0; r < 4; ++r) {
    for (int i = 0; i < static_cast<int>(layout.rows[static_cast<std::size_t>(r)].size()); ++i) {
      const char32_t c = key(r, i);
      if (c == U'_') continue;
      for (char32_t n :
           {key(r, i + 1), key(r - 1, i + 1), key(r - 1, i), key(r, i - 1), key(r + 1, i), key(r + 1, i - 1)}) {
        std::u32string& list = (*table)[c];
        if (n != U'_' && list.find(n) == std::u32string::npos) list.push_back(n);
      }
    }
  }
}

// Neighbours on QWERTY, QWERTZ and AZERTY together (the layouts most typists use).
std::u32string_view TypoNeighbours(char32_t c) {
  static const NeighbourTable* const table = [] {
    auto* t = new NeighbourTable();
    for (const Layout* layout : {&kQwerty, &kQwertz, &kAzerty}) AddNeighbours(*layout, t);
    return t;
  }();
  return c < 128 ? std::u32string_view((*table)[c]) : std::u32string_view();
}

std::u32string_view DvorakNeighbours(char32_t c) {
  static const NeighbourTable* const table = [] {
    auto* t = new NeighbourTable();
    AddNeighbours(kDvorak, t);
    return t;
  }();
  return c < 128 ? std::u32string_view((*table)[c]) : std::u32string_view();
}

bool Contains(std::u32string_view set, char32_t c) { return set.find(c) != std::u32string_view::npos; }

}  // namespace

// insertion: a QWERTY, QWERTZ or AZERTY neighbour typed just before or after a character.
void InsertionVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) {
    for (char32_t k : TypoNeighbours(l[i])) {
      emit(Label(l).insert(i, 1, k));
      emit(Label(l).insert(i + 1, 1, k));
    }
  }
}
bool InsertionMayProduce(const LabelDiff& d) {
  return d.InsertedAt([&](std::size_t i) {
    return (i < d.n && Contains(TypoNeighbours(d.l[i]), d.v[i])) ||
           (i > 0 && Contains(TypoNeighbours(d.l[i - 1]), d.v[i]));
  });
}

// replacement: one character replaced by a QWERTY, QWERTZ or AZERTY neighbour.
void ReplacementVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) {
    for (char32_t k : TypoNeighbours(l[i])) {
      Label v = l;
      v[i] = k;
      emit(v);
    }
  }
}
bool ReplacementMayProduce(const LabelDiff& d) {
  const std::size_t one = d.OneChanged();
  return one != LabelDiff::npos && Contains(TypoNeighbours(d.l[one]), d.v[one]);
}

// dvorak: a Dvorak neighbour typed instead of a character, or next to it.
void DvorakVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) {
    for (char32_t k : DvorakNeighbours(l[i])) {
      Label v = l;
      v[i] = k;
      emit(v);
      emit(Label(l).insert(i, 1, k));
      emit(Label(l).insert(i + 1, 1, k));
    }
  }
}
bool DvorakMayProduce(const LabelDiff& d) {
  const std::size_t one = d.OneChanged();
  return (one != LabelDiff::npos && Contains(DvorakNeighbours(d.l[one]), d.v[one])) || d.InsertedAt([&](std::size_t i) {
    return (i < d.n && Contains(DvorakNeighbours(d.l[i]), d.v[i])) ||
           (i > 0 && Contains(DvorakNeighbours(d.l[i - 1]), d.v[i]));
  });
}

// double-replacement: a doubled character replaced, both copies, by one keyboard neighbour.
void DoubleReplacementVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i + 1 < l.size(); ++i) {
    if (l[i] != l[i + 1]) continue;
    for (char32_t k : TypoNeighbours(l[i])) {
      Label v = l;
      v[i] = v[i + 1] = k;
      emit(v);
    }
  }
}
bool DoubleReplacementMayProduce(const LabelDiff& d) {
  const std::size_t at = d.prefix;
  return d.m == d.n && at + 1 < d.n && at + d.suffix == d.n - 2 && d.l[at] == d.l[at + 1] && d.v[at] == d.v[at + 1] &&
         Contains(TypoNeighbours(d.l[at]), d.v[at]);
}

}  // namespace squatstream::permute::internal
