// The homoglyph kind: characters replaced by look-alikes, from Unicode's confusables data (ICU, through
// permute/unicode.h) and from a table of ASCII look-alikes that data does not list; up to two steps, the
// label kept single-script. Its generator next to its may-produce check (see families.h).
#include <algorithm>
#include <array>
#include <bitset>
#include <vector>

#include "permute/kinds/families.h"

namespace squatstream::permute::internal {

// Look-alikes that Unicode's confusables data does not list: ASCII sequences and letters that typefaces and
// small sizes confuse (rn for m, cl for d, b for d), the few digits that look like other digits, and a few
// letters whose usual glyph resembles an ASCII one but that Unicode's data pairs with none or with another
// rare letter (wynn ƿ for p, schwa ə for a, hooked ƈ for c, ꞑ and eng ŋ for n, fishhook ɾ for r). The other Unicode
// look-alikes come from ICU (LookAlikes).
std::span<const std::u32string_view> AsciiHomoglyphs(char32_t c) {
  static constexpr std::u32string_view a[] = {U"ə"};
  static constexpr std::u32string_view b[] = {U"d", U"lb"};
  static constexpr std::u32string_view cc[] = {U"e", U"ƈ"};
  static constexpr std::u32string_view d[] = {U"b", U"cl", U"dl"};
  static constexpr std::u32string_view e[] = {U"c"};
  static constexpr std::u32string_view g[] = {U"q"};
  static constexpr std::u32string_view h[] = {U"lh"};
  static constexpr std::u32string_view i[] = {U"1", U"l"};
  static constexpr std::u32string_view k[] = {U"lk", U"ik", U"lc"};
  static constexpr std::u32string_view l[] = {U"1", U"i"};
  static constexpr std::u32string_view m[] = {U"n", U"nn", U"rn", U"rr"};
  static constexpr std::u32string_view n[] = {U"m", U"r", U"ꞑ", U"ŋ"};
  static constexpr std::u32string_view o[] = {U"0"};
  static constexpr std::u32string_view p[] = {U"ƿ"};
  static constexpr std::u32string_view q[] = {U"g"};
  static constexpr std::u32string_view r[] = {U"ɾ"};
  static constexpr std::u32string_view w[] = {U"vv"};
  static constexpr std::u32string_view d0[] = {U"o"};
  static constexpr std::u32string_view d1[] = {U"l", U"i"};
  static constexpr std::u32string_view d3[] = {U"8"};
  static constexpr std::u32string_view d5[] = {U"s"};
  static constexpr std::u32string_view d6[] = {U"9"};
  static constexpr std::u32string_view d8[] = {U"3"};
  static constexpr std::u32string_view d9[] = {U"6"};
  switch (c) {
    case U'a':
      return a;
    case U'b':
      return b;
    case U'c':
      return cc;
    case U'd':
      return d;
    case U'e':
      return e;
    case U'g':
      return g;
    case U'h':
      return h;
    case U'i':
      return i;
    case U'k':
      return k;
    case U'l':
      return l;
    case U'm':
      return m;
    case U'n':
      return n;
    case U'o':
      return o;
    case U'p':
      return p;
    case U'q':
      return q;
    case U'r':
      return r;
    case U'w':
      return w;
    case U'0':
      return d0;
    case U'1':
      return d1;
    case U'3':
      return d3;
    case U'5':
      return d5;
    case U'6':
      return d6;
    case U'8':
      return d8;
    case U'9':
      return d9;
    default:
      return {};
  }
}

namespace {

// The look-alikes of `c` a label of `script` may hold: the ASCII table's (for Latin or script-less labels)
// and Unicode's confusables of the same script.
template <typename Fn>
void ForEachHomoglyph(char32_t c, int script, Fn&& fn) {
  const bool latin = script == kAnyScript || script == ScriptOf(U'a');
  if (latin) {
    for (std::u32string_view g : AsciiHomoglyphs(c)) fn(g);
  }
  for (const Glyph& g : LookAlikes(c)) {
    if (g.script == kAnyScript || g.script == script || (latin && g.script == ScriptOf(U'a'))) {
      fn(std::u32string_view(&g.cp, 1));
    }
  }
}

// One homoglyph step on `l` from position `from` on: for each character, each run of its consecutive
// occurrences (first..last of them) is replaced by one look-alike. Calls emit(variant, first changed
// position, occurrences replaced, look-alike); stops and returns false when emit does.
template <typename Emit>
bool HomoglyphStep(const Label& l, std::size_t from, int script, Emit&& emit) {
  Label v;  // reused for every variant: this loop makes most of the engine's candidates
  std::vector<std::size_t> at;
  for (std::size_t i = from; i < l.size(); ++i) {
    const char32_t c = l[i];
    if (l.find(c, from) != i) continue;  // each character once, at its first occurrence
    at.clear();
    for (std::size_t k = i; k < l.size(); ++k) {
      if (l[k] == c) at.push_back(k);
    }
    bool go_on = true;
    ForEachHomoglyph(c, script, [&](std::u32string_view g) {
      for (std::size_t first = 0; go_on && first < at.size(); ++first) {
        for (std::size_t last = first; go_on && last < at.size(); ++last) {
          v.clear();
          std::size_t copied = 0;
          for (std::size_t k = first; k <= last; ++k) {
            v.append(l, copied, at[k] - copied).append(g);
            copied = at[k] + 1;
          }
          v.append(l, copied);
          go_on = emit(v, at[first], last - first + 1, g);
        }
      }
    });
    if (!go_on) return false;
  }
  return true;
}

// What homoglyph's two steps may turn one character `c` of a label into: a string of at most `max_length`
// characters, each of them in `chars` (c itself, its look-alikes, and theirs). A superset.
struct HomoglyphReach {
  std::u32string chars;
  std::size_t max_length = 1;
};

HomoglyphReach ReachOf(char32_t c, int script) {
  HomoglyphReach r;
  r.chars.push_back(c);
  ForEachHomoglyph(c, script, [&](std::u32string_view g) {
    std::size_t length = 0;
    for (char32_t x : g) {
      r.chars.push_back(x);
      std::size_t longest = 1;
      ForEachHomoglyph(x, script, [&](std::u32string_view h) {
        r.chars.append(h);
        longest = std::max(longest, h.size());
      });
      length += longest;
    }
    r.max_length = std::max(r.max_length, length);
  });
  std::sort(r.chars.begin(), r.chars.end());
  r.chars.erase(std::unique(r.chars.begin(), r.chars.end()), r.chars.end());
  return r;
}

// ReachOf for the ASCII characters of a Latin (or script-less) label, built once.
const HomoglyphReach& AsciiReach(char32_t c) {
  static const std::array<HomoglyphReach, 128>* const table = [] {
    auto* t = new std::array<HomoglyphReach, 128>();
    for (char32_t a = 0; a < 128; ++a) (*t)[a] = ReachOf(a, ScriptOf(U'a'));
    return t;
  }();
  return (*table)[c];
}
}  // namespace

// homoglyph: up to two homoglyph steps (HomoglyphStep), single-script, bounded by the kind's budget.
void HomoglyphVariants(const Label& l, LabelEmit emit) {
  const int script = LabelScript(l).value_or(kAnyScript);
  struct Step {
    Label variant;
    std::size_t at;
    bool single;  // one occurrence replaced by a one-character look-alike
  };
  std::vector<Step> first_step;
  if (!HomoglyphStep(l, 0, script, [&](const Label& v, std::size_t at, std::size_t count, std::u32string_view g) {
        first_step.push_back({v, at, count == 1 && g.size() == 1});
        return emit(v);
      })) {
    return;
  }
  for (const Step& s : first_step) {
    // From the first changed position on, so that a look-alike may itself be replaced (m -> n -> r).
    // Replacing a lone look-alike by the original or by another look-alike of the original only
    // repeats a first-step name (or the input): skipped before the costly checks.
    const char32_t original = l[s.at];
    auto repeats = [&](std::size_t at, std::size_t count, std::u32string_view g) {
      if (!s.single || at != s.at || count != 1 || g.size() != 1) return false;
      bool found = g[0] == original;
      ForEachHomoglyph(original, script, [&](std::u32string_view o) { found = found || o == g; });
      return found;
    };
    if (!HomoglyphStep(s.variant, s.at, script,
                       [&](const Label& w, std::size_t at, std::size_t count, std::u32string_view g) {
                         return repeats(at, count, g) || emit(w);
                       })) {
      return;
    }
  }
}

// Whether v splits into one piece per character of l, each within that character's reach (l ASCII).
bool HomoglyphMayProduce(const LabelDiff& d) {
  constexpr std::size_t kMaxLength = 255;
  if (d.m >= kMaxLength) return true;
  std::bitset<kMaxLength + 1> at;  // at[j]: l's first i characters can make v[0, j)
  at[0] = true;
  for (std::size_t i = 0; i < d.n && at.any(); ++i) {
    const HomoglyphReach& r = AsciiReach(d.l[i]);
    std::bitset<kMaxLength + 1> next;
    for (std::size_t j = 0; j < d.m; ++j) {
      if (!at[j]) continue;
      for (std::size_t k = j;
           k < d.m && k - j < r.max_length && std::binary_search(r.chars.begin(), r.chars.end(), d.v[k]); ++k) {
        next[k + 1] = true;
      }
    }
    at = next;
  }
  return at[d.m];
}

}  // namespace squatstream::permute::internal
