// `squatstreamd keys create|list|revoke`: API keys managed against the store the server reads (the same
// --store, --store_file and SQUATSTREAM_STORE, daemon/flags.h's ReadStoreFlags). The key is printed once, by
// create; the store keeps only its hash (access/api_key.h). Servers see a new or revoked key within a few
// seconds (access/key_book.h).
#ifndef SQUATSTREAM_DAEMON_KEYS_CLI_H_
#define SQUATSTREAM_DAEMON_KEYS_CLI_H_

namespace squatstream::daemon {

// Runs `squatstreamd keys VERB [flags] [ID]` (argv[1] is "keys") and returns the process's exit code: 0 done,
// 2 a usage error (an unknown verb or flag, a bad scope, duration or quota: the message names it), 1 the store
// failed (its message). Writes results to stdout and errors to stderr. Parses the process's flags: call it from
// main, before any thread starts.
int RunKeysCommand(int argc, char** argv);

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_KEYS_CLI_H_
