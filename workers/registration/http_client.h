// HTTP(S) GETs for the registration stage, through libcurl's multi interface on one thread of its own:
// libcurl brings TLS (OpenSSL) with the system trust store, redirects, HTTP/2, content decoding, proxies
// from the environment and per-transfer timeouts, which a hand-written asio + OpenSSL client would have to
// redo; one thread suffices for the few requests per second registries allow. Completion callbacks run on
// that thread: post to your own executor from them.
#ifndef SQUATSTREAM_WORKERS_REGISTRATION_HTTP_CLIENT_H_
#define SQUATSTREAM_WORKERS_REGISTRATION_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "workers/net/address_policy.h"

namespace squatstream::workers::registration {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;          // "Accept: application/rdap+json"
  std::chrono::milliseconds timeout{10000};  // the whole transfer, redirects included
  std::size_t max_body_bytes = std::size_t{1} << 20;
  long max_redirects = 5;
  // Every address dialled (redirects included) is checked here first; a refused one is never connected to.
  // Null: none checked. Must outlive the request.
  const net::AddressPolicy* policy = nullptr;
};

struct HttpResponse {
  // OK when an HTTP answer came (any status code); DEADLINE_EXCEEDED past the timeout; UNAVAILABLE when the
  // server could not be resolved or reached (`refused` for a refused connection); PERMISSION_DENIED when the
  // policy refused its address; RESOURCE_EXHAUSTED for a body over the cap; FAILED_PRECONDITION for too many
  // redirects; CANCELLED at shutdown.
  absl::Status status;
  long code = 0;
  std::string body;
  std::string final_url;                // after redirects
  std::chrono::seconds retry_after{0};  // Retry-After of the final answer (seconds or an HTTP date)
  bool refused = false;
};

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(HttpResponse) &&>;
  explicit HttpClient(long max_connections = 64);
  ~HttpClient();  // Shutdown()
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a GET; `done` runs once, on the client's thread (CANCELLED after Shutdown).
  void Fetch(HttpRequest request, Callback done);
  // Ends every transfer (their callbacks run with CANCELLED) and joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Transfer;
  void Run();

  void* multi_ = nullptr;  // CURLM*
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Transfer>> pending_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace squatstream::workers::registration

#endif  // SQUATSTREAM_WORKERS_REGISTRATION_HTTP_CLIENT_H_
