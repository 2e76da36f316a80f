// libFuzzer target: certificates as a TLS server presents them (the banner stage reads a stranger's chain).
// The bytes are tried as PEM text and, base64-wrapped, as a DER certificate (so that OpenSSL's ASN.1 decoder
// and our field extraction see structure). Never crash; every field valid UTF-8 and bounded.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "workers/banner/certificate.h"
#include "workers/banner/page.h"

namespace banner = squatstream::workers::banner;

namespace {

void Check(const squatstream::v1::Certificate& c) {
  squatstream::v1::Certificate copy = c;
  banner::MakeValidUtf8(&copy);
  if (copy.SerializeAsString() != c.SerializeAsString()) std::abort();
  if (c.sans_size() > 256 || c.subject().size() > 4096 || c.issuer().size() > 4096) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto c = banner::ParseCertificatePem(text); c.ok()) Check(*c);
  std::vector<unsigned char> b64(4 * ((size + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(b64.data(), data, static_cast<int>(size));
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (int i = 0; i < n; i += 64) {
    pem.append(reinterpret_cast<const char*>(b64.data()) + i, static_cast<std::size_t>(std::min(64, n - i)));
    pem.push_back('\n');
  }
  pem += "-----END CERTIFICATE-----\n";
  if (auto c = banner::ParseCertificatePem(pem); c.ok()) Check(*c);
  static const auto store = banner::TrustStore::Load();
  if (store.ok()) {
    squatstream::v1::TlsInfo tls;
    (*store)->Describe({pem, text}, "example.com", &tls);
    if (tls.verified()) std::abort();  // nothing made of fuzz bytes chains to a real root
    for (const auto& c : tls.chain()) Check(c);
  }
  return 0;
}
