// squatstreamd: parse flags, start the server, wait for SIGTERM/SIGINT (SIGHUP: reload the geo databases),
// drain, exit 0.
#include <pthread.h>

#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "daemon/flags.h"
#include "daemon/keys_cli.h"
#include "daemon/server.h"

int main(int argc, char** argv) {
  // UTF-8 character handling (LC_CTYPE only: numbers and messages stay "C"): libcurl's IDN conversion of a
  // redirect's host (libidn2) depends on it; in the "C" locale an internationalised host does not convert.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  // `squatstreamd keys ...`: API keys managed in the store (daemon/keys_cli.h), no server.
  if (argc > 1 && std::string_view(argv[1]) == "keys") return squatstream::daemon::RunKeysCommand(argc, argv);
  // Block the stop signals in every thread (the server's threads inherit this mask); sigtimedwait takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // not a stop: reloads the geo databases
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer that closes a TCP connection must not kill the process: c-ares 1.18 writes its TCP queries with
  // writev (no MSG_NOSIGNAL), and a name server may close the connection after an answer.
  std::signal(SIGPIPE, SIG_IGN);

  auto options = squatstream::daemon::ParseDaemonFlags(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "squatstreamd: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  auto server = squatstream::daemon::Server::Start(options->server);
  if (!server.ok()) {
    std::fprintf(stderr, "squatstreamd: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  // One line (tests and scripts wait for it); the health listener's port at its end when there is one.
  const std::string health = (*server)->health_port() == 0
                                 ? ""
                                 : absl::StrFormat(", health checks (plaintext) on port %d", (*server)->health_port());
  std::fprintf(stderr, "squatstreamd: serving gRPC on port %d, metrics on port %d%s\n", (*server)->grpc_port(),
               (*server)->metrics_port(), health.c_str());

  // Wait for a stop signal; meanwhile, once a second, give memory back after a burst of streams.
  int signal = 0;
  const timespec tick{.tv_sec = 1, .tv_nsec = 0};
  for (;;) {
    signal = sigtimedwait(&stop_signals, nullptr, &tick);
    if (signal == SIGTERM || signal == SIGINT) break;
    if (signal == SIGHUP) {
      std::fprintf(stderr, "squatstreamd: SIGHUP received; the stages read their files again (geo databases)\n");
      (*server)->Reload();
      continue;
    }
    (*server)->ReleaseMemoryIfIdle();
  }
  std::fprintf(stderr, "squatstreamd: %s received; draining streams for up to %s\n",
               signal == SIGTERM ? "SIGTERM" : "SIGINT", absl::FormatDuration(options->shutdown_grace).c_str());
  (*server)->Shutdown(options->shutdown_grace);
  std::fprintf(stderr, "squatstreamd: stopped\n");
  std::fflush(nullptr);
  // Every stream has ended and the workers are joined; what is left is the metrics web server, whose stop
  // takes up to 2 s (civetweb polls its listener in 2 s quanta) and would push the exit past the grace
  // period Kubernetes allows. Nothing there needs flushing: exit now. (The in-process tests destroy the
  // Server normally, so its teardown stays under the sanitizers.)
  std::_Exit(0);
}
