#include "access/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/family.h"

namespace squatstream::access {
namespace {

timeval TimeoutOf(absl::Duration d) {
  const absl::Duration clamped = std::max(d, absl::Milliseconds(1));
  return absl::ToTimeval(clamped);
}

RedisValue Copy(const redisReply& reply) {
  RedisValue value;
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::kInteger;
      value.integer = reply.integer;
      break;
    case REDIS_REPLY_STRING:
      value.type = RedisValue::Type::kString;
      value.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = RedisValue::Type::kStatus;
      value.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::kArray;
      value.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) value.elements.push_back(Copy(*reply.element[i]));
      break;
    default:
      break;
  }
  return value;
}

}  // namespace

RedisMetrics RegisterRedisMetrics(prometheus::Registry& registry) {
  RedisMetrics m;
  m.up = &prometheus::BuildGauge()
              .Name("squatstream_redis_up")
              .Help("1 when the last command to the global limits' Redis was answered, 0 otherwise")
              .Register(registry)
              .Add({});
  m.request_seconds = &prometheus::BuildHistogram()
                           .Name("squatstream_redis_request_seconds")
                           .Help("Round trip of one command to the global limits' Redis (connect included)")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                                            0.005, 0.01, 0.025, 0.05, 0.1, 0.25});
  m.errors = &prometheus::BuildCounter()
                  .Name("squatstream_redis_errors_total")
                  .Help("Commands to the global limits' Redis that failed (unreachable, timed out, refused)")
                  .Register(registry)
                  .Add({});
  m.fallback = &prometheus::BuildGauge()
                    .Name("squatstream_global_limits_fallback")
                    .Help("1 while Redis cannot be asked and each limit is answered by this replica's share of it")
                    .Register(registry)
                    .Add({});
  return m;
}

absl::Status ParseRedisAddress(absl::string_view address, RedisOptions& options) {
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_address '", address, "' is not [v6-address]:port (e.g. [::1]:6379)"));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos || address.find(':') != colon) {
      return absl::InvalidArgumentError(
          absl::StrCat("--redis_address '", address, "' is not host:port (e.g. 127.0.0.1:6379 or redis:6379)"));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int port_number = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--redis_address '", address, "' needs a host and a port from 1 to 65535 (e.g. 127.0.0.1:6379)"));
  }
  options.host = std::string(host);
  options.port = port_number;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadRedisPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--redis_password_file ", path, " cannot be read (",
                                                   std::strerror(errno),
                                                   "): give a readable file holding the password"));
  }
  std::string line;
  std::getline(in, line);
  std::string password(absl::StripTrailingAsciiWhitespace(line));
  if (password.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--redis_password_file ", path, " is empty: put the password on its first line"));
  }
  return password;
}

RedisClient::RedisClient(RedisOptions options, RedisMetrics metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      address_(absl::StrContains(options_.host, ':') ? absl::StrCat("[", options_.host, "]:", options_.port)
                                                     : absl::StrCat(options_.host, ":", options_.port)) {}

RedisClient::~RedisClient() {
  MutexLock lock(mu_);
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

bool RedisClient::up() {
  MutexLock lock(mu_);
  return up_;
}

absl::Status RedisClient::last_error() {
  MutexLock lock(mu_);
  return up_ ? absl::OkStatus() : last_error_;
}

void RedisClient::FailLocked(const absl::Status& error) {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
  up_ = false;
  last_error_ = error;
  backoff_ = backoff_ == absl::ZeroDuration() ? options_.retry_min : std::min(backoff_ * 2, options_.retry_max);
  retry_at_ = absl::Now() + backoff_;
  if (metrics_.up != nullptr) metrics_.up->Set(0);
  if (metrics_.errors != nullptr) metrics_.errors->Increment();
}

void RedisClient::SucceedLocked() {
  up_ = true;
  backoff_ = absl::ZeroDuration();
  if (metrics_.up != nullptr) metrics_.up->Set(1);
}

absl::Status RedisClient::ConnectLocked() {
  redisContext* context = redisConnectWithTimeout(options_.host.c_str(), options_.port, TimeoutOf(options_.timeout));
  if (context == nullptr) return absl::UnavailableError(absl::StrCat("Redis at ", address_, ": out of memory"));
  if (context->err != 0) {
    absl::Status error = absl::UnavailableError(
        absl::StrCat("Redis at ", address_, " cannot be reached (", context->errstr, "): check --redis_address"));
    redisFree(context);
    return error;
  }
  if (redisSetTimeout(context, TimeoutOf(options_.timeout)) != REDIS_OK) {
    redisFree(context);
    return absl::UnavailableError(absl::StrCat("Redis at ", address_, ": the command timeout cannot be set"));
  }
  if (!options_.password.empty()) {
    const char* argv[] = {"AUTH", options_.password.c_str()};
    const size_t lens[] = {4, options_.password.size()};
    auto* reply = static_cast<redisReply*>(redisCommandArgv(context, 2, argv, lens));
    if (reply == nullptr) {
      absl::Status error =
          absl::UnavailableError(absl::StrCat("Redis at ", address_, " did not answer AUTH (", context->errstr, ")"));
      redisFree(context);
      return error;
    }
    const bool refused = reply->type == REDIS_REPLY_ERROR;
    freeReplyObject(reply);
    if (refused) {
      redisFree(context);
      // The server's text is not quoted: it is a fixed WRONGPASS line today, but nothing here may echo a secret.
      return absl::UnauthenticatedError(absl::StrCat("Redis at ", address_,
                                                     " refused the password read from --redis_password_file: check "
                                                     "the file against the server's requirepass"));
    }
  }
  context_ = context;
  return absl::OkStatus();
}

absl::StatusOr<RedisValue> RedisClient::Command(const std::vector<std::string>& args) {
  MutexLock lock(mu_);
  return CommandLocked(args);
}

absl::StatusOr<RedisValue> RedisClient::CommandLocked(const std::vector<std::string>& args) {
  if (context_ == nullptr) {
    if (absl::Now() < retry_at_) return last_error_;  // in the backoff: the caller falls back at no cost
    const auto start = std::chrono::steady_clock::now();
    absl::Status connected = ConnectLocked();
    if (!connected.ok()) {
      FailLocked(connected);
      return connected;
    }
    if (metrics_.request_seconds != nullptr) {
      metrics_.request_seconds->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  const auto start = std::chrono::steady_clock::now();
  auto* reply =
      static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (metrics_.request_seconds != nullptr) {
    metrics_.request_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (reply == nullptr) {
    const bool timed_out = context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    absl::Status error =
        absl::UnavailableError(timed_out ? absl::StrCat("Redis at ", address_, " did not answer within ",
                                                        absl::FormatDuration(options_.timeout), " (--redis_timeout)")
                                         : absl::StrCat("Redis at ", address_, " failed (", context_->errstr, ")"));
    FailLocked(error);
    return error;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string text(reply->str, reply->len);
    freeReplyObject(reply);
    if (absl::StartsWith(text, "NOAUTH")) {
      absl::Status error = absl::UnauthenticatedError(
          absl::StrCat("Redis at ", address_, " requires a password: give it with --redis_password_file"));
      FailLocked(error);
      return error;
    }
    if (absl::StartsWith(text, "LOADING") || absl::StartsWith(text, "BUSY") || absl::StartsWith(text, "MASTERDOWN")) {
      absl::Status error = absl::UnavailableError(absl::StrCat("Redis at ", address_, " is not serving: ", text));
      FailLocked(error);
      return error;
    }
    // A command's own error (NOSCRIPT, WRONGTYPE...): the connection is fine.
    SucceedLocked();
    if (metrics_.errors != nullptr && !absl::StartsWith(text, "NOSCRIPT")) metrics_.errors->Increment();
    return absl::InternalError(absl::StrCat("Redis at ", address_, " answered an error: ", text));
  }
  RedisValue value = Copy(*reply);
  freeReplyObject(reply);
  SucceedLocked();
  return value;
}

absl::Status RedisClient::LoadScriptLocked(const RedisScript& script, std::string& sha) {
  absl::StatusOr<RedisValue> loaded = CommandLocked({"SCRIPT", "LOAD", script.source});
  if (!loaded.ok()) return loaded.status();
  if (loaded->type != RedisValue::Type::kString) {
    return absl::InternalError(absl::StrCat("Redis at ", address_, " answered SCRIPT LOAD with no SHA1"));
  }
  sha = loaded->str;
  for (auto& [source, known_sha] : shas_) {
    if (source == script.source) {
      known_sha = sha;
      return absl::OkStatus();
    }
  }
  shas_.emplace_back(script.source, sha);
  return absl::OkStatus();
}

absl::StatusOr<RedisValue> RedisClient::Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                             const std::vector<std::string>& args) {
  MutexLock lock(mu_);
  std::string sha;
  for (const auto& [source, known_sha] : shas_) {
    if (source == script.source) sha = known_sha;
  }
  if (sha.empty()) {
    if (absl::Status s = LoadScriptLocked(script, sha); !s.ok()) return s;
  }
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.emplace_back("EVALSHA");
  command.push_back(sha);
  command.push_back(std::to_string(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  absl::StatusOr<RedisValue> reply = CommandLocked(command);
  if (!reply.ok() && reply.status().code() == absl::StatusCode::kInternal &&
      absl::StrContains(reply.status().message(), "NOSCRIPT")) {
    // A restarted (or flushed) Redis: load the script again, once.
    if (absl::Status s = LoadScriptLocked(script, sha); !s.ok()) return s;
    command[1] = sha;
    reply = CommandLocked(command);
  }
  return reply;
}

}  // namespace squatstream::access
