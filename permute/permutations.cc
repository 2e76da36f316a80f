#include "permute/permutations.h"

#include <algorithm>
#include <array>
#include <bit>
#include <bitset>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "permute/unicode.h"

namespace squatstream::permute {
namespace {

constexpr std::array kAllKinds = {
    Kind::kAddition,
    Kind::kBitsquatting,
    Kind::kHomoglyph,
    Kind::kHyphenation,
    Kind::kInsertion,
    Kind::kOmission,
    Kind::kRepetition,
    Kind::kReplacement,
    Kind::kSubdomain,
    Kind::kTransposition,
    Kind::kVowelSwap,
    Kind::kTldSwap,
    Kind::kPlural,
    Kind::kVarious,
    Kind::kFauxTld,
    Kind::kTldAppend,
    Kind::kMissingDot,
    Kind::kStripDash,
    Kind::kMapped,
    Kind::kVowelShuffle,
    Kind::kCyrillic,
    Kind::kNumberWord,
    Kind::kDictionary,
    Kind::kDvorak,
    Kind::kDoubleReplacement,
    Kind::kDoubleVowelInsertion,
    Kind::kHomophone,
    Kind::kKeywordTld,
    Kind::kAsciiLookAlike,
};

constexpr std::array<absl::string_view, 30> kKindNames = {
    "",
    "addition",
    "bitsquatting",
    "homoglyph",
    "hyphenation",
    "insertion",
    "omission",
    "repetition",
    "replacement",
    "subdomain",
    "transposition",
    "vowel-swap",
    "tld-swap",
    "plural",
    "various",
    "faux-tld",
    "tld-append",
    "missing-dot",
    "strip-dash",
    "mapped",
    "vowel-shuffle",
    "cyrillic",
    "number-word",
    "dictionary",
    "dvorak",
    "double-replacement",
    "double-vowel-insertion",
    "homophone",
    "keyword-tld",
    "ascii-lookalike",
};

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

// Common public suffixes a squatter registers instead of the original's.
constexpr absl::string_view kSwapSuffixes[] = {
    "com", "net", "org", "info", "biz", "io", "co", "us", "uk", "co.uk", "de",  "fr",     "nl",   "eu",  "ru",
    "cn",  "jp",  "in",  "br",   "it",  "es", "ca", "au", "ch", "xyz",   "top", "online", "site", "app", "dev",
};

constexpr std::u32string_view kVowels = U"aeiou";

// Multi-character look-alikes (as twistrs maps them), each direction listed.
constexpr std::pair<std::u32string_view, std::u32string_view> kMapped[] = {
    {U"m", U"rn"}, {U"rn", U"m"}, {U"m", U"nn"}, {U"nn", U"m"},
    {U"d", U"cl"}, {U"cl", U"d"}, {U"w", U"vv"}, {U"vv", U"w"},
};

// Number words and their digits, each direction listed.
constexpr std::pair<std::u32string_view, std::u32string_view> kNumberWords[] = {
    {U"zero", U"0"},  {U"one", U"1"},   {U"two", U"2"},   {U"to", U"2"},    {U"too", U"2"},
    {U"three", U"3"}, {U"four", U"4"},  {U"for", U"4"},   {U"five", U"5"},  {U"six", U"6"},
    {U"seven", U"7"}, {U"eight", U"8"}, {U"nine", U"9"},  {U"0", U"zero"},  {U"1", U"one"},
    {U"2", U"two"},   {U"2", U"to"},    {U"3", U"three"}, {U"4", U"four"},  {U"4", U"for"},
    {U"5", U"five"},  {U"6", U"six"},   {U"7", U"seven"}, {U"8", U"eight"}, {U"9", U"nine"},
};

// Words squatters put before or after a brand.
constexpr std::u32string_view kDictionaryWords[] = {
    U"login", U"secure", U"account", U"support", U"online", U"app",    U"mail",    U"my",
    U"web",   U"shop",   U"pay",     U"auth",    U"verify", U"update", U"service",
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

// Country TLDs appended after the original suffix (example.com.it).
constexpr absl::string_view kAppendedTlds[] = {"it", "de", "fr", "co", "io", "us", "ru", "cn", "br", "in"};

// Generic TLDs that carry a faux-TLD label (example-co-uk.com).
constexpr absl::string_view kFauxTldHosts[] = {"com", "net", "org"};

// Sound-alike spellings and common misspellings, each direction listed, replaced one occurrence at a time.
constexpr std::pair<std::u32string_view, std::u32string_view> kHomophones[] = {
    {U"ph", U"f"},      {U"f", U"ph"},      {U"ck", U"k"},      {U"k", U"ck"},      {U"c", U"k"},     {U"k", U"c"},
    {U"ee", U"ea"},     {U"ea", U"ee"},     {U"oo", U"u"},      {U"u", U"oo"},      {U"ou", U"ow"},   {U"ow", U"ou"},
    {U"ai", U"ay"},     {U"ay", U"ai"},     {U"ie", U"ei"},     {U"ei", U"ie"},     {U"er", U"re"},   {U"re", U"er"},
    {U"s", U"z"},       {U"z", U"s"},       {U"x", U"ks"},      {U"ks", U"x"},      {U"qu", U"kw"},   {U"kw", U"qu"},
    {U"able", U"ible"}, {U"ible", U"able"}, {U"ance", U"ence"}, {U"ence", U"ance"}, {U"ant", U"ent"}, {U"ent", U"ant"},
    {U"tion", U"sion"}, {U"sion", U"tion"}, {U"y", U"ie"},      {U"ie", U"y"},      {U"wr", U"r"},    {U"kn", U"n"},
    {U"gh", U"g"},      {U"mb", U"m"},      {U"ght", U"t"},     {U"ch", U"sh"},
};

// Deterministic budgets of the kinds that grow faster than linearly in the label's length.
constexpr std::size_t kHomoglyphBudget = 20000;
constexpr std::size_t kVowelShuffleBudget = 120;
constexpr std::size_t kKeywordTldBudget = 600;

// Calls emit(l with each occurrence of `from`, one at a time, replaced by `to`).
template <typename Emit>
void ReplaceEach(const Label& l, std::u32string_view from, std::u32string_view to, Emit&& emit) {
  for (std::size_t at = l.find(from); at != Label::npos; at = l.find(from, at + 1)) {
    emit(Label(l).replace(at, from.size(), to));
  }
}

bool IsLatinOrScriptless(const Label& l) {
  const std::optional<int> script = LabelScript(l);
  return script.has_value() && (*script == kAnyScript || *script == ScriptOf(U'a'));
}

bool IsHostnameChar(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-'; }
bool IsVowel(char32_t c) { return kVowels.find(c) != std::u32string_view::npos; }

// dnstwist's rule for the inner plural: "es" after s, x or z, else "s".
bool IsPluralEs(char32_t c) { return c == U's' || c == U'x' || c == U'z'; }

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

// Calls emit(label) for every variant of `l` that a label-level `kind` defines. emit returns false once
// the kind's budget is spent; the kinds that can exceed their budget stop there.
template <typename Emit>
void PermuteLabel(Kind kind, const Label& l, Emit&& emit) {
  const std::size_t n = l.size();
  switch (kind) {
    case Kind::kAddition:  // one character a-z or 0-9 appended
      for (char32_t c = U'a'; c <= U'z'; ++c) emit(l + c);
      for (char32_t c = U'0'; c <= U'9'; ++c) emit(l + c);
      break;
    case Kind::kBitsquatting:  // one bit of one ASCII character flipped, result still a hostname character
      for (std::size_t i = 0; i < n; ++i) {
        if (l[i] >= 0x80) continue;
        for (int bit = 0; bit < 8; ++bit) {
          const char32_t flipped = l[i] ^ (char32_t{1} << bit);
          if (!IsHostnameChar(flipped)) continue;
          Label v = l;
          v[i] = flipped;
          emit(std::move(v));
        }
      }
      break;
    case Kind::kHomoglyph: {  // up to two homoglyph steps (HomoglyphStep), single-script, bounded
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
        break;
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
          break;
        }
      }
      break;
    }
    case Kind::kHyphenation:  // a hyphen between two characters
      for (std::size_t i = 1; i < n; ++i) emit(Label(l).insert(i, 1, U'-'));
      break;
    case Kind::kInsertion:  // a QWERTY, QWERTZ or AZERTY neighbour typed just before or after a character
      for (std::size_t i = 0; i < n; ++i) {
        for (char32_t k : TypoNeighbours(l[i])) {
          emit(Label(l).insert(i, 1, k));
          emit(Label(l).insert(i + 1, 1, k));
        }
      }
      break;
    case Kind::kOmission:  // one character left out
      if (n > 1) {
        for (std::size_t i = 0; i < n; ++i) emit(Label(l).erase(i, 1));
      }
      break;
    case Kind::kRepetition:  // one character typed twice
      for (std::size_t i = 0; i < n; ++i) emit(Label(l).insert(i, 1, l[i]));
      break;
    case Kind::kReplacement:  // one character replaced by a QWERTY, QWERTZ or AZERTY neighbour
      for (std::size_t i = 0; i < n; ++i) {
        for (char32_t k : TypoNeighbours(l[i])) {
          Label v = l;
          v[i] = k;
          emit(std::move(v));
        }
      }
      break;
    case Kind::kDvorak:  // a Dvorak neighbour typed instead of a character, or next to it
      for (std::size_t i = 0; i < n; ++i) {
        for (char32_t k : DvorakNeighbours(l[i])) {
          Label v = l;
          v[i] = k;
          emit(std::move(v));
          emit(Label(l).insert(i, 1, k));
          emit(Label(l).insert(i + 1, 1, k));
        }
      }
      break;
    case Kind::kDoubleReplacement:  // a doubled character replaced, both copies, by one keyboard neighbour
      for (std::size_t i = 0; i + 1 < n; ++i) {
        if (l[i] != l[i + 1]) continue;
        for (char32_t k : TypoNeighbours(l[i])) {
          Label v = l;
          v[i] = v[i + 1] = k;
          emit(std::move(v));
        }
      }
      break;
    case Kind::kDoubleVowelInsertion:  // a doubled vowel typed between two characters (or at either end)
      for (std::size_t i = 0; i <= n; ++i) {
        for (char32_t v : kVowels) emit(Label(l).insert(i, 2, v));
      }
      break;
    case Kind::kSubdomain:  // a dot inside the label, making a subdomain of a shorter name
      for (std::size_t i = 1; i < n; ++i) {
        if (l[i - 1] != U'-' && l[i] != U'-') emit(Label(l).insert(i, 1, U'.'));
      }
      break;
    case Kind::kTransposition:  // two adjacent characters swapped
      for (std::size_t i = 0; i + 1 < n; ++i) {
        if (l[i] == l[i + 1]) continue;
        Label v = l;
        std::swap(v[i], v[i + 1]);
        emit(std::move(v));
      }
      break;
    case Kind::kVowelSwap:  // one vowel replaced by another
      for (std::size_t i = 0; i < n; ++i) {
        if (!IsVowel(l[i])) continue;
        for (char32_t v : kVowels) {
          if (v == l[i]) continue;
          Label w = l;
          w[i] = v;
          emit(std::move(w));
        }
      }
      break;
    case Kind::kPlural:  // "s", or "es" after s, x, z, ch, sh
      emit(l + U"s");
      if (n > 0 && (l.back() == U's' || l.back() == U'x' || l.back() == U'z' ||
                    (n > 1 && l[n - 1] == U'h' && (l[n - 2] == U'c' || l[n - 2] == U's')))) {
        emit(l + U"es");
      }
      // And dnstwist's (since 2023) plural of the first part of a compound: "s" (or "es" after s, x, z)
      // after each character from the third to the third-last (examsple, paypals-login).
      for (std::size_t i = 2; i + 3 <= n; ++i) {
        emit(l.substr(0, i + 1) + (IsPluralEs(l[i]) ? U"es" : U"s") + l.substr(i + 1));
      }
      break;
    case Kind::kStripDash:  // one hyphen left out, and all of them
      if (l.find(U'-') != Label::npos) {
        ReplaceEach(l, U"-", U"", emit);
        Label all;
        for (char32_t c : l) {
          if (c != U'-') all.push_back(c);
        }
        emit(std::move(all));
      }
      break;
    case Kind::kMapped:  // multi-character look-alikes, one occurrence at a time
      for (const auto& [from, to] : kMapped) ReplaceEach(l, from, to, emit);
      break;
    case Kind::kHomophone:  // a sound-alike spelling or common misspelling, one occurrence at a time
      for (const auto& [from, to] : kHomophones) ReplaceEach(l, from, to, emit);
      break;
    case Kind::kVowelShuffle: {  // the vowels in every other order, bounded by the kind's budget
      std::vector<std::size_t> at;
      Label vowels;
      for (std::size_t i = 0; i < n; ++i) {
        if (IsVowel(l[i])) {
          at.push_back(i);
          vowels.push_back(l[i]);
        }
      }
      std::sort(vowels.begin(), vowels.end());
      do {
        Label v = l;
        for (std::size_t k = 0; k < at.size(); ++k) v[at[k]] = vowels[k];
        if (v != l && !emit(std::move(v))) break;
      } while (std::next_permutation(vowels.begin(), vowels.end()));
      break;
    }
    case Kind::kCyrillic: {  // the whole label, when every letter has a Cyrillic look-alike
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
      if (any_letter) emit(std::move(v));
      break;
    }
    case Kind::kAsciiLookAlike: {  // every non-ASCII character replaced by an ASCII one it looks like
      // Per character: Unicode's ASCII look-alikes (ü -> u, Cyrillic р -> p), then the single ASCII letters
      // the ASCII table confuses with those (palochka ӏ -> i, and so also l and 1).
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
      if (!any) break;
      emit(all);
      for (std::size_t i = 0; i < n; ++i) {  // one character at a time given its other look-alikes
        for (std::size_t k = 1; k < options[i].size(); ++k) {
          Label v = all;
          v[i] = options[i][k];
          emit(std::move(v));
        }
      }
      break;
    }
    case Kind::kNumberWord:  // a number word for its digit, or a digit for its word
      for (const auto& [from, to] : kNumberWords) ReplaceEach(l, from, to, emit);
      break;
    case Kind::kDictionary:                // word+label, word-label, label+word, label-word
      if (!IsLatinOrScriptless(l)) break;  // English words would mix scripts
      for (std::u32string_view w : kDictionaryWords) {
        emit(Label(w) + l);
        emit(Label(w) + U"-" + l);
        emit(l + Label(w));
        emit(l + U"-" + Label(w));
      }
      break;
    case Kind::kTldSwap:
    case Kind::kVarious:
    case Kind::kFauxTld:
    case Kind::kTldAppend:
    case Kind::kMissingDot:
    case Kind::kKeywordTld:
      break;  // name-level kinds: PermuteName
  }
}

bool IsNameLevel(Kind kind) {
  return kind == Kind::kTldSwap || kind == Kind::kVarious || kind == Kind::kFauxTld || kind == Kind::kTldAppend ||
         kind == Kind::kMissingDot || kind == Kind::kKeywordTld;
}

// Calls emit(name) for every whole-name variant of `d` that a name-level `kind` defines (UTF-8 names).
template <typename Emit>
void PermuteName(Kind kind, const ParsedDomain& d, Emit&& emit) {
  const std::string dashed = absl::StrReplaceAll(d.suffix, {{".", "-"}});
  switch (kind) {
    case Kind::kTldSwap:  // the suffix replaced by another common one
      for (absl::string_view suffix : kSwapSuffixes) {
        if (suffix != d.suffix) emit(absl::StrCat(d.prefix, d.label, ".", suffix));
      }
      break;
    case Kind::kVarious:  // the suffix folded into the label: examplecom.com, example-com.com
      emit(absl::StrCat(d.prefix, d.label, absl::StrReplaceAll(d.suffix, {{".", ""}}), ".", d.suffix));
      emit(absl::StrCat(d.prefix, d.label, "-", dashed, ".", d.suffix));
      break;
    case Kind::kFauxTld:  // example-co-uk.com
      for (absl::string_view host : kFauxTldHosts) {
        if (host != d.suffix) emit(absl::StrCat(d.prefix, d.label, "-", dashed, ".", host));
      }
      break;
    case Kind::kTldAppend:  // example.com.it
      for (absl::string_view tld : kAppendedTlds) emit(absl::StrCat(d.prefix, d.label, ".", d.suffix, ".", tld));
      break;
    case Kind::kMissingDot:  // wwwexample.com, and mail.example.com -> mailexample.com
      emit(absl::StrCat("www", d.label, ".", d.suffix));
      if (!d.prefix.empty()) emit(absl::StrCat(absl::StrReplaceAll(d.prefix, {{".", ""}}), d.label, ".", d.suffix));
      break;
    case Kind::kKeywordTld:  // a dictionary word with the label under another common suffix: loginexample.net
      if (!IsLatinOrScriptless(DecodeUtf8(d.label))) break;  // English words would mix scripts
      for (absl::string_view suffix : kSwapSuffixes) {
        if (suffix == d.suffix) continue;
        for (std::u32string_view w32 : kDictionaryWords) {
          const std::string w = EncodeUtf8(w32);
          if (!emit(absl::StrCat(d.prefix, w, d.label, ".", suffix)) ||
              !emit(absl::StrCat(d.prefix, w, "-", d.label, ".", suffix)) ||
              !emit(absl::StrCat(d.prefix, d.label, w, ".", suffix)) ||
              !emit(absl::StrCat(d.prefix, d.label, "-", w, ".", suffix))) {
            return;
          }
        }
      }
      break;
    default:
      break;
  }
}

// ---- Which kinds may produce a name (for handing candidates out early) ----
//
// Each check below is a superset of what the kind's generator (PermuteLabel / PermuteName) offers: true
// whenever the kind can produce the name, ignoring budgets and validity; it may also say true when the kind
// does not (homoglyph's is coarse). They assume an ASCII input (labels and names), the only case where the
// Generator uses them. Generator::late_merges() counts any way a check misses, and the tests compare against a run that
// hands nothing out early.

// A permuted label `v` next to the (ASCII) input label `l`: their lengths and common prefix and suffix
// lengths (each as long as it goes, so prefix + suffix may exceed either length).
struct LabelDiff {
  std::u32string_view l, v;
  std::size_t n, m, prefix, suffix;
  bool v_ascii;

  LabelDiff(std::u32string_view label, std::u32string_view variant)
      : l(label), v(variant), n(label.size()), m(variant.size()), prefix(0), suffix(0) {
    v_ascii = std::all_of(v.begin(), v.end(), [](char32_t c) { return c < 0x80; });
    const std::size_t shorter = std::min(n, m);
    while (prefix < shorter && l[prefix] == v[prefix]) ++prefix;
    while (suffix < shorter && l[n - 1 - suffix] == v[m - 1 - suffix]) ++suffix;
  }
  // The one position where a same-length variant differs, or npos.
  std::size_t OneChanged() const { return m == n && prefix < n && prefix + suffix == n - 1 ? prefix : npos; }
  // Whether v is l with `from`, at some position, replaced by `to`.
  bool Replaced(std::u32string_view from, std::u32string_view to) const {
    if (m + from.size() != n + to.size()) return false;
    // v[0, i) = l[0, i) needs i <= prefix; v[i + |to|, m) = l[i + |from|, n) needs n - i - |from| <= suffix.
    const std::size_t lo = n >= from.size() + suffix ? n - from.size() - suffix : 0;
    for (std::size_t i = lo; i <= prefix && i + from.size() <= n; ++i) {
      if (l.substr(i, from.size()) == from && v.substr(i, to.size()) == to) return true;
    }
    return false;
  }
  template <typename Ok>
  bool InsertedAt(Ok&& ok) const {  // v is l with v[i] inserted at some position i where ok(i) holds
    if (m != n + 1) return false;
    for (std::size_t i = n > suffix ? n - suffix : 0; i <= prefix && i < m; ++i) {
      if (ok(i)) return true;
    }
    return false;
  }
  static constexpr std::size_t npos = std::u32string_view::npos;
};

bool Contains(std::u32string_view set, char32_t c) { return set.find(c) != std::u32string_view::npos; }

template <std::size_t N>
bool ReplacedByAny(const LabelDiff& d, const std::pair<std::u32string_view, std::u32string_view> (&pairs)[N]) {
  for (const auto& [from, to] : pairs) {
    if (d.Replaced(from, to)) return true;
  }
  return false;
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

// Whether the label-level `kind` may turn l into v (a superset of PermuteLabel's offers).
bool LabelKindMayProduce(Kind kind, const LabelDiff& d) {
  // From an ASCII label, only these kinds put in other characters.
  if (!d.v_ascii && kind != Kind::kHomoglyph && kind != Kind::kCyrillic) return false;
  const std::u32string_view l = d.l, v = d.v;
  const std::size_t n = d.n, m = d.m;
  const std::size_t one = d.OneChanged();
  auto twin_changed = [&] { return m == n && d.prefix + 1 < n && d.prefix + d.suffix == n - 2; };
  switch (kind) {
    case Kind::kAddition:
      return m == n + 1 && d.prefix >= n && IsHostnameChar(v[n]) && v[n] != U'-';
    case Kind::kBitsquatting:
      return one != LabelDiff::npos && l[one] < 0x80 && std::has_single_bit(std::uint32_t{l[one] ^ v[one]});
    case Kind::kHomoglyph:
      return HomoglyphMayProduce(d);
    case Kind::kHyphenation:
      return d.InsertedAt([&](std::size_t i) { return i > 0 && i < n && v[i] == U'-'; });
    case Kind::kInsertion:
      return d.InsertedAt([&](std::size_t i) {
        return (i < n && Contains(TypoNeighbours(l[i]), v[i])) || (i > 0 && Contains(TypoNeighbours(l[i - 1]), v[i]));
      });
    case Kind::kDvorak:
      return (one != LabelDiff::npos && Contains(DvorakNeighbours(l[one]), v[one])) || d.InsertedAt([&](std::size_t i) {
        return (i < n && Contains(DvorakNeighbours(l[i]), v[i])) ||
               (i > 0 && Contains(DvorakNeighbours(l[i - 1]), v[i]));
      });
    case Kind::kOmission:
      return n > 1 && m + 1 == n && d.prefix + d.suffix >= m;
    case Kind::kRepetition:
      return d.InsertedAt([&](std::size_t i) { return i < n && v[i] == l[i]; });
    case Kind::kReplacement:
      return one != LabelDiff::npos && Contains(TypoNeighbours(l[one]), v[one]);
    case Kind::kDoubleReplacement:
      return twin_changed() && l[d.prefix] == l[d.prefix + 1] && v[d.prefix] == v[d.prefix + 1] &&
             Contains(TypoNeighbours(l[d.prefix]), v[d.prefix]);
    case Kind::kDoubleVowelInsertion:
      if (m != n + 2) return false;
      for (std::size_t i = n > d.suffix ? n - d.suffix : 0; i <= d.prefix && i <= n; ++i) {
        if (v[i] == v[i + 1] && IsVowel(v[i])) return true;
      }
      return false;
    case Kind::kSubdomain:
      return d.InsertedAt([&](std::size_t i) { return i > 0 && i < n && v[i] == U'.'; });
    case Kind::kTransposition:
      return twin_changed() && v[d.prefix] == l[d.prefix + 1] && v[d.prefix + 1] == l[d.prefix];
    case Kind::kVowelSwap:
      return one != LabelDiff::npos && IsVowel(l[one]) && IsVowel(v[one]);
    case Kind::kPlural:
      if (d.prefix >= n && (v.substr(n) == U"s" || v.substr(n) == U"es")) return true;
      for (std::size_t i = 2; i + 3 <= n; ++i) {  // the inner form: v = l[0, i] + s|es + l(i, n)
        const std::u32string_view plural = IsPluralEs(l[i]) ? U"es" : U"s";
        if (m == n + plural.size() && d.prefix >= i + 1 && d.suffix >= n - i - 1 &&
            v.substr(i + 1, plural.size()) == plural) {
          return true;
        }
      }
      return false;
    case Kind::kStripDash: {  // one hyphen dropped, or all of them
      if (d.Replaced(U"-", U"")) return true;
      std::size_t j = 0;
      for (char32_t c : l) {
        if (c == U'-') continue;
        if (j == m || v[j] != c) return false;
        ++j;
      }
      return j == m && m < n;
    }
    case Kind::kMapped:
      return ReplacedByAny(d, kMapped);
    case Kind::kHomophone:
      return ReplacedByAny(d, kHomophones);
    case Kind::kNumberWord:
      return ReplacedByAny(d, kNumberWords);
    case Kind::kVowelShuffle: {  // only vowels changed, the same vowels
      if (m != n) return false;
      std::array<int, 128> count{};
      for (std::size_t i = 0; i < n; ++i) {
        if (l[i] == v[i]) continue;
        if (!IsVowel(l[i]) || !IsVowel(v[i])) return false;
        ++count[l[i]];
        --count[v[i]];
      }
      return std::all_of(count.begin(), count.end(), [](int c) { return c == 0; });
    }
    case Kind::kCyrillic: {
      if (m != n) return false;
      for (std::size_t i = 0; i < n; ++i) {
        const bool letter = l[i] >= U'a' && l[i] <= U'z';
        if (v[i] != (letter ? CyrillicLookAlike(l[i]) : l[i])) return false;
      }
      return true;
    }
    case Kind::kDictionary:
      for (std::u32string_view w : kDictionaryWords) {
        for (std::u32string_view sep : {std::u32string_view(), std::u32string_view(U"-")}) {
          if (m != n + w.size() + sep.size()) continue;
          if (v.substr(0, w.size()) == w && v.substr(w.size(), sep.size()) == sep && d.suffix >= n) return true;
          if (d.prefix >= n && v.substr(n, sep.size()) == sep && v.substr(n + sep.size()) == w) return true;
        }
      }
      return false;
    case Kind::kAsciiLookAlike:  // needs a non-ASCII label
    default:                     // name-level kinds: NameKindMayProduce
      return false;
  }
}

// Whether `s` is `suffix` with each dot replaced by `dot` ("" drops them).
bool SuffixFolded(absl::string_view s, absl::string_view suffix, absl::string_view dot) {
  for (absl::string_view part : absl::StrSplit(suffix, '.')) {
    if (!absl::ConsumePrefix(&s, part)) return false;
    if (part.end() != suffix.end() && !absl::ConsumePrefix(&s, dot)) return false;
  }
  return s.empty();
}

// Whether the name-level `kind` may make the ASCII `name` of the ASCII domain `d` (a superset of PermuteName's
// offers; from an ASCII input every name-level kind makes ASCII names only).
bool NameKindMayProduce(Kind kind, const ParsedDomain& d, absl::string_view name) {
  auto take = [](absl::string_view& s, absl::string_view piece) { return absl::ConsumePrefix(&s, piece); };
  absl::string_view rest = name;  // what follows prefix + label, when the name starts with them
  const bool head = take(rest, d.prefix) && take(rest, d.label);
  auto listed = [](absl::string_view s, const auto& list) {
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
  };
  switch (kind) {
    case Kind::kTldSwap:  // head "." other-suffix
      return head && take(rest, ".") && listed(rest, kSwapSuffixes);
    case Kind::kVarious:  // head, the suffix without its dots or with dashes for them, "." suffix
      return head && absl::ConsumeSuffix(&rest, d.suffix) && absl::ConsumeSuffix(&rest, ".") &&
             (SuffixFolded(rest, d.suffix, "") || (take(rest, "-") && SuffixFolded(rest, d.suffix, "-")));
    case Kind::kFauxTld: {  // head "-", the suffix with dashes for its dots, "." a host TLD
      if (!head || !take(rest, "-")) return false;
      const std::size_t dot = rest.rfind('.');
      return dot != absl::string_view::npos && SuffixFolded(rest.substr(0, dot), d.suffix, "-") &&
             listed(rest.substr(dot + 1), kFauxTldHosts);
    }
    case Kind::kTldAppend:  // head "." suffix "." tld
      return head && take(rest, ".") && take(rest, d.suffix) && take(rest, ".") && listed(rest, kAppendedTlds);
    case Kind::kMissingDot: {  // something label "." suffix
      absl::string_view front = name;
      return absl::ConsumeSuffix(&front, d.suffix) && absl::ConsumeSuffix(&front, ".") &&
             absl::ConsumeSuffix(&front, d.label) && !front.empty();
    }
    case Kind::kKeywordTld: {  // prefix, a word and the label in some order (one label), "." another suffix
      rest = name;
      if (!take(rest, d.prefix)) return false;
      const std::size_t dot = rest.find('.');
      if (dot == absl::string_view::npos) return false;
      const absl::string_view core = rest.substr(0, dot), suffix = rest.substr(dot + 1);
      return core.size() > d.label.size() && (absl::StartsWith(core, d.label) || absl::EndsWith(core, d.label)) &&
             suffix != d.suffix && listed(suffix, kSwapSuffixes);
    }
    default:
      return false;
  }
}

// ASCII-form checks the fast path applies to each label (those libidn2 would apply to an LDH label).
bool IsValidAsciiLabel(absl::string_view label) {
  if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' || label.back() == '-') return false;
  // Labels with "--" at positions 3-4 are reserved; only a well-formed A-label may have it, and the fast
  // path produces those itself (from a label that does not have it).
  return !(label.size() >= 4 && label[2] == '-' && label[3] == '-');
}

}  // namespace

std::vector<Kind> KindSet::ToVector() const {
  std::vector<Kind> out;
  ForEach([&](Kind k) { out.push_back(k); });
  return out;
}

std::span<const Kind> AllKinds() { return kAllKinds; }

absl::string_view KindName(Kind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < kKindNames.size() ? kKindNames[i] : "unknown";
}

absl::StatusOr<Kind> ParseKindName(absl::string_view name) {
  for (Kind k : kAllKinds) {
    if (KindName(k) == name) return k;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown permutation kind \"%s\"", name));
}

std::size_t KindBudget(Kind kind) {
  switch (kind) {
    case Kind::kHomoglyph:
      return kHomoglyphBudget;
    case Kind::kVowelShuffle:
      return kVowelShuffleBudget;
    case Kind::kKeywordTld:
      return kKeywordTldBudget;
    default:
      return SIZE_MAX;
  }
}

std::size_t KindWorkLimit(Kind kind) {
  const std::size_t budget = KindBudget(kind);
  return budget == SIZE_MAX ? SIZE_MAX : 2 * budget;
}

Generator::Generator(ParsedDomain domain, GeneratorOptions options)
    : domain_(std::move(domain)), options_(std::move(options)) {
  if (options_.kinds.empty()) options_.kinds.assign(kAllKinds.begin(), kAllKinds.end());
  // The ASCII form has the same labels as the Unicode one, in the same places.
  const std::size_t prefix_labels =
      static_cast<std::size_t>(std::count(domain_.prefix.begin(), domain_.prefix.end(), '.'));
  const std::vector<absl::string_view> ascii = absl::StrSplit(domain_.ascii, '.');
  input_labels_ = absl::StrSplit(domain_.unicode, '.');
  // The text around label `at`: every other label, with the dots next to `at`.
  auto slot_at = [&](std::size_t at) {
    Slot s;
    for (std::size_t i = 0; i < ascii.size(); ++i) {
      if (i < at) {
        absl::StrAppend(&s.before_ascii, ascii[i], ".");
        absl::StrAppend(&s.before_unicode, input_labels_[i], ".");
      } else if (i > at) {
        absl::StrAppend(&s.after_ascii, ".", ascii[i]);
        absl::StrAppend(&s.after_unicode, ".", input_labels_[i]);
      }
    }
    return s;
  };
  registrable_ = slot_at(prefix_labels);
  if (options_.subdomains) {
    for (std::size_t i = 0; i < prefix_labels; ++i) {
      subdomain_slots_.emplace_back(slot_at(i), DecodeUtf8(input_labels_[i]));
    }
  }
  unicode_differs_ = domain_.unicode != domain_.ascii;
  // LabelKindMayProduce and NameKindMayProduce are exact for ASCII input only; an internationalized input
  // runs every kind before its first candidate.
  incremental_ = options_.incremental && !unicode_differs_;
  label_ = DecodeUtf8(domain_.label);
  waiting_.resize(options_.kinds.size());
  for (std::size_t i = options_.kinds.size(); i-- > 0;) {
    if (options_.kinds[i] == Kind::kHomoglyph || options_.kinds[i] == Kind::kCyrillic) non_ascii_makers_.push_back(i);
  }
  if (incremental_) {  // the cyrillic kind's names (one per label at most), by its own generator
    auto collect = [&](const Slot& slot, const Label& label) {
      PermuteLabel(Kind::kCyrillic, label, [&](const Label& v) {
        cyrillic_names_.push_back(absl::StrCat(slot.before_unicode, EncodeUtf8(v), slot.after_unicode));
        return true;
      });
    };
    collect(registrable_, label_);
    for (const auto& subdomain : subdomain_slots_) collect(subdomain.first, subdomain.second);
  }
}

absl::string_view Generator::NameArena::Add(absl::string_view s) {
  if (capacity_ - used_ < s.size()) {
    capacity_ = std::max<std::size_t>(64 * 1024, s.size());
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(capacity_));
    used_ = 0;
  }
  char* at = blocks_.back().get() + used_;
  std::copy(s.begin(), s.end(), at);
  used_ += s.size();
  return {at, s.size()};
}

void Generator::NameArena::RemoveLast(absl::string_view added) { used_ -= added.size(); }

std::optional<Candidate> Generator::Next() {
  if (generated_ >= options_.max_candidates) return std::nullopt;
  while (ready_.empty() && next_kind_ < options_.kinds.size()) RunKind(next_kind_++);
  if (ready_.empty()) return std::nullopt;
  Stored& s = stored_[ready_.front()];
  ready_.pop_front();
  s.handed_out = true;
  ++generated_;
  return Candidate{.kind = s.kind, .kinds = s.kinds, .ascii = std::string(s.ascii), .unicode = std::string(s.unicode)};
}

void Generator::RunKind(std::size_t i) {
  if (i == 0) {
    // Room for a short domain's names (example.com: 5,902) from the start, rather than growing the index
    // from empty through a dozen rehashes.
    index_.reserve(std::min<std::size_t>(options_.max_candidates, 8192));
    index_.emplace(names_.Add(domain_.ascii), UINT32_MAX);  // the input is never a candidate
  }
  const Kind kind = options_.kinds[i];
  kind_accepted_ = 0;
  kind_budget_ = KindBudget(kind);
  kind_tries_left_ = KindWorkLimit(kind);
  if (IsNameLevel(kind)) {
    PermuteName(kind, domain_, [&](const std::string& name) { return TakeTry() && OfferName(kind, name); });
  } else {
    bool go_on = true;
    PermuteLabel(kind, label_,
                 [&](const Label& variant) { return go_on = TakeTry() && OfferLabel(kind, registrable_, variant); });
    for (const auto& subdomain : subdomain_slots_) {  // (slot, label); not a structured binding: clang 14
      if (!go_on) break;                              // cannot capture those in the lambda
      PermuteLabel(kind, subdomain.second, [&](const Label& variant) {
        return go_on = TakeTry() && OfferLabel(kind, subdomain.first, variant);
      });
    }
  }
  ready_.insert(ready_.end(), waiting_[i].begin(), waiting_[i].end());
  waiting_[i] = {};
  if (next_kind_ == options_.kinds.size()) index_ = {};  // nothing left to deduplicate against
}

bool Generator::TakeTry() {
  if (kind_tries_left_ == 0) return false;
  --kind_tries_left_;
  ++offered_;
  return true;
}

bool Generator::OfferLabel(Kind kind, const Slot& slot, std::u32string_view variant) {
  if (kind_accepted_ >= kind_budget_) return false;
  // Fast path: every code point is ASCII LDH or a vetted look-alike, so no IDNA mapping or normalization
  // can change the label and its A-label is plain punycode. Anything else goes through libidn2.
  name_.assign(slot.before_ascii);
  bool non_ascii = false;
  for (std::size_t start = 0; start <= variant.size();) {
    std::size_t dot = variant.find(U'.', start);
    if (dot == std::u32string_view::npos) dot = variant.size();
    const std::u32string_view part = variant.substr(start, dot - start);
    if (!FastAsciiLabel(part, &label_ascii_)) {
      // Off the fast path (the label holds a character of the input the tables do not cover). A label that
      // mixes scripts is refused here, as OfferName would refuse it after libidn2 (tens of µs a name), so
      // that the variants of a mixed-script input do not all go through libidn2. Its characters are each in
      // IDNA2008's mapped form already (from the parsed input or the tables), and normalizing the label
      // keeps each character's script (NFC composes marks, which have none, onto their base).
      if (!LabelScript(part).has_value() &&
          std::find(input_labels_.begin(), input_labels_.end(), EncodeUtf8(part)) == input_labels_.end()) {
        return true;
      }
      return OfferName(kind, absl::StrCat(slot.before_unicode, EncodeUtf8(variant), slot.after_unicode));
    }
    if (label_ascii_.size() != part.size()) {  // punycode: an internationalized label
      non_ascii = true;
      // A U-label must not start or end with a hyphen nor have "--" at positions 3-4, and must be
      // single-script.
      if (part.front() == U'-' || part.back() == U'-' || (part.size() >= 4 && part[2] == U'-' && part[3] == U'-') ||
          label_ascii_.size() > kMaxLabelBytes || !LabelScript(part).has_value()) {
        return true;
      }
    } else if (!IsValidAsciiLabel(label_ascii_)) {
      return true;
    }
    if (start > 0) name_.push_back('.');
    name_.append(label_ascii_);
    start = dot + 1;
  }
  name_.append(slot.after_ascii);
  if (name_.size() > kMaxDomainBytes) return true;
  if (Merge(kind)) return kind_accepted_ < kind_budget_;
  if (!non_ascii && !unicode_differs_) return Accept(kind, {}, &slot, variant);
  unicode_.assign(slot.before_unicode);
  AppendUtf8(variant, &unicode_);
  unicode_.append(slot.after_unicode);
  return Accept(kind, unicode_, &slot, variant);
}

bool Generator::OfferName(Kind kind, absl::string_view name) {
  if (kind_accepted_ >= kind_budget_) return false;
  absl::StatusOr<NameForms> forms = ToNameForms(name);
  if (!forms.ok()) return true;
  // Every label the kind made must be single-script; the input's own labels are taken as they are.
  for (absl::string_view l : absl::StrSplit(forms->unicode, '.')) {
    if (std::find(input_labels_.begin(), input_labels_.end(), l) == input_labels_.end() &&
        !LabelScript(DecodeUtf8(l)).has_value()) {
      return true;
    }
  }
  name_ = std::move(forms->ascii);
  if (Merge(kind)) return kind_accepted_ < kind_budget_;
  return Accept(kind, forms->unicode);
}

bool Generator::Merge(Kind kind) {
  // One probe: the name goes into the arena and the index at once, and comes out of the arena again when it
  // was there already.
  const absl::string_view key = names_.Add(name_);
  const auto [it, inserted] = index_.try_emplace(key, static_cast<std::uint32_t>(stored_.size()));
  if (inserted) {
    recorded_ = key;
    return false;
  }
  names_.RemoveLast(key);
  if (it->second != UINT32_MAX) {
    // A name an earlier kind made is still one of this kind's names: it counts against this kind's budget
    // (once), so that a budgeted kind makes the same names in any company as it does alone.
    Stored& c = stored_[it->second];
    if (!c.kinds.Contains(kind)) {
      c.kinds.Insert(kind);
      ++kind_accepted_;
      if (c.handed_out) ++late_merges_;
    }
  }
  return true;
}

bool Generator::Accept(Kind kind, absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  Stored& c = stored_.emplace_back();
  c.kind = kind;
  c.kinds.Insert(kind);
  c.ascii = recorded_;
  c.unicode = unicode.empty() ? c.ascii : names_.Add(unicode);
  const auto position = static_cast<std::uint32_t>(stored_.size() - 1);
  waiting_[ReleaseAfter(c.unicode, slot, variant)].push_back(position);
  return ++kind_accepted_ < kind_budget_;
}

std::size_t Generator::ReleaseAfter(absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  const std::size_t running = next_kind_ - 1;  // RunKind(next_kind_++)
  const std::size_t last = options_.kinds.size() - 1;
  if (!incremental_ || running == last) return last;
  const bool ascii = std::none_of(unicode.begin(), unicode.end(), [](char c) { return (c & 0x80) != 0; });
  if (!ascii) {
    // From an ASCII input only the homoglyph and cyrillic kinds make a name with other characters (most of
    // the names), and cyrillic makes one name per label, known in advance.
    for (std::size_t i : non_ascii_makers_) {
      if (i <= running) break;
      if (options_.kinds[i] == Kind::kCyrillic
              ? std::find(cyrillic_names_.begin(), cyrillic_names_.end(), unicode) != cyrillic_names_.end()
              : MayProduceByLabel(Kind::kHomoglyph, unicode, slot, variant)) {
        return i;
      }
    }
    return running;
  }
  // The usual case, a variant of the registrable label with no subdomain labels permuted: one diff.
  std::optional<LabelDiff> only;
  if (slot == &registrable_ && subdomain_slots_.empty()) only.emplace(label_, variant);
  for (std::size_t i = last; i > running; --i) {
    const Kind kind = options_.kinds[i];
    if (IsNameLevel(kind)
            ? NameKindMayProduce(kind, domain_, unicode)
            : (only ? LabelKindMayProduce(kind, *only) : MayProduceByLabel(kind, unicode, slot, variant))) {
      return i;
    }
  }
  return running;
}

bool Generator::MayProduceByLabel(Kind kind, absl::string_view unicode, const Slot* slot, std::u32string_view variant) {
  // The name as a variant of each permutable label whose surroundings it keeps (usually one): the one it
  // was made from, and any other whose text around it matches.
  auto may = [&](const Slot& s, const Label& label) {
    if (&s == slot) return LabelKindMayProduce(kind, LabelDiff(label, variant));
    absl::string_view middle = unicode;
    if (!absl::ConsumePrefix(&middle, s.before_unicode) || !absl::ConsumeSuffix(&middle, s.after_unicode)) {
      return false;
    }
    const Label decoded = DecodeUtf8(middle);
    return LabelKindMayProduce(kind, LabelDiff(label, decoded));
  };
  if (may(registrable_, label_)) return true;
  return std::any_of(subdomain_slots_.begin(), subdomain_slots_.end(),
                     [&](const auto& subdomain) { return may(subdomain.first, subdomain.second); });
}

Classifier::Classifier(const ParsedDomain& target) {
  Generator generator(target, {.kinds = {}, .max_candidates = SIZE_MAX, .subdomains = true, .incremental = false});
  while (std::optional<Candidate> c = generator.Next()) kinds_.emplace(std::move(c->ascii), c->kinds);
}

std::vector<Kind> Classifier::Classify(absl::string_view candidate_ascii) const {
  auto it = kinds_.find(candidate_ascii);
  return it == kinds_.end() ? std::vector<Kind>() : it->second.ToVector();
}

std::vector<Kind> Classify(const ParsedDomain& target, absl::string_view candidate_ascii) {
  return Classifier(target).Classify(candidate_ascii);
}

std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options) {
  Generator generator(domain, options);
  std::vector<Candidate> out;
  while (std::optional<Candidate> c = generator.Next()) out.push_back(*std::move(c));
  return out;
}

}  // namespace squatstream::permute
