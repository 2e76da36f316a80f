// API keys without a store: the key's form and randomness, its hash, reading the authorization metadata (every
// malformed shape, and no message repeating what was sent), scopes.
#include "access/api_key.h"

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "access/key_book.h"
#include "access/scopes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::access {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ApiKeyTest, GeneratedKeysHaveTheFormAndAreDistinct) {
  std::set<std::string> keys;
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<GeneratedApiKey> k = GenerateApiKey();
    ASSERT_TRUE(k.ok()) << k.status();
    ASSERT_EQ(k->key.size(), kApiKeyLength);
    ASSERT_EQ(k->key.size(), 56u);
    ASSERT_TRUE(absl::StartsWith(k->key, "sqs_" + k->id + "_")) << k->id;
    ASSERT_EQ(k->id.size(), 8u);
    for (char c : k->id) ASSERT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << k->id;
    const std::string secret = k->key.substr(13);
    ASSERT_EQ(secret.size(), 43u);
    for (char c : secret) {
      ASSERT_TRUE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
    }
    ASSERT_TRUE(IsWellFormedApiKey(k->key));
    ASSERT_EQ(k->hash, HashApiKey(k->key));
    keys.insert(k->key);
    ids.insert(k->id);
  }
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_GE(ids.size(), 999u);  // 36^8 ids: a clash in 1,000 is about 1 in 5 million
}

TEST(ApiKeyTest, HashIsLowercaseHexSha256) {
  // sha256("abc"), FIPS 180-2's example.
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashApiKey("").size(), 64u);
  EXPECT_TRUE(HashesEqual(HashApiKey("abc"), HashApiKey("abc")));
  EXPECT_FALSE(HashesEqual(HashApiKey("abc"), HashApiKey("abd")));
  EXPECT_FALSE(HashesEqual(HashApiKey("abc"), HashApiKey("abc").substr(1)));
  EXPECT_FALSE(HashesEqual("", ""));
}

TEST(ApiKeyTest, ParsesBearerCaseInsensitively) {
  absl::StatusOr<GeneratedApiKey> k = GenerateApiKey();
  ASSERT_TRUE(k.ok());
  for (const std::string& value :
       {"Bearer " + k->key, "bearer " + k->key, "BEARER  " + k->key, "  Bearer\t" + k->key + "  "}) {
    AuthFailure reason = AuthFailure::kUnknown;
    absl::StatusOr<BearerKey> b = ParseAuthorization(value, &reason);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->id, k->id);
    EXPECT_EQ(b->key, k->key);
    EXPECT_EQ(reason, AuthFailure::kNone);
  }
}

TEST(ApiKeyTest, MissingAndEveryMalformedShapeAreRefusedWithoutEchoingTheValue) {
  AuthFailure reason = AuthFailure::kNone;
  for (const std::string& missing : {std::string(), std::string("   ")}) {
    absl::StatusOr<BearerKey> b = ParseAuthorization(missing, &reason);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(b.status().message(), "no API key: send the metadata 'authorization: Bearer <key>'");
    EXPECT_EQ(reason, AuthFailure::kMissing);
  }
  const std::string good = "sqs_abcd1234_" + std::string(43, 'A');
  ASSERT_TRUE(ParseAuthorization("Bearer " + good).ok());
  const std::vector<std::string> malformed = {
      good,                                                  // no scheme
      "Basic " + good,                                       // another scheme
      "Bearer",                                              // no key
      "Bearer ",                                             // no key (stripped)
      "Bearerx " + good,                                     // scheme run on
      "Bearer" + good,                                       // no space
      "Bearer " + good.substr(0, good.size() - 1),           // secret short
      "Bearer " + good + "A",                                // secret long
      "Bearer sqx_abcd1234_" + std::string(43, 'A'),         // prefix
      "Bearer sqs_ABCD1234_" + std::string(43, 'A'),         // id upper case
      "Bearer sqs_abcd123_" + std::string(44, 'A'),          // id short
      "Bearer sqs_abcd1234-" + std::string(43, 'A'),         // separator
      "Bearer sqs_abcd1234_" + std::string(42, 'A') + "=",   // padding
      "Bearer sqs_abcd1234_" + std::string(42, 'A') + "+",   // not base64url
      "Bearer sqs_abcd1234_" + std::string(42, 'A') + "\n",  // control character
      "Bearer " + good + " extra",                           // trailing word
      "Bearer sqs_abcd1234_" + std::string(40, 'A') +
          "\xc3\xa9"
          "A",  // non-ASCII
  };
  for (const std::string& value : malformed) {
    reason = AuthFailure::kNone;
    absl::StatusOr<BearerKey> b = ParseAuthorization(value, &reason);
    ASSERT_FALSE(b.ok()) << value;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kUnauthenticated) << value;
    EXPECT_EQ(reason, AuthFailure::kMalformed) << value;
    EXPECT_THAT(std::string(b.status().message()), HasSubstr("sqs_<id>_<secret>")) << value;
    EXPECT_THAT(std::string(b.status().message()), Not(HasSubstr("AAAAAAAA"))) << "the value is echoed: " << value;
    EXPECT_THAT(std::string(b.status().message()), Not(HasSubstr("abcd1234"))) << value;
  }
}

TEST(ScopesTest, ParseFormatAndRefuse) {
  absl::StatusOr<ScopeSet> s = ParseScopes("scan, watch:read,,scan");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->Has(Scope::kScan));
  EXPECT_TRUE(s->Has(Scope::kWatchRead));
  EXPECT_FALSE(s->Has(Scope::kWatchWrite));
  EXPECT_FALSE(s->Has(Scope::kAdmin));
  EXPECT_EQ(FormatScopes(*s), "scan,watch:read");
  absl::StatusOr<ScopeSet> all = ParseScopes("admin,watch:write,watch:read,classify,scan");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(FormatScopes(*all), "scan,classify,watch:read,watch:write,admin");
  EXPECT_EQ(*ParseScopes(FormatScopes(*all)), *all);
  for (Scope scope : kAllScopes) EXPECT_EQ(ScopeFromName(ScopeName(scope)), scope);

  absl::StatusOr<ScopeSet> bad = ParseScopes("scan,watch:delete");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "unknown scope 'watch:delete': the scopes are scan, classify, watch:read, watch:write, admin");
  EXPECT_EQ(ParseScopes("Scan").status().code(), absl::StatusCode::kInvalidArgument);  // exact spelling
  EXPECT_EQ(ParseScopes(" , ").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatScopes(ScopeSet()), "");
}

TEST(ScopesTest, RequireNamesTheKeyTheScopeAndTheMethod) {
  Principal p;
  p.id = "abcd1234";
  p.name = "ci";
  p.scopes = ScopeSet{Scope::kScan, Scope::kWatchRead};
  EXPECT_TRUE(Require(p, Scope::kScan, "EnrichDomain").ok());
  absl::Status denied = Require(p, Scope::kWatchWrite, "CreateWatch");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(denied.message()),
              HasSubstr("the API key sqs_abcd1234 (\"ci\") lacks the scope 'watch:write', which CreateWatch needs"));
}

TEST(ApiKeyTest, AuthFailureNamesAreTheMetricLabels) {
  EXPECT_EQ(AuthFailureName(AuthFailure::kMissing), "missing");
  EXPECT_EQ(AuthFailureName(AuthFailure::kMalformed), "malformed");
  EXPECT_EQ(AuthFailureName(AuthFailure::kUnknown), "unknown");
  EXPECT_EQ(AuthFailureName(AuthFailure::kExpired), "expired");
  EXPECT_EQ(AuthFailureName(AuthFailure::kRevoked), "revoked");
}

}  // namespace
}  // namespace squatstream::access
