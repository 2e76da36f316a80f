// KeyBook against a real SQLite store in a temporary folder: the book reads through one Store object, the test
// (as `squatstreamd keys` or another replica would) writes through a second one on the same file. Waits are for
// the state asserted, bounded; never a fixed sleep.
#include "access/key_book.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/api_key.h"
#include "access/scopes.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace squatstream::access {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class KeyBookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/squatstream-keys-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/store.db";
    absl::StatusOr<std::unique_ptr<store::Store>> reader = store::OpenSqliteStore(path_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
    absl::StatusOr<std::unique_ptr<store::Store>> admin = store::OpenSqliteStore(path_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
  }
  void TearDown() override {
    book_.reset();
    reader_.reset();
    admin_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new key in the store (through the admin's Store); returns the whole key.
  std::string NewKey(const std::string& name, const std::string& scopes,
                     std::optional<absl::Time> expires = std::nullopt) {
    absl::StatusOr<GeneratedApiKey> k = GenerateApiKey();
    EXPECT_TRUE(k.ok()) << k.status();
    store::ApiKeyRow row;
    row.id = k->id;
    row.name = name;
    row.hash = k->hash;
    row.scopes = scopes;
    row.created = kT0;
    row.expires = expires;
    row.quota_watches = 7;
    absl::Status s = admin_->CreateApiKey(row);
    EXPECT_TRUE(s.ok()) << s;
    keys_.push_back(k->key);
    return k->key;
  }

  void StartBook(absl::Duration refresh = absl::Seconds(2)) {
    KeyBookOptions options;
    options.refresh = refresh;
    options.log = [this](std::string_view line) {
      MutexLock lock(log_mu_);
      log_.emplace_back(line);
    };
    book_ = std::make_unique<KeyBook>(reader_.get(), options);
    absl::Status s = book_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  absl::StatusOr<Principal> Auth(const std::string& key, absl::Time now, AuthFailure* reason) {
    absl::StatusOr<Principal> p = book_->Authenticate("Bearer " + key, now, reason);
    if (!p.ok()) messages_.emplace_back(p.status().message());
    return p;
  }

  std::vector<std::string> Log() {
    MutexLock lock(log_mu_);
    return log_;
  }

  // No key, secret or hash in any message or log line seen.
  void ExpectNoSecretAnywhere() {
    std::vector<std::string> all = messages_;
    for (const std::string& line : Log()) all.push_back(line);
    for (const std::string& key : keys_) {
      const std::string secret = key.substr(13);
      for (const std::string& m : all) {
        EXPECT_THAT(m, ::testing::Not(HasSubstr(secret))) << "a secret in: " << m;
        EXPECT_THAT(m, ::testing::Not(HasSubstr(HashApiKey(key)))) << "a hash in: " << m;
      }
    }
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<store::Store> reader_;
  std::unique_ptr<store::Store> admin_;
  std::unique_ptr<KeyBook> book_;
  std::vector<std::string> keys_;
  std::vector<std::string> messages_;
  Mutex log_mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(log_mu_);
};

TEST_F(KeyBookTest, AKeyInTheStoreAuthenticatesWithItsScopesAndQuotas) {
  const std::string key = NewKey("ci", "scan,watch:read");
  StartBook();
  EXPECT_EQ(book_->size(), 1u);
  AuthFailure reason = AuthFailure::kUnknown;
  absl::StatusOr<Principal> p = Auth(key, kT0, &reason);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(reason, AuthFailure::kNone);
  EXPECT_EQ(p->id, key.substr(4, 8));
  EXPECT_EQ(p->name, "ci");
  EXPECT_TRUE(p->scopes.Has(Scope::kScan));
  EXPECT_TRUE(p->scopes.Has(Scope::kWatchRead));
  EXPECT_FALSE(p->scopes.Has(Scope::kWatchWrite));
  EXPECT_EQ(p->quota_watches, 7);
  EXPECT_FALSE(p->quota_candidates_per_hour.has_value());
  absl::Status denied = Require(*p, Scope::kWatchWrite, "CreateWatch");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(
      std::string(denied.message()),
      HasSubstr("the API key sqs_" + p->id + " (\"ci\") lacks the scope 'watch:write', which CreateWatch needs"));
  messages_.emplace_back(denied.message());
  ExpectNoSecretAnywhere();
}

TEST_F(KeyBookTest, ARevocationThroughAnotherStoreIsSeenWithinTheRefresh) {
  const std::string key = NewKey("to revoke", "scan");
  StartBook(absl::Seconds(2));
  ASSERT_TRUE(Auth(key, kT0, nullptr).ok());
  const absl::Time revoked_at = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(admin_->RevokeApiKey(key.substr(4, 8), revoked_at).ok());
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(5);
  AuthFailure reason = AuthFailure::kNone;
  absl::StatusOr<Principal> p = Auth(key, revoked_at + absl::Seconds(1), &reason);
  while (p.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a poll interval, not the state
    p = Auth(key, revoked_at + absl::Seconds(1), &reason);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(p.ok()) << "still accepted 5 s after the revocation";
  EXPECT_LE(took, std::chrono::milliseconds(3000)) << "a refresh of 2 s";
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reason, AuthFailure::kRevoked);
  EXPECT_EQ(p.status().message(), absl::StrCat("the API key sqs_", key.substr(4, 8), " was revoked at ",
                                               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", revoked_at, absl::UTCTimeZone()),
                                               "; ask an administrator for a new one"));
  ExpectNoSecretAnywhere();
}

TEST_F(KeyBookTest, AKeyCreatedAfterStartWorksAtOnce) {
  NewKey("first", "scan");
  StartBook(absl::Hours(1));  // no periodic reload in this test's time: the unknown id makes it
  const std::string later = NewKey("later", "classify");
  absl::StatusOr<Principal> p = Auth(later, kT0, nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "later");
  EXPECT_TRUE(p->scopes.Has(Scope::kClassify));
  EXPECT_EQ(book_->size(), 2u);
}

TEST_F(KeyBookTest, AnExpiredKeyIsRefusedOnlyOnceItsTimeHasCome) {
  const std::string key = NewKey("short", "scan", kT0 + absl::Hours(1));
  StartBook();
  EXPECT_TRUE(Auth(key, kT0 + absl::Minutes(59), nullptr).ok());
  AuthFailure reason = AuthFailure::kNone;
  absl::StatusOr<Principal> p = Auth(key, kT0 + absl::Hours(1), &reason);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(reason, AuthFailure::kExpired);
  EXPECT_EQ(p.status().message(), absl::StrCat("the API key sqs_", key.substr(4, 8),
                                               " expired at 2027-01-15T09:00:00Z; ask an administrator for a new one"));
  ExpectNoSecretAnywhere();
}

TEST_F(KeyBookTest, AnUnknownIdAndAWrongSecretReadTheSame) {
  const std::string key = NewKey("real", "scan", kT0 - absl::Hours(1));  // expired: still no hint without the secret
  StartBook();
  std::string wrong_secret = key;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  absl::StatusOr<GeneratedApiKey> stranger = GenerateApiKey();
  ASSERT_TRUE(stranger.ok());
  keys_.push_back(stranger->key);
  keys_.push_back(wrong_secret);
  AuthFailure wrong_reason = AuthFailure::kNone;
  AuthFailure unknown_reason = AuthFailure::kNone;
  absl::StatusOr<Principal> wrong = Auth(wrong_secret, kT0, &wrong_reason);
  absl::StatusOr<Principal> unknown = Auth(stranger->key, kT0, &unknown_reason);
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(wrong.status(), unknown.status()) << "the same code and the same words";
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong_reason, AuthFailure::kUnknown);
  EXPECT_EQ(unknown_reason, AuthFailure::kUnknown);
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("the API key is not valid"));
  EXPECT_THAT(std::string(wrong.status().message()), ::testing::Not(HasSubstr(key.substr(4, 8))));
  // Missing and malformed through the book too.
  AuthFailure reason = AuthFailure::kNone;
  absl::StatusOr<Principal> missing = book_->Authenticate("", kT0, &reason);
  EXPECT_EQ(reason, AuthFailure::kMissing);
  messages_.emplace_back(missing.status().message());
  absl::StatusOr<Principal> malformed = book_->Authenticate("Bearer " + key + "x", kT0, &reason);
  EXPECT_EQ(reason, AuthFailure::kMalformed);
  messages_.emplace_back(malformed.status().message());
  ExpectNoSecretAnywhere();
}

// The store failing during a reload: the keys loaded before stay in use, one log line says so (not one per
// reload), one more when it is back. SQLite's api_keys table renamed away and back stands in for the engine.
TEST_F(KeyBookTest, AStoreThatFailsKeepsTheLastKeysAndSaysSoOnce) {
  const std::string key = NewKey("kept", "scan");
  StartBook(absl::Milliseconds(50));
  auto exec = [this](const char* sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_busy_timeout(db, 5000);
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return rc;
  };
  ASSERT_EQ(exec("ALTER TABLE api_keys RENAME TO api_keys_away"), SQLITE_OK);
  EXPECT_FALSE(book_->Reload().ok());
  // Several refresh periods fail; one line.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  const absl::Time failed_at = absl::Now();
  while (book_->last_loaded() < failed_at && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(Auth(key, kT0, nullptr).ok()) << "the last keys stay in use";
    if (absl::Now() - failed_at > absl::Milliseconds(300)) break;  // six refresh periods have failed
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0], HasSubstr("cannot reload the API keys (the keys loaded before stay in use"));
  ASSERT_EQ(exec("ALTER TABLE api_keys_away RENAME TO api_keys"), SQLITE_OK);
  while (Log().size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log = Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_THAT(log[1], HasSubstr("the API keys are loaded again (1 keys)"));
  EXPECT_TRUE(Auth(key, kT0, nullptr).ok());
  ExpectNoSecretAnywhere();
}

TEST_F(KeyBookTest, StartFailsWhenTheKeysCannotBeLoadedAndStopIsIdempotent) {
  // The store cannot list keys (its table is gone): the server must not start without them.
  sqlite3* db = nullptr;
  sqlite3_open(path_.c_str(), &db);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE api_keys", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  KeyBook book(reader_.get());
  absl::Status s = book.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot load the API keys"));
  book.Stop();
  book.Stop();
}

// What authenticating a call costs (a hash and a lookup; printed for the report, bounded loosely so that a
// sanitizer build passes): 100 keys loaded, 20,000 calls.
TEST_F(KeyBookTest, AuthenticatingACallCostsMicroseconds) {
  std::string key;
  for (int i = 0; i < 100; ++i) key = NewKey("k", "scan");
  StartBook(absl::Hours(1));
  constexpr int kCalls = 20'000;
  const std::string value = "Bearer " + key;
  const auto start = std::chrono::steady_clock::now();
  int ok = 0;
  for (int i = 0; i < kCalls; ++i) ok += book_->Authenticate(value, kT0, nullptr).ok() ? 1 : 0;
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok, kCalls);
  std::printf("Authenticate: %.2f us per call (100 keys)\n", us / kCalls);
  EXPECT_LT(us / kCalls, 200.0);
}

}  // namespace
}  // namespace squatstream::access
