#include "permute/permutations.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace squatstream::permute {
namespace {

using Label = std::u32string;

constexpr std::array kAllKinds = {
    Kind::kAddition,   Kind::kBitsquatting, Kind::kHomoglyph, Kind::kHyphenation,   Kind::kInsertion, Kind::kOmission,
    Kind::kRepetition, Kind::kReplacement,  Kind::kSubdomain, Kind::kTransposition, Kind::kVowelSwap, Kind::kTldSwap,
};

constexpr std::array<absl::string_view, 13> kKindNames = {
    "",           "addition",    "bitsquatting", "homoglyph",     "hyphenation", "insertion", "omission",
    "repetition", "replacement", "subdomain",    "transposition", "vowel-swap",  "tld-swap",
};

// Keys adjacent on a US QWERTY keyboard (same row and the rows above and below).
std::u32string_view QwertyNeighbours(char32_t c) {
  switch (c) {
    case U'1':
      return U"2q";
    case U'2':
      return U"3wq1";
    case U'3':
      return U"4ew2";
    case U'4':
      return U"5re3";
    case U'5':
      return U"6tr4";
    case U'6':
      return U"7yt5";
    case U'7':
      return U"8uy6";
    case U'8':
      return U"9iu7";
    case U'9':
      return U"0oi8";
    case U'0':
      return U"po9";
    case U'q':
      return U"12wa";
    case U'w':
      return U"3esaq2";
    case U'e':
      return U"4rdsw3";
    case U'r':
      return U"5tfde4";
    case U't':
      return U"6ygfr5";
    case U'y':
      return U"7uhgt6";
    case U'u':
      return U"8ijhy7";
    case U'i':
      return U"9okju8";
    case U'o':
      return U"0plki9";
    case U'p':
      return U"lo0";
    case U'a':
      return U"qwsz";
    case U's':
      return U"edxzaw";
    case U'd':
      return U"rfcxse";
    case U'f':
      return U"tgvcdr";
    case U'g':
      return U"yhbvft";
    case U'h':
      return U"ujnbgy";
    case U'j':
      return U"ikmnhu";
    case U'k':
      return U"olmji";
    case U'l':
      return U"kop";
    case U'z':
      return U"asx";
    case U'x':
      return U"zsdc";
    case U'c':
      return U"xdfv";
    case U'v':
      return U"cfgb";
    case U'b':
      return U"vghn";
    case U'n':
      return U"bhjm";
    case U'm':
      return U"njk";
    default:
      return U"";
  }
}

// A small hand table of look-alikes per ASCII letter: ASCII sequences, Latin letters with diacritics, and
// Greek/Cyrillic letters that render alike. Candidates that IDNA2008 rejects are dropped by the generator.
// (The full engine replaces this with Unicode confusables; see the permutation-engine issue.)
std::span<const std::u32string_view> Homoglyphs(char32_t c) {
  static constexpr std::u32string_view a[] = {U"à", U"á", U"â", U"ã", U"ä", U"å", U"ɑ", U"а"};
  static constexpr std::u32string_view b[] = {U"d", U"lb", U"ḃ"};
  static constexpr std::u32string_view cc[] = {U"e", U"ϲ", U"с", U"ċ", U"ć"};
  static constexpr std::u32string_view d[] = {U"b", U"cl", U"dl", U"ԁ"};
  static constexpr std::u32string_view e[] = {U"é", U"ê", U"ë", U"ē", U"ė", U"е"};
  static constexpr std::u32string_view f[] = {U"ƒ"};
  static constexpr std::u32string_view g[] = {U"q", U"ġ", U"ğ"};
  static constexpr std::u32string_view h[] = {U"lh", U"ĥ", U"һ"};
  static constexpr std::u32string_view i[] = {U"1", U"l", U"í", U"ï", U"ı", U"і"};
  static constexpr std::u32string_view j[] = {U"ј", U"ʝ"};
  static constexpr std::u32string_view k[] = {U"lk", U"ik", U"lc", U"ķ", U"κ"};
  static constexpr std::u32string_view l[] = {U"1", U"i", U"ɫ", U"ł"};
  static constexpr std::u32string_view m[] = {U"n", U"nn", U"rn", U"rr"};
  static constexpr std::u32string_view n[] = {U"m", U"r", U"ń", U"ñ"};
  static constexpr std::u32string_view o[] = {U"0", U"ο", U"о", U"ö", U"ó", U"ø"};
  static constexpr std::u32string_view p[] = {U"ρ", U"р"};
  static constexpr std::u32string_view q[] = {U"g", U"ԛ"};
  static constexpr std::u32string_view r[] = {U"ŕ", U"ř"};
  static constexpr std::u32string_view s[] = {U"ѕ", U"ś", U"ş"};
  static constexpr std::u32string_view t[] = {U"ţ", U"ť"};
  static constexpr std::u32string_view u[] = {U"μ", U"υ", U"ü", U"ú"};
  static constexpr std::u32string_view v[] = {U"ѵ", U"ν"};
  static constexpr std::u32string_view w[] = {U"vv", U"ѡ", U"ŵ"};
  static constexpr std::u32string_view x[] = {U"х", U"ҳ"};
  static constexpr std::u32string_view y[] = {U"у", U"ý", U"ÿ"};
  static constexpr std::u32string_view z[] = {U"ż", U"ź"};
  static constexpr std::span<const std::u32string_view> kTable[] = {a, b, cc, d, e, f, g, h, i, j, k, l, m,
                                                                    n, o, p,  q, r, s, t, u, v, w, x, y, z};
  if (c < U'a' || c > U'z') return {};
  return kTable[c - U'a'];
}

// Common public suffixes a squatter registers instead of the original's.
constexpr absl::string_view kSwapSuffixes[] = {
    "com", "net", "org", "info", "biz", "io", "co", "us", "uk", "co.uk", "de",  "fr",     "nl",   "eu",  "ru",
    "cn",  "jp",  "in",  "br",   "it",  "es", "ca", "au", "ch", "xyz",   "top", "online", "site", "app", "dev",
};

constexpr std::u32string_view kVowels = U"aeiou";

bool IsHostnameChar(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-'; }

Label DecodeUtf8(absl::string_view s) {
  Label out;
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

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Calls emit(label) for every variant of `l` that `kind` defines (kTldSwap excluded: it changes the suffix).
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
    case Kind::kHomoglyph:  // one character replaced by a look-alike sequence
      for (std::size_t i = 0; i < n; ++i) {
        for (std::u32string_view g : Homoglyphs(l[i])) {
          emit(Label(l.substr(0, i)).append(g).append(l.substr(i + 1)));
        }
      }
      break;
    case Kind::kHyphenation:  // a hyphen between two characters
      for (std::size_t i = 1; i < n; ++i) emit(Label(l).insert(i, 1, U'-'));
      break;
    case Kind::kInsertion:  // a keyboard neighbour typed just before or after a character
      for (std::size_t i = 0; i < n; ++i) {
        for (char32_t k : QwertyNeighbours(l[i])) {
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
    case Kind::kReplacement:  // one character replaced by a keyboard neighbour
      for (std::size_t i = 0; i < n; ++i) {
        for (char32_t k : QwertyNeighbours(l[i])) {
          Label v = l;
          v[i] = k;
          emit(std::move(v));
        }
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
        if (kVowels.find(l[i]) == std::u32string_view::npos) continue;
        for (char32_t v : kVowels) {
          if (v == l[i]) continue;
          Label w = l;
          w[i] = v;
          emit(std::move(w));
        }
      }
      break;
    case Kind::kTldSwap:
      break;
  }
}

}  // namespace

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

Generator::Generator(ParsedDomain domain, GeneratorOptions options)
    : domain_(std::move(domain)), options_(std::move(options)) {
  if (options_.kinds.empty()) options_.kinds.assign(kAllKinds.begin(), kAllKinds.end());
  seen_.insert(domain_.ascii);
}

std::optional<Candidate> Generator::Next() {
  if (generated_ >= options_.max_candidates) return std::nullopt;
  while (queue_pos_ == queue_.size()) {
    queue_.clear();
    queue_pos_ = 0;
    if (!RunNextKind()) return std::nullopt;
  }
  ++generated_;
  return std::move(queue_[queue_pos_++]);
}

bool Generator::RunNextKind() {
  if (next_kind_ >= options_.kinds.size()) return false;
  const Kind kind = options_.kinds[next_kind_++];
  if (kind == Kind::kTldSwap) {
    for (absl::string_view suffix : kSwapSuffixes) {
      if (suffix != domain_.suffix) Offer(kind, absl::StrCat(domain_.prefix, domain_.label, ".", suffix));
    }
    return true;
  }
  const Label label = DecodeUtf8(domain_.label);
  std::string name;
  PermuteLabel(kind, label, [&](const Label& variant) {
    name.assign(domain_.prefix);
    for (char32_t cp : variant) AppendUtf8(cp, &name);
    absl::StrAppend(&name, ".", domain_.suffix);
    Offer(kind, name);
  });
  return true;
}

void Generator::Offer(Kind kind, absl::string_view name) {
  absl::StatusOr<NameForms> forms = ToNameForms(name);
  if (!forms.ok() || !seen_.insert(forms->ascii).second) return;
  queue_.push_back(Candidate{kind, std::move(forms->ascii), std::move(forms->unicode)});
}

std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options) {
  Generator generator(domain, options);
  std::vector<Candidate> out;
  while (std::optional<Candidate> c = generator.Next()) out.push_back(*std::move(c));
  return out;
}

}  // namespace squatstream::permute
