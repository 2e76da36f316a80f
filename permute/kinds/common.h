// What the kind families (permute/kinds/*.cc) share: the LabelDiff their may-produce checks read, and a
// few helpers several of them use. Internal to permute.
#ifndef SQUATSTREAM_PERMUTE_KINDS_COMMON_H_
#define SQUATSTREAM_PERMUTE_KINDS_COMMON_H_

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/functional/function_ref.h"
#include "permute/unicode.h"

namespace squatstream::permute::internal {

// Receives one variant a kind makes; returns false once the kind's budget is spent (the kinds that can
// exceed their budget stop there, the others may go on calling it).
using LabelEmit = absl::FunctionRef<bool(const Label&)>;
using NameEmit = absl::FunctionRef<bool(const std::string&)>;

// A permuted label `v` next to the (ASCII) input label `l`: their lengths and common prefix and suffix
// lengths (each as long as it goes, so prefix + suffix may exceed either length).
struct LabelDiff {
  std::u32string_view l, v;
  std::size_t n, m, prefix, suffix;
  bool v_ascii;

  LabelDiff(std::u32string_view label, std::u32string_view variant)
      : l(label), v(variant), n(label.size()), m(variant.size()), prefix(0), suffix(0) {
    v_ascii = std::all_of(v.begin(), v.end(), [](char32_t c) { return c < 0x80; });
    const std::size_t shorter = std::min(n, m);
    while (prefix < shorter && l[prefix] == v[prefix]) ++prefix;
    while (suffix < shorter && l[n - 1 - suffix] == v[m - 1 - suffix]) ++suffix;
  }
  // The one position where a same-length variant differs, or npos.
  std::size_t OneChanged() const { return m == n && prefix < n && prefix + suffix == n - 1 ? prefix : npos; }
  // Whether v is l with `from`, at some position, replaced by `to`.
  bool Replaced(std::u32string_view from, std::u32string_view to) const {
    if (m + from.size() != n + to.size()) return false;
    // v[0, i) = l[0, i) needs i <= prefix; v[i + |to|, m) = l[i + |from|, n) needs n - i - |from| <= suffix.
    const std::size_t lo = n >= from.size() + suffix ? n - from.size() - suffix : 0;
    for (std::size_t i = lo; i <= prefix && i + from.size() <= n; ++i) {
      if (l.substr(i, from.size()) == from && v.substr(i, to.size()) == to) return true;
    }
    return false;
  }
  template <typename Ok>
  bool InsertedAt(Ok&& ok) const {  // v is l with v[i] inserted at some position i where ok(i) holds
    if (m != n + 1) return false;
    for (std::size_t i = n > suffix ? n - suffix : 0; i <= prefix && i < m; ++i) {
      if (ok(i)) return true;
    }
    return false;
  }
  static constexpr std::size_t npos = std::u32string_view::npos;
};

using Replacement = std::pair<std::u32string_view, std::u32string_view>;

// Calls emit(l with each occurrence of `from`, one at a time, replaced by `to`).
inline void ReplaceEach(const Label& l, std::u32string_view from, std::u32string_view to, LabelEmit emit) {
  for (std::size_t at = l.find(from); at != Label::npos; at = l.find(from, at + 1)) {
    emit(Label(l).replace(at, from.size(), to));
  }
}

// Whether v is l with one occurrence of some pair's `from` replaced by its `to`.
template <std::size_t N>
bool ReplacedByAny(const LabelDiff& d, const Replacement (&pairs)[N]) {
  for (const auto& [from, to] : pairs) {
    if (d.Replaced(from, to)) return true;
  }
  return false;
}

// Whether an English word may join the label without mixing scripts.
inline bool IsLatinOrScriptless(const Label& l) {
  const std::optional<int> script = LabelScript(l);
  return script.has_value() && (*script == kAnyScript || *script == ScriptOf(U'a'));
}

}  // namespace squatstream::permute::internal

#endif  // SQUATSTREAM_PERMUTE_KINDS_COMMON_H_
