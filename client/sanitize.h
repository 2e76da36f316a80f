// What the CLI prints of strangers' text. The owners of look-alike domains write page titles, Server headers,
// SMTP and SSH banners, registry answers and TXT records; the client prints them to a terminal (which acts on
// escape sequences: ESC, the C1 controls U+009B CSI and U+009D OSC, OSC 8 links) and into CSV that a
// spreadsheet opens (which evaluates a cell that starts with = + - @). This is the one place that makes them
// safe to show: every cell of the table and of the CSV goes through here, and the JSON lines too.
#ifndef SQUATSTREAM_CLIENT_SANITIZE_H_
#define SQUATSTREAM_CLIENT_SANITIZE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace squatstream::client {

// A code point read from UTF-8 at s[i] and how many bytes it took; size 0 when the bytes there are not valid
// UTF-8 (a stray continuation byte, a cut or overlong sequence, a surrogate, past U+10FFFF). The one decoder
// of the sanitiser and the display width (display_width.h).
struct Decoded {
  char32_t cp = 0;
  std::size_t size = 0;
};
Decoded DecodeAt(absl::string_view s, std::size_t i);

// Whether code point `cp` is shown escaped rather than printed: the controls (C0, DEL, C1), Unicode's format
// characters (category Cf: the bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width spaces and
// joiners, the soft hyphen, BOM, interlinear annotation and tag characters, ...), the line and paragraph
// separators U+2028/U+2029, and the unassigned code points Unicode reserves as default-ignorable (the rest of
// the tag block, U+2065, U+FFF0-U+FFF8): a terminal either acts on them or shows nothing for them. Categories
// as ICU knows them.
bool IsHiddenOrControl(char32_t cp);

// `text` as the table and the CSV print it: each code point IsHiddenOrControl() says as an escape — `\x1b`
// below U+0080, `\u202e` up to U+FFFF, `\U000e0041` above (lower-case hex) — and each byte that is not part of
// valid UTF-8 as `\xff`; everything else as it is (a backslash too, so a stranger's literal "\x1b" reads like
// an escaped ESC; the JSON lines keep the exact text). The result is valid UTF-8 with none of those code
// points. Thread-safe (pure).
std::string Displayable(absl::string_view text);

// One CSV field (RFC 4180) of `text`: Displayable(text); a cell that starts with = + - @ tab or CR, which a
// spreadsheet would read as a formula, gets a single quote in front (OWASP's "CSV injection" advice) and is
// quoted — except a plain decimal number ("-1", "+2.5": a spreadsheet reads a number, nothing to run) and a
// lone "-" (the "nothing to look up" mark), which stay as they are; quoted with doubled quotes when it holds
// a comma or a quote. Applied to every field, ours and strangers' alike.
std::string CsvCell(absl::string_view text);

// A JSON text (as protobuf's printer writes it: non-ASCII only inside strings) with each code point
// IsHiddenOrControl() says, left raw by the printer, written as a \uXXXX escape (a surrogate pair above
// U+FFFF): the same JSON value, every string exact, nothing a terminal acts on. Invalid UTF-8 is left as it is.
std::string EscapeHiddenInJson(absl::string_view json);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_SANITIZE_H_
