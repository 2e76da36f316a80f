// daemon/tls.h without a server: which listening addresses are loopback, when the exposure warning is printed,
// and the refusals of MakeServerCredentials that need no certificate (the files' checks and the handshakes are
// tests/e2e/tls/tls_test.py's, with real certificates).
#include "daemon/tls.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::daemon {
namespace {

using ::testing::HasSubstr;

TEST(TlsTest, LoopbackAddresses) {
  for (const char* address : {"127.0.0.1:50051", "127.1.2.3:1", "[::1]:50051", "localhost:50051", "LOCALHOST.:1",
                              "unix:/run/squatstream.sock", "ipv4:127.0.0.1:5", "[::ffff:127.0.0.1]:5"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:50051", "[2001:db8::1]:1",
                              "squatstream.example:50051", "localhost.example.com:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(TlsTest, ExposureWarningOnlyBeyondLoopbackWithNeitherTlsNorAuth) {
  const std::string warning = ExposureWarning("0.0.0.0:50051", false, false);
  EXPECT_THAT(warning, HasSubstr("WARNING"));
  EXPECT_THAT(warning, HasSubstr("0.0.0.0:50051"));
  EXPECT_THAT(warning, HasSubstr("NEITHER TLS NOR AUTHENTICATION"));
  EXPECT_THAT(warning, HasSubstr("--tls_cert_file"));
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  EXPECT_FALSE(ExposureWarning("[::]:50051", false, false).empty());
  EXPECT_EQ(ExposureWarning("0.0.0.0:50051", true, false), "");
  EXPECT_EQ(ExposureWarning("0.0.0.0:50051", false, true), "");
  EXPECT_EQ(ExposureWarning("127.0.0.1:50051", false, false), "");
}

TEST(TlsTest, NoFilesIsPlaintext) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeServerCredentials(TlsOptions{});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_NE(*credentials, nullptr);
}

TEST(TlsTest, RefusalsNameTheFlag) {
  TlsOptions only_cert;
  only_cert.cert_file = "/nonexistent/cert.pem";
  EXPECT_THAT(MakeServerCredentials(only_cert).status().message(), HasSubstr("--tls_cert_file"));
  TlsOptions only_key;
  only_key.key_file = "/nonexistent/key.pem";
  EXPECT_THAT(MakeServerCredentials(only_key).status().message(), HasSubstr("--tls_key_file"));
  TlsOptions only_ca;
  only_ca.client_ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeServerCredentials(only_ca).status().message(), HasSubstr("--tls_client_ca_file"));
  TlsOptions unreadable;
  unreadable.cert_file = "/nonexistent/cert.pem";
  unreadable.key_file = "/nonexistent/key.pem";
  const absl::Status status = MakeServerCredentials(unreadable).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--tls_cert_file=/nonexistent/cert.pem: cannot be read"));
  TlsOptions fast = unreadable;
  fast.reload_interval = absl::Milliseconds(100);
  EXPECT_THAT(MakeServerCredentials(fast).status().message(), HasSubstr("--tls_reload_interval"));
}

TEST(TlsTest, AKeyFileWithoutAKeyIsRefusedWithoutQuotingIt) {
  const std::string dir = ::testing::TempDir();
  const std::string cert = dir + "/tls_test_not_a_cert.pem";
  const std::string key = dir + "/tls_test_not_a_key.pem";
  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWJ5dGVz\n-----END CERTIFICATE-----\n";
  std::ofstream(key) << "secret-bytes-of-a-key\n";
  TlsOptions options;
  options.cert_file = cert;
  options.key_file = key;
  const absl::Status status = MakeServerCredentials(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--tls_cert_file"));  // the certificate is checked first
  std::remove(cert.c_str());
  std::remove(key.c_str());
}

}  // namespace
}  // namespace squatstream::daemon
