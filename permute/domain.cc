#include "permute/domain.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace squatstream::permute {
namespace {

// Input far beyond any valid name is rejected before any parsing, so its cost stays bounded. UTF-8 needs at
// most 4 bytes per character and punycode is never shorter than one byte per character.
constexpr std::size_t kMaxInputBytes = 4 * kMaxDomainBytes;

struct FreeDeleter {
  void operator()(void* p) const { idn2_free(p); }
};

// The public suffix list, loaded once: Debian's publicsuffix data when it is newer than libpsl's builtin.
const psl_ctx_t* PublicSuffixList() {
  static const psl_ctx_t* const psl = [] {
    const psl_ctx_t* ctx = psl_latest(nullptr);
    return ctx != nullptr ? ctx : psl_builtin();
  }();
  return psl;
}

// For a name that is a public suffix only through the list's PRIVATE section (github.io, blogspot.com,
// s3.amazonaws.com: suffixes their owners registered so that their users' sites count as registrable), the
// tail of `ascii` that is registered under its ICANN suffix: "github.io" (under "io"), "amazonaws.com" (under
// "com", with "s3." a subdomain). Such a name is someone's registered domain, so its look-alikes are
// worth generating. nullopt for a name that is an ICANN suffix (co.uk, and ck's *.ck), which nobody owns.
std::optional<absl::string_view> RegistrableUnderIcannSuffix(absl::string_view ascii) {
  const std::string name(ascii);
  if (psl_is_public_suffix2(PublicSuffixList(), name.c_str(), PSL_TYPE_ICANN)) return std::nullopt;
  // The ICANN suffix is the longest proper tail the ICANN section makes a suffix; the registered name is it
  // and one label more.
  for (std::size_t start = 0, dot = name.find('.'); dot != std::string::npos;
       start = dot + 1, dot = name.find('.', start)) {
    if (psl_is_public_suffix2(PublicSuffixList(), name.c_str() + dot + 1, PSL_TYPE_ICANN)) {
      return ascii.substr(start);
    }
  }
  return std::nullopt;
}

// Returns the length of the UTF-8 sequence starting at s[i], or 0 if it is not valid UTF-8.
std::size_t Utf8SequenceLength(absl::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  // Reject overlong forms, surrogates and values beyond Unicode.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return len;
}

bool IsLdh(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-'; }

bool IsAllDigits(absl::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

std::string Shorten(absl::string_view s) {
  constexpr std::size_t kShown = 24;
  return s.size() <= kShown ? std::string(s) : absl::StrCat(s.substr(0, kShown), "…");
}

absl::Status CheckLabels(absl::string_view name) {
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("domain \"%s\" has an empty label (a leading dot or two dots in a row)", Shorten(name)));
    }
    if (label.size() > kMaxLabelBytes) {
      return absl::InvalidArgumentError(absl::StrFormat("label \"%s\" is %d bytes long; at most %d are allowed",
                                                        Shorten(label), label.size(), kMaxLabelBytes));
    }
    if (label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(absl::StrFormat("label \"%s\" starts or ends with a hyphen", Shorten(label)));
    }
  }
  return absl::OkStatus();
}

bool LooksLikeIpAddress(absl::string_view name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (absl::StrContains(name, ':')) {  // IPv6, in any of its forms (inet_pton decides)
    in6_addr v6{};
    return inet_pton(AF_INET6, std::string(name).c_str(), &v6) == 1;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  return parts.size() == 4 && std::all_of(parts.begin(), parts.end(), IsAllDigits);
}

// What a user pasting a URL or host:port gets told, before the character check would call the ':' or '/'
// a character no hostname may hold. OK when `name` is neither.
absl::Status CheckNotUrlOrPort(absl::string_view name) {
  if (const std::size_t scheme = name.find("://"); scheme != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "\"%s\" is a URL, not a domain name; give the host name alone (what follows \"%s\" up to the next '/')",
        Shorten(name), name.substr(0, scheme + 3)));
  }
  if (const std::size_t colon = name.rfind(':'); colon != absl::string_view::npos && colon + 1 < name.size() &&
                                                 IsAllDigits(name.substr(colon + 1)) && name.find(':') == colon) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\" holds a port (\"%s\"); give the domain name alone", Shorten(name), name.substr(colon)));
  }
  return absl::OkStatus();
}

// UTS#46 (like IDNA2003 before it) treats the ideographic and full-width full stops as label separators:
// 。 (U+3002), ． (U+FF0E) and ｡ (U+FF61) become '.', as a browser's address bar makes them.
std::string MapFullStops(absl::string_view input) {
  return absl::StrReplaceAll(input, {{"\u3002", "."}, {"\uFF0E", "."}, {"\uFF61", "."}});
}

absl::StatusOr<std::string> ToAscii(absl::string_view name) {
  const std::string z(name);
  std::uint8_t* out = nullptr;
  const int rc =
      idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(z.c_str()), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<std::uint8_t, FreeDeleter> owned(out);
  if (rc != IDN2_OK) {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain \"%s\" is not a valid internationalized name: %s", Shorten(name), idn2_strerror(rc)));
  }
  return std::string(reinterpret_cast<const char*>(out));
}

absl::StatusOr<std::string> ToUnicode(const std::string& ascii) {
  if (!absl::StrContains(ascii, "xn--")) return ascii;
  char* out = nullptr;
  const int rc = idn2_to_unicode_8z8z(ascii.c_str(), &out, 0);
  std::unique_ptr<char, FreeDeleter> owned(out);
  if (rc != IDN2_OK) {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain \"%s\" has an invalid punycode label: %s", Shorten(ascii), idn2_strerror(rc)));
  }
  return std::string(out);
}

// Valid UTF-8, and no ASCII character a hostname may not hold (letters, digits, hyphens and dots only).
// Checked before libidn2, whose UTS#46 mapping would otherwise accept or silently drop some of them.
absl::Status CheckCharacters(absl::string_view input) {
  for (std::size_t i = 0; i < input.size();) {
    const std::size_t len = Utf8SequenceLength(input, i);
    if (len == 0) {
      return absl::InvalidArgumentError(absl::StrFormat("domain is not valid UTF-8 (byte 0x%02x at offset %d)",
                                                        static_cast<unsigned char>(input[i]), i));
    }
    if (len == 1 && !IsLdh(input[i]) && input[i] != '.') {
      const auto c = static_cast<unsigned char>(input[i]);
      const std::string shown = absl::ascii_isgraph(c) ? std::string(1, input[i]) : absl::StrFormat("\\x%02x", c);
      return absl::InvalidArgumentError(
          absl::StrFormat("domain contains '%s' (U+%04X) at offset %d, which no hostname may hold", shown, c, i));
    }
    i += len;
  }
  return absl::OkStatus();
}

// Fast path for names that are already plain ASCII: letters, digits, hyphens, and no label that IDNA
// reserves ("ab--" prefixes other than a well-formed "xn--", which goes through libidn2).
bool IsPlainLdhName(absl::string_view name) {
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' || label.back() == '-') return false;
    if (label.size() >= 4 && label[2] == '-' && label[3] == '-') return false;
    for (char c : label) {
      if (!IsLdh(c) || absl::ascii_isupper(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

}  // namespace

absl::Status CheckNotAddress(absl::string_view name) {
  if (LooksLikeIpAddress(name)) {
    return absl::InvalidArgumentError(absl::StrFormat("\"%s\" is an IP address, not a domain name", Shorten(name)));
  }
  return CheckNotUrlOrPort(name);
}

absl::StatusOr<NameForms> ToNameForms(absl::string_view name) {
  if (name.size() <= kMaxDomainBytes && IsPlainLdhName(name)) {
    return NameForms{std::string(name), std::string(name)};
  }
  if (name.size() > kMaxInputBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain is %d bytes long; at most %d are allowed", name.size(), kMaxDomainBytes));
  }
  if (absl::Status st = CheckCharacters(name); !st.ok()) return st;
  absl::StatusOr<std::string> ascii = ToAscii(name);
  if (!ascii.ok()) return ascii.status();
  if (ascii->size() > kMaxDomainBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("domain is %d bytes long in ASCII form; at most %d are allowed",
                                                      ascii->size(), kMaxDomainBytes));
  }
  if (absl::Status s = CheckLabels(*ascii); !s.ok()) return s;
  // UTS#46 maps some non-ASCII characters to ASCII ones no hostname may hold (U+00A0 to a space).
  if (!std::all_of(ascii->begin(), ascii->end(), [](char c) { return IsLdh(c) || c == '.'; })) {
    return absl::InvalidArgumentError(absl::StrFormat("domain \"%s\" maps to characters no hostname may hold (\"%s\")",
                                                      Shorten(name), Shorten(*ascii)));
  }
  absl::StatusOr<std::string> unicode = ToUnicode(*ascii);
  if (!unicode.ok()) return unicode.status();
  // libidn2 passes some A-labels whose decoded label IDNA2008 disallows (xn--6aa66e is NBSP, U+019B,
  // NBSP): a valid A-label is what its own U-label encodes to.
  if (*unicode != *ascii) {
    absl::StatusOr<std::string> again = ToAscii(*unicode);
    if (!again.ok() || *again != *ascii) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "domain \"%s\" has a punycode label that is not a valid IDNA2008 label (it does not round-trip)",
          Shorten(*ascii)));
    }
  }
  return NameForms{*std::move(ascii), *std::move(unicode)};
}

absl::StatusOr<ParsedDomain> ParseDomain(absl::string_view raw_input) {
  if (raw_input.empty()) return absl::InvalidArgumentError("domain is empty");
  if (raw_input.size() > kMaxInputBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain is %d bytes long; at most %d are allowed", raw_input.size(), kMaxDomainBytes));
  }
  const std::string mapped = MapFullStops(raw_input);
  const absl::string_view input = mapped;
  absl::string_view name = input;
  if (name.back() == '.') name.remove_suffix(1);  // a fully qualified name's root dot
  // Before the character check, so that "::1" is called an address and "example.com:443" a name with a
  // port, rather than names with a bad character.
  if (absl::Status st = CheckNotAddress(name); !st.ok()) return st;
  if (absl::Status st = CheckCharacters(input); !st.ok()) return st;
  const bool ascii_only =
      std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isascii(static_cast<unsigned char>(c)); });
  if (ascii_only && name.size() > kMaxDomainBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain is %d bytes long; at most %d are allowed", name.size(), kMaxDomainBytes));
  }
  if (absl::Status s = CheckLabels(name); !s.ok()) return s;
  if (!absl::StrContains(name, '.')) {
    const std::string lower = absl::AsciiStrToLower(name);
    if (ascii_only && psl_is_public_suffix2(PublicSuffixList(), lower.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "domain \"%s\" is a top-level domain alone; give a name registered under it, such as example.%s",
          Shorten(name), Shorten(lower)));
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("domain \"%s\" has no top-level domain (expected a name such as example.com)", Shorten(name)));
  }

  absl::StatusOr<NameForms> forms = ToNameForms(name);
  if (!forms.ok()) return forms.status();
  const absl::string_view tld = absl::string_view(forms->ascii).substr(forms->ascii.rfind('.') + 1);
  if (IsAllDigits(tld)) {
    return absl::InvalidArgumentError(absl::StrFormat("top-level domain \"%s\" is numeric", tld));
  }

  // The registrable part: the public suffix and one label more (octocat.github.io under github.io).
  const absl::string_view ascii_all = forms->ascii;
  absl::string_view ascii_registrable;
  if (const char* registrable = psl_registrable_domain(PublicSuffixList(), forms->ascii.c_str());
      registrable != nullptr) {
    ascii_registrable = registrable;  // points into forms->ascii
  } else if (std::optional<absl::string_view> owned = RegistrableUnderIcannSuffix(ascii_all)) {
    ascii_registrable = *owned;  // github.io itself: a registered name under io
  } else {
    return absl::InvalidArgumentError(
        absl::StrFormat("domain \"%s\" is a public suffix; give a name registered under it, such as example.%s",
                        forms->unicode, forms->unicode));
  }
  // Split the Unicode form at the same label positions as the ASCII form (labels correspond one to one).
  const std::size_t prefix_labels = static_cast<std::size_t>(
      std::count(ascii_all.begin(), ascii_all.end() - static_cast<std::ptrdiff_t>(ascii_registrable.size()), '.'));
  std::vector<absl::string_view> labels = absl::StrSplit(forms->unicode, '.');
  ParsedDomain parsed;
  for (std::size_t i = 0; i < prefix_labels; ++i) absl::StrAppend(&parsed.prefix, labels[i], ".");
  parsed.label = std::string(labels[prefix_labels]);
  std::vector<absl::string_view> rest(labels.begin() + static_cast<std::ptrdiff_t>(prefix_labels) + 1, labels.end());
  parsed.suffix = absl::StrJoin(rest, ".");
  parsed.ascii = std::move(forms->ascii);
  parsed.unicode = std::move(forms->unicode);
  return parsed;
}

std::optional<std::string> RegisteredDomain(absl::string_view ascii) {
  std::optional<absl::string_view> registered = RegistrableUnderIcannSuffix(ascii);
  if (!registered.has_value()) return std::nullopt;
  return std::string(*registered);
}

}  // namespace squatstream::permute
