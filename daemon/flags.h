// squatstreamd's command-line flags. Each flag can also be set by an environment variable named
// SQUATSTREAM_<FLAG IN UPPER CASE> (e.g. SQUATSTREAM_GRPC_ADDRESS); a flag on the command line wins.
#ifndef SQUATSTREAM_DAEMON_FLAGS_H_
#define SQUATSTREAM_DAEMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/server.h"

namespace squatstream::daemon {

struct DaemonOptions {
  ServerOptions server;
  absl::Duration shutdown_grace = absl::Seconds(10);  // how long a drain lets streams run (SIGTERM)
};

// Applies environment variables, parses argv (exits with usage on --help or a malformed flag), and
// returns the options, or INVALID_ARGUMENT for a bad environment value. Positional arguments are refused.
absl::StatusOr<DaemonOptions> ParseDaemonFlags(int argc, char** argv);

// The store the flags name, once they are parsed: --store_file's content when given, else --store (its
// environment variable SQUATSTREAM_STORE applied); `spec` "" for "none". `named`: whether any of them was set
// (argv is read for --store). INVALID_ARGUMENT for an unreadable or empty --store_file. `squatstreamd keys`
// reads the store with it, as the server does.
struct StoreFlags {
  std::string spec;
  bool named = false;
};
absl::StatusOr<StoreFlags> ReadStoreFlags(int argc, char** argv);

// Sets squatstreamd's flags from their SQUATSTREAM_<FLAG> environment variables (before the command line is
// parsed, so that a flag given there wins). INVALID_ARGUMENT naming a variable whose value does not parse.
absl::Status ApplyDaemonEnvironment();

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_FLAGS_H_
