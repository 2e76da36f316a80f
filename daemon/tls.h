// TLS on squatstreamd's gRPC listener: the flags (--tls_cert_file, --tls_key_file, --tls_client_ca_file,
// --tls_reload_interval) and the server credentials they make. The handshake, the client-certificate check and
// the reload are gRPC's own (TlsServerCredentials over a FileWatcherCertificateProvider, which reads the files
// again every --tls_reload_interval: new connections get the new certificate, open ones keep theirs, no restart).
// What this file adds is the check at start: a missing, unreadable or non-PEM file, or a key that does not match
// its certificate, stops the start with a line naming the flag, instead of every handshake failing later.
// Also the warning printed when the listener is reachable beyond loopback with neither TLS nor authentication.
#ifndef SQUATSTREAM_DAEMON_TLS_H_
#define SQUATSTREAM_DAEMON_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/grpc_address.h"
#include "grpcpp/security/server_credentials.h"

namespace squatstream::daemon {

// What the TLS flags say.
struct TlsOptions {
  std::string cert_file;       // PEM certificate chain, the server's first; "" with key_file "": plaintext
  std::string key_file;        // PEM private key of cert_file's first certificate
  std::string client_ca_file;  // PEM CA bundle; non-empty: every client must present a certificate it signed
  absl::Duration reload_interval = absl::Seconds(60);  // how often the files are read again (whole seconds, >= 1)
};

// The flags' values (checked by MakeServerCredentials).
TlsOptions TlsOptionsFromFlags();

// True when the flags ask for TLS (--tls_cert_file or --tls_key_file or --tls_client_ca_file given).
bool TlsEnabled();

// The listener's credentials for `options`: insecure when no file is named; else gRPC's TLS credentials whose
// certificate provider watches the files (it lives as long as the credentials, i.e. the server). Checks the
// files now: INVALID_ARGUMENT naming the flag and the next step when only one of cert/key is given, a client CA
// without them, a file that cannot be read, holds no PEM certificate (or key), or a key that does not match the
// certificate; or a reload interval under 1 s. Never puts a key's bytes in a message. Thread-safe.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsOptions& options);

// MakeServerCredentials(TlsOptionsFromFlags()).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials();

using base::IsLoopbackAddress;  // base/grpc_address.h: the client asks it too

// The warning to print at start (one line, no trailing newline) when the server listens on `grpc_address`
// beyond loopback with neither TLS (`tls`) nor authentication (`auth`); "" otherwise.
std::string ExposureWarning(const std::string& grpc_address, bool tls, bool auth);

}  // namespace squatstream::daemon

#endif  // SQUATSTREAM_DAEMON_TLS_H_
