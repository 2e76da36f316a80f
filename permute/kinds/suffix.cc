// The suffix and the name around the label: another suffix, the suffix folded into the label, a TLD
// appended, a subdomain's dot left out, a word with the label under another suffix. Name-level kinds: each
// makes whole names. Each kind's generator next to its may-produce check (see families.h); the checks read
// an ASCII domain and name (from an ASCII input these kinds make ASCII names only).
#include <algorithm>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "permute/kinds/families.h"

namespace squatstream::permute::internal {
namespace {

// Common public suffixes a squatter (or the brand, defensively) registers instead of the original's, the most
// used first: tld-swap makes its names in this order, and tld-swap runs early (kRunOrder in registry.cc), so
// a stream asks about example.net and example.org before example.dev. keyword-tld takes its suffixes in this
// order too, until its budget ends (600 names: for a short label, the first ten suffixes besides the input's). The
// ranks are by how many names each holds (registries' and Verisign's published counts, in round numbers) and by how
// often a brand's name is registered under it:
constexpr absl::string_view kSwapSuffixes[] = {
    // The three legacy gTLDs: by far the most names (com over 150 million, net and org over 10 million each),
    // and the first suffixes a brand registers defensively.
    "com",
    "net",
    "org",
    // .co, one keystroke from .com, drew defensive registrations from brands at its launch; .info and .biz,
    // the other legacy gTLDs brands cover.
    "co",
    "info",
    "biz",
    // The largest European ccTLDs (about 10 million names or more each), then two a US or tech brand covers.
    "de",
    "uk",
    "co.uk",
    "io",
    "us",
    // The other large ccTLDs, roughly by size (millions of names each).
    "cn",
    "ru",
    "nl",
    "br",
    "eu",
    "fr",
    "it",
    "au",
    "ca",
    "in",
    "ch",
    "es",
    "jp",
    // New gTLDs: large zones, but mostly cheap bulk registrations unrelated to a given brand.
    "xyz",
    "top",
    "online",
    "site",
    "app",
    "dev",
};

// Country TLDs appended after the original suffix (example.com.it).
constexpr absl::string_view kAppendedTlds[] = {"it", "de", "fr", "co", "io", "us", "ru", "cn", "br", "in"};

// Generic TLDs that carry a faux-TLD label (example-co-uk.com).
constexpr absl::string_view kFauxTldHosts[] = {"com", "net", "org"};

template <std::size_t N>
bool Listed(absl::string_view s, const absl::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

// Whether `s` is `suffix` with each dot replaced by `dot` ("" drops them).
bool SuffixFolded(absl::string_view s, absl::string_view suffix, absl::string_view dot) {
  for (absl::string_view part : absl::StrSplit(suffix, '.')) {
    if (!absl::ConsumePrefix(&s, part)) return false;
    if (part.end() != suffix.end() && !absl::ConsumePrefix(&s, dot)) return false;
  }
  return s.empty();
}

// What follows prefix + label in `name`, when the name starts with them (the "head" of most of these names).
bool AfterHead(const ParsedDomain& d, absl::string_view name, absl::string_view* rest) {
  *rest = name;
  return absl::ConsumePrefix(rest, d.prefix) && absl::ConsumePrefix(rest, d.label);
}

std::string Dashed(absl::string_view suffix) { return absl::StrReplaceAll(suffix, {{".", "-"}}); }

}  // namespace

std::span<const absl::string_view> SwapSuffixes() { return kSwapSuffixes; }

// tld-swap: the suffix replaced by another common one.
void TldSwapNames(const ParsedDomain& d, NameEmit emit) {
  for (absl::string_view suffix : kSwapSuffixes) {
    if (suffix != d.suffix) emit(absl::StrCat(d.prefix, d.label, ".", suffix));
  }
}
bool TldSwapMayProduce(const ParsedDomain& d, absl::string_view name) {  // head "." other-suffix
  absl::string_view rest;
  return AfterHead(d, name, &rest) && absl::ConsumePrefix(&rest, ".") && Listed(rest, kSwapSuffixes);
}

// various: the suffix folded into the label: examplecom.com, example-com.com.
void VariousNames(const ParsedDomain& d, NameEmit emit) {
  emit(absl::StrCat(d.prefix, d.label, absl::StrReplaceAll(d.suffix, {{".", ""}}), ".", d.suffix));
  emit(absl::StrCat(d.prefix, d.label, "-", Dashed(d.suffix), ".", d.suffix));
}
// head, the suffix without its dots or with dashes for them, "." suffix
bool VariousMayProduce(const ParsedDomain& d, absl::string_view name) {
  absl::string_view rest;
  return AfterHead(d, name, &rest) && absl::ConsumeSuffix(&rest, d.suffix) && absl::ConsumeSuffix(&rest, ".") &&
         (SuffixFolded(rest, d.suffix, "") || (absl::ConsumePrefix(&rest, "-") && SuffixFolded(rest, d.suffix, "-")));
}

// faux-tld: example-co-uk.com.
void FauxTldNames(const ParsedDomain& d, NameEmit emit) {
  for (absl::string_view host : kFauxTldHosts) {
    if (host != d.suffix) emit(absl::StrCat(d.prefix, d.label, "-", Dashed(d.suffix), ".", host));
  }
}
// head "-", the suffix with dashes for its dots, "." a host TLD
bool FauxTldMayProduce(const ParsedDomain& d, absl::string_view name) {
  absl::string_view rest;
  if (!AfterHead(d, name, &rest) || !absl::ConsumePrefix(&rest, "-")) return false;
  const std::size_t dot = rest.rfind('.');
  return dot != absl::string_view::npos && SuffixFolded(rest.substr(0, dot), d.suffix, "-") &&
         Listed(rest.substr(dot + 1), kFauxTldHosts);
}

// tld-append: example.com.it.
void TldAppendNames(const ParsedDomain& d, NameEmit emit) {
  for (absl::string_view tld : kAppendedTlds) emit(absl::StrCat(d.prefix, d.label, ".", d.suffix, ".", tld));
}
bool TldAppendMayProduce(const ParsedDomain& d, absl::string_view name) {  // head "." suffix "." tld
  absl::string_view rest;
  return AfterHead(d, name, &rest) && absl::ConsumePrefix(&rest, ".") && absl::ConsumePrefix(&rest, d.suffix) &&
         absl::ConsumePrefix(&rest, ".") && Listed(rest, kAppendedTlds);
}

// missing-dot: wwwexample.com, and mail.example.com -> mailexample.com.
void MissingDotNames(const ParsedDomain& d, NameEmit emit) {
  emit(absl::StrCat("www", d.label, ".", d.suffix));
  if (!d.prefix.empty()) emit(absl::StrCat(absl::StrReplaceAll(d.prefix, {{".", ""}}), d.label, ".", d.suffix));
}
bool MissingDotMayProduce(const ParsedDomain& d, absl::string_view name) {  // something label "." suffix
  absl::string_view front = name;
  return absl::ConsumeSuffix(&front, d.suffix) && absl::ConsumeSuffix(&front, ".") &&
         absl::ConsumeSuffix(&front, d.label) && !front.empty();
}

// keyword-tld: a dictionary word with the label under another common suffix: loginexample.net.
void KeywordTldNames(const ParsedDomain& d, NameEmit emit) {
  if (!IsLatinOrScriptless(DecodeUtf8(d.label))) return;  // English words would mix scripts
  for (absl::string_view suffix : kSwapSuffixes) {
    if (suffix == d.suffix) continue;
    for (std::u32string_view w32 : DictionaryWords()) {
      const std::string w = EncodeUtf8(w32);
      if (!emit(absl::StrCat(d.prefix, w, d.label, ".", suffix)) ||
          !emit(absl::StrCat(d.prefix, w, "-", d.label, ".", suffix)) ||
          !emit(absl::StrCat(d.prefix, d.label, w, ".", suffix)) ||
          !emit(absl::StrCat(d.prefix, d.label, "-", w, ".", suffix))) {
        return;
      }
    }
  }
}
// prefix, a word and the label in some order (one label), "." another suffix
bool KeywordTldMayProduce(const ParsedDomain& d, absl::string_view name) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, d.prefix)) return false;
  const std::size_t dot = rest.find('.');
  if (dot == absl::string_view::npos) return false;
  const absl::string_view core = rest.substr(0, dot), suffix = rest.substr(dot + 1);
  return core.size() > d.label.size() && (absl::StartsWith(core, d.label) || absl::EndsWith(core, d.label)) &&
         suffix != d.suffix && Listed(suffix, kSwapSuffixes);
}

}  // namespace squatstream::permute::internal
