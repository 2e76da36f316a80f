#include "permute/unicode.h"

#include <idn2.h>
#include <punycode.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace squatstream::permute {
namespace {

// Blocks scanned for look-alikes: Latin, Greek, Cyrillic, Armenian and the other alphabetic scripts of the
// BMP's first part, IPA and phonetic extensions, Latin Extended Additional, Greek Extended, Cyrillic
// Extended-B, Latin Extended-D and -E. (CJK ideographs have no Latin look-alikes and are not scanned.)
constexpr std::pair<char32_t, char32_t> kScannedRanges[] = {
    {0x00A0, 0x2FFF}, {0xA640, 0xA69F}, {0xA720, 0xA7FF}, {0xAB30, 0xAB6F}};

struct Tables {
  // Other members of each code point's look-alike group (ASCII members included).
  absl::flat_hash_map<char32_t, std::vector<Glyph>> look_alikes;
  // The ASCII letters and digits each non-ASCII member looks like.
  absl::flat_hash_map<char32_t, std::u32string> ascii_look_alikes;
  // Code points of the scanned ranges the fast path converts (IsFastPathSafe), for IsFastPathCodePoint.
  std::vector<bool> fast_path = std::vector<bool>(0x10000);
};

struct SpoofCloser {
  void operator()(USpoofChecker* sc) const { uspoof_close(sc); }
};

// The skeleton (UTS#39) of one code point with its nonspacing and enclosing marks removed.
std::u32string StrippedSkeleton(const USpoofChecker* sc, char32_t cp) {
  std::array<UChar, 2> in{};
  int32_t in_len = 0;
  U16_APPEND_UNSAFE(in.data(), in_len, static_cast<UChar32>(cp));
  std::array<UChar, 32> out{};
  UErrorCode err = U_ZERO_ERROR;
  const int32_t out_len = uspoof_getSkeleton(sc, 0, in.data(), in_len, out.data(), out.size(), &err);
  std::u32string key;
  if (U_FAILURE(err)) return key;
  for (int32_t i = 0; i < out_len;) {
    UChar32 c = 0;
    U16_NEXT(out.data(), i, out_len, c);
    const int8_t type = u_charType(c);
    if (type != U_NON_SPACING_MARK && type != U_ENCLOSING_MARK) key.push_back(static_cast<char32_t>(c));
  }
  return key;
}

// For a Latin small capital (ᴍ, ɢ, ʀ: Unicode's confusables data pairs them with other rare letters or with
// none, yet at x-height they pass for the lower-case letter), that lower-case letter; else 0.
char32_t SmallCapitalOf(char32_t cp) {
  std::array<char, 128> name{};
  UErrorCode err = U_ZERO_ERROR;
  const int32_t len = u_charName(static_cast<UChar32>(cp), U_UNICODE_CHAR_NAME, name.data(), name.size(), &err);
  constexpr std::string_view kPrefix = "LATIN LETTER SMALL CAPITAL ";
  const std::string_view n(name.data(), U_SUCCESS(err) ? static_cast<std::size_t>(len) : 0);
  if (n.size() != kPrefix.size() + 1 || n.substr(0, kPrefix.size()) != kPrefix) return 0;
  const char letter = n.back();
  if (letter < 'A' || letter > 'Z') return 0;
  return static_cast<char32_t>(letter - 'A' + 'a');
}

// A code point the fast path may convert without libidn2: IDNA2008 allows it in a label on its own (PVALID:
// no contextual rule), it is written left to right, lower-case, and never combines with what precedes it
// under NFC (so a label of such code points is NFC and maps to itself).
bool IsFastPathSafe(const icu::Normalizer2& nfc, char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  if (u_getCombiningClass(c) != 0 || !nfc.hasBoundaryBefore(c) || u_tolower(c) != c) return false;
  const UCharDirection dir = u_charDirection(c);
  if (dir != U_LEFT_TO_RIGHT) return false;
  std::string utf8;
  AppendUtf8(cp, &utf8);
  std::uint8_t* ascii = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(utf8.c_str()), &ascii, IDN2_NO_TR46);
  idn2_free(ascii);
  return rc == IDN2_OK;
}

// A fast-path code point that may also serve as a look-alike: it decomposes into at most a base and one
// mark (characters stacked with several marks, such as ǖ or ậ, are not convincing look-alikes).
bool IsUsableGlyph(const icu::Normalizer2& nfd, char32_t cp) {
  icu::UnicodeString decomposition;
  return !nfd.getDecomposition(static_cast<UChar32>(cp), decomposition) || decomposition.countChar32() <= 2;
}

Tables BuildTables() {
  Tables t;
  UErrorCode err = U_ZERO_ERROR;
  std::unique_ptr<USpoofChecker, SpoofCloser> sc(uspoof_open(&err));
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
  if (U_FAILURE(err)) std::abort();  // ICU's data is part of the library; without it nothing works

  absl::flat_hash_map<std::u32string, std::vector<Glyph>> groups;
  auto add = [&](char32_t cp) {
    const char32_t lower = SmallCapitalOf(cp);
    std::u32string key = StrippedSkeleton(sc.get(), lower != 0 ? lower : cp);
    if (!key.empty()) groups[std::move(key)].push_back(Glyph{cp, ScriptOf(cp)});
  };
  for (char32_t c = U'0'; c <= U'9'; ++c) add(c);
  for (char32_t c = U'a'; c <= U'z'; ++c) add(c);
  for (const auto& [first, last] : kScannedRanges) {
    for (char32_t cp = first; cp <= last; ++cp) {
      if (!IsFastPathSafe(*nfc, cp)) continue;
      // Look-alike group or not (the engine's own table adds a few letters Unicode pairs with nothing, such
      // as ƈ and ꞑ), and look-alike or not (an input's ǖ or ậ): the fast path is exact for all of them.
      t.fast_path[cp] = true;
      if (IsUsableGlyph(*nfd, cp)) add(cp);
    }
  }
  // Lower-case letters whose skeleton is a capital ASCII letter (Cyrillic н, т, к look like H, T, K) are
  // small-capital shapes too: at x-height they pass for the lower-case letter, so they join its group.
  for (char32_t upper = U'A'; upper <= U'Z'; ++upper) {
    auto it = groups.find(std::u32string(1, upper));
    if (it == groups.end()) continue;
    std::vector<Glyph>& lower = groups[StrippedSkeleton(sc.get(), upper - U'A' + U'a')];
    for (const Glyph& g : it->second) {
      const bool present = std::any_of(lower.begin(), lower.end(), [&](const Glyph& o) { return o.cp == g.cp; });
      if (g.cp >= 0x80 && !present) lower.push_back(g);
    }
  }
  for (const auto& [key, members] : groups) {
    if (members.size() < 2) continue;
    std::u32string ascii;
    for (const Glyph& g : members) {
      if (g.cp < 0x80) ascii.push_back(g.cp);
    }
    for (const Glyph& g : members) {
      std::vector<Glyph>& others = t.look_alikes[g.cp];
      for (const Glyph& o : members) {
        if (o.cp != g.cp) others.push_back(o);
      }
      std::sort(others.begin(), others.end(), [](const Glyph& a, const Glyph& b) { return a.cp < b.cp; });
      if (g.cp >= 0x80 && !ascii.empty()) t.ascii_look_alikes[g.cp] = ascii;
      t.fast_path[g.cp] = true;
    }
  }
  return t;
}

const Tables& GetTables() {
  static const Tables* const tables = new Tables(BuildTables());
  return *tables;
}

bool IsAsciiLdh(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-'; }

}  // namespace

void PreloadTables() {
  GetTables();
  ScriptOf(0x80);  // the script table
}

Label DecodeUtf8(absl::string_view s) {
  Label out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const std::size_t len = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : 4;
    char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1Fu) : len == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

namespace {

// Writes cp's UTF-8 bytes at p (room for 4) and returns how many.
std::size_t PutUtf8(char32_t cp, char* p) {
  if (cp < 0x80) {
    p[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    p[0] = static_cast<char>(0xC0 | (cp >> 6));
    p[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    p[0] = static_cast<char>(0xE0 | (cp >> 12));
    p[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    p[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  p[0] = static_cast<char>(0xF0 | (cp >> 18));
  p[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  p[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  p[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

}  // namespace

void AppendUtf8(char32_t cp, std::string* out) {
  char buf[4];
  out->append(buf, PutUtf8(cp, buf));
}

void AppendUtf8(std::u32string_view text, std::string* out) {
  // One resize for the whole text (most candidates' Unicode form is built here), then trimmed.
  const std::size_t at = out->size();
  out->resize(at + 4 * text.size());
  char* p = out->data() + at;
  for (char32_t cp : text) p += PutUtf8(cp, p);
  out->resize(static_cast<std::size_t>(p - out->data()));
}

std::string EncodeUtf8(std::u32string_view label) {
  std::string out;
  AppendUtf8(label, &out);
  return out;
}

namespace {

int ScriptFromIcu(char32_t cp) {
  UErrorCode err = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(static_cast<UChar32>(cp), &err);
  if (U_FAILURE(err)) return kAnyScript;
  switch (script) {
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
      return kAnyScript;
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_HANGUL:
    case USCRIPT_BOPOMOFO:
      return USCRIPT_HAN;
    default:
      return script;
  }
}

// ScriptFromIcu for the code points below kScriptTableSize (the alphabetic scripts the look-alikes come from),
// built once: the single-script check runs on most candidates.
constexpr char32_t kScriptTableSize = 0x3000;
const std::vector<std::int16_t>& ScriptTable() {
  static const std::vector<std::int16_t>* const table = [] {
    auto* t = new std::vector<std::int16_t>(kScriptTableSize);
    for (char32_t cp = 0; cp < kScriptTableSize; ++cp) (*t)[cp] = static_cast<std::int16_t>(ScriptFromIcu(cp));
    return t;
  }();
  return *table;
}

}  // namespace

int ScriptOf(char32_t cp) {
  if (cp < 0x80) return (cp >= U'a' && cp <= U'z') || (cp >= U'A' && cp <= U'Z') ? USCRIPT_LATIN : kAnyScript;
  return cp < kScriptTableSize ? ScriptTable()[cp] : ScriptFromIcu(cp);
}

std::optional<int> LabelScript(std::u32string_view label) {
  int script = kAnyScript;
  for (char32_t cp : label) {
    const int s = ScriptOf(cp);
    if (s == kAnyScript) continue;
    if (script == kAnyScript) {
      script = s;
    } else if (s != script) {
      return std::nullopt;
    }
  }
  return script;
}

std::span<const Glyph> LookAlikes(char32_t cp) {
  const Tables& t = GetTables();
  auto it = t.look_alikes.find(cp);
  if (it == t.look_alikes.end()) return {};
  return it->second;
}

std::u32string_view AsciiLookAlikes(char32_t cp) {
  const Tables& t = GetTables();
  auto it = t.ascii_look_alikes.find(cp);
  if (it == t.ascii_look_alikes.end()) return {};
  return it->second;
}

bool IsFastPathCodePoint(char32_t cp) {
  if (cp < 0x80) return IsAsciiLdh(cp);
  return cp < 0x10000 && GetTables().fast_path[cp];
}

bool FastAsciiLabel(std::u32string_view label, std::string* out) {
  bool ascii = true;
  for (char32_t cp : label) {
    if (IsAsciiLdh(cp)) continue;
    if (!IsFastPathCodePoint(cp)) return false;
    ascii = false;
  }
  out->clear();
  if (ascii) {
    out->resize(label.size());
    std::transform(label.begin(), label.end(), out->begin(), [](char32_t cp) { return static_cast<char>(cp); });
    return true;
  }
  std::array<char, 256> buf;  // punycode_encode writes len bytes; no need to clear it first
  std::size_t len = buf.size();
  static_assert(sizeof(punycode_uint) == sizeof(char32_t));
  if (punycode_encode(label.size(), reinterpret_cast<const punycode_uint*>(label.data()), nullptr, &len, buf.data()) !=
      PUNYCODE_SUCCESS) {
    return false;
  }
  out->append("xn--").append(buf.data(), len);
  return true;
}

}  // namespace squatstream::permute
