#include "watch/deliverer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "workers/net/http_client.h"

namespace squatstream::watch {
namespace {

constexpr std::size_t kMaxAnswerBytes = std::size_t{64} << 10;

// A store call, timed into `store_seconds` and counted into `store_errors` when it fails (ABORTED is a lease
// taken over, not the store failing).
template <typename F>
auto Timed(const WatchMetrics& m, F&& call) {
  const absl::Time start = absl::Now();
  auto result = call();
  if (m.store_seconds != nullptr) m.store_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  absl::Status status;
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    status = result;
  } else {
    status = result.status();
  }
  if (!status.ok() && !absl::IsAborted(status) && m.store_errors != nullptr) m.store_errors->Increment();
  return result;
}

void Increment(prometheus::Counter* c) {
  if (c != nullptr) c->Increment();
}
void Set(prometheus::Gauge* g, double v) {
  if (g != nullptr) g->Set(v);
}

// One POST's outcome.
struct Attempt {
  bool done = false;
  workers::net::HttpResponse response;
};

}  // namespace

std::string WebhookBody(const v1::WatchEvent& event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  // A message of our own schema always prints: a failure here would be a bug, sent as an empty object.
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) json = "{}";
  return json;
}

std::string WebhookSignature(const std::string& secret, std::int64_t unix_seconds, const std::string& body) {
  const std::string signed_text = absl::StrCat(unix_seconds, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &mac_len);
  return absl::StrCat("t=", unix_seconds,
                      ",v1=", absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), mac_len)));
}

absl::Duration RetryDelay(int attempts, absl::Duration first, absl::Duration max) {
  absl::Duration delay = first;
  for (int i = 1; i < attempts && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

absl::Duration RetryDelay(int attempts) { return RetryDelay(attempts, absl::Seconds(1), absl::Hours(1)); }

absl::Status CheckWebhookUrl(const std::string& url, const workers::net::AddressPolicy& policy) {
  if (!absl::StartsWithIgnoreCase(url, "http://") && !absl::StartsWithIgnoreCase(url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrFormat("webhook URL \"%s\": not an http:// or https:// URL", url.substr(0, 256)));
  }
  std::string host = workers::net::UrlHost(url);
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("webhook URL \"%s\": no host", url.substr(0, 256)));
  }
  while (!host.empty() && host.back() == '.') host.pop_back();
  std::vector<std::string> addresses;
  if (const std::string literal = workers::net::AddressLiteral(host); !literal.empty()) {
    addresses.push_back(literal);
  } else if (host == "localhost" || absl::EndsWith(host, ".localhost")) {
    addresses = {"127.0.0.1", "::1"};  // RFC 6761: loopback, whatever a resolver would say
  }
  for (const std::string& address : addresses) {
    if (absl::Status allowed = policy.CheckText(address); !allowed.ok()) {
      return absl::PermissionDeniedError(
          absl::StrFormat("webhook URL \"%s\": %s", url.substr(0, 256), allowed.message()));
    }
  }
  return absl::OkStatus();
}

struct Deliverer::Impl {
  Impl(store::Store& s, DelivererOptions o, const WatchMetrics& m)
      : store(s), options(std::move(o)), metrics(m), http(16, options.lookup) {}

  void Run();
  // POSTs `batch` (at once, on the client's thread) and ends each delivery as its answer says.
  void Deliver(std::vector<store::DeliveryRow> batch);
  void Finish(const store::DeliveryRow& row, const workers::net::HttpResponse& response);
  void UpdateGauges();
  bool Stopping() {
    MutexLock lock(mu);
    return stop;
  }

  store::Store& store;
  const DelivererOptions options;
  const WatchMetrics& metrics;
  workers::net::HttpClient http;
  // Set by Stop: the POSTs in flight end CANCELLED within the client's poll interval.
  const std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);

  // One lock for the thread's wake-ups and the answers of a batch: Wake and Stop signal the sleeping loop, the
  // client's callbacks fill `attempts`; the loop is the only reader. Nothing slow runs under it.
  Mutex mu;
  CondVar cv;
  bool stop ABSL_GUARDED_BY(mu) = false;
  bool woken ABSL_GUARDED_BY(mu) = false;
  std::vector<Attempt> attempts ABSL_GUARDED_BY(mu);
  std::thread thread;
};

void Deliverer::Impl::Run() {
  absl::Time gauges_due = absl::InfinitePast();
  while (!Stopping()) {
    const absl::Time now = absl::Now();
    if (now >= gauges_due) {
      UpdateGauges();
      gauges_due = now + options.poll;
    }
    absl::StatusOr<std::vector<store::DeliveryRow>> batch = Timed(metrics, [&] {
      return store.ClaimDeliveries(options.owner, now, now + options.lease, std::max(1, options.batch));
    });
    if (batch.ok() && !batch->empty()) {
      Deliver(*std::move(batch));
      continue;  // more may be due (each watch's next event, once its previous one is delivered)
    }
    MutexLock lock(mu);
    if (!stop && !woken) {
      cv.WaitFor(mu, std::chrono::microseconds(absl::ToInt64Microseconds(options.poll)));
    }
    woken = false;
  }
}

void Deliverer::Impl::Deliver(std::vector<store::DeliveryRow> batch) {
  {
    MutexLock lock(mu);
    attempts.assign(batch.size(), Attempt{});
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const store::DeliveryRow& row = batch[i];
    if (row.url.empty()) {  // the watch's webhook was removed after the event was written: nowhere to deliver
      MutexLock lock(mu);
      attempts[i].done = true;
      attempts[i].response.status = absl::FailedPreconditionError("the watch has no webhook any more");
      continue;
    }
    workers::net::HttpRequest request;
    request.url = row.url;
    request.method = "POST";
    request.body = WebhookBody(row.event);
    const std::int64_t t = absl::ToUnixSeconds(absl::Now());
    request.headers = {"Content-Type: application/json", absl::StrCat("Squatstream-Event-Id: ", row.event_id),
                       absl::StrCat("Squatstream-Signature: ", WebhookSignature(row.secret, t, request.body))};
    request.timeout = options.timeout;
    request.max_redirects = 0;
    request.max_body_bytes = kMaxAnswerBytes;
    request.truncate_body = true;
    request.policy = options.policy;
    request.cancelled = cancelled;
    http.Fetch(std::move(request), [this, i](workers::net::HttpResponse response) {
      MutexLock lock(mu);
      attempts[i].done = true;
      attempts[i].response = std::move(response);
      cv.NotifyAll();
    });
  }
  std::vector<Attempt> answers;
  {
    // Every callback runs (CANCELLED at the latest when Stop cancels or shuts the client down).
    MutexLock lock(mu);
    for (;;) {
      bool all = true;
      for (const Attempt& a : attempts) all = all && a.done;
      if (all) break;
      cv.Wait(mu);
    }
    answers = std::move(attempts);
    attempts.clear();
    if (stop) return;  // the answers of a cancelled batch say nothing: their leases expire, tried again
  }
  for (std::size_t i = 0; i < batch.size(); ++i) Finish(batch[i], answers[i].response);
}

void Deliverer::Impl::Finish(const store::DeliveryRow& row, const workers::net::HttpResponse& response) {
  if (response.status.ok() && response.code >= 200 && response.code < 300) {
    if (Timed(metrics, [&] { return store.MarkDelivered(row.event_id, options.owner, absl::Now()); }).ok()) {
      Increment(metrics.deliveries_ok);
    }
    return;
  }
  const std::string error = response.status.ok() ? absl::StrFormat("HTTP %d", response.code)
                                                 : std::string(response.status.message()).substr(0, 1024);
  const absl::Time now = absl::Now();
  const absl::Time give_up = row.created + options.give_up_after;
  if (now >= give_up || row.url.empty()) {
    if (Timed(metrics, [&] { return store.MarkDead(row.event_id, options.owner, error); }).ok()) {
      Increment(metrics.deliveries_dead);
    }
    return;
  }
  // The last attempt at the give-up time itself, not a full delay past it.
  const absl::Time next = std::min(now + RetryDelay(row.attempts + 1, options.min_delay, options.max_delay), give_up);
  if (Timed(metrics, [&] { return store.RetryDelivery(row.event_id, options.owner, next, error); }).ok()) {
    Increment(metrics.deliveries_retry);
  }
}

void Deliverer::Impl::UpdateGauges() {
  if (metrics.outbox_pending == nullptr && metrics.outbox_dead == nullptr && metrics.outbox_oldest_seconds == nullptr) {
    return;
  }
  absl::StatusOr<store::DeliveryCounts> counts = Timed(metrics, [&] { return store.CountDeliveries(); });
  if (!counts.ok()) return;
  Set(metrics.outbox_pending, static_cast<double>(counts->pending));
  Set(metrics.outbox_dead, static_cast<double>(counts->dead));
  Set(metrics.outbox_oldest_seconds, counts->oldest_pending == absl::InfinitePast()
                                         ? 0.0
                                         : std::max(0.0, absl::ToDoubleSeconds(absl::Now() - counts->oldest_pending)));
}

Deliverer::Deliverer(store::Store& store, DelivererOptions options, const WatchMetrics& metrics)
    : impl_(std::make_unique<Impl>(store, std::move(options), metrics)) {}

Deliverer::~Deliverer() { Stop(); }

void Deliverer::Start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void Deliverer::Wake() {
  MutexLock lock(impl_->mu);
  impl_->woken = true;
  impl_->cv.NotifyAll();
}

void Deliverer::Stop() {
  {
    MutexLock lock(impl_->mu);
    impl_->stop = true;
    impl_->cv.NotifyAll();
  }
  impl_->cancelled->store(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->http.Shutdown();
}

}  // namespace squatstream::watch
