// How many terminal columns text takes, and cutting and padding by that measure: what the CLI's table needs
// so that its rows line up with CJK, Thai or emoji names in them. Code points and bytes are not columns: 例 is
// two columns, the Thai vowel sign in ตั is none. The text is measured as the table prints it: after
// Displayable() (client/sanitize.h), so controls and format characters are already shown escaped.
#ifndef SQUATSTREAM_CLIENT_DISPLAY_WIDTH_H_
#define SQUATSTREAM_CLIENT_DISPLAY_WIDTH_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace squatstream::client {

// The columns code point `cp` takes on a terminal, as ICU's Unicode properties say: 0 for combining marks
// (general category Mn, Me), format characters (Cf: ZWJ, ZWNJ, the bidi controls), controls and the Hangul
// medial vowels and final consonants (U+1160-U+11FF, which join the syllable before them); 2 for East Asian
// Wide and Fullwidth characters and those with the Emoji_Presentation property (🙂); 1 for everything else,
// East Asian Ambiguous included (…, ±: one column outside CJK locales). Like wcwidth(3), per code point: an
// emoji made of several (a ZWJ sequence, a base and a VS16) may take fewer columns on a given terminal than
// the sum. Thread-safe (pure).
std::size_t CodePointWidth(char32_t cp);

// The columns `utf8` takes: the sum of its code points' widths; a byte that is not part of valid UTF-8 counts
// as one column (Displayable() never leaves one).
std::size_t DisplayWidth(absl::string_view utf8);

// `utf8` in at most `width` columns: as it is when it fits; else the code points that fit in `width` - 1
// columns (and the zero-width ones that follow them, so that a base keeps its marks), then "…" (one column).
// One column less than `width` when a wide character did not fit before the "…". "" for width 0.
std::string CutToWidth(absl::string_view utf8, std::size_t width);

// `utf8` in exactly `width` columns: CutToWidth(), then padded with spaces.
std::string FitToWidth(absl::string_view utf8, std::size_t width);

// `utf8` padded with spaces to at least `width` columns; never cut (one space after it when it is as wide or
// wider, so that the next column stays apart).
std::string PadToWidth(absl::string_view utf8, std::size_t width);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_DISPLAY_WIDTH_H_
