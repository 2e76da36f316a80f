#include "workers/banner/certificate.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <ctime>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "workers/banner/page.h"

namespace squatstream::workers::banner {
namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ReadPem(absl::string_view pem) {
  if (pem.size() > (1 << 20)) return nullptr;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  X509Ptr x(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return x;
}

std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const std::int64_t n = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, 4096)));
  BIO_free(bio);
  return text;
}

std::string TimeText(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "";
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                         tm.tm_min, tm.tm_sec);
}

void Fill(X509* x, v1::Certificate* c) {
  c->set_subject(NameText(X509_get_subject_name(x)));
  c->set_issuer(NameText(X509_get_issuer_name(x)));
  c->set_not_before(TimeText(X509_get0_notBefore(x)));
  c->set_not_after(TimeText(X509_get0_notAfter(x)));
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && c->sans_size() < 256; ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      if (g->type == GEN_DNS) {
        const ASN1_STRING* s = g->d.dNSName;
        c->add_sans(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<std::size_t>(std::min(ASN1_STRING_length(s), 512))));
      } else if (g->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = g->d.iPAddress;
        char text[INET6_ADDRSTRLEN] = {};
        const int len = ASN1_STRING_length(s);
        if ((len == 4 || len == 16) &&
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text, sizeof(text)) != nullptr) {
          c->add_sans(text);
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(x, EVP_sha256(), md, &md_len) == 1) {
    std::string hex;
    for (unsigned int i = 0; i < md_len; ++i) absl::StrAppendFormat(&hex, "%s%02X", i == 0 ? "" : ":", md[i]);
    c->set_sha256(hex);
  }
  if (EVP_PKEY* key = X509_get0_pubkey(x)) {
    if (const char* type = EVP_PKEY_get0_type_name(key)) c->set_key_algorithm(type);
    c->set_key_bits(static_cast<std::uint32_t>(std::max(0, EVP_PKEY_get_bits(key))));
  }
  const int sig = X509_get_signature_nid(x);
  if (sig != NID_undef) c->set_signature_algorithm(OBJ_nid2ln(sig));
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      c->set_serial(hex);
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  c->set_self_signed(X509_self_signed(x, 1) == 1);
}

}  // namespace

absl::StatusOr<v1::Certificate> ParseCertificatePem(absl::string_view pem) {
  X509Ptr x = ReadPem(pem);
  if (x == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  v1::Certificate c;
  Fill(x.get(), &c);
  MakeValidUtf8(&c);
  return c;
}

absl::StatusOr<std::shared_ptr<TrustStore>> TrustStore::Load(const std::string& ca_file) {
  std::shared_ptr<TrustStore> t(new TrustStore());
  X509_STORE* store = X509_STORE_new();
  t->store_ = store;
  const int ok = ca_file.empty() ? X509_STORE_set_default_paths(store) : X509_STORE_load_file(store, ca_file.c_str());
  if (ok != 1) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot load the trust store %s", ca_file.empty() ? "(OpenSSL's default paths)" : ca_file));
  }
  return t;
}

TrustStore::~TrustStore() { X509_STORE_free(static_cast<X509_STORE*>(store_)); }

void TrustStore::Describe(const std::vector<std::string>& chain_pem, const std::string& host, v1::TlsInfo* tls) const {
  std::vector<X509Ptr> chain;
  std::vector<std::string> unreadable;
  bool leaf_unreadable = false;
  for (const std::string& pem : chain_pem) {
    X509Ptr x = ReadPem(pem);
    if (x == nullptr) {
      leaf_unreadable = leaf_unreadable || (chain.empty() && unreadable.empty());
      unreadable.push_back(absl::StrFormat("certificate %d does not parse", chain.size() + unreadable.size()));
      continue;
    }
    v1::Certificate* c = tls->add_chain();
    Fill(x.get(), c);
    MakeValidUtf8(c);
    chain.push_back(std::move(x));
  }
  tls->set_verified(false);
  if (chain.empty() || leaf_unreadable) {  // never verify an intermediate as though it were the leaf
    tls->set_verify_error(unreadable.empty() ? "no certificate" : absl::StrJoin(unreadable, "; "));
    return;
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (X509_STORE_CTX_init(ctx, static_cast<X509_STORE*>(store_), chain[0].get(), untrusted) == 1) {
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // An address literal is checked against the certificate's IP addresses, a name against its DNS names.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
    if (X509_verify_cert(ctx) == 1) {
      tls->set_verified(true);
    } else {
      tls->set_verify_error(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
  } else {
    tls->set_verify_error("cannot verify (OpenSSL context)");
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
}

}  // namespace squatstream::workers::banner
