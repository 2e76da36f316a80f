// A PostgreSQL cluster for the store's tests: tests/peers/postgres.py (Debian's postgresql, initdb in a temporary
// folder as an unprivileged user, on a free loopback port) spawned with pipes on its stdin and stdout, so that a
// test can stop and start the same cluster. The cluster stops, and its folder goes, with the object (or when this
// process exits: the script stops when its stdin closes).
#ifndef SQUATSTREAM_TESTS_STORE_POSTGRES_PEER_H_
#define SQUATSTREAM_TESTS_STORE_POSTGRES_PEER_H_

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace squatstream::store::testing {

class PostgresPeer {
 public:
  // Starts a cluster (bounded: 60 s); nullptr with `error` set when it did not come up.
  static std::unique_ptr<PostgresPeer> Start(std::string* error, bool durable = false) {
    auto peer = std::unique_ptr<PostgresPeer>(new PostgresPeer());
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      *error = "pipe failed";
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> argv = {"/usr/bin/python3", SQUATSTREAM_POSTGRES_PEER};
    if (durable) argv.emplace_back("--durable");
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = posix_spawn(&peer->pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    peer->to_ = in[1];
    peer->from_ = out[0];
    if (rc != 0) {
      peer->pid_ = -1;
      *error = "cannot spawn postgres.py";
      return nullptr;
    }
    peer->dsn_ = peer->ReadLine(std::chrono::seconds(60));
    if (!absl::StartsWith(peer->dsn_, "postgresql://")) {
      *error = absl::StrCat("postgres.py did not start a cluster: ", peer->dsn_);
      return nullptr;
    }
    return peer;
  }

  ~PostgresPeer() {
    if (to_ >= 0) close(to_);  // the script stops the cluster and removes its folder at EOF
    if (pid_ > 0) {
      for (int i = 0; i < 3000; ++i) {  // up to 30 s for pg_ctl stop
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (from_ >= 0) close(from_);
  }

  // postgresql://postgres@127.0.0.1:PORT/postgres
  const std::string& dsn() const { return dsn_; }
  // The same server, database `name`.
  std::string DsnOf(const std::string& name) const { return absl::StrCat(dsn_.substr(0, dsn_.rfind('/') + 1), name); }

  // Stops (pg_ctl stop -m fast) and starts again the same cluster on the same port; true when it answered.
  bool Stop() { return Command("stop") == "stopped"; }
  bool Restart() { return Command("start") == "started"; }

  // A fresh database (its DSN), so that tests sharing the cluster do not share tables.
  std::string NewDatabase(std::string* error) {
    static std::atomic<int> counter{0};
    const std::string name = absl::StrCat("t", getpid(), "_", counter++);
    PGconn* conn = PQconnectdb(dsn_.c_str());
    // A name this function made (not a value from outside): identifiers cannot be parameters.
    PGresult* r = PQexec(conn, absl::StrCat("CREATE DATABASE ", name).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) *error = PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
    return DsnOf(name);
  }

 private:
  PostgresPeer() = default;

  std::string Command(const std::string& command) {
    const std::string line = command + "\n";
    if (write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return "";
    return ReadLine(std::chrono::seconds(60));
  }

  std::string ReadLine(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const ssize_t n = read(from_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string dsn_;
  std::string buffer_;
};

}  // namespace squatstream::store::testing

#endif  // SQUATSTREAM_TESTS_STORE_POSTGRES_PEER_H_
