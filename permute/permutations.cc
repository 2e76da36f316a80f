#include "permute/permutations.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace squatstream::permute {
namespace {

using Label = std::u32string;

constexpr std::array kAllKinds = {
    Kind::kAddition,   Kind::kBitsquatting, Kind::kHomoglyph, Kind::kHyphenation,   Kind::kInsertion,  Kind::kOmission,
    Kind::kRepetition, Kind::kReplacement,  Kind::kSubdomain, Kind::kTransposition, Kind::kVowelSwap,  Kind::kTldSwap,
    Kind::kPlural,     Kind::kVarious,      Kind::kFauxTld,   Kind::kTldAppend,     Kind::kMissingDot, Kind::kStripDash,
    Kind::kMapped,     Kind::kVowelShuffle, Kind::kCyrillic,  Kind::kNumberWord,    Kind::kDictionary,
};

constexpr std::array<absl::string_view, 24> kKindNames = {
    "",           "addition",   "bitsquatting",  "homoglyph", "hyphenation",   "insertion",
    "omission",   "repetition", "replacement",   "subdomain", "transposition", "vowel-swap",
    "tld-swap",   "plural",     "various",       "faux-tld",  "tld-append",    "missing-dot",
    "strip-dash", "mapped",     "vowel-shuffle", "cyrillic",  "number-word",   "dictionary",
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

// At most this many vowel orders per label, so long labels stay bounded.
constexpr int kVowelShuffleBudget = 120;

// Calls emit(l with each occurrence of `from`, one at a time, replaced by `to`).
template <typename Emit>
void ReplaceEach(const std::u32string& l, std::u32string_view from, std::u32string_view to, Emit&& emit) {
  for (std::size_t at = l.find(from); at != std::u32string::npos; at = l.find(from, at + 1)) {
    emit(std::u32string(l).replace(at, from.size(), to));
  }
}

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

// Calls emit(label) for every variant of `l` that a label-level `kind` defines.
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
    case Kind::kPlural:  // "s", or "es" after s, x, z, ch, sh
      emit(l + U"s");
      if (n > 0 && (l.back() == U's' || l.back() == U'x' || l.back() == U'z' ||
                    (n > 1 && l[n - 1] == U'h' && (l[n - 2] == U'c' || l[n - 2] == U's')))) {
        emit(l + U"es");
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
    case Kind::kVowelShuffle: {  // the vowels in every other order, bounded
      std::vector<std::size_t> at;
      Label vowels;
      for (std::size_t i = 0; i < n; ++i) {
        if (kVowels.find(l[i]) != std::u32string_view::npos) {
          at.push_back(i);
          vowels.push_back(l[i]);
        }
      }
      std::sort(vowels.begin(), vowels.end());
      int budget = kVowelShuffleBudget;
      do {
        Label v = l;
        for (std::size_t k = 0; k < at.size(); ++k) v[at[k]] = vowels[k];
        if (v != l) {
          emit(std::move(v));
          --budget;
        }
      } while (budget > 0 && std::next_permutation(vowels.begin(), vowels.end()));
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
    case Kind::kNumberWord:  // a number word for its digit, or a digit for its word
      for (const auto& [from, to] : kNumberWords) ReplaceEach(l, from, to, emit);
      break;
    case Kind::kDictionary:  // word+label, word-label, label+word, label-word
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
      break;  // name-level kinds: PermuteName
  }
}

bool IsNameLevel(Kind kind) {
  return kind == Kind::kTldSwap || kind == Kind::kVarious || kind == Kind::kFauxTld || kind == Kind::kTldAppend ||
         kind == Kind::kMissingDot;
}

// Calls emit(name) for every whole-name variant of `d` that a name-level `kind` defines.
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
    default:
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
  if (IsNameLevel(kind)) {
    PermuteName(kind, domain_, [&](const std::string& name) { Offer(kind, name); });
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

std::vector<Kind> Classify(const ParsedDomain& target, absl::string_view candidate_ascii) {
  std::vector<Kind> kinds;
  if (candidate_ascii == target.ascii) return kinds;
  for (Kind kind : kAllKinds) {
    // One kind at a time, so that a candidate two kinds produce is credited to both (the generator's
    // dedup would credit only the first).
    Generator generator(target, {.kinds = {kind}, .max_candidates = SIZE_MAX});
    while (std::optional<Candidate> c = generator.Next()) {
      if (c->ascii == candidate_ascii) {
        kinds.push_back(kind);
        break;
      }
    }
  }
  return kinds;
}

std::vector<Candidate> GenerateAll(const ParsedDomain& domain, const GeneratorOptions& options) {
  Generator generator(domain, options);
  std::vector<Candidate> out;
  while (std::optional<Candidate> c = generator.Next()) out.push_back(*std::move(c));
  return out;
}

}  // namespace squatstream::permute
