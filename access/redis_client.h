// RedisClient: synchronous commands to one Redis server over hiredis, for the global limits (redis_limits.h).
// One connection guarded by a mutex (a command is one short round trip on loopback or in the cluster, so callers
// queue behind it rather than open more connections); every connect and command is bounded by a timeout; after
// an error the connection is dropped and not tried again before a backoff (1 s, doubling up to 4 s) has passed,
// so that callers who fall back meanwhile pay nothing for asking. AUTH with a password read from a file at
// start; Lua scripts are sent as EVALSHA and loaded when the server does not know them (NOSCRIPT: a restarted
// Redis). No message this file builds contains the password.
#ifndef SQUATSTREAM_ACCESS_REDIS_CLIENT_H_
#define SQUATSTREAM_ACCESS_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

struct redisContext;

namespace squatstream::access {

// The Redis metrics (names agreed in issue 29's brief). Any pointer may be null (tests): the code checks.
struct RedisMetrics {
  prometheus::Gauge* up = nullptr;                   // squatstream_redis_up: 1 when the last command was answered
  prometheus::Histogram* request_seconds = nullptr;  // squatstream_redis_request_seconds: one command's round trip
  prometheus::Counter* errors = nullptr;             // squatstream_redis_errors_total: commands that failed
  prometheus::Gauge* fallback = nullptr;             // squatstream_global_limits_fallback: 1 while limits are local
};

// Registers the four metrics in `registry` (once, at start-up) and returns pointers to them; the registry owns
// them and must outlive every user.
RedisMetrics RegisterRedisMetrics(prometheus::Registry& registry);

// Where the server is and how to talk to it.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;                             // "" sends no AUTH
  absl::Duration timeout = absl::Milliseconds(50);  // each connect, and each command's round trip
  absl::Duration retry_min = absl::Seconds(1);      // the wait after a first error before trying again
  absl::Duration retry_max = absl::Seconds(4);      // the longest wait (doubling from retry_min)
};

// Parses "host:port" ("[v6]:port" too). INVALID_ARGUMENT naming the fault when it is malformed.
absl::Status ParseRedisAddress(absl::string_view address, RedisOptions& options);

// Reads a password file's first line (a trailing newline and spaces dropped). An error names the file and the
// fault, never the contents.
absl::StatusOr<std::string> ReadRedisPasswordFile(const std::string& path);

// A reply, copied out of hiredis's.
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kStatus, kArray };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // kString, kStatus
  std::vector<RedisValue> elements;
};

// A Lua script, sent by its SHA1 once loaded. Constant after construction; its SHA1 lives in the client.
struct RedisScript {
  std::string source;
};

class RedisClient {
 public:
  // Connects lazily (the first command): a server that is down at start is not an error here.
  RedisClient(RedisOptions options, RedisMetrics metrics);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (binary-safe arguments) and returns its reply. UNAVAILABLE when the server cannot be
  // reached, timed out, or is in its backoff after an error (then without trying: cheap); an error reply
  // (e.g. a WRONGTYPE) is INTERNAL with the server's text; a refused password is UNAUTHENTICATED.
  // Thread-safe: commands from several threads are sent one at a time.
  absl::StatusOr<RedisValue> Command(const std::vector<std::string>& args);

  // EVALSHA of `script` with `keys` and `args`; when the server answers NOSCRIPT (or the SHA1 is not known
  // yet), SCRIPT LOAD then EVALSHA again. Errors as Command's.
  absl::StatusOr<RedisValue> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // True while the last command (or connect) succeeded; false after an error until a later one succeeds.
  bool up();
  // The last error (for a start-up log line); OK when up.
  absl::Status last_error();

  // "host:port", for messages.
  const std::string& address() const { return address_; }

 private:
  // Connects when there is no connection and the backoff has passed; then sends.
  absl::StatusOr<RedisValue> CommandLocked(const std::vector<std::string>& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the connection and starts (or doubles) the backoff.
  void FailLocked(const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SucceedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SCRIPT LOAD: `sha` and shas_ get the server's SHA1 of `script`.
  absl::Status LoadScriptLocked(const RedisScript& script, std::string& sha) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisOptions options_;
  const RedisMetrics metrics_;
  const std::string address_;

  // One connection, one lock: hiredis's synchronous context is not thread-safe, and a command is one round
  // trip, so the lock is held for it (bounded by the timeout).
  Mutex mu_;
  redisContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool up_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError("Redis not asked yet");
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // Script source → its SHA1 once the server loaded it.
  std::vector<std::pair<std::string, std::string>> shas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace squatstream::access

#endif  // SQUATSTREAM_ACCESS_REDIS_CLIENT_H_
