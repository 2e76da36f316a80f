// Real DNS peers for the DNS stage's tests, on 127.0.0.1: an authoritative nsd (Debian's) serving
// generated zone files, the scripted server (scripted_dns.py, Debian's python3-dnslib) for SERVFAIL,
// REFUSED and truncation, and a UDP port that counts queries and never answers. Each stops with its object.
#ifndef SQUATSTREAM_TESTS_WORKERS_DNS_DNS_PEERS_H_
#define SQUATSTREAM_TESTS_WORKERS_DNS_DNS_PEERS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"

extern char** environ;

namespace squatstream::workers::dns::testing {

// A free loopback port (UDP and TCP both bindable when it was picked).
inline int FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(u, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {  // no port this time: another attempt
      close(u);
      continue;
    }
    getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    const bool tcp_ok = bind(t, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(t);
    close(u);
    if (tcp_ok) return ntohs(a.sin_port);
  }
  return 0;
}

inline pid_t Spawn(const std::vector<std::string>& argv, const std::string& stdout_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (stdout_path + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

inline void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Starts a peer program that writes the port it took to its stdout (`stdout_path`) and waits for that port,
// polling every 25 ms for at most `limit`: the peer listening, not a guess of its start-up time. *pid is the
// peer's (to Stop); returns the port, 0 when none came in time.
inline int SpawnAndReadPort(const std::vector<std::string>& argv, const std::string& stdout_path, pid_t* pid,
                            std::chrono::milliseconds limit) {
  *pid = Spawn(argv, stdout_path);
  int port = 0;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (port == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    port = std::atoi(ReadFile(stdout_path).c_str());
  }
  return port;
}

// Whether something answers DNS over UDP on 127.0.0.1:port (any response to a SOA query for "com").
inline bool Answers(int port) {
  static const unsigned char kQuery[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                         0x00, 0x03, 'c',  'o',  'm',  0x00, 0x00, 0x06, 0x00, 0x01};
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{0, 100000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  sendto(s, kQuery, sizeof(kQuery), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  unsigned char buf[512];
  const ssize_t n = recv(s, buf, sizeof(buf), 0);
  close(s);
  return n > 0;
}

// nsd serving `zones` (name -> zone file text) on 127.0.0.1:port(), rate limiting off. The port is picked free,
// but a test running beside may take it before nsd binds: nsd then exits at once, and Start tries another port.
class Nsd {
 public:
  static std::unique_ptr<Nsd> Start(const std::map<std::string, std::string>& zones) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::unique_ptr<Nsd> n = StartOnce(zones);
      if (n == nullptr || n->pid_ > 0) return n;
    }
    std::fprintf(stderr, "nsd did not start: every port tried was taken\n");
    return nullptr;
  }
  ~Nsd() {
    Kill();
    std::system(("rm -rf " + dir_).c_str());
  }
  int port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  void Kill() {
    Stop(pid_);
    pid_ = -1;
  }

 private:
  Nsd() = default;

  // An Nsd that answers; or one with pid_ -1 when its port was taken (try again); or nullptr on another failure.
  static std::unique_ptr<Nsd> StartOnce(const std::map<std::string, std::string>& zones) {
    auto n = std::unique_ptr<Nsd>(new Nsd());
    char dir_template[] = "/tmp/squatstream-nsd-XXXXXX";
    n->dir_ = mkdtemp(dir_template);
    n->port_ = FreePort();
    std::ofstream conf(n->dir_ + "/nsd.conf");
    conf << "server:\n  ip-address: 127.0.0.1@" << n->port_ << "\n  username: \"\"\n  chroot: \"\"\n  database: \"\"\n"
         << "  zonesdir: \"" << n->dir_ << "\"\n  pidfile: \"" << n->dir_ << "/nsd.pid\"\n  xfrdfile: \"" << n->dir_
         << "/xfrd.state\"\n  xfrdir: \"" << n->dir_ << "\"\n  zonelistfile: \"" << n->dir_ << "/zone.list\"\n"
         << "  logfile: \"" << n->dir_
         << "/nsd.log\"\n  rrl-ratelimit: 0\n  server-count: 1\n  receive-buffer-size: 4194304\n  send-buffer-size: "
            "4194304\n"
         << "remote-control:\n  control-enable: no\n";
    for (const auto& [name, text] : zones) {
      conf << "zone:\n  name: " << name << "\n  zonefile: " << name << ".zone\n";
      std::ofstream(n->dir_ + "/" + name + ".zone") << text;
    }
    conf.close();
    n->pid_ = Spawn({"/usr/sbin/nsd", "-d", "-c", n->dir_ + "/nsd.conf"}, n->dir_ + "/stdout");
    for (int i = 0; i < 100 && !Answers(n->port_); ++i) {
      if (waitpid(n->pid_, nullptr, WNOHANG) == n->pid_) break;  // exited: no point waiting
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!Answers(n->port_)) {
      const std::string log = ReadFile(n->dir_ + "/nsd.log");
      n->Kill();
      if (absl::StrContains(log, "Address already in use")) return n;  // pid_ -1: another port
      std::fprintf(stderr, "nsd did not start: %s\n", log.c_str());
      return nullptr;
    }
    return n;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// scripted_dns.py in `mode` (servfail, refused, truncate).
class ScriptedDns {
 public:
  static std::unique_ptr<ScriptedDns> Start(const std::string& script, const std::string& mode) {
    auto s = std::unique_ptr<ScriptedDns>(new ScriptedDns());
    char path_template[] = "/tmp/squatstream-scripted-XXXXXX";
    const int fd = mkstemp(path_template);
    close(fd);
    s->out_ = path_template;
    s->port_ = SpawnAndReadPort({"/usr/bin/python3", script, mode}, s->out_, &s->pid_, std::chrono::seconds(5));
    if (s->port_ == 0 || !Answers(s->port_)) {
      std::fprintf(stderr, "scripted DNS did not start: %s\n", ReadFile(s->out_ + ".err").c_str());
      return nullptr;
    }
    return s;
  }
  ~ScriptedDns() {
    Stop(pid_);
    std::remove(out_.c_str());
    std::remove((out_ + ".err").c_str());
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  ScriptedDns() = default;
  std::string out_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A UDP port that reads queries, counts them, and never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) std::perror("SilentServer: bind");
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    timeval tv{0, 50000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    reader_ = std::thread([this] {
      unsigned char buf[4096];
      while (!stop_.load()) {
        if (recv(fd_, buf, sizeof(buf), 0) > 0) received_.fetch_add(1);
      }
    });
  }
  ~SilentServer() {
    stop_.store(true);
    reader_.join();
    close(fd_);
  }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  int received() const { return received_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> received_{0};
  std::thread reader_;
};

}  // namespace squatstream::workers::dns::testing

#endif  // SQUATSTREAM_TESTS_WORKERS_DNS_DNS_PEERS_H_
