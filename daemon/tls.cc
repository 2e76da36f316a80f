#include "daemon/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain (the server's certificate first) for TLS on the gRPC listener; with "
          "--tls_key_file. Empty (and no key): plaintext. The file is read again every --tls_reload_interval: "
          "replace it (and the key) in place and new connections get the new certificate, no restart.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file's certificate (unencrypted).");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle for mutual TLS: every client must present a certificate signed by one of these CAs, "
          "checked at the handshake. Needs --tls_cert_file and --tls_key_file. Reloaded like them.");
ABSL_FLAG(absl::Duration, tls_reload_interval, squatstream::daemon::TlsOptions{}.reload_interval,
          "How often the TLS files are checked for a new certificate, key or client CA (whole seconds, at least "
          "1s).");

namespace squatstream::daemon {
namespace {

// The latest OpenSSL error on this thread's queue, as text ("" when none); the queue is emptied.
std::string OpenSslError() {
  const auto code = ERR_peek_last_error();  // unsigned long, as OpenSSL declares it
  std::string out;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    out = buffer;
  }
  ERR_clear_error();
  return out;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

// A passphrase callback that gives none: an encrypted key fails to load instead of prompting on the terminal.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

// The contents of `path`, named by `flag` in the error.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", path, ": cannot be read (", std::strerror(errno), "); give a readable PEM file"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", path, ": cannot be read; give a readable PEM file"));
  }
  return contents.str();
}

Bio MemoryBio(const std::string& pem) { return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))); }

// The first certificate of the PEM file `path`.
absl::StatusOr<Certificate> ReadCertificate(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = ReadFile(path, flag);
  if (!pem.ok()) return pem.status();
  Bio bio = MemoryBio(*pem);
  Certificate cert(bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) {
    const std::string why = OpenSslError();
    return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", path, ": holds no PEM certificate",
                                                   why.empty() ? "" : absl::StrCat(" (", why, ")"),
                                                   "; give a file with -----BEGIN CERTIFICATE-----"));
  }
  return cert;
}

// The private key of the PEM file `path`. Its bytes never reach a message.
absl::StatusOr<PrivateKey> ReadPrivateKey(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> pem = ReadFile(path, flag);
  if (!pem.ok()) return pem.status();
  Bio bio = MemoryBio(*pem);
  PrivateKey key(bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  OPENSSL_cleanse(pem->data(), pem->size());
  if (key == nullptr) {
    ERR_clear_error();  // its text may quote the file's start
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", path,
                     ": holds no PEM private key (or an encrypted one); give an unencrypted PEM key "
                     "(-----BEGIN PRIVATE KEY-----)"));
  }
  return key;
}

}  // namespace

TlsOptions TlsOptionsFromFlags() {
  TlsOptions o;
  o.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  o.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  return o;
}

bool TlsEnabled() {
  const TlsOptions o = TlsOptionsFromFlags();
  return !o.cert_file.empty() || !o.key_file.empty() || !o.client_ca_file.empty();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsOptions& options) {
  if (options.cert_file.empty() && options.key_file.empty()) {
    if (!options.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file needs TLS: give --tls_cert_file and --tls_key_file too (the server's own "
          "certificate and key)");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_key_file is given without --tls_cert_file: give the certificate chain too, or neither for "
        "plaintext");
  }
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file is given without --tls_key_file: give the private key too, or neither for plaintext");
  }
  if (options.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_reload_interval=", absl::FormatDuration(options.reload_interval), ": must be at least 1s"));
  }
  absl::StatusOr<Certificate> cert = ReadCertificate(options.cert_file, "tls_cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<PrivateKey> key = ReadPrivateKey(options.key_file, "tls_key_file");
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key_file=", options.key_file, " does not match the certificate of --tls_cert_file=", options.cert_file,
        "; give the key the certificate was issued for"));
  }
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<Certificate> ca = ReadCertificate(options.client_ca_file, "tls_client_ca_file");
    if (!ca.ok()) return ca.status();
  }

  const auto interval = static_cast<unsigned int>(
      std::min<double>(std::ceil(absl::ToDoubleSeconds(options.reload_interval)), 86400.0 * 365));
  // The provider reads the files now and then every `interval` on gRPC's own thread, which stops when the last
  // reference (the credentials', hence the server's) goes. It keeps the last good pair when a read fails or the
  // files are caught mid-replacement (it compares the modification times before and after).
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::experimental::TlsServerCredentials(tls);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS options (see its log line above)");
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials() {
  return MakeServerCredentials(TlsOptionsFromFlags());
}

std::string ExposureWarning(const std::string& grpc_address, bool tls, bool auth) {
  if (tls || auth || IsLoopbackAddress(grpc_address)) return "";
  return absl::StrCat("WARNING: gRPC listens on ", grpc_address,
                      ", beyond loopback, with NEITHER TLS NOR AUTHENTICATION: anyone who can reach this port can "
                      "read the results in plaintext and make this server connect to arbitrary hosts. Give "
                      "--tls_cert_file and --tls_key_file (and --auth=api_key), or listen on 127.0.0.1");
}

}  // namespace squatstream::daemon
