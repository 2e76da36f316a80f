// Managing API keys — create, list, revoke — the same for `squatstreamd keys` (daemon/keys_cli) and the admin
// RPC (service/access_service): the checks of a new key's settings, its generation, and what is stored (the
// hash only). No gRPC.
#ifndef SQUATSTREAM_ACCESS_KEY_ADMIN_H_
#define SQUATSTREAM_ACCESS_KEY_ADMIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace squatstream::access {

// A key to create. Quotas left unset (or 0) take the server's defaults.
struct NewKeySpec {
  std::string name;                          // required, at most 100 printable characters
  std::string scopes;                        // "scan,watch:read": at least one
  std::optional<absl::Duration> expires_in;  // unset: never expires
  std::optional<std::int64_t> quota_candidates_per_hour, quota_concurrent_streams, quota_watches;  // > 0
};

struct CreatedKey {
  store::ApiKeyRow row;  // as stored (hash, not the key)
  std::string key;       // the whole key: shown once, never stored
};

// Checks `spec` (INVALID_ARGUMENT naming the fault: an unknown scope, an empty name, a quota below 1, an
// expiry not in the future), generates the key and stores its row. The store's error otherwise.
absl::StatusOr<CreatedKey> CreateKey(store::Store& store, const NewKeySpec& spec, absl::Time now);

// "sqs_ab12cd34" or "ab12cd34" → "ab12cd34"; INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> ParseKeyId(std::string_view text);

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_KEY_ADMIN_H_
