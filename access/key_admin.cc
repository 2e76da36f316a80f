#include "access/key_admin.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "access/api_key.h"
#include "access/scopes.h"

namespace squatstream::access {

absl::StatusOr<CreatedKey> CreateKey(store::Store& store, const NewKeySpec& spec, absl::Time now) {
  const std::string name(absl::StripAsciiWhitespace(spec.name));
  if (name.empty()) return absl::InvalidArgumentError("name: required (who or what the key is for)");
  if (name.size() > 200) return absl::InvalidArgumentError("name: longer than 200 characters");
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("name: holds a control character");
    }
  }
  if (absl::StripAsciiWhitespace(spec.scopes).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("scopes: required, one or more of ", ValidScopeNames()));
  }
  absl::StatusOr<ScopeSet> scopes = ParseScopes(spec.scopes);
  if (!scopes.ok()) return absl::InvalidArgumentError(absl::StrCat("scopes: ", scopes.status().message()));
  const std::pair<const char*, const std::optional<std::int64_t>*> quotas[] = {
      {"quota_candidates_per_hour", &spec.quota_candidates_per_hour},
      {"quota_concurrent_streams", &spec.quota_concurrent_streams},
      {"quota_watches", &spec.quota_watches}};
  for (const auto& [field, value] : quotas) {
    if (value->has_value() && **value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", **value, " is not a quota (1 or more; leave it out for the server's default)"));
    }
  }
  CreatedKey created;
  store::ApiKeyRow& row = created.row;
  row.name = name;
  row.scopes = FormatScopes(*scopes);
  row.created = absl::FromUnixMillis(absl::ToUnixMillis(now));  // what both engines keep
  if (spec.expires_in) {
    if (*spec.expires_in <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          "expires_in: must be in the future (leave it out for a key that never expires)");
    }
    row.expires = row.created + *spec.expires_in;
  }
  row.quota_candidates_per_hour = spec.quota_candidates_per_hour;
  row.quota_concurrent_streams = spec.quota_concurrent_streams;
  row.quota_watches = spec.quota_watches;
  // An id taken already (1 in 36^8 per key held): another id, a few times.
  absl::Status stored;
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
    if (!key.ok()) return key.status();
    row.id = key->id;
    row.hash = key->hash;
    stored = store.CreateApiKey(row);
    if (stored.ok()) {
      created.key = std::move(key->key);
      return created;
    }
    if (!absl::IsAlreadyExists(stored)) return stored;
  }
  return stored;
}

absl::StatusOr<std::string> ParseKeyId(std::string_view text) {
  std::string id(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  // The whole key pasted, or sqs_<id>: the id in it (the key itself is never repeated).
  if (IsWellFormedApiKey(id)) {
    id = id.substr(kApiKeyPrefix.size(), kApiKeyIdLength);
  } else if (absl::StartsWith(id, absl::string_view(kApiKeyPrefix.data(), kApiKeyPrefix.size()))) {
    id = id.substr(kApiKeyPrefix.size());
  }
  bool well_formed = id.size() == kApiKeyIdLength;
  for (const char c : id) well_formed = well_formed && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  if (!well_formed) {
    return absl::InvalidArgumentError(
        "an API key id is sqs_ and 8 lowercase letters or digits (squatstreamd keys list shows them)");
  }
  return id;
}

}  // namespace squatstream::access
