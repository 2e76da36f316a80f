// HTTP(S) GETs through libcurl's multi interface on one thread of its own, for the registration stage (RDAP)
// and the banner stage: libcurl brings TLS (OpenSSL) with the system trust store, redirects, HTTP/2, content
// decoding, the peer's certificate chain and per-transfer timeouts, which a hand-written asio + OpenSSL
// client would have to redo; one thread serves thousands of transfers (the work is waiting). Every address
// dialled is checked against an AddressPolicy before the socket exists. Completion callbacks run on that
// thread: post to your own executor from them.
#ifndef SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_
#define SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "workers/net/address_policy.h"

namespace squatstream::workers::net {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;                 // "Accept: application/rdap+json"
  std::chrono::milliseconds timeout{10000};         // the whole transfer, redirects included
  std::chrono::milliseconds connect_timeout{0};     // TCP connect and TLS handshake; 0: only `timeout`
  std::chrono::milliseconds first_byte_timeout{0};  // from the start until the answer's first byte; 0: none
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // Over the cap: false ends the transfer RESOURCE_EXHAUSTED with no body; true ends it OK with the first
  // max_body_bytes kept and `truncated` set (a banner reads a page's start; an endless body is not an error).
  bool truncate_body = false;
  int max_redirects = 5;  // 0: none followed (a 3xx is the answer; its target in `redirect_url`)
  // Dial this address instead of resolving the URL's host (which stays the Host header and TLS SNI): the
  // address DNS returned, so that nothing is resolved twice (no DNS rebinding). "" resolves as usual.
  std::string connect_address;
  bool verify_tls = true;          // false: any certificate is accepted (the banner stage verifies itself)
  bool want_certificates = false;  // fill `certificates_pem` (the chain as the server presented it)
  bool fresh_connection = false;   // never reuse a connection, nor keep this one
  // Set to true from any thread: the transfer ends CANCELLED within a poll interval. May be null.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // Every address dialled (redirects included) is checked here first; a refused one is never connected to.
  // With a policy, proxies from the environment are not used (the proxy would dial unchecked). Null: none
  // checked. Must outlive the request.
  const AddressPolicy* policy = nullptr;
};

struct HttpResponse {
  // OK when an HTTP answer came (any status code); DEADLINE_EXCEEDED past a timeout (the message says which);
  // UNAVAILABLE when the server could not be resolved or reached (`refused` for a refused connection);
  // PERMISSION_DENIED when the policy refused its address; RESOURCE_EXHAUSTED for a body over the cap;
  // FAILED_PRECONDITION for too many redirects; CANCELLED when cancelled or at shutdown.
  absl::Status status;
  long code = 0;  // NOLINT(google-runtime-int): libcurl's API takes long (CURLINFO_RESPONSE_CODE)
  std::string body;
  bool truncated = false;                     // the body was cut at the cap (truncate_body)
  std::string final_url;                      // after redirects
  std::string redirect_url;                   // the absolute target of a 3xx not followed
  std::string server;                         // the final answer's Server header
  std::string content_type;                   // and its Content-Type
  std::string primary_ip;                     // the address the answer came from
  std::chrono::seconds retry_after{0};        // Retry-After of the final answer (seconds or an HTTP date)
  std::vector<std::string> certificates_pem;  // want_certificates: leaf first, as presented
  std::size_t bytes_read = 0;                 // body bytes received (decoded)
  bool refused = false;                       // the connection was refused (ECONNREFUSED)
};

// The host of an absolute URL (lower case; an IPv6 literal in brackets), or "" when it has none.
std::string UrlHost(const std::string& url);

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(HttpResponse) &&>;
  explicit HttpClient(int max_connections = 64);
  ~HttpClient();  // Shutdown()
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a GET; `done` runs once, on the client's thread — or, after Shutdown, at once on the caller's
  // (CANCELLED).
  void Fetch(HttpRequest request, Callback done);
  // Ends every transfer (their callbacks run with CANCELLED) and joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Transfer;
  void Run();

  void* multi_ = nullptr;  // CURLM*
  Mutex mu_;               // Guards:
  std::vector<std::unique_ptr<Transfer>> pending_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace squatstream::workers::net

#endif  // SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_
