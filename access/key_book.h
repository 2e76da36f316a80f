// KeyBook: the API keys a server accepts, loaded from the store and kept in memory, so that authenticating a
// call costs a hash and a map lookup, not a round trip. Revocation and new keys reach every replica through
// the store: a thread reloads every `refresh` (2 s: a key revoked on any replica is refused everywhere within
// 5 s), and an id it does not know makes it reload at once (at most once a second), so a key made a moment ago
// on another replica works on its first call.
//
// The KeyBook reads through a store::Store it does not own. Give it a Store of its own opened from the same
// spec as the watch side's (store::OpenStore): a store serializes its calls on one connection, and a reload
// must not wait behind a scan's commit (nor a scan behind a reload). The caller decides; the Store must
// outlive the KeyBook.
#ifndef SQUATSTREAM_ACCESS_KEY_BOOK_H_
#define SQUATSTREAM_ACCESS_KEY_BOOK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "access/api_key.h"
#include "access/scopes.h"
#include "base/mutex.h"
#include "store/store.h"

namespace squatstream::access {

// Who called: the key a request was authenticated with (never the key itself).
struct Principal {
  std::string id;    // the key's id (sqs_<id>_...)
  std::string name;  // its name
  ScopeSet scopes;
  // nullopt: no quota of that kind.
  std::optional<std::int64_t> quota_candidates_per_hour;
  std::optional<std::int64_t> quota_concurrent_streams;
  std::optional<std::int64_t> quota_watches;
};

struct KeyBookOptions {
  // How often the thread reloads every key.
  absl::Duration refresh = absl::Seconds(2);
  // The least time between two reloads asked for by an unknown id.
  absl::Duration unknown_reload_interval = absl::Seconds(1);
  // One line for the server's log (no key, no hash in it). Default: standard error. Called from the reload
  // thread or from Authenticate's caller (an unknown id), never under the KeyBook's lock.
  std::function<void(std::string_view)> log;
};

class KeyBook {
 public:
  // `store` is not owned and must outlive this object (see the file's comment).
  explicit KeyBook(store::Store* store, KeyBookOptions options = {});
  ~KeyBook();  // Stop()
  KeyBook(const KeyBook&) = delete;
  KeyBook& operator=(const KeyBook&) = delete;

  // Loads every key (the store's error when it cannot: the server should not start without its keys), then
  // starts the reload thread. Call once.
  absl::Status Start();
  // Stops and joins the reload thread. Idempotent; the KeyBook still authenticates with the keys it has.
  void Stop();

  // Authenticates the value of a request's `authorization` metadata ("Bearer <key>"; "" when absent) at `now`.
  // UNAUTHENTICATED otherwise, `reason` (may be null) saying why for the metrics, the message naming the fault
  // and the next step without telling whether a key exists: an unknown id and a known id with a wrong secret
  // read the same; "expired" / "revoked" only when the whole key matched. No message repeats the value.
  // Thread-safe; it blocks only for a reload asked for by an unknown id (at most once per
  // unknown_reload_interval across all callers).
  absl::StatusOr<Principal> Authenticate(std::string_view authorization_value, absl::Time now,
                                         AuthFailure* reason) const;

  // Reloads every key now (what the thread does). On an error the keys loaded before stay in use; the first
  // failure after a success is logged once, and the recovery too.
  absl::Status Reload() const;

  // How many keys are loaded (revoked and expired included), and when they were last loaded successfully.
  std::size_t size() const;
  absl::Time last_loaded() const;

 private:
  struct Entry {
    std::string hash;
    Principal principal;
    std::optional<absl::Time> expires;
    std::optional<absl::Time> revoked;
  };
  using Keys = absl::flat_hash_map<std::string, Entry>;

  void Run();
  void Log(std::string_view line) const;

  store::Store* const store_;
  const KeyBookOptions options_;

  // Guards the published key map (swapped whole by a reload: Authenticate copies the pointer and looks up
  // outside the lock) and the thread's stop flag.
  mutable Mutex mu_;
  mutable std::shared_ptr<const Keys> keys_ ABSL_GUARDED_BY(mu_);  // mutable: Reload is const
  mutable absl::Time last_loaded_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CondVar wake_;

  // Serializes reloads (the thread's and an unknown id's) and remembers the last one an unknown id asked for and
  // whether the last reload failed (to log a failure once). Never held while mu_ is waited on by the thread.
  mutable Mutex reload_mu_;
  mutable absl::Time last_unknown_reload_ ABSL_GUARDED_BY(reload_mu_) = absl::InfinitePast();
  mutable bool failing_ ABSL_GUARDED_BY(reload_mu_) = false;

  std::thread thread_;
  bool started_ = false;  // Start/Stop are called from one thread (the server's start and shutdown)
};

// PERMISSION_DENIED when `principal` lacks `scope`: "the API key sqs_<id> ("<name>") lacks the scope
// 'watch:write', which CreateWatch needs"; OK otherwise. `method` is the RPC's name as the client knows it.
absl::Status Require(const Principal& principal, Scope scope, std::string_view method);

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_KEY_BOOK_H_
