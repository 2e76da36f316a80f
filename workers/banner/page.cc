#include "workers/banner/page.h"

#include <tlsh.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace squatstream::workers::banner {
namespace {

constexpr std::size_t kMaxTitle = 256;

// Parking services' name server domains (a name server ends with one of them).
constexpr absl::string_view kParkingNameServers[] = {
    "sedoparking.com", "parkingcrew.net", "bodis.com",         "above.com",       "parklogic.com",
    "dan.com",         "afternic.com",    "dsredirection.com", "hugedomains.com", "uniregistrymarket.link",
    "ztomy.com",       "smartname.com",   "parkingspa.com"};

// Page markers: a parking service's script or a for-sale phrase (lower case; the page is lower-cased).
constexpr absl::string_view kParkedPhrases[] = {"this domain may be for sale",
                                                "buy this domain",
                                                "this domain is for sale",
                                                "domain is parked",
                                                "parked free",
                                                "the domain name is for sale",
                                                "is available for purchase",
                                                "sedoparking.com",
                                                "parkingcrew.net",
                                                "bodis.com",
                                                "afternic.com/forsale",
                                                "dan.com/buy-domain",
                                                "hugedomains.com"};

constexpr std::uint32_t kReplacement = 0xFFFD;
constexpr absl::string_view kReplacementUtf8 = "\xef\xbf\xbd";

// The characters the HTML standard's tokenizer gives numeric references to 0x80-0x9F (Windows-1252's); 0
// where it gives none (0x81, 0x8D, 0x8F, 0x90, 0x9D: it keeps those as C1 controls).
constexpr std::array<std::uint32_t, 32> kWindows1252 = {0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                                        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
                                                        0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

// What the numeric reference &#N; stands for: as the HTML standard says ("numeric character reference end
// state": 0, surrogates and past U+10FFFF are U+FFFD; 0x80-0x9F Windows-1252's characters, so &#x9b; is
// U+203A, not CSI), except that no control character comes out, because a title is for display: the five
// C1 values the standard leaves as they are, DEL and the C0 controls other than whitespace are U+FFFD too
// (the standard keeps them, as a parse error). Whitespace references (&#9; &#10; ...) stay whitespace, which
// the title collapses.
std::uint32_t NumericReference(std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kReplacement;
  if (cp >= 0x80 && cp <= 0x9F) return kWindows1252[cp - 0x80] != 0 ? kWindows1252[cp - 0x80] : kReplacement;
  if (cp == 0x7F || (cp < 0x20 && !absl::ascii_isspace(static_cast<unsigned char>(cp)))) return kReplacement;
  return cp;
}

void AppendCodePoint(std::string* out, std::uint32_t cp) {
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

// Decodes the entity at text[0] == '&' into `out`; returns how many bytes it took (1: not an entity).
std::size_t DecodeEntity(absl::string_view text, std::string* out) {
  const std::size_t semi = text.substr(0, 12).find(';');
  if (semi == absl::string_view::npos) {
    out->push_back('&');
    return 1;
  }
  const absl::string_view name = text.substr(1, semi - 1);
  static constexpr std::array<std::pair<absl::string_view, absl::string_view>, 6> kNamed = {
      {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "}}};
  for (const auto& [n, v] : kNamed) {
    if (name == n) {
      out->append(v.data(), v.size());
      return semi + 1;
    }
  }
  std::uint32_t cp = 0;
  if (name.size() > 1 && name[0] == '#' &&
      ((name[1] == 'x' || name[1] == 'X') ? absl::SimpleHexAtoi(name.substr(2), &cp)
                                          : absl::SimpleAtoi(name.substr(1), &cp))) {
    AppendCodePoint(out, NumericReference(cp));
    return semi + 1;
  }
  out->push_back('&');
  return 1;
}

// `text` (valid UTF-8) with each control character but whitespace — C0 (NUL too: the standard's RCDATA
// state makes it U+FFFD), DEL, C1 (U+0080-U+009F, C2 80-9F in UTF-8) — as U+FFFD: what a page's title holds
// raw, as what its references decode to, never drives a terminal.
std::string ReplaceControls(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && !absl::ascii_isspace(c)) || c == 0x7F) {
      out.append(kReplacementUtf8.data(), kReplacementUtf8.size());
    } else if (c == 0xC2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0u) == 0x80u) {
      out.append(kReplacementUtf8.data(), kReplacementUtf8.size());
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void CutUtf8(std::string* s, std::size_t max) {
  if (s->size() <= max) return;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>((*s)[end]) & 0xC0) == 0x80) --end;
  s->resize(end);
}

// Position of `needle` (lower case) in `hay` ignoring ASCII case, from `from`; npos when absent.
std::size_t FindIgnoreCase(absl::string_view hay, absl::string_view needle, std::size_t from = 0) {
  if (needle.empty() || hay.size() < needle.size()) return absl::string_view::npos;
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    if (absl::EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return i;
  }
  return absl::string_view::npos;
}

}  // namespace

std::string ExtractTitle(absl::string_view html) {
  html = html.substr(0, std::size_t{1} << 20);
  std::size_t open = FindIgnoreCase(html, "<title");
  // "<titlex" is another tag: the name must end there.
  while (open != absl::string_view::npos && open + 6 < html.size() && html[open + 6] != '>' &&
         !absl::ascii_isspace(static_cast<unsigned char>(html[open + 6]))) {
    open = FindIgnoreCase(html, "<title", open + 6);
  }
  if (open == absl::string_view::npos) return "";
  const std::size_t start = html.find('>', open);
  if (start == absl::string_view::npos) return "";
  std::size_t end = FindIgnoreCase(html, "</title", start);
  if (end == absl::string_view::npos) end = std::min(html.size(), start + 1 + 4 * kMaxTitle);
  const absl::string_view raw = html.substr(start + 1, std::min(end - start - 1, 8 * kMaxTitle));
  std::string decoded;
  for (std::size_t i = 0; i < raw.size();) {
    if (raw[i] == '&') {
      i += DecodeEntity(raw.substr(i), &decoded);
    } else {
      decoded.push_back(raw[i++]);
    }
  }
  // Raw bytes that are not UTF-8 (a Latin-1 page) as U+FFFD, then the controls (entities decode to none).
  const std::string clean = ReplaceControls(ToValidUtf8(decoded));
  std::string title;
  bool space = false;
  for (char c : clean) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = !title.empty();
      continue;
    }
    if (space) title.push_back(' ');
    space = false;
    title.push_back(c);
  }
  CutUtf8(&title, kMaxTitle);
  return title;
}

std::string NormaliseHtml(absl::string_view html) {
  std::string lower = absl::AsciiStrToLower(html.substr(0, std::size_t{4} << 20));
  std::string out;
  out.reserve(lower.size());
  absl::string_view rest = lower;
  bool space = false;
  while (!rest.empty()) {
    // Dropped whole: comments, scripts, styles.
    absl::string_view close;
    if (rest.front() != '<') {
      // the common case: no tag to drop here
    } else if (absl::StartsWith(rest, "<!--")) {
      close = "-->";
    } else if (absl::StartsWith(rest, "<script")) {
      close = "</script>";
    } else if (absl::StartsWith(rest, "<style")) {
      close = "</style>";
    }
    if (!close.empty()) {
      const std::size_t end = rest.find(close);
      rest.remove_prefix(end == absl::string_view::npos ? rest.size() : end + close.size());
      continue;
    }
    const char c = rest.front();
    rest.remove_prefix(1);
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> PageHash(absl::string_view html) {
  // The first 64 KiB of normalised text: a page's identity is in its start, and TLSH costs ~23 us a KiB here
  // (docs/BENCHMARKS.md): a 256 KiB page would take 6 ms of a strand.
  const std::string text = NormaliseHtml(html.substr(0, std::size_t{96} << 10)).substr(0, std::size_t{64} << 10);
  if (text.size() < MIN_DATA_LENGTH) return std::nullopt;
  Tlsh t;
  t.update(reinterpret_cast<const unsigned char*>(text.data()), static_cast<unsigned int>(text.size()));
  t.final();
  const char* hash = t.getHash();
  if (hash == nullptr || *hash == '\0') return std::nullopt;
  return std::string(hash);
}

std::optional<int> Similarity(const std::string& a, const std::string& b) {
  Tlsh x, y;
  if (x.fromTlshStr(a.c_str()) != 0 || y.fromTlshStr(b.c_str()) != 0) return std::nullopt;
  const int distance = x.totalDiff(&y);
  return 100 - std::min(distance, 300) / 3;
}

std::vector<std::string> ParkedSignals(absl::string_view html,
                                       const google::protobuf::RepeatedPtrField<std::string>& name_servers) {
  std::vector<std::string> signals;
  for (const std::string& ns : name_servers) {
    const std::string host = absl::AsciiStrToLower(ns);
    for (absl::string_view parking : kParkingNameServers) {
      if (host == parking || absl::EndsWith(host, absl::StrCat(".", parking))) {
        signals.push_back(absl::StrCat("ns:", parking));
        break;
      }
    }
  }
  const std::string page = absl::AsciiStrToLower(html.substr(0, std::size_t{1} << 20));
  for (absl::string_view phrase : kParkedPhrases) {
    if (absl::StrContains(page, phrase)) signals.push_back(absl::StrCat("page:", phrase));
  }
  std::sort(signals.begin(), signals.end());
  signals.erase(std::unique(signals.begin(), signals.end()), signals.end());
  return signals;
}

}  // namespace squatstream::workers::banner
