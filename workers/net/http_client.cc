#include "workers/net/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/mutex.h"

namespace squatstream::workers::net {
namespace {

using Clock = std::chrono::steady_clock;

// The dialled address as inet_ntop writes it; "" for another family.
std::string AddressText(const curl_sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = address->family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr);
  if ((address->family != AF_INET && address->family != AF_INET6) ||
      inet_ntop(address->family, raw, text, sizeof(text)) == nullptr) {
    return "";
  }
  return text;
}

std::string WithoutTrailingDot(std::string host) {
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

}  // namespace

std::string UrlHost(const std::string& url) {
  CURLU* u = curl_url();
  std::string host;
  char* h = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &h, CURLU_PUNYCODE) == CURLUE_OK) {
    host = h;
    curl_free(h);
  }
  curl_url_cleanup(u);
  return absl::AsciiStrToLower(host);
}

struct HttpClient::Transfer {
  HttpRequest request;
  Callback done;
  absl::Status failed;         // ended before libcurl saw it (its host not resolved ...): never dialled
  std::string pinned;          // the address dialled for this hop's host (inet_ntop's spelling)
  int redirects = 0;           // followed before this hop
  Clock::time_point deadline;  // the whole request's, redirects included
  Clock::time_point started;   // this hop's
  std::size_t hop_body_bytes = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  HttpResponse response;
  bool too_big = false;
  bool truncated_ok() const { return too_big && request.truncate_body; }
  bool first_byte = false;           // a complete header line, or body bytes, came
  bool cancelled = false;            // ended by its `cancelled` flag
  std::string denied;                // why the socket callback refused an address, if it did
  char error[CURL_ERROR_SIZE] = {};  // libcurl's own words for a failure ("Failed to connect to ...: ...")

  // Whether the answer has begun: a complete header line came, or libcurl read its first bytes (its
  // start-transfer time) — a server trickling a status line a byte at a time has begun, whatever its pace.
  bool Started() const {
    if (first_byte) return true;
    curl_off_t start_us = 0;
    return easy != nullptr && curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME_T, &start_us) == CURLE_OK &&
           start_us > 0;
  }

  // libcurl asks for each socket it would connect: the address is checked before there is one. It was
  // given the pinned address for every host (CONNECT_TO), so any other address would be one it resolved
  // itself: refused too.
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address) {
    auto* t = static_cast<Transfer*>(self);
    if (purpose == CURLSOCKTYPE_IPCXN) {
      if (t->request.policy != nullptr) {
        const absl::Status allowed = t->request.policy->Check(&address->addr);
        if (!allowed.ok()) {
          t->denied = std::string(allowed.message());
          return CURL_SOCKET_BAD;
        }
      }
      if (const std::string dialled = AddressText(address); dialled != t->pinned) {
        t->denied = absl::StrFormat("%s is not the address found for the host (%s): not dialled", dialled, t->pinned);
        return CURL_SOCKET_BAD;
      }
    }
    return socket(address->family, address->socktype, address->protocol);
  }

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
  }

  // Whether the transfer must end now: cancelled (`cancelled` says so), or nothing of the answer in time.
  bool Expired(Clock::time_point now) {
    if (request.cancelled != nullptr && request.cancelled->load(std::memory_order_relaxed)) {
      cancelled = true;
      return true;
    }
    return request.first_byte_timeout.count() > 0 && now - started >= request.first_byte_timeout && !Started();
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const size_t bytes = size * n;
    t->first_byte = true;
    t->response.bytes_read += bytes;
    t->hop_body_bytes += bytes;
    if (t->response.body.size() + bytes > t->request.max_body_bytes) {
      t->too_big = true;
      if (t->request.truncate_body) {
        t->response.body.append(data, t->request.max_body_bytes - t->response.body.size());
        t->response.truncated = true;
      }
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    t->response.body.append(data, bytes);
    return bytes;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const absl::string_view line(data, size * n);
    t->first_byte = true;
    if (absl::StartsWith(line, "HTTP/")) {  // a new answer (after a 100 Continue)
      t->response.retry_after = std::chrono::seconds(0);
      t->response.server.clear();
      t->response.content_type.clear();
    }
    if (absl::StartsWithIgnoreCase(line, "server:")) {
      t->response.server = std::string(absl::StripAsciiWhitespace(line.substr(7)).substr(0, 256));
    }
    if (absl::StartsWithIgnoreCase(line, "content-type:")) {
      t->response.content_type = std::string(absl::StripAsciiWhitespace(line.substr(13)).substr(0, 256));
    }
    if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
      const std::string value(absl::StripAsciiWhitespace(line.substr(12)));
      std::int64_t seconds = 0;
      if (absl::SimpleAtoi(value, &seconds)) {
        t->response.retry_after = std::chrono::seconds(std::clamp<std::int64_t>(seconds, 0, 3600));
      } else if (const time_t when = curl_getdate(value.c_str(), nullptr); when > 0) {
        const std::int64_t delta = static_cast<std::int64_t>(when) - static_cast<std::int64_t>(time(nullptr));
        t->response.retry_after = std::chrono::seconds(std::clamp<std::int64_t>(delta, 0, 3600));
      }
    }
    return size * n;
  }

  // Hands this hop to libcurl, pinned to its address.
  void Start(CURLM* multi) {
    CURL* e = easy = curl_easy_init();
    for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
    if (request.method != "GET") {
      // The body stays in `request` (this transfer's) while libcurl reads it. "Expect:" drops the 100-continue
      // round trip libcurl would make for a larger body.
      headers = curl_slist_append(headers, "Expect:");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
      if (request.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error);
    // No proxy from the environment: it would resolve the name and dial the target unchecked.
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    // Redirects are followed by the client (each hop's host resolved by the DNS stage's resolver), not by
    // libcurl (which would resolve them itself).
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    // "::ADDRESS:": any host, any port, is dialled at the pinned address (an IP literal, which libcurl does not
    // resolve), the URL's port kept. Any host: however libcurl spells the URL's (a trailing dot dropped,
    // punycode, an IPv4 form it normalises), nothing is left for it to resolve.
    const bool v6 = absl::StrContains(pinned, ':');
    const std::string entry = absl::StrFormat("::%s%s%s:", v6 ? "[" : "", pinned, v6 ? "]" : "");
    connect_to = curl_slist_append(nullptr, entry.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Transfer::OnOpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    started = Clock::now();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, left.count())));
    if (request.connect_timeout.count() > 0) {
      curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
    }
    if (!request.verify_tls) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (request.want_certificates) curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
    if (request.fresh_connection) {
      curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // what libcurl can decode; the cap counts decoded bytes
    curl_easy_setopt(e, CURLOPT_USERAGENT, "squatstream (+https://github.com/squatstream/squatstream)");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(e, CURLOPT_PRIVATE, this);
    curl_multi_add_handle(multi, e);
  }

  // OK when the redirect to `url` is to be followed; else why not.
  absl::Status MayFollow(const std::string& url) const {
    const bool https = absl::StartsWithIgnoreCase(url, "https://");
    if (!https && !absl::StartsWithIgnoreCase(url, "http://")) {
      return absl::FailedPreconditionError(absl::StrFormat("%s: a redirect to \"%s\": only http and https are followed",
                                                           request.url, url.substr(0, 256)));
    }
    if (!https && absl::StartsWithIgnoreCase(request.url, "https://")) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: a redirect from https to http (%s): not followed", request.url, url.substr(0, 256)));
    }
    if (redirects >= request.max_redirects) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: more than %d redirects", request.url, request.max_redirects));
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrFormat("%s: timed out following redirects (%d ms in all)", request.url, request.timeout.count()));
    }
    return absl::OkStatus();
  }

  // The request for the redirect's target: the same address for the same host, else resolved anew.
  // `code` is the redirect's status: a 307 or 308 keeps the method and body, any other makes a GET.
  std::unique_ptr<Transfer> NextHop(const std::string& url, long code) {  // NOLINT(google-runtime-int): libcurl's
    auto next = std::make_unique<Transfer>();
    const bool same_host = WithoutTrailingDot(UrlHost(url)) == WithoutTrailingDot(UrlHost(request.url));
    next->request = std::move(request);
    next->request.url = url;
    if (code != 307 && code != 308 && next->request.method != "GET") {
      next->request.method = "GET";
      next->request.body.clear();
    }
    if (!same_host) next->request.connect_address.clear();
    next->done = std::move(done);
    next->redirects = redirects + 1;
    next->deadline = deadline;
    next->response.bytes_read = response.bytes_read;
    return next;
  }
};

struct HttpClient::Inbox {
  // One lock for the hand-over: Fetch, lookups calling back and redirects push transfers, the client's
  // thread swaps them out once a loop. `multi` may be woken while `stop` is false: it is cleaned up only
  // after Shutdown set it.
  Mutex mu;
  std::vector<std::unique_ptr<Transfer>> pending ABSL_GUARDED_BY(mu);
  bool stop ABSL_GUARDED_BY(mu) = false;
  CURLM* multi = nullptr;

  // Hands `t` to the client's thread; after Shutdown ends it CANCELLED here, on the caller's thread.
  void Push(std::unique_ptr<Transfer> t) {
    {
      MutexLock lock(mu);
      if (!stop) {
        pending.push_back(std::move(t));
        curl_multi_wakeup(multi);
        return;
      }
    }
    t->response = HttpResponse{};
    t->response.status = absl::CancelledError("shutting down");
    std::move(t->done)(std::move(t->response));
  }
};

HttpClient::HttpClient(int max_connections, HostLookup lookup)
    : lookup_(std::move(lookup)), inbox_(std::make_shared<Inbox>()) {
  static std::once_flag global;
  std::call_once(global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  inbox_->multi = curl_multi_init();
  curl_multi_setopt(inbox_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_connections));
  thread_ = std::thread([this] { Run(); });
}

HttpClient::~HttpClient() {
  Shutdown();
  curl_multi_cleanup(inbox_->multi);
}

void HttpClient::Fetch(HttpRequest request, Callback done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->deadline = Clock::now() + t->request.timeout;
  Admit(inbox_, lookup_, std::move(t));
}

void HttpClient::Admit(const std::shared_ptr<Inbox>& inbox, const HostLookup& lookup, std::unique_ptr<Transfer> t) {
  if (!t->request.connect_address.empty()) {
    t->pinned = AddressLiteral(t->request.connect_address);
    if (t->pinned.empty()) {
      t->failed = absl::InvalidArgumentError(absl::StrFormat("%s: the address to dial, \"%s\", is not an IP address",
                                                             t->request.url, t->request.connect_address));
    }
    inbox->Push(std::move(t));
    return;
  }
  const std::string host = UrlHost(t->request.url);
  if (host.empty()) {
    t->failed = absl::InvalidArgumentError(absl::StrFormat("%s: no host to dial", t->request.url));
    inbox->Push(std::move(t));
    return;
  }
  const AddressPolicy* policy = t->request.policy;
  ResolveHost(lookup, host, policy, [inbox, t = std::move(t)](absl::StatusOr<std::vector<std::string>> found) mutable {
    if (found.ok()) {
      t->request.connect_address = t->pinned = found->front();
    } else {
      t->failed =
          absl::Status(found.status().code(), absl::StrFormat("%s: %s", t->request.url, found.status().message()));
    }
    inbox->Push(std::move(t));
  });
}

void HttpClient::Shutdown() {
  {
    MutexLock lock(inbox_->mu);
    if (inbox_->stop) return;
    inbox_->stop = true;
  }
  curl_multi_wakeup(inbox_->multi);
  if (thread_.joinable()) thread_.join();
}

void HttpClient::Run() {
  CURLM* multi = inbox_->multi;
  std::vector<std::unique_ptr<Transfer>> running;
  auto finish = [&](std::unique_ptr<Transfer> t, CURLcode code) {
    HttpResponse& r = t->response;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.code);
    char* text = nullptr;
    if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &text) == CURLE_OK && text != nullptr) r.final_url = text;
    text = nullptr;
    if (curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &text) == CURLE_OK && text != nullptr) r.redirect_url = text;
    text = nullptr;
    if (curl_easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &text) == CURLE_OK && text != nullptr) r.primary_ip = text;
    if (t->request.want_certificates) {
      curl_certinfo* chain = nullptr;
      if (curl_easy_getinfo(t->easy, CURLINFO_CERTINFO, &chain) == CURLE_OK && chain != nullptr) {
        for (int i = 0; i < chain->num_of_certs; ++i) {
          for (curl_slist* field = chain->certinfo[i]; field != nullptr; field = field->next) {
            if (absl::StartsWith(field->data, "Cert:")) r.certificates_pem.emplace_back(field->data + 5);
          }
        }
      }
    }
    curl_off_t connected_us = 0, tls_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connected_us);
    curl_easy_getinfo(t->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
    long header_bytes = 0;  // NOLINT(google-runtime-int): libcurl's API takes long (CURLINFO_HEADER_SIZE)
    curl_easy_getinfo(t->easy, CURLINFO_HEADER_SIZE, &header_bytes);
    const bool https = absl::StartsWithIgnoreCase(t->request.url, "https://");
    // libcurl records the connection's time once TLS is up too: a timeout before then is said as one phase.
    const bool connecting = connected_us == 0 || (https && tls_us == 0);
    const std::string what = t->error[0] != '\0' ? std::string(t->error) : curl_easy_strerror(code);
    long os_errno = 0;  // NOLINT(google-runtime-int): libcurl's API takes long (CURLINFO_OS_ERRNO)
    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (!t->denied.empty() && code != CURLE_OK) code = CURLE_COULDNT_CONNECT;  // said as the policy's refusal
    if (t->truncated_ok()) code = CURLE_OK;
    switch (code) {
      case CURLE_OK:
        r.status = absl::OkStatus();
        break;
      case CURLE_OPERATION_TIMEDOUT:
        if (connecting) {
          r.status = absl::DeadlineExceededError(absl::StrFormat(
              "%s: timed out in the connect phase (%s, %d ms)", t->request.url, https ? "TCP and TLS handshake" : "TCP",
              t->request.connect_timeout.count() > 0 ? t->request.connect_timeout.count()
                                                     : t->request.timeout.count()));
        } else if (!t->Started()) {
          r.status = absl::DeadlineExceededError(
              absl::StrFormat("%s: timed out in the first byte phase (request sent, nothing came in %d ms)",
                              t->request.url, t->request.timeout.count()));
        } else {
          // Bytes came, too slowly (a slowloris sender) or too many: said as what it is, with how much came.
          const std::size_t received = static_cast<std::size_t>(std::max(0L, header_bytes)) + t->hop_body_bytes;
          r.status = absl::DeadlineExceededError(absl::StrFormat(
              "%s: timed out reading the response (%d ms): %s", t->request.url, t->request.timeout.count(),
              received > 0 ? absl::StrFormat("%d bytes received", received)
                           : std::string("bytes received, not one complete header line")));
        }
        break;
      case CURLE_ABORTED_BY_CALLBACK:  // Expired: cancelled, or nothing of the answer in time
        r.status = t->cancelled ? absl::CancelledError("cancelled")
                                : absl::DeadlineExceededError(absl::StrFormat(
                                      "%s: timed out in the first byte phase (request sent, nothing came in %d ms)",
                                      t->request.url, t->request.first_byte_timeout.count()));
        break;
      case CURLE_COULDNT_CONNECT:
        if (!t->denied.empty()) {
          r.status = absl::PermissionDeniedError(absl::StrFormat("%s: %s", t->request.url, t->denied));
          break;
        }
        r.refused = os_errno == ECONNREFUSED;
        r.status = absl::UnavailableError(absl::StrFormat("%s: %s", t->request.url, what));
        break;
      case CURLE_OUT_OF_MEMORY:  // what libcurl says of a header line over its 100 KiB limit, too
        r.status = absl::ResourceExhaustedError(absl::StrFormat(
            "%s: an answer libcurl would not hold (a header line over 100 KiB, or out of memory)", t->request.url));
        break;
      default:
        if (t->too_big) {
          r.status = absl::ResourceExhaustedError(
              absl::StrFormat("%s: body over %d bytes (read no further)", t->request.url, t->request.max_body_bytes));
        } else {
          r.status = absl::UnavailableError(absl::StrFormat("%s: %s", t->request.url, what));
        }
    }
    if (r.status.ok() && r.code >= 300 && r.code < 400 && !r.redirect_url.empty() && t->request.max_redirects > 0) {
      r.status = t->MayFollow(r.redirect_url);
      if (r.status.ok()) {
        Admit(inbox_, lookup_, t->NextHop(r.redirect_url, r.code));
        return;
      }
    }
    if (!r.status.ok()) r.body.clear();
    std::move(t->done)(std::move(r));
  };
  auto take = [&](Transfer* raw) {
    std::unique_ptr<Transfer> owned;
    for (auto it = running.begin(); it != running.end(); ++it) {
      if (it->get() == raw) {
        owned = std::move(*it);
        running.erase(it);
        break;
      }
    }
    return owned;
  };
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> fresh;
    bool stop = false;
    {
      MutexLock lock(inbox_->mu);
      fresh.swap(inbox_->pending);
      stop = inbox_->stop;
    }
    if (stop) {
      for (auto& t : fresh) running.push_back(std::move(t));
      for (auto& t : running) {
        if (t->easy != nullptr) curl_multi_remove_handle(multi, t->easy);
        t->response = HttpResponse{};
        t->response.status = absl::CancelledError("shutting down");
        std::move(t->done)(std::move(t->response));
      }
      return;
    }
    for (auto& t : fresh) {
      if (!t->failed.ok()) {  // never reached libcurl: nothing dialled
        t->response.status = t->failed;
        std::move(t->done)(std::move(t->response));
        continue;
      }
      t->Start(multi);
      running.push_back(std::move(t));
    }
    int still = 0;
    curl_multi_perform(multi, &still);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);
      if (std::unique_ptr<Transfer> owned = take(t)) finish(std::move(owned), code);
    }
    // Ends transfers cancelled, or with nothing of their answer too long (libcurl has no timeout for that).
    bool watching = false;
    const auto now = Clock::now();
    for (std::size_t i = 0; i < running.size();) {
      Transfer* t = running[i].get();
      watching = watching || t->request.cancelled != nullptr || t->request.first_byte_timeout.count() > 0;
      if (!t->Expired(now)) {
        ++i;
        continue;
      }
      std::unique_ptr<Transfer> owned = std::move(running[i]);
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      curl_multi_remove_handle(multi, owned->easy);
      finish(std::move(owned), CURLE_ABORTED_BY_CALLBACK);
    }
    curl_multi_poll(multi, nullptr, 0, watching ? 50 : 1000, nullptr);
  }
}

}  // namespace squatstream::workers::net
