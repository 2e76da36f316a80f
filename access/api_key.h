// API keys: how they are made, hashed and read from a request. A key reads sqs_<id>_<secret>: "sqs_" so that a
// leaked one is recognisable (secret scanners, logs), <id> 8 random characters [a-z0-9] that name the key in
// the store, listings and messages (not a secret), <secret> 32 random bytes (256 bits, OpenSSL RAND_bytes) as
// base64url without padding (43 characters). The store keeps only HashApiKey(key); the key is shown once, when
// it is made. No gRPC here: the adapter hands the `authorization` metadata's value to ParseAuthorization (or to
// KeyBook::Authenticate, which calls it).
#ifndef SQUATSTREAM_ACCESS_API_KEY_H_
#define SQUATSTREAM_ACCESS_API_KEY_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace squatstream::access {

inline constexpr std::string_view kApiKeyPrefix = "sqs_";
inline constexpr std::size_t kApiKeyIdLength = 8;
inline constexpr std::size_t kApiKeySecretLength = 43;  // base64url of 32 bytes, no padding
inline constexpr std::size_t kApiKeyLength = 4 + kApiKeyIdLength + 1 + kApiKeySecretLength;

// Why a request was not authenticated (the `reason` label of squatstream_auth_failures_total; "scope" is the
// service's, from Require).
enum class AuthFailure { kNone, kMissing, kMalformed, kUnknown, kExpired, kRevoked };
// "none", "missing", "malformed", "unknown", "expired", "revoked".
std::string_view AuthFailureName(AuthFailure reason);

struct GeneratedApiKey {
  std::string key;   // sqs_<id>_<secret>: show it once, never store or log it
  std::string id;    // <id>
  std::string hash;  // HashApiKey(key): what the store keeps
};

// A new key from OpenSSL's CSPRNG. INTERNAL when RAND_bytes fails (the message says so; no partial key).
absl::StatusOr<GeneratedApiKey> GenerateApiKey();

// Lowercase hex SHA-256 of the whole key (64 characters), OpenSSL EVP. A fast hash is right here: the secret has
// 256 random bits, so there is nothing to guess slowly.
std::string HashApiKey(std::string_view key);

// Whether `hash` (as HashApiKey returns) equals `expected`, compared in constant time (CRYPTO_memcmp); false for
// different lengths.
bool HashesEqual(std::string_view hash, std::string_view expected);

// Whether `key` has the form sqs_<8 [a-z0-9]>_<43 [A-Za-z0-9_-]>.
bool IsWellFormedApiKey(std::string_view key);

struct BearerKey {
  std::string id;   // the key's id
  std::string key;  // the whole key (a secret: never log it)
};

// Reads the value of the `authorization` metadata: "Bearer <key>" (the scheme case-insensitive, spaces around
// tolerated). UNAUTHENTICATED with a message that names the fault and the next step, and never repeats the
// value: kMissing for an empty value, kMalformed for another scheme or a key not of the form above. `reason`
// (may be null) is set to kNone on success.
absl::StatusOr<BearerKey> ParseAuthorization(std::string_view value, AuthFailure* reason = nullptr);

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_API_KEY_H_
