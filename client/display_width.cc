#include "client/display_width.h"

#include <unicode/uchar.h>

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/sanitize.h"

namespace squatstream::client {
namespace {

// One code point read from UTF-8 at `i` and its length; length 1 and kInvalid for a byte that does not start
// a valid sequence (counted as one column, as the sanitiser shows such a byte as \xff).
constexpr char32_t kInvalid = 0xFFFFFFFF;

// The sanitiser's decoder, an invalid byte as one code point kInvalid (one column, shown as \xff).
Decoded Next(absl::string_view s, std::size_t i) {
  const Decoded d = DecodeAt(s, i);
  return d.size == 0 ? Decoded{kInvalid, 1} : d;
}

std::size_t Width(const Decoded& d) { return d.cp == kInvalid ? 1 : CodePointWidth(d.cp); }

}  // namespace

std::size_t CodePointWidth(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;
  if (cp < 0x7F) return 1;  // printable ASCII: the common case, no lookup
  if (cp > 0x10FFFF) return 1;
  const auto c = static_cast<UChar32>(cp);
  switch (static_cast<UCharCategory>(u_charType(c))) {
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_FORMAT_CHAR:
    case U_CONTROL_CHAR:
      return 0;
    default:
      break;
  }
  if (cp >= 0x1160 && cp <= 0x11FF) return 0;
  switch (static_cast<UEastAsianWidth>(u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH))) {
    case U_EA_WIDE:
    case U_EA_FULLWIDTH:
      return 2;
    default:
      break;
  }
  return u_hasBinaryProperty(c, UCHAR_EMOJI_PRESENTATION) ? 2 : 1;
}

std::size_t DisplayWidth(absl::string_view utf8) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < utf8.size();) {
    const Decoded d = Next(utf8, i);
    width += Width(d);
    i += d.size;
  }
  return width;
}

std::string CutToWidth(absl::string_view utf8, std::size_t width) {
  if (width == 0) return "";
  if (DisplayWidth(utf8) <= width) return std::string(utf8);
  // Keep what fits in width - 1 columns, with the zero-width code points after the last kept one (a Thai
  // consonant keeps its vowel and tone marks), then the ellipsis.
  std::size_t used = 0;
  std::size_t end = 0;
  while (end < utf8.size()) {
    const Decoded d = Next(utf8, end);
    const std::size_t w = Width(d);
    if (w > 0 && used + w > width - 1) break;
    used += w;
    end += d.size;
  }
  return absl::StrCat(utf8.substr(0, end), "…");
}

std::string FitToWidth(absl::string_view utf8, std::size_t width) {
  std::string out = CutToWidth(utf8, width);
  const std::size_t used = DisplayWidth(out);
  if (used < width) out.append(width - used, ' ');
  return out;
}

std::string PadToWidth(absl::string_view utf8, std::size_t width) {
  const std::size_t total = DisplayWidth(utf8);
  return std::string(utf8) + std::string(total >= width ? 1 : width - total, ' ');
}

}  // namespace squatstream::client
