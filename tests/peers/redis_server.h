// A real redis-server (Debian's) for tests and benchmarks: started on a free loopback port with no persistence,
// waited for until it answers PING (never a fixed sleep), killed (SIGKILL, as a crash) and started again on the
// same port, stopped when the object goes. Header-only: tests/access and bench/ include it.
#ifndef SQUATSTREAM_TESTS_PEERS_REDIS_SERVER_H_
#define SQUATSTREAM_TESTS_PEERS_REDIS_SERVER_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace squatstream::testing {

class RedisServer {
 public:
  // Starts one (a password makes it require AUTH); nullptr when redis-server cannot be started (the caller
  // fails with `error`).
  static std::unique_ptr<RedisServer> Start(std::string* error, std::string password = "") {
    auto server = std::unique_ptr<RedisServer>(new RedisServer(std::move(password)));
    for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port between pick and bind
      server->port_ = FreePort();
      if (server->port_ > 0 && server->Spawn(error)) return server;
    }
    return nullptr;
  }
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // SIGKILL and reap (a crash: connections reset, nothing said). Idempotent.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Starts it again on the same port, empty. False (with `error`) when it does not answer PING in time.
  bool Restart(std::string* error) {
    Kill();
    for (int attempt = 0; attempt < 20; ++attempt) {  // the port may linger for a moment after the kill
      if (Spawn(error)) return true;
    }
    return false;
  }

 private:
  explicit RedisServer(std::string password) : password_(std::move(password)) {}

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = -1;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  // Spawns redis-server and waits (at most 10 s) for PING; false when it exited (port taken) or never answered.
  bool Spawn(std::string* error) {
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no",     "--daemonize",         "no",     "--logfile", ""};
    if (!password_.empty()) {
      args.emplace_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int spawned = posix_spawnp(&pid, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      *error = std::string("redis-server cannot be started (") + std::strerror(spawned) +
               "): install Debian's redis-server (scripts/install-deps.sh)";
      return false;
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "redis-server exited at start (port " + std::to_string(port_) + " taken?)";
        return false;
      }
      if (Pings()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a poll interval, not the state waited for
    }
    *error = "redis-server did not answer PING within 10 s";
    Kill();
    return false;
  }

  bool Pings() const {
    timeval tv{0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c == nullptr) return false;
    bool ok = false;
    if (c->err == 0) {
      redisSetTimeout(c, tv);
      if (!password_.empty()) {
        auto* auth = static_cast<redisReply*>(redisCommand(c, "AUTH %s", password_.c_str()));
        if (auth != nullptr) freeReplyObject(auth);
      }
      auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
      ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS && std::strcmp(reply->str, "PONG") == 0;
      if (reply != nullptr) freeReplyObject(reply);
    }
    redisFree(c);
    return ok;
  }

  const std::string password_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace squatstream::testing

#endif  // SQUATSTREAM_TESTS_PEERS_REDIS_SERVER_H_
