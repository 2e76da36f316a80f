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

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_FLAGS_H_
