// Deliverer: the outbox's far side — POSTs each event that has a webhook delivery to its watch's URL, signed,
// retried with exponential backoff until delivered or given up on. At least once: the event id
// (Squatstream-Event-Id) is the receiver's idempotency key; each watch's events arrive in order (the store hands
// out only a watch's oldest undelivered one).
//
// Request: POST, Content-Type application/json, the body WebhookBody(event) — the event in protobuf's JSON
// mapping with proto field names (the record as EnrichDomain's JSON); headers
//   Squatstream-Event-Id: <id>
//   Squatstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the watch's secret>
// A 2xx answer delivers; anything else (an error status, no answer, a refused address) is tried again after
// 1 s, 2 s, 4 s ... at most 1 h apart, until 24 h after the event was written; then it is dead (counted, kept).
// Every address dialled passes the address policy (as the stages' do).
#ifndef SQUATSTREAM_WATCH_DELIVERER_H_
#define SQUATSTREAM_WATCH_DELIVERER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "squatstream/v1/watch.pb.h"
#include "store/store.h"
#include "watch/watch_metrics.h"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"

namespace squatstream::watch {

// The JSON body of an event's webhook.
std::string WebhookBody(const v1::WatchEvent& event);
// "t=<unix>,v1=<hex>" for `body` signed at `t` with `secret`.
std::string WebhookSignature(const std::string& secret, std::int64_t unix_seconds, const std::string& body);
// The wait before attempt `attempts` + 1 (attempts already made >= 1): 1 s doubling, at most 1 h.
absl::Duration RetryDelay(int attempts);
// The same from `first` doubling, at most `max` (DelivererOptions.min_delay, max_delay).
absl::Duration RetryDelay(int attempts, absl::Duration first, absl::Duration max);

// Whether `url` may be a watch's webhook (checked when a watch is created or updated): INVALID_ARGUMENT unless
// it is an http:// or https:// URL with a host; PERMISSION_DENIED naming the range when its host is an address
// literal `policy` refuses, or localhost (checked as 127.0.0.1 and ::1). A host name is checked when the
// deliverer dials it: each address it resolves to passes `policy` then (no DNS rebinding: the address
// checked is the one dialled).
absl::Status CheckWebhookUrl(const std::string& url, const workers::net::AddressPolicy& policy);

struct DelivererOptions {
  std::string owner;                         // this replica's lease owner name
  absl::Duration poll = absl::Seconds(1);    // how often the outbox is read when idle
  absl::Duration lease = absl::Seconds(60);  // a claimed delivery's lease
  absl::Duration give_up_after = absl::Hours(24);
  absl::Duration max_delay = absl::Hours(1);
  std::chrono::milliseconds timeout{10000};             // one POST
  int batch = 32;                                       // deliveries claimed at once
  const workers::net::AddressPolicy* policy = nullptr;  // null: none checked (tests only)
  absl::Duration min_delay = absl::Seconds(1);          // the first retry's wait (tests shrink it)
  // Resolves webhook hosts that are names: the DNS stage's lookup (workers/stage.h; it must outlive the
  // deliverer), as the banner and registration stages resolve theirs. Empty (the DNS stage simulated): only
  // address literals are dialled; a name's delivery fails FAILED_PRECONDITION, retried until given up.
  workers::net::HostLookup lookup;
};

// One thread of its own: reads the outbox every `poll` (or at once after Wake), POSTs what is due, one watch's
// deliveries one at a time. Store failures are counted and tried again at the next poll (nothing is lost: the
// outbox is in the store). Its own HTTP client (workers/net/http_client.h, a thread of its own too): redirects
// are not followed (a 3xx is a failed attempt), the answer's body is read up to 64 KiB and ignored.
// Metrics: deliveries by outcome, the outbox gauges (read once per `poll`), store latency and errors.
class Deliverer {
 public:
  // `store` and `metrics` outlive the deliverer.
  Deliverer(store::Store& store, DelivererOptions options, const WatchMetrics& metrics);
  ~Deliverer();  // Stop()
  void Start();
  // Something was written to the outbox: read it now.
  void Wake();
  // Ends the thread (a POST in flight is cancelled; its delivery's lease expires and it is tried again).
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_DELIVERER_H_
