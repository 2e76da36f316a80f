#include "access/key_book.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace squatstream::access {
namespace {

// Debian's Abseil has its own string_view: the conversion at the calls into it.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string When(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

// The answer to an unknown id and to a known id with the wrong secret: the same words, so that a caller cannot
// tell whether an id exists.
absl::Status NotValid(AuthFailure* reason) {
  if (reason != nullptr) *reason = AuthFailure::kUnknown;
  return absl::UnauthenticatedError(
      "the API key is not valid: check that the client sends the whole key as it was printed, or ask an "
      "administrator for a new one");
}

// A stored scope list: the names this binary knows (a newer binary sharing the store may know more: those grant
// nothing here). `unknown` collects the others.
ScopeSet StoredScopes(std::string_view text, std::vector<std::string>& unknown) {
  ScopeSet out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    if (!name.empty()) {
      if (std::optional<Scope> s = ScopeFromName(name); s.has_value()) {
        out.Add(*s);
      } else {
        unknown.emplace_back(name);
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

KeyBook::KeyBook(store::Store* store, KeyBookOptions options)
    : store_(store), options_(std::move(options)), keys_(std::make_shared<const Keys>()) {}

KeyBook::~KeyBook() { Stop(); }

void KeyBook::Log(std::string_view line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::cerr << "squatstreamd: " << line << "\n";
  }
}

absl::Status KeyBook::Start() {
  if (started_) return absl::FailedPreconditionError("KeyBook::Start called twice");
  if (absl::Status s = Reload(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot load the API keys: ", s.message()));
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void KeyBook::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void KeyBook::Run() {
  const auto period = std::chrono::microseconds(absl::ToInt64Microseconds(options_.refresh));
  for (;;) {
    {
      MutexLock lock(mu_);
      const auto deadline = std::chrono::steady_clock::now() + period;
      while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
        wake_.WaitFor(mu_, deadline - std::chrono::steady_clock::now());
      }
      if (stopping_) return;
    }
    (void)Reload();  // an error keeps the keys in use; Reload logs it once
  }
}

absl::Status KeyBook::Reload() const {
  std::optional<std::string> line;
  absl::Status status;
  {
    MutexLock reload_lock(reload_mu_);
    absl::StatusOr<std::vector<store::ApiKeyRow>> rows = store_->ListApiKeys();
    if (!rows.ok()) {
      if (!failing_) {
        line = absl::StrCat("cannot reload the API keys (the keys loaded before stay in use; trying again every ",
                            absl::FormatDuration(options_.refresh), "): ", rows.status().message());
      }
      failing_ = true;
      status = rows.status();
    } else {
      if (failing_) line = absl::StrCat("the API keys are loaded again (", rows->size(), " keys)");
      failing_ = false;
      auto keys = std::make_shared<Keys>();
      std::vector<std::string> unknown;
      for (store::ApiKeyRow& row : *rows) {
        Entry e;
        e.hash = std::move(row.hash);
        e.expires = row.expires;
        e.revoked = row.revoked;
        e.principal.id = row.id;
        e.principal.name = std::move(row.name);
        e.principal.scopes = StoredScopes(row.scopes, unknown);
        e.principal.quota_candidates_per_hour = row.quota_candidates_per_hour;
        e.principal.quota_concurrent_streams = row.quota_concurrent_streams;
        e.principal.quota_watches = row.quota_watches;
        (*keys)[row.id] = std::move(e);
      }
      if (!unknown.empty() && !line.has_value()) {
        // Once per reload at most; rare (a newer squatstreamd wrote the store).
        line = absl::StrCat("API keys hold scopes this squatstreamd does not know (", unknown.front(),
                            unknown.size() > 1 ? ", ..." : "", "): they grant nothing here");
      }
      MutexLock lock(mu_);
      keys_ = std::move(keys);
      last_loaded_ = absl::Now();
    }
  }
  if (line.has_value()) Log(*line);
  return status;
}

std::size_t KeyBook::size() const {
  MutexLock lock(mu_);
  return keys_->size();
}

absl::Time KeyBook::last_loaded() const {
  MutexLock lock(mu_);
  return last_loaded_;
}

absl::StatusOr<Principal> KeyBook::Authenticate(std::string_view authorization_value, absl::Time now,
                                                AuthFailure* reason) const {
  absl::StatusOr<BearerKey> bearer = ParseAuthorization(authorization_value, reason);
  if (!bearer.ok()) return bearer.status();
  // Hashed before the lookup, whether the id is known or not: both answers take the same work.
  const std::string hash = HashApiKey(bearer->key);
  std::shared_ptr<const Keys> keys;
  {
    MutexLock lock(mu_);
    keys = keys_;
  }
  auto it = keys->find(bearer->id);
  if (it == keys->end()) {
    // Perhaps made on another replica since the last reload: reload now, at most once per interval across all
    // callers (callers arriving during a reload wait for it and then look again).
    bool reloaded = false;
    {
      MutexLock reload_lock(reload_mu_);
      const absl::Time wall = absl::Now();
      if (wall - last_unknown_reload_ >= options_.unknown_reload_interval) {
        last_unknown_reload_ = wall;
        reloaded = true;
      }
    }
    if (reloaded) (void)Reload();
    {
      MutexLock lock(mu_);
      keys = keys_;
    }
    it = keys->find(bearer->id);
    if (it == keys->end()) return NotValid(reason);
  }
  const Entry& e = it->second;
  if (!HashesEqual(hash, e.hash)) return NotValid(reason);
  if (e.revoked.has_value() && *e.revoked <= now) {
    if (reason != nullptr) *reason = AuthFailure::kRevoked;
    return absl::UnauthenticatedError(absl::StrCat("the API key ", Av(kApiKeyPrefix), e.principal.id,
                                                   " was revoked at ", When(*e.revoked),
                                                   "; ask an administrator for a new one"));
  }
  if (e.expires.has_value() && *e.expires <= now) {
    if (reason != nullptr) *reason = AuthFailure::kExpired;
    return absl::UnauthenticatedError(absl::StrCat("the API key ", Av(kApiKeyPrefix), e.principal.id, " expired at ",
                                                   When(*e.expires), "; ask an administrator for a new one"));
  }
  if (reason != nullptr) *reason = AuthFailure::kNone;
  return e.principal;
}

absl::Status Require(const Principal& principal, Scope scope, std::string_view method) {
  if (principal.scopes.Has(scope)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the API key ", Av(kApiKeyPrefix), principal.id, " (\"", principal.name, "\") lacks the scope '",
                   Av(ScopeName(scope)), "', which ", Av(method), " needs; ask an administrator for a key with it"));
}

}  // namespace squatstream::access
