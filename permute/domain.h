// Parsing and validation of the domain a client asks about.
//
// ParseDomain turns untrusted input (Unicode or ASCII/punycode) into a ParsedDomain split around its
// registrable label, using UTS#46 / IDNA2008 (libidn2) and the public suffix list (libpsl), or explains in
// an INVALID_ARGUMENT status which fault it found. Pure functions, no I/O beyond reading the public suffix
// list once; safe to call from any thread.
#ifndef SQUATSTREAM_PERMUTE_DOMAIN_H_
#define SQUATSTREAM_PERMUTE_DOMAIN_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace squatstream::permute {

// Limits from RFC 1035 (in ASCII form, without the trailing dot).
inline constexpr std::size_t kMaxDomainBytes = 253;
inline constexpr std::size_t kMaxLabelBytes = 63;

// A validated domain. Unicode fields are UTF-8 in NFC; ASCII fields are lower-case punycode.
struct ParsedDomain {
  std::string ascii;    // whole name, e.g. "www.xn--bcher-kva.co.uk"
  std::string unicode;  // whole name, e.g. "www.bücher.co.uk"
  std::string prefix;   // labels left of the registrable label, with their dot: "www." (Unicode)
  std::string label;    // the registrable label, the part that is permuted: "bücher" (Unicode)
  std::string suffix;   // the public suffix: "co.uk" (Unicode); for a name that is a suffix only through the
                        // list's private section, its ICANN suffix: "io" for github.io
};

// Validates `input` and splits it. Returns INVALID_ARGUMENT naming the fault for: an empty name, a name or
// label too long, invalid UTF-8, characters no hostname may hold, an IP address, a URL or a port, a single
// label (a TLD alone, or no TLD), a name that is itself an ICANN public suffix (co.uk), or a name IDNA2008
// rejects. One trailing dot is accepted, and the ideographic and full-width full stops (。．｡) separate
// labels as UTS#46 says.
//
// A name that is a public suffix only through the list's PRIVATE section (github.io, blogspot.com,
// herokuapp.com) is someone's registered domain: it is split under its ICANN suffix (label "github", suffix
// "io"). A name under such a suffix keeps it as its suffix (octocat.github.io: label "octocat", suffix
// "github.io").
absl::StatusOr<ParsedDomain> ParseDomain(absl::string_view input);

// Converts a candidate name (UTF-8, any mix of Unicode and ASCII labels) to its ASCII and Unicode forms,
// checking that it is a valid hostname under IDNA2008. Returns INVALID_ARGUMENT otherwise.
struct NameForms {
  std::string ascii;
  std::string unicode;
};
absl::StatusOr<NameForms> ToNameForms(absl::string_view name);

// INVALID_ARGUMENT when `name` is an IP address (v4 dotted quad, v6 in any form, bracketed or not), a URL
// (`http://example.com/path`) or a name with a port (`example.com:443`), saying which; else OK. ParseDomain
// checks this; callers that convert a name with ToNameForms check it themselves.
absl::Status CheckNotAddress(absl::string_view name);

// The name a registry holds for `ascii` (lower-case ASCII): its ICANN public suffix and one label more —
// "example.co.uk" for www.example.co.uk, "github.io" for octocat.github.io (the PRIVATE section's suffixes
// are registered names too). nullopt for a name that is itself an ICANN suffix, or has no suffix the list knows.
std::optional<std::string> RegisteredDomain(absl::string_view ascii);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_DOMAIN_H_
