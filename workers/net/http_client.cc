#include "workers/net/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace squatstream::workers::net {

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
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  HttpResponse response;
  bool too_big = false;
  bool truncated_ok() const { return too_big && request.truncate_body; }
  bool first_byte = false;  // the answer's first byte came
  bool cancelled = false;   // ended by its `cancelled` flag
  std::chrono::steady_clock::time_point started;
  std::string denied;                // why the policy refused an address, if it did
  char error[CURL_ERROR_SIZE] = {};  // libcurl's own words for a failure ("Failed to connect to ...: ...")

  // libcurl asks for each socket it would connect: the address is checked before there is one. With a
  // connect_address and no redirects followed by libcurl, only that address is dialled: were the CONNECT_TO
  // entry not to match (an unforeseen spelling of the host), libcurl would resolve the name itself.
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address) {
    auto* t = static_cast<Transfer*>(self);
    if (purpose == CURLSOCKTYPE_IPCXN && t->request.policy != nullptr) {
      const absl::Status allowed = t->request.policy->Check(&address->addr);
      if (!allowed.ok()) {
        t->denied = std::string(allowed.message());
        return CURL_SOCKET_BAD;
      }
    }
    if (purpose == CURLSOCKTYPE_IPCXN && !t->request.connect_address.empty() && t->request.max_redirects == 0) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw =
          address->family == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr)
              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr);
      in6_addr want6{};
      in_addr want4{};
      const bool same =
          inet_ntop(address->family, raw, text, sizeof(text)) != nullptr &&
          (address->family == AF_INET6 ? inet_pton(AF_INET6, t->request.connect_address.c_str(), &want6) == 1 &&
                                             std::memcmp(&want6, raw, sizeof(want6)) == 0
                                       : inet_pton(AF_INET, t->request.connect_address.c_str(), &want4) == 1 &&
                                             std::memcmp(&want4, raw, sizeof(want4)) == 0);
      if (!same) {
        t->denied =
            absl::StrFormat("%s is not the address DNS gave (%s): not dialled", text, t->request.connect_address);
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

  // Whether the transfer must end now: cancelled (`cancelled` says so), or no first byte in time.
  bool Expired(std::chrono::steady_clock::time_point now) {
    if (request.cancelled != nullptr && request.cancelled->load(std::memory_order_relaxed)) {
      cancelled = true;
      return true;
    }
    return !first_byte && request.first_byte_timeout.count() > 0 && now - started >= request.first_byte_timeout;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const size_t bytes = size * n;
    t->first_byte = true;
    t->response.bytes_read += bytes;
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
    if (absl::StartsWith(line, "HTTP/")) {  // a new answer (after a redirect or a 100 Continue)
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
};

HttpClient::HttpClient(int max_connections) {
  static std::once_flag global;
  std::call_once(global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  multi_ = curl_multi_init();
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_connections));
  thread_ = std::thread([this] { Run(); });
}

HttpClient::~HttpClient() {
  Shutdown();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpClient::Fetch(HttpRequest request, Callback done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    MutexLock lock(mu_);
    if (!stop_) {
      pending_.push_back(std::move(t));
      curl_multi_wakeup(static_cast<CURLM*>(multi_));
      return;
    }
  }
  t->response.status = absl::CancelledError("shutting down");
  std::move(t->done)(std::move(t->response));
}

void HttpClient::Shutdown() {
  {
    MutexLock lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
}

void HttpClient::Run() {
  auto* multi = static_cast<CURLM*>(multi_);
  std::vector<std::unique_ptr<Transfer>> running;
  auto finish = [&](Transfer* t, CURLcode code) {
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
    const bool https = absl::StartsWithIgnoreCase(r.final_url.empty() ? t->request.url : r.final_url, "https://");
    // libcurl records the connection's time once TLS is up too: a timeout before then is said as one phase.
    const char* phase = connected_us == 0 || (https && tls_us == 0)
                            ? (https ? "connect phase (TCP and TLS handshake" : "connect phase (TCP")
                        : !t->first_byte ? "first byte phase (request sent"
                                         : "whole answer phase (first byte received";
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
        r.status = absl::DeadlineExceededError(
            absl::StrFormat("%s: timed out in the %s, %d ms)", t->request.url, phase,
                            (connected_us == 0 || (https && tls_us == 0)) && t->request.connect_timeout.count() > 0
                                ? t->request.connect_timeout.count()
                                : t->request.timeout.count()));
        break;
      case CURLE_ABORTED_BY_CALLBACK:
        r.status = t->cancelled ? absl::CancelledError("cancelled")
                                : absl::DeadlineExceededError(absl::StrFormat(
                                      "%s: timed out in the first byte phase (nothing %d ms after the start)",
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
      case CURLE_TOO_MANY_REDIRECTS:
        r.status = absl::FailedPreconditionError(
            absl::StrFormat("%s: more than %d redirects", t->request.url, t->request.max_redirects));
        break;
      default:
        if (t->too_big) {
          r.status = absl::ResourceExhaustedError(
              absl::StrFormat("%s: body over %d bytes (read no further)", t->request.url, t->request.max_body_bytes));
        } else {
          r.status = absl::UnavailableError(absl::StrFormat("%s: %s", t->request.url, what));
        }
    }
    if (!r.status.ok()) r.body.clear();
    std::move(t->done)(std::move(r));
  };
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> fresh;
    bool stop = false;
    {
      MutexLock lock(mu_);
      fresh.swap(pending_);
      stop = stop_;
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
      CURL* e = curl_easy_init();
      t->easy = e;
      for (const std::string& h : t->request.headers) t->headers = curl_slist_append(t->headers, h.c_str());
      curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
      curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
      // No proxy from the environment when addresses are checked: the policy would see the proxy's address,
      // and the proxy would dial the target unchecked.
      if (t->request.policy != nullptr) curl_easy_setopt(e, CURLOPT_PROXY, "");
      // No downgrade: an https request follows redirects to https only.
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                       absl::StartsWith(t->request.url, "https://") ? "https" : "http,https");
      curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Transfer::OnOpenSocket);
      curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, t->request.max_redirects > 0 ? 1L : 0L);
      curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(t->request.max_redirects));
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout.count()));
      if (t->request.connect_timeout.count() > 0) {
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t->request.connect_timeout.count()));
      }
      if (!t->request.connect_address.empty()) {
        // "HOST::ADDRESS:": the URL's host (any port) is dialled at ADDRESS, same port. Only that host: a
        // redirect elsewhere resolves its own.
        const bool v6 = absl::StrContains(t->request.connect_address, ':');
        const std::string entry = absl::StrFormat("%s::%s%s%s:", UrlHost(t->request.url), v6 ? "[" : "",
                                                  t->request.connect_address, v6 ? "]" : "");
        t->connect_to = curl_slist_append(nullptr, entry.c_str());
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
      }
      if (!t->request.verify_tls) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
      }
      if (t->request.want_certificates) curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
      if (t->request.fresh_connection) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
      }
      t->started = std::chrono::steady_clock::now();
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // what libcurl can decode; the cap counts decoded bytes
      curl_easy_setopt(e, CURLOPT_USERAGENT, "squatstream (+https://github.com/squatstream/squatstream)");
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
      curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
      curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
      curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
      curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
      curl_multi_add_handle(multi, e);
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
      finish(t, code);
      for (auto it = running.begin(); it != running.end(); ++it) {
        if (it->get() == t) {
          running.erase(it);
          break;
        }
      }
    }
    // Ends transfers cancelled, or waiting for a first byte too long (libcurl has no timeout for that).
    bool watching = false;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = running.begin(); it != running.end();) {
      Transfer* t = it->get();
      watching = watching || t->request.cancelled != nullptr || t->request.first_byte_timeout.count() > 0;
      if (!t->Expired(now)) {
        ++it;
        continue;
      }
      curl_multi_remove_handle(multi, t->easy);
      finish(t, CURLE_ABORTED_BY_CALLBACK);
      it = running.erase(it);
    }
    curl_multi_poll(multi, nullptr, 0, watching ? 50 : 1000, nullptr);
  }
}

}  // namespace squatstream::workers::net
