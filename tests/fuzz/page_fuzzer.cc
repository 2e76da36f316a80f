// libFuzzer target: web pages as the banner stage reads them (title, normalised text, TLSH, parking signs)
// and the UTF-8 repair every server string goes through. Never crash; outputs bounded and valid.
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
