#include "client/channel.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_address.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"

ABSL_FLAG(bool, tls, false,
          "Connect with TLS, checking the server's certificate against the system's roots (implied by any "
          "--tls_* flag).");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM file of the CA(s) the server's certificate must chain to, instead of the system's roots. Implies "
          "--tls.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM client certificate chain, for a server that requires one (mutual TLS); with --tls_key_file. "
          "Implies --tls.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file. Implies --tls.");
ABSL_FLAG(std::string, tls_server_name, "",
          "The name the server's certificate must carry, when it is not the host of --server (e.g. an address "
          "reached through a tunnel). Implies --tls.");
ABSL_FLAG(std::string, api_key_file, "",
          "File whose first line is the API key, sent as `authorization: Bearer <key>` on every call. Default: "
          "$SQUATSTREAM_API_KEY, if set. The key is never printed.");

namespace squatstream::client {
namespace {

constexpr char kApiKeyVariable[] = "SQUATSTREAM_API_KEY";

// The connection flags after --tls, in --help's order (ConnectionFlags, SetConnectionFlag).
absl::Flag<std::string>* const kValueFlags[] = {&FLAGS_tls_ca_file, &FLAGS_tls_cert_file, &FLAGS_tls_key_file,
                                                &FLAGS_tls_server_name, &FLAGS_api_key_file};

// The contents of `path`, named by `flag` in the error.
absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", path, ": cannot be read (", std::strerror(errno), ")"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// `key` (from `source`, a flag or a variable, named in the error) as a header value: its first line, trimmed.
absl::StatusOr<std::string> CheckedKey(std::string key, const std::string& source) {
  key = std::string(absl::StripAsciiWhitespace(key.substr(0, key.find('\n'))));
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(source, " holds no API key (it is empty)"));
  for (const char c : key) {
    if (c < 0x21 || c > 0x7e) {  // what a header value can carry, and no space inside a bearer token
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": the API key holds a space or a character a header cannot carry"));
    }
  }
  return key;
}

// Adds the authorization header to every call's initial metadata. One per call, made by the factory below.
class ApiKeyInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ApiKeyInterceptor(const std::string* value) : value_(value) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *value_);
    }
    methods->Proceed();
  }

 private:
  const std::string* value_;  // the factory's, which the channel keeps as long as it makes calls
};

class ApiKeyInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ApiKeyInterceptorFactory(const std::string& key) : value_(absl::StrCat("Bearer ", key)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new ApiKeyInterceptor(&value_);  // gRPC owns and deletes it when the call ends
  }

 private:
  const std::string value_;
};

}  // namespace

const std::vector<ConnectionFlag>& ConnectionFlags() {
  static const auto* const flags = [] {
    auto* list = new std::vector<ConnectionFlag>;
    list->push_back({"tls", false, absl::GetFlagReflectionHandle(FLAGS_tls).Help()});
    for (const absl::Flag<std::string>* flag : kValueFlags) {
      const absl::CommandLineFlag& handle = absl::GetFlagReflectionHandle(*flag);
      list->push_back({std::string(handle.Name()), true, handle.Help()});
    }
    return list;
  }();
  return *flags;
}

absl::Status SetConnectionFlag(absl::string_view name, absl::string_view value) {
  if (name == "tls") {
    bool on = false;
    if (!absl::SimpleAtob(value, &on)) {
      return absl::InvalidArgumentError(absl::StrCat("bad value for --tls: \"", value, "\" (true or false)"));
    }
    absl::SetFlag(&FLAGS_tls, on);
    return absl::OkStatus();
  }
  for (absl::Flag<std::string>* flag : kValueFlags) {
    if (absl::GetFlagReflectionHandle(*flag).Name() == name) {
      absl::SetFlag(flag, std::string(value));
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("--", name, " is not a connection flag"));
}

absl::StatusOr<ChannelOptions> ChannelOptionsFromFlags() {
  ChannelOptions o;
  o.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  o.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.server_name = absl::GetFlag(FLAGS_tls_server_name);
  o.tls = absl::GetFlag(FLAGS_tls) || !o.ca_file.empty() || !o.cert_file.empty() || !o.key_file.empty() ||
          !o.server_name.empty();
  const std::string key_file = absl::GetFlag(FLAGS_api_key_file);
  if (!key_file.empty()) {
    absl::StatusOr<std::string> contents = ReadFile(key_file, "api_key_file");
    if (!contents.ok()) return contents.status();
    absl::StatusOr<std::string> key = CheckedKey(*std::move(contents), absl::StrCat("--api_key_file=", key_file));
    if (!key.ok()) return key.status();
    o.api_key = *std::move(key);
  } else if (const char* env = std::getenv(kApiKeyVariable); env != nullptr && *env != '\0') {
    absl::StatusOr<std::string> key = CheckedKey(env, absl::StrCat("$", kApiKeyVariable));
    if (!key.ok()) return key.status();
    o.api_key = *std::move(key);
  }
  return o;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& server, const ChannelOptions& options) {
  // A bearer key read off the wire is the key: never sent in clear beyond this machine.
  if (!options.tls && !options.api_key.empty() && !base::IsLoopbackAddress(server)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the API key would cross the network in clear to ", server,
        ": give --tls (with --tls_ca_file for a private CA), or connect over loopback (e.g. kubectl port-forward)"));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (options.tls) {
    if (options.cert_file.empty() != options.key_file.empty()) {
      return absl::InvalidArgumentError(options.cert_file.empty()
                                            ? "--tls_key_file is given without --tls_cert_file: give both, or neither"
                                            : "--tls_cert_file is given without --tls_key_file: give both, or neither");
    }
    grpc::SslCredentialsOptions ssl;  // empty roots: gRPC's default roots (the system's)
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> roots = ReadFile(options.ca_file, "tls_ca_file");
      if (!roots.ok()) return roots.status();
      if (!absl::StrContains(*roots, "-----BEGIN CERTIFICATE-----")) {
        return absl::InvalidArgumentError(
            absl::StrCat("--tls_ca_file=", options.ca_file, ": holds no PEM certificate"));
      }
      ssl.pem_root_certs = *std::move(roots);
    }
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> chain = ReadFile(options.cert_file, "tls_cert_file");
      if (!chain.ok()) return chain.status();
      absl::StatusOr<std::string> key = ReadFile(options.key_file, "tls_key_file");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(chain);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.api_key.empty()) interceptors.push_back(std::make_unique<ApiKeyInterceptorFactory>(options.api_key));
  return grpc::experimental::CreateCustomChannelWithInterceptors(server, credentials, args, std::move(interceptors));
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server) {
  absl::StatusOr<ChannelOptions> options = ChannelOptionsFromFlags();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      options.ok() ? MakeChannel(server, *options) : absl::StatusOr<std::shared_ptr<grpc::Channel>>(options.status());
  if (!channel.ok()) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, std::string(channel.status().message()).c_str());
    std::exit(2);
  }
  return *std::move(channel);
}

bool LooksLikeTlsFailure(const std::string& message) {
  const std::string lower = absl::AsciiStrToLower(message);
  // "Socket closed" before any answer: the server ended the connection as it opened, which is how a TLS server
  // answers a plaintext client, and how a mutual-TLS one refuses a client's certificate (TLS 1.3 checks it after
  // the client's side of the handshake is done).
  for (const char* sign : {"ssl", "tls", "handshake", "certificate", "socket closed"}) {
    if (absl::StrContains(lower, sign)) return true;
  }
  return false;
}

}  // namespace squatstream::client
