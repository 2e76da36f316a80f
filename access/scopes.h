// What an API key may do: its scopes. A key holds a set of them (ScopeSet, a bit mask); each RPC needs one
// (the service's handlers say which, KeyBook::Require checks it). Kept in the store as their names joined by
// commas ("scan,watch:read"), which is also how `squatstreamd keys create --scopes` takes them.
#ifndef SQUATSTREAM_ACCESS_SCOPES_H_
#define SQUATSTREAM_ACCESS_SCOPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace squatstream::access {

enum class Scope : std::uint8_t {
  kScan,        // "scan": EnrichDomain and the other scanning RPCs
  kClassify,    // "classify": classification without a scan
  kWatchRead,   // "watch:read": read watches, observations, events
  kWatchWrite,  // "watch:write": create, change, delete watches; triage
  kAdmin,       // "admin": manage keys and the server
};

inline constexpr Scope kAllScopes[] = {Scope::kScan, Scope::kClassify, Scope::kWatchRead, Scope::kWatchWrite,
                                       Scope::kAdmin};

// The scope's name as keys, messages and the store spell it ("watch:write").
std::string_view ScopeName(Scope scope);
// The scope a name spells (exactly, lowercase); nullopt for none.
std::optional<Scope> ScopeFromName(std::string_view name);

// A set of scopes: a value type, cheap to copy, thread-compatible.
class ScopeSet {
 public:
  ScopeSet() = default;
  ScopeSet(std::initializer_list<Scope> scopes) {
    for (Scope s : scopes) Add(s);
  }
  void Add(Scope s) { bits_ |= Bit(s); }
  bool Has(Scope s) const { return (bits_ & Bit(s)) != 0; }
  bool empty() const { return bits_ == 0; }
  std::uint32_t bits() const { return bits_; }
  friend bool operator==(ScopeSet a, ScopeSet b) { return a.bits_ == b.bits_; }
  friend bool operator!=(ScopeSet a, ScopeSet b) { return a.bits_ != b.bits_; }

 private:
  static std::uint32_t Bit(Scope s) { return std::uint32_t{1} << static_cast<unsigned>(s); }
  std::uint32_t bits_ = 0;
};

// Parses comma-separated scope names ("scan,watch:read"; spaces around a name and empty items are ignored,
// a name given twice counts once). INVALID_ARGUMENT naming an unknown scope and listing the valid ones, or when
// no scope is given at all.
absl::StatusOr<ScopeSet> ParseScopes(std::string_view text);
// The scopes' names joined by commas, in kAllScopes order ("" for none); ParseScopes reads it back.
std::string FormatScopes(ScopeSet scopes);
// Every valid name, joined by ", " (for messages and --help).
std::string ValidScopeNames();

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_SCOPES_H_
