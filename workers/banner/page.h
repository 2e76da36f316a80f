// What the banner stage reads from a web page, a stranger's bytes (fuzzed: tests/fuzz/page_fuzzer.cc): its
// title, a similarity hash, and signs of a parked domain.
//
// Similarity: TLSH (Trend Micro's locality-sensitive hash, Debian libtlsh) over normalised HTML — lower case,
// comments, scripts and styles dropped, whitespace runs as one space — so that a re-served copy with other
// tracking scripts still scores as the same page; the first 64 KiB of it (of the page's first 96 KiB). TLSH
// needs at least 256 bytes with some variety (a
// smaller page has no hash: similarity unknown). Score = 100 - min(distance, 300) / 3: 100 identical, a
// near copy ~80-95, unrelated pages ~0-40.
#ifndef SQUATSTREAM_WORKERS_BANNER_PAGE_H_
#define SQUATSTREAM_WORKERS_BANNER_PAGE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "workers/utf8.h"

namespace squatstream::workers::banner {

// The first <title>'s text: entities &amp; &lt; &gt; &quot; &apos; &nbsp; &#N; &#xN; decoded, whitespace
// collapsed, at most 256 bytes (cut at a UTF-8 boundary); "" when there is none. Valid UTF-8 (bytes that are
// not: U+FFFD) without control characters: numeric references as the HTML standard maps them (&#x9b; is
// U+203A, &#0;, surrogates and past U+10FFFF U+FFFD), and every C0 control but whitespace, DEL and C1 control
// that would remain, raw or from a reference, U+FFFD. Format characters (bidi overrides) are kept: the client
// shows them escaped (client/sanitize.h).
std::string ExtractTitle(absl::string_view html);

// The HTML as the similarity hash sees it (see above).
std::string NormaliseHtml(absl::string_view html);

// The TLSH of the normalised page, or nullopt when it is too small or uniform to have one.
std::optional<std::string> PageHash(absl::string_view html);

// 0-100 from two PageHash values; nullopt when either does not parse.
std::optional<int> Similarity(const std::string& a, const std::string& b);

// Why the domain looks parked: its name servers among well-known parking services' ("ns:sedoparking.com"),
// or the page carries a parking service's marker or a for-sale phrase ("page:buy this domain"). Empty: no sign.
std::vector<std::string> ParkedSignals(absl::string_view html,
                                       const google::protobuf::RepeatedPtrField<std::string>& name_servers);

// Servers send Latin-1 titles, raw bytes in headers and certificate names: every string the stage keeps is
// made valid UTF-8 (workers/utf8.h).
using workers::MakeValidUtf8;
using workers::ToValidUtf8;

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_PAGE_H_
