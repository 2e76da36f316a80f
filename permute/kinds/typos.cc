// Typing slips: a character added, flipped, doubled, dropped or swapped, a hyphen or dot typed, vowels
// confused, a plural. Each kind's generator next to its may-produce check (see families.h).
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

constexpr std::u32string_view kVowels = U"aeiou";

bool IsHostnameChar(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-'; }
bool IsVowel(char32_t c) { return kVowels.find(c) != std::u32string_view::npos; }

// dnstwist's rule for the inner plural: "es" after s, x or z, else "s".
bool IsPluralEs(char32_t c) { return c == U's' || c == U'x' || c == U'z'; }

// Two adjacent positions changed (d.prefix and d.prefix + 1), the rest equal.
bool TwinChanged(const LabelDiff& d) { return d.m == d.n && d.prefix + 1 < d.n && d.prefix + d.suffix == d.n - 2; }

}  // namespace

// addition: one character a-z or 0-9 appended.
void AdditionVariants(const Label& l, LabelEmit emit) {
  for (char32_t c = U'a'; c <= U'z'; ++c) emit(l + c);
  for (char32_t c = U'0'; c <= U'9'; ++c) emit(l + c);
}
bool AdditionMayProduce(const LabelDiff& d) {
  return d.m == d.n + 1 && d.prefix >= d.n && IsHostnameChar(d.v[d.n]) && d.v[d.n] != U'-';
}

// bitsquatting: one bit of one ASCII character flipped, the result still a hostname character.
void BitsquattingVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (l[i] >= 0x80) continue;
    for (int bit = 0; bit < 8; ++bit) {
      const char32_t flipped = l[i] ^ (char32_t{1} << bit);
      if (!IsHostnameChar(flipped)) continue;
      Label v = l;
      v[i] = flipped;
      emit(v);
    }
  }
}
bool BitsquattingMayProduce(const LabelDiff& d) {
  const std::size_t one = d.OneChanged();
  return one != LabelDiff::npos && d.l[one] < 0x80 && std::has_single_bit(std::uint32_t{d.l[one] ^ d.v[one]});
}

// hyphenation: a hyphen between two characters.
void HyphenationVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 1; i < l.size(); ++i) emit(Label(l).insert(i, 1, U'-'));
}
bool HyphenationMayProduce(const LabelDiff& d) {
  return d.InsertedAt([&](std::size_t i) { return i > 0 && i < d.n && d.v[i] == U'-'; });
}

// omission: one character left out.
void OmissionVariants(const Label& l, LabelEmit emit) {
  if (l.size() > 1) {
    for (std::size_t i = 0; i < l.size(); ++i) emit(Label(l).erase(i, 1));
  }
}
bool OmissionMayProduce(const LabelDiff& d) { return d.n > 1 && d.m + 1 == d.n && d.prefix + d.suffix >= d.m; }

// repetition: one character typed twice.
void RepetitionVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) emit(Label(l).insert(i, 1, l[i]));
}
bool RepetitionMayProduce(const LabelDiff& d) {
  return d.InsertedAt([&](std::size_t i) { return i < d.n && d.v[i] == d.l[i]; });
}

// subdomain: a dot inside the label, making a subdomain of a shorter name.
void SubdomainVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 1; i < l.size(); ++i) {
    if (l[i - 1] != U'-' && l[i] != U'-') emit(Label(l).insert(i, 1, U'.'));
  }
}
bool SubdomainMayProduce(const LabelDiff& d) {
  return d.InsertedAt([&](std::size_t i) { return i > 0 && i < d.n && d.v[i] == U'.'; });
}

// transposition: two adjacent characters swapped.
void TranspositionVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i + 1 < l.size(); ++i) {
    if (l[i] == l[i + 1]) continue;
    Label v = l;
    std::swap(v[i], v[i + 1]);
    emit(v);
  }
}
bool TranspositionMayProduce(const LabelDiff& d) {
  return TwinChanged(d) && d.v[d.prefix] == d.l[d.prefix + 1] && d.v[d.prefix + 1] == d.l[d.prefix];
}

// vowel-swap: one vowel replaced by another.
void VowelSwapVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (!IsVowel(l[i])) continue;
    for (char32_t v : kVowels) {
      if (v == l[i]) continue;
      Label w = l;
      w[i] = v;
      emit(w);
    }
  }
}
bool VowelSwapMayProduce(const LabelDiff& d) {
  const std::size_t one = d.OneChanged();
  return one != LabelDiff::npos && IsVowel(d.l[one]) && IsVowel(d.v[one]);
}

// plural: "s", or "es" after s, x, z, ch, sh; and dnstwist's (since 2023) plural of the first part of a
// compound: "s" (or "es" after s, x, z) after each character from the third to the third-last (examsple,
// paypals-login).
void PluralVariants(const Label& l, LabelEmit emit) {
  const std::size_t n = l.size();
  emit(l + U"s");
  if (n > 0 && (l.back() == U's' || l.back() == U'x' || l.back() == U'z' ||
                (n > 1 && l[n - 1] == U'h' && (l[n - 2] == U'c' || l[n - 2] == U's')))) {
    emit(l + U"es");
  }
  for (std::size_t i = 2; i + 3 <= n; ++i) {
    emit(l.substr(0, i + 1) + (IsPluralEs(l[i]) ? U"es" : U"s") + l.substr(i + 1));
  }
}
bool PluralMayProduce(const LabelDiff& d) {
  const std::size_t n = d.n, m = d.m;
  if (d.prefix >= n && (d.v.substr(n) == U"s" || d.v.substr(n) == U"es")) return true;
  for (std::size_t i = 2; i + 3 <= n; ++i) {  // the inner form: v = l[0, i] + s|es + l(i, n)
    const std::u32string_view plural = IsPluralEs(d.l[i]) ? U"es" : U"s";
    if (m == n + plural.size() && d.prefix >= i + 1 && d.suffix >= n - i - 1 &&
        d.v.substr(i + 1, plural.size()) == plural) {
      return true;
    }
  }
  return false;
}

// strip-dash: one hyphen left out, and all of them.
void StripDashVariants(const Label& l, LabelEmit emit) {
  if (l.find(U'-') == Label::npos) return;
  ReplaceEach(l, U"-", U"", emit);
  Label all;
  for (char32_t c : l) {
    if (c != U'-') all.push_back(c);
  }
  emit(all);
}
bool StripDashMayProduce(const LabelDiff& d) {
  if (d.Replaced(U"-", U"")) return true;
  std::size_t j = 0;
  for (char32_t c : d.l) {
    if (c == U'-') continue;
    if (j == d.m || d.v[j] != c) return false;
    ++j;
  }
  return j == d.m && d.m < d.n;
}

// vowel-shuffle: the vowels in every other order, bounded by the kind's budget.
void VowelShuffleVariants(const Label& l, LabelEmit emit) {
  std::vector<std::size_t> at;
  Label vowels;
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (IsVowel(l[i])) {
      at.push_back(i);
      vowels.push_back(l[i]);
    }
  }
  std::sort(vowels.begin(), vowels.end());
  do {
    Label v = l;
    for (std::size_t k = 0; k < at.size(); ++k) v[at[k]] = vowels[k];
    if (v != l && !emit(v)) break;
  } while (std::next_permutation(vowels.begin(), vowels.end()));
}
bool VowelShuffleMayProduce(const LabelDiff& d) {  // only vowels changed, the same vowels
  if (d.m != d.n) return false;
  std::array<int, 128> count{};
  for (std::size_t i = 0; i < d.n; ++i) {
    if (d.l[i] == d.v[i]) continue;
    if (!IsVowel(d.l[i]) || !IsVowel(d.v[i])) return false;
    ++count[d.l[i]];
    --count[d.v[i]];
  }
  return std::all_of(count.begin(), count.end(), [](int c) { return c == 0; });
}

// double-vowel-insertion: a doubled vowel typed between two characters (or at either end).
void DoubleVowelInsertionVariants(const Label& l, LabelEmit emit) {
  for (std::size_t i = 0; i <= l.size(); ++i) {
    for (char32_t v : kVowels) emit(Label(l).insert(i, 2, v));
  }
}
bool DoubleVowelInsertionMayProduce(const LabelDiff& d) {
  if (d.m != d.n + 2) return false;
  for (std::size_t i = d.n > d.suffix ? d.n - d.suffix : 0; i <= d.prefix && i <= d.n; ++i) {
    if (d.v[i] == d.v[i + 1] && IsVowel(d.v[i])) return true;
  }
  return false;
}

}  // namespace squatstream::permute::internal
