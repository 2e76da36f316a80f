#include "access/api_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace squatstream::access {
namespace {

// Debian's Abseil has its own string_view: the conversion at the calls into it.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

absl::Status Malformed(AuthFailure* reason, std::string_view what) {
  if (reason != nullptr) *reason = AuthFailure::kMalformed;
  return absl::UnauthenticatedError(absl::StrCat(
      Av(what),
      ": send the metadata 'authorization: Bearer sqs_<id>_<secret>' with the whole key as squatstreamd keys "
      "create printed it"));
}

bool IsIdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsSecretChar(char c) { return IsIdChar(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

}  // namespace

std::string_view AuthFailureName(AuthFailure reason) {
  switch (reason) {
    case AuthFailure::kNone:
      return "none";
    case AuthFailure::kMissing:
      return "missing";
    case AuthFailure::kMalformed:
      return "malformed";
    case AuthFailure::kUnknown:
      return "unknown";
    case AuthFailure::kExpired:
      return "expired";
    case AuthFailure::kRevoked:
      return "revoked";
  }
  return "unknown";
}

absl::StatusOr<GeneratedApiKey> GenerateApiKey() {
  std::array<unsigned char, 32> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    return absl::InternalError("OpenSSL's RAND_bytes failed: no key was made (is the system's entropy available?)");
  }
  GeneratedApiKey out;
  // Rejection sampling: bytes below 252 (7 * 36) map evenly onto the 36 characters.
  for (int round = 0; round < 16 && out.id.size() < kApiKeyIdLength; ++round) {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      return absl::InternalError("OpenSSL's RAND_bytes failed: no key was made (is the system's entropy available?)");
    }
    for (unsigned char b : bytes) {
      if (b >= 252 || out.id.size() == kApiKeyIdLength) continue;
      out.id += kIdAlphabet[b % kIdAlphabet.size()];
    }
  }
  if (out.id.size() != kApiKeyIdLength) return absl::InternalError("OpenSSL's RAND_bytes gave no usable id");
  out.key = absl::StrCat(
      Av(kApiKeyPrefix), out.id, "_",
      absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<const char*>(secret.data()), secret.size())));
  OPENSSL_cleanse(secret.data(), secret.size());
  out.hash = HashApiKey(out.key);
  return out;
}

std::string HashApiKey(std::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(key.data(), key.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool HashesEqual(std::string_view hash, std::string_view expected) {
  if (hash.size() != expected.size() || hash.empty()) return false;
  return CRYPTO_memcmp(hash.data(), expected.data(), hash.size()) == 0;
}

bool IsWellFormedApiKey(std::string_view key) {
  if (key.size() != kApiKeyLength || !absl::StartsWith(Av(key), Av(kApiKeyPrefix))) return false;
  const std::string_view id = key.substr(kApiKeyPrefix.size(), kApiKeyIdLength);
  if (key[kApiKeyPrefix.size() + kApiKeyIdLength] != '_') return false;
  const std::string_view secret = key.substr(kApiKeyPrefix.size() + kApiKeyIdLength + 1);
  for (char c : id) {
    if (!IsIdChar(c)) return false;
  }
  for (char c : secret) {
    if (!IsSecretChar(c)) return false;
  }
  return true;
}

absl::StatusOr<BearerKey> ParseAuthorization(std::string_view value, AuthFailure* reason) {
  {
    const absl::string_view stripped = absl::StripAsciiWhitespace(Av(value));
    value = std::string_view(stripped.data(), stripped.size());
  }
  if (value.empty()) {
    if (reason != nullptr) *reason = AuthFailure::kMissing;
    return absl::UnauthenticatedError("no API key: send the metadata 'authorization: Bearer <key>'");
  }
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !absl::EqualsIgnoreCase(Av(value.substr(0, kScheme.size())), Av(kScheme)) ||
      !absl::ascii_isspace(static_cast<unsigned char>(value[kScheme.size()]))) {
    return Malformed(reason, "the authorization metadata is not of the form 'Bearer <key>'");
  }
  const absl::string_view rest = absl::StripLeadingAsciiWhitespace(Av(value.substr(kScheme.size())));
  const std::string_view key(rest.data(), rest.size());
  if (!IsWellFormedApiKey(key)) {
    return Malformed(
        reason, absl::StrCat("the API key is malformed (a key reads sqs_, ", kApiKeyIdLength,
                             " lowercase letters or digits, _, then ", kApiKeySecretLength, " base64url characters)"));
  }
  if (reason != nullptr) *reason = AuthFailure::kNone;
  return BearerKey{std::string(key.substr(kApiKeyPrefix.size(), kApiKeyIdLength)), std::string(key)};
}

}  // namespace squatstream::access
