// client/channel.h against an in-process gRPC server on loopback: the API key reaches the server as
// `authorization: Bearer <key>` on every call (unary and streaming), no header without a key, where the key comes
// from (--api_key_file's first line, else $SQUATSTREAM_API_KEY), the refusals that name a flag and never the key,
// and which UNAVAILABLE texts read as a TLS failure.
#include "client/channel.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "squatstream/v1/squatstream.grpc.pb.h"

ABSL_DECLARE_FLAG(std::string, api_key_file);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);

namespace squatstream::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Answers ClassifyDomain and EnrichDomain at once, keeping each call's authorization header ("-" when none).
class RecordingService final : public v1::EnrichmentService::Service {
 public:
  grpc::Status ClassifyDomain(grpc::ServerContext* context, const v1::ClassifyDomainRequest* /*request*/,
                              v1::ClassifyDomainResponse* /*response*/) override {
    Record(*context);
    return grpc::Status::OK;
  }
  grpc::Status EnrichDomain(grpc::ServerContext* context, const v1::EnrichDomainRequest* /*request*/,
                            grpc::ServerWriter<v1::EnrichDomainResponse>* /*writer*/) override {
    Record(*context);
    return grpc::Status::OK;
  }

  std::vector<std::string> seen() {
    MutexLock lock(mu_);
    return seen_;
  }

 private:
  void Record(const grpc::ServerContext& context) {
    const auto& metadata = context.client_metadata();
    const auto it = metadata.find("authorization");
    MutexLock lock(mu_);
    seen_.push_back(it == metadata.end() ? "-" : std::string(it->second.data(), it->second.size()));
  }

  Mutex mu_;  // the server's threads record, the test reads
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port_);
  }
  void TearDown() override { server_->Shutdown(); }

  // One unary call and one stream on a channel made with `options`.
  void CallTwice(const ChannelOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address_, options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    auto stub = v1::EnrichmentService::NewStub(*channel);
    {
      grpc::ClientContext context;
      v1::ClassifyDomainResponse response;
      ASSERT_TRUE(stub->ClassifyDomain(&context, v1::ClassifyDomainRequest(), &response).ok());
    }
    grpc::ClientContext context;
    auto reader = stub->EnrichDomain(&context, v1::EnrichDomainRequest());
    v1::EnrichDomainResponse response;
    while (reader->Read(&response)) {
    }
    ASSERT_TRUE(reader->Finish().ok());
  }

  RecordingService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
};

TEST_F(ChannelTest, TheKeyGoesOnEveryCall) {
  ChannelOptions options;
  options.api_key = "sqs_test_key";
  CallTwice(options);
  EXPECT_THAT(service_.seen(), ElementsAre("Bearer sqs_test_key", "Bearer sqs_test_key"));
}

TEST_F(ChannelTest, NoKeyNoHeader) {
  CallTwice(ChannelOptions{});
  EXPECT_THAT(service_.seen(), ElementsAre("-", "-"));
}

TEST(ChannelFlagsTest, KeyFromTheFileElseTheEnvironment) {
  absl::FlagSaver saver;
  const std::string file = ::testing::TempDir() + "/channel_test_key";
  std::ofstream(file) << "  sqs_from_file  \nsecond line ignored\n";
  setenv("SQUATSTREAM_API_KEY", "sqs_from_env", 1);
  absl::SetFlag(&FLAGS_api_key_file, file);
  absl::StatusOr<ChannelOptions> options = ChannelOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->api_key, "sqs_from_file");
  EXPECT_FALSE(options->tls);
  absl::SetFlag(&FLAGS_api_key_file, "");
  options = ChannelOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->api_key, "sqs_from_env");
  unsetenv("SQUATSTREAM_API_KEY");
  std::remove(file.c_str());
}

TEST(ChannelFlagsTest, RefusalsNameTheFlagNeverTheKey) {
  absl::FlagSaver saver;
  unsetenv("SQUATSTREAM_API_KEY");
  absl::SetFlag(&FLAGS_api_key_file, "/nonexistent/key");
  EXPECT_THAT(ChannelOptionsFromFlags().status().message(), HasSubstr("--api_key_file=/nonexistent/key"));
  const std::string file = ::testing::TempDir() + "/channel_test_bad_key";
  std::ofstream(file) << "sqs_secret with space\n";
  absl::SetFlag(&FLAGS_api_key_file, file);
  const absl::Status bad = ChannelOptionsFromFlags().status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), Not(HasSubstr("sqs_secret")));
  std::remove(file.c_str());

  absl::SetFlag(&FLAGS_api_key_file, "");
  absl::SetFlag(&FLAGS_tls_cert_file, "/some/cert.pem");
  absl::StatusOr<ChannelOptions> options = ChannelOptionsFromFlags();
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->tls);  // implied
  EXPECT_THAT(MakeChannel("127.0.0.1:1", *options).status().message(), HasSubstr("--tls_key_file"));
  ChannelOptions unreadable_ca;
  unreadable_ca.tls = true;
  unreadable_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeChannel("127.0.0.1:1", unreadable_ca).status().message(), HasSubstr("--tls_ca_file"));
}

TEST(ChannelFlagsTest, TlsFailures) {
  EXPECT_TRUE(
      LooksLikeTlsFailure("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Ssl "
                          "handshake failed: SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED"));
  EXPECT_TRUE(LooksLikeTlsFailure("last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed"));
  EXPECT_FALSE(
      LooksLikeTlsFailure("failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: "
                          "Failed to connect to remote host: Connection refused"));
}

}  // namespace
}  // namespace squatstream::client
