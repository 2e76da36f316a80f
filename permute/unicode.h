// Unicode support for the permutation engine: code points, scripts, look-alike characters and the fast
// conversion of candidate labels to their ASCII (punycode) form.
//
// Look-alikes come from Unicode's confusables data (UTS#39) through ICU's spoof checker: two code points
// look alike when their skeletons are equal once combining marks are removed (so "à", "ạ" and "ɑ" all look
// like "a"). Only characters IDNA2008 allows (PVALID, checked with libidn2) and that need no contextual or
// bidirectional rule are kept, so a label built from them is valid IDNA2008 as long as it is NFC, which
// these characters preserve. The tables are built once, on first use, and are immutable afterwards: every
// function here is safe to call from any thread.
#ifndef SQUATSTREAM_PERMUTE_UNICODE_H_
#define SQUATSTREAM_PERMUTE_UNICODE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace squatstream::permute {

using Label = std::u32string;

// Builds the look-alike tables now (tens of milliseconds) rather than on the first request that needs them. Servers
// call it at start-up; calling it again does nothing.
void PreloadTables();

// Decodes UTF-8 that is known to be valid (every string the engine holds passed ParseDomain).
Label DecodeUtf8(absl::string_view s);
// Appends the UTF-8 encoding of one code point, or of a whole text, to *out; EncodeUtf8 returns it.
void AppendUtf8(char32_t cp, std::string* out);
void AppendUtf8(std::u32string_view text, std::string* out);
std::string EncodeUtf8(std::u32string_view label);

// A script code (ICU UScriptCode) for the single-script rule. Han, Hiragana, Katakana, Hangul and Bopomofo
// share one value (the CJK scripts a Japanese, Chinese or Korean label legitimately mixes); Common and
// Inherited characters (digits, hyphen, combining marks) have kAnyScript.
inline constexpr int kAnyScript = -1;
int ScriptOf(char32_t cp);

// The script every character of `label` belongs to (kAnyScript when it holds digits and hyphens only), or
// nullopt when it mixes scripts, which registries refuse (UTS#39 single-script restriction).
std::optional<int> LabelScript(std::u32string_view label);

struct Glyph {
  char32_t cp;
  int script;
};

// Code points that look like `cp` (not `cp` itself), in code point order: its group under the
// mark-stripped skeleton. Empty for characters without a look-alike.
std::span<const Glyph> LookAlikes(char32_t cp);

// The ASCII letters or digits `cp` looks like (its skeleton, marks removed, is that character); empty for
// ASCII input and for characters that look like no ASCII character.
std::u32string_view AsciiLookAlikes(char32_t cp);

// True when `cp` may appear in a label that is converted by the fast path of FastAsciiLabel: an ASCII
// letter, digit or hyphen, or a character of the scanned blocks that is IDNA2008 PVALID, lower-case, left to
// right and NFC-stable as described above, whether or not it is a look-alike (look-alikes must also be at
// most a base and one mark; ǖ and ậ are not, yet convert on the fast path).
bool IsFastPathCodePoint(char32_t cp);

// Converts one label to its ASCII form when every code point passes IsFastPathCodePoint: itself when it is
// all ASCII, else "xn--" + punycode (RFC 3492, libidn). Returns false when the fast path does not apply
// (the caller then uses libidn2); the LDH and length rules are the caller's.
bool FastAsciiLabel(std::u32string_view label, std::string* out);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_UNICODE_H_
