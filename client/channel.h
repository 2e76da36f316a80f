// The one place the client programs (squatstream, its `watch` verbs, squatstream-load) make their gRPC channel to
// squatstreamd, and the connection flags that shape it: --tls (implied by any of the next), --tls_ca_file (the
// server's CA; default the system's roots), --tls_cert_file and --tls_key_file (a client certificate, for a server
// that asks one: mTLS), --tls_server_name (the name the server's certificate must carry, when it is not the host
// of --server), and --api_key_file (a file holding the API key; $SQUATSTREAM_API_KEY when the flag is not set).
// The key goes as `authorization: Bearer <key>` on every call, added by a client interceptor; it is never printed.
#ifndef SQUATSTREAM_CLIENT_CHANNEL_H_
#define SQUATSTREAM_CLIENT_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/channel.h"

namespace squatstream::client {

// What the connection flags say (ChannelOptionsFromFlags), or what a test builds.
struct ChannelOptions {
  bool tls = false;         // true also when any TLS file or the server name is given
  std::string ca_file;      // PEM roots the server's certificate must chain to; "": the system's roots
  std::string cert_file;    // PEM client certificate chain (mTLS); with key_file
  std::string key_file;     // PEM private key of cert_file
  std::string server_name;  // overrides the name checked in the server's certificate; "": the host of the address
  std::string api_key;      // "" sends no authorization header
};

// One connection flag, for a command line read apart from absl's (the `watch` verbs): its name without "--",
// whether it takes a value (all but --tls), and its help as --helpfull shows it.
struct ConnectionFlag {
  std::string name;
  bool takes_value;
  std::string help;
};
// The six connection flags, in the order above. The one list: a program reading its own command line takes
// these names and hands their values to SetConnectionFlag.
const std::vector<ConnectionFlag>& ConnectionFlags();

// Sets the connection flag `name` (one of ConnectionFlags(), without "--") to `value`, as absl would have from
// the command line, for ChannelOptionsFromFlags to read. INVALID_ARGUMENT naming the flag for another name or
// a value --tls cannot take (true, false, 1, 0, yes, no).
absl::Status SetConnectionFlag(absl::string_view name, absl::string_view value);

// The flags' values, with the API key read from --api_key_file (its first line, whitespace trimmed) or else
// from $SQUATSTREAM_API_KEY. INVALID_ARGUMENT naming the flag (never the key) when the key file cannot be read,
// is empty, or the key holds characters a header cannot carry.
absl::StatusOr<ChannelOptions> ChannelOptionsFromFlags();

// A channel to `server` (host:port) as `options` say: plaintext, or TLS with the files read now; with an API key,
// every call made on it carries `authorization: Bearer <key>`. INVALID_ARGUMENT naming the flag when a file
// cannot be read or a certificate is given without its key (or the other way round). Connects lazily, as
// grpc::CreateChannel does: a handshake failure shows as UNAVAILABLE on the first call.
// INVALID_ARGUMENT too when an API key would be sent in clear beyond loopback (no TLS, a non-loopback server).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& server, const ChannelOptions& options);

// MakeChannel(server, ChannelOptionsFromFlags()); on an error prints "PROGRAM: <message>" to stderr and exits 2
// (a usage error), PROGRAM being the running program's name. Call after the flags are parsed.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server);

// True when `message` (a call's UNAVAILABLE text, before any answer) says the TLS handshake failed or the
// server closed the connection as it opened: the server's certificate not trusted, the client's refused or
// missing, or a plaintext client talking to a TLS server.
bool LooksLikeTlsFailure(const std::string& message);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_CHANNEL_H_
