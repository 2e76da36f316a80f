// X.509 certificates as a TLS server presents them, read with OpenSSL: the fields a user compares (subject,
// SANs, issuer, validity, SHA-256 fingerprint, key) and whether the chain verifies for a name against the
// system trust store. Input is a stranger's: the parser is fuzzed (tests/fuzz/certificate_fuzzer.cc).
#ifndef SQUATSTREAM_WORKERS_BANNER_CERTIFICATE_H_
#define SQUATSTREAM_WORKERS_BANNER_CERTIFICATE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::workers::banner {

// One PEM certificate's fields; INVALID_ARGUMENT when the text holds none.
absl::StatusOr<v1::Certificate> ParseCertificatePem(absl::string_view pem);

// The system's trusted roots (OpenSSL's default paths: /etc/ssl/certs), loaded once; thread-safe.
class TrustStore {
 public:
  // `ca_file` "": OpenSSL's default paths (read as needed: an empty store is not seen here, every chain then
  // fails to verify saying so); else only the certificates in that PEM file, which must load.
  static absl::StatusOr<std::shared_ptr<TrustStore>> Load(const std::string& ca_file = "");
  ~TrustStore();
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  // Fills `tls` from a chain (leaf first, PEM): each certificate's fields, and whether the chain verifies
  // for `host` now (verify_error says why not). A certificate that does not parse is skipped and said.
  void Describe(const std::vector<std::string>& chain_pem, const std::string& host, v1::TlsInfo* tls) const;

 private:
  TrustStore() = default;
  void* store_ = nullptr;  // X509_STORE*
};

}  // namespace squatstream::workers::banner

#endif  // SQUATSTREAM_WORKERS_BANNER_CERTIFICATE_H_
