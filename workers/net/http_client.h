// HTTP(S) GETs (and POSTs) through libcurl's multi interface on one thread of its own, for the registration stage
// (RDAP), the banner stage and the watch side's webhooks: libcurl brings TLS (OpenSSL) with the system trust store,
// HTTP/2, content decoding, the peer's certificate chain and per-transfer timeouts, which a hand-written asio +
// OpenSSL client would have to redo; one thread serves thousands of transfers (the work is waiting). libcurl never
// resolves a name: every transfer is pinned to an address found first (workers/net/host_lookup.h: the DNS stage's
// resolver, never the system's), and redirects are followed here, hop by hop, each hop's host resolved the
// same way. Every address dialled is checked against an AddressPolicy before the socket exists. Completion
// callbacks run on the client's thread: post to your own executor from them.
#ifndef SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_
#define SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"

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
  // Redirects followed by the client, hop by hop (http and https only; from https, https only): a hop to the
  // same host dials the same address, another host is resolved as `connect_address` "" is. 0: none followed
  // (a 3xx is the answer; its target in `redirect_url`).
  int max_redirects = 5;
  // Dial this address (an IP literal) for the URL's host (which stays the Host header and TLS SNI): the
  // address DNS returned, so that nothing is resolved twice (no DNS rebinding). "": the client resolves the
  // host through its HostLookup (an address literal, "127.0.0.1." included, is dialled as it is).
  std::string connect_address;
  bool verify_tls = true;          // false: any certificate is accepted (the banner stage verifies itself)
  bool want_certificates = false;  // fill `certificates_pem` (the chain as the server presented it)
  bool fresh_connection = false;   // never reuse a connection, nor keep this one
  // Set to true from any thread: the transfer ends CANCELLED within a poll interval. May be null.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // Every address dialled (redirects included) is checked here first; a refused one is never connected to.
  // Null: none checked. Must outlive the request. Proxies from the environment are never used (a proxy
  // would resolve and dial the target unchecked).
  const AddressPolicy* policy = nullptr;
  // "GET" (the default), "POST", or another method sent as it is, with `body` (any method but GET; no
  // Expect: 100-continue, the body goes at once). A redirect of a request other than GET is followed as a GET
  // without the body (RFC 9110 15.4: what clients do on 301, 302 and 303), except a 307 or 308, which keeps both.
  std::string method = "GET";
  std::string body;
};

struct HttpResponse {
  // OK when an HTTP answer came (any status code); DEADLINE_EXCEEDED past a timeout (the message names the
  // phase: connecting, waiting for the first byte, reading the response and how much of it came);
  // UNAVAILABLE when the server could not be resolved or reached (`refused` for a refused connection);
  // PERMISSION_DENIED when the policy refused its address; RESOURCE_EXHAUSTED for a body over the cap;
  // FAILED_PRECONDITION for too many redirects, a redirect to another scheme, or a name to resolve and no
  // HostLookup; INVALID_ARGUMENT for a URL without a host; CANCELLED when cancelled or at shutdown.
  absl::Status status;
  long code = 0;  // NOLINT(google-runtime-int): libcurl's API takes long (CURLINFO_RESPONSE_CODE)
  std::string body;
  bool truncated = false;                     // the body was cut at the cap (truncate_body)
  std::string final_url;                      // after redirects (the last hop's URL)
  std::string redirect_url;                   // the absolute target of a 3xx not followed
  std::string server;                         // the final answer's Server header
  std::string content_type;                   // and its Content-Type
  std::string primary_ip;                     // the address the answer came from
  std::chrono::seconds retry_after{0};        // Retry-After of the final answer (seconds or an HTTP date)
  std::vector<std::string> certificates_pem;  // want_certificates: leaf first, as presented
  std::size_t bytes_read = 0;                 // body bytes received (decoded), every hop's
  bool refused = false;                       // the connection was refused (ECONNREFUSED)
};

// The host of an absolute URL (lower case; an IPv6 literal in brackets), or "" when it has none.
std::string UrlHost(const std::string& url);

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(HttpResponse) &&>;
  // `lookup` resolves the hosts of requests without a connect_address, and of redirects to another host:
  // the DNS stage's (it must outlive the client's requests). Empty: only address literals and connect
  // addresses are dialled; a name fails FAILED_PRECONDITION, never resolved by another resolver.
  explicit HttpClient(int max_connections = 64, HostLookup lookup = nullptr);
  ~HttpClient();  // Shutdown()
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts the request; `done` runs once, on the client's thread — or, after Shutdown, at once (CANCELLED) on the
  // caller's thread, or on the lookup's when Shutdown came while the host was being resolved.
  void Fetch(HttpRequest request, Callback done);
  // Ends every transfer (their callbacks run with CANCELLED) and joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Transfer;
  struct Inbox;  // the transfers handed to the client's thread, shared with lookups still out
  // Resolves `t`'s host unless it has an address, then hands it to the client's thread (or ends it).
  static void Admit(const std::shared_ptr<Inbox>& inbox, const HostLookup& lookup, std::unique_ptr<Transfer> t);
  void Run();

  const HostLookup lookup_;
  std::shared_ptr<Inbox> inbox_;
  std::thread thread_;
};

}  // namespace squatstream::workers::net

#endif  // SQUATSTREAM_WORKERS_NET_HTTP_CLIENT_H_
