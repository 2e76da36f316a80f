#include "access/scopes.h"

#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace squatstream::access {
namespace {
// Debian's Abseil has its own string_view: the conversion at the calls into it.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kScan:
      return "scan";
    case Scope::kClassify:
      return "classify";
    case Scope::kWatchRead:
      return "watch:read";
    case Scope::kWatchWrite:
      return "watch:write";
    case Scope::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Scope> ScopeFromName(std::string_view name) {
  for (Scope s : kAllScopes) {
    if (ScopeName(s) == name) return s;
  }
  return std::nullopt;
}

std::string ValidScopeNames() {
  std::string out;
  for (Scope s : kAllScopes) absl::StrAppend(&out, out.empty() ? "" : ", ", Av(ScopeName(s)));
  return out;
}

absl::StatusOr<ScopeSet> ParseScopes(std::string_view text) {
  ScopeSet out;
  for (absl::string_view raw : absl::StrSplit(Av(text), ',')) {
    const absl::string_view item = absl::StripAsciiWhitespace(raw);
    if (item.empty()) continue;
    std::optional<Scope> s = ScopeFromName(std::string_view(item.data(), item.size()));
    if (!s.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown scope '", item, "': the scopes are ", ValidScopeNames()));
    }
    out.Add(*s);
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no scope given: name one or more of ", ValidScopeNames()));
  }
  return out;
}

std::string FormatScopes(ScopeSet scopes) {
  std::string out;
  for (Scope s : kAllScopes) {
    if (scopes.Has(s)) absl::StrAppend(&out, out.empty() ? "" : ",", Av(ScopeName(s)));
  }
  return out;
}

}  // namespace squatstream::access
