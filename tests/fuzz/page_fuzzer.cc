// libFuzzer target: web pages as the banner stage reads them (title, normalised text, TLSH, parking signs)
// and the UTF-8 repair every server string goes through. Never crash; outputs bounded and valid; no control
// character in a title.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "workers/banner/page.h"

namespace banner = squatstream::workers::banner;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view html(reinterpret_cast<const char*>(data), size);
  const std::string title = banner::ExtractTitle(html);
  if (title.size() > 256) std::abort();
  // A title is for display: valid UTF-8 with no control character (C0 — whitespace collapsed to spaces —,
  // DEL, C1 as UTF-8), whatever references or raw bytes the page holds.
  if (banner::ToValidUtf8(title) != title) std::abort();
  for (std::size_t i = 0; i < title.size(); ++i) {
    const auto c = static_cast<unsigned char>(title[i]);
    if (c < 0x20 || c == 0x7F) std::abort();
    if (c == 0xC2 && i + 1 < title.size() && (static_cast<unsigned char>(title[i + 1]) & 0xE0) == 0x80) std::abort();
  }
  const std::string valid = banner::ToValidUtf8(html);
  if (banner::ToValidUtf8(valid) != valid) std::abort();  // repaired text is left alone
  const std::string normal = banner::NormaliseHtml(html);
  if (normal.size() > size) std::abort();
  if (const auto hash = banner::PageHash(html)) {
    const auto self = banner::Similarity(*hash, *hash);
    if (!self.has_value() || *self != 100) std::abort();
  }
  google::protobuf::RepeatedPtrField<std::string> ns;
  *ns.Add() = std::string(html.substr(0, 64));
  for (const std::string& s : banner::ParkedSignals(html, ns)) {
    if (s.rfind("ns:", 0) != 0 && s.rfind("page:", 0) != 0) std::abort();
  }
  return 0;
}
