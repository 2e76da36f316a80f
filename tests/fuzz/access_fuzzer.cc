// libFuzzer target: what callers and administrators hand the access layer — the `authorization` metadata any
// caller sends (access::ParseAuthorization), a key's scopes (ParseScopes) and a key's id (ParseKeyId), the
// admin's input to `squatstreamd keys` and the admin RPC. Beyond "never crash": an error's message is one of
// the fixed ones (so it never repeats the key's secret, nor anything the caller sent), a parsed key is well formed and
// its id is the key's 8 characters, the scopes read back from their formatting, a parsed id is 8 [a-z0-9] taken from
// the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "access/api_key.h"
#include "access/key_admin.h"
#include "access/scopes.h"

namespace sa = squatstream::access;

namespace {

// This absl's string_view is its own type, not std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

void CheckAuthorization(const std::string_view value) {
  sa::AuthFailure reason = sa::AuthFailure::kNone;
  const absl::StatusOr<sa::BearerKey> parsed = sa::ParseAuthorization(value, &reason);
  if (parsed.ok()) {
    if (reason != sa::AuthFailure::kNone) std::abort();
    if (!sa::IsWellFormedApiKey(parsed->key)) std::abort();
    if (parsed->key.size() != sa::kApiKeyLength) std::abort();
    if (parsed->id != parsed->key.substr(sa::kApiKeyPrefix.size(), sa::kApiKeyIdLength)) std::abort();
    if (!absl::StrContains(Av(value), parsed->key)) std::abort();
    return;
  }
  if (parsed.status().code() != absl::StatusCode::kUnauthenticated) std::abort();
  if (reason != sa::AuthFailure::kMissing && reason != sa::AuthFailure::kMalformed) std::abort();
  // The message is one of the fixed ones (the same for every value failing the same way): it cannot repeat the
  // secret, nor any other part of what the caller sent.
  static const std::string* const kMessages[] = {
      new std::string(sa::ParseAuthorization("").status().message()),
      new std::string(sa::ParseAuthorization("Basic x").status().message()),
      new std::string(sa::ParseAuthorization("Bearer x").status().message()),
  };
  const absl::string_view message = parsed.status().message();
  bool known = false;
  for (const std::string* m : kMessages) known = known || message == *m;
  if (!known) std::abort();
}

void CheckScopes(const std::string_view text) {
  const absl::StatusOr<sa::ScopeSet> scopes = sa::ParseScopes(text);
  if (!scopes.ok()) {
    if (scopes.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return;
  }
  if (scopes->empty()) std::abort();  // "no scope at all" is an error
  const std::string formatted = sa::FormatScopes(*scopes);
  const absl::StatusOr<sa::ScopeSet> again = sa::ParseScopes(formatted);
  if (!again.ok() || *again != *scopes) std::abort();
  for (const sa::Scope s : sa::kAllScopes) {
    if (scopes->Has(s) && !absl::StrContains(Av(text), Av(sa::ScopeName(s)))) std::abort();
  }
}

void CheckKeyId(const std::string_view text) {
  const absl::StatusOr<std::string> id = sa::ParseKeyId(text);
  if (!id.ok()) {
    if (id.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    static const std::string* const kMessage = new std::string(sa::ParseKeyId("!").status().message());
    if (id.status().message() != *kMessage) std::abort();  // fixed: it never repeats a pasted key
    return;
  }
  if (id->size() != sa::kApiKeyIdLength) std::abort();
  for (const char c : *id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) && !absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      std::abort();
    }
  }
  if (!absl::StrContains(Av(text), *id)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckAuthorization(text);
  CheckScopes(text);
  CheckKeyId(text);
  return 0;
}
