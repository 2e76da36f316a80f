#include "workers/banner/banner_enricher.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "asio/bind_cancellation_slot.hpp"
#include "asio/ip/address.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "base/mutex.h"
#include "workers/banner/line_probes.h"
#include "workers/banner/page.h"
#include "workers/net/host_lookup.h"

namespace squatstream::workers::banner {
namespace {

constexpr const char* kProtocols[] = {"http", "https", "smtp", "ssh"};
constexpr const char* kOutcomes[] = {"ok", "refused", "timeout", "denied", "error", "cancelled"};

std::string Outcome(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kPermissionDenied:
      return "denied";
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    case absl::StatusCode::kUnavailable:  // line probes end their message so; HTTP says it in `refused`
      return absl::EndsWith(s.message(), "(refused)") ? "refused" : "error";
    default:
      return "error";
  }
}

void SetStatus(const absl::Status& s, v1::LookupStatus* out) {
  out->set_code(static_cast<int>(s.code()));
  out->set_message(std::string(s.message()));
}

// A banner record's size is a stranger's choice (100 KB Location headers, certificates with hundreds of
// names, six hops of each): strings are cut, and past kMaxBannerBytes the least useful parts go (the chains
// beyond each leaf, then every hop's certificate but the first, then the EHLO lines), so that one hostile
// name cannot make a message over a client's 4 MiB limit or a stream's memory balloon.
constexpr std::size_t kMaxUrl = 2048;
constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxBannerBytes = BannerEnricher::kMaxBannerBytes;

void Cut(std::string* s, std::size_t max) {
  if (s->size() <= max) return;
  s->resize(max);
  s->append("...");  // a UTF-8 sequence cut here is repaired by MakeValidUtf8 after
}

}  // namespace

void BoundBannerResult(v1::BannerResult* b) {
  for (v1::HttpProbe& p : *b->mutable_http()) {
    Cut(p.mutable_final_url(), kMaxUrl);
    if (p.has_status()) Cut(p.mutable_status()->mutable_message(), kMaxMessage);
    for (v1::HttpHop& h : *p.mutable_hops()) {
      Cut(h.mutable_url(), kMaxUrl);
      Cut(h.mutable_location(), kMaxUrl);
      if (h.has_error()) Cut(h.mutable_error()->mutable_message(), kMaxMessage);
    }
  }
  if (b->has_smtp()) {  // (mutable_ would make one)
    Cut(b->mutable_smtp()->mutable_rcpt_reply(), kMaxMessage);
    if (b->smtp().has_status()) Cut(b->mutable_smtp()->mutable_status()->mutable_message(), kMaxMessage);
    for (std::string& line : *b->mutable_smtp()->mutable_ehlo()) Cut(&line, 512);
  }
  if (b->ssh().has_status()) Cut(b->mutable_ssh()->mutable_status()->mutable_message(), kMaxMessage);
  if (b->ByteSizeLong() > kMaxBannerBytes) {
    for (v1::HttpProbe& p : *b->mutable_http()) {
      for (v1::HttpHop& h : *p.mutable_hops()) {
        if (h.tls().chain_size() > 1) h.mutable_tls()->mutable_chain()->DeleteSubrange(1, h.tls().chain_size() - 1);
      }
    }
  }
  if (b->ByteSizeLong() > kMaxBannerBytes) {
    for (v1::HttpProbe& p : *b->mutable_http()) {
      for (int i = 1; i < p.hops_size(); ++i) p.mutable_hops(i)->clear_tls();
    }
  }
  if (b->ByteSizeLong() > kMaxBannerBytes && b->has_smtp()) b->mutable_smtp()->clear_ehlo();
  if (b->ByteSizeLong() > kMaxBannerBytes) {  // long URLs on every hop: 256 bytes each
    for (v1::HttpProbe& p : *b->mutable_http()) {
      for (v1::HttpHop& h : *p.mutable_hops()) {
        Cut(h.mutable_url(), 256);
        Cut(h.mutable_location(), 256);
      }
    }
  }
  if (b->ByteSizeLong() > kMaxBannerBytes) {  // certificates with thousands of names: keep the first 16
    auto trim = [](v1::TlsInfo* t) {
      for (v1::Certificate& c : *t->mutable_chain()) {
        if (c.sans_size() > 16) c.mutable_sans()->DeleteSubrange(16, c.sans_size() - 16);
      }
    };
    if (b->has_tls()) trim(b->mutable_tls());
    for (v1::HttpProbe& p : *b->mutable_http()) {
      for (v1::HttpHop& h : *p.mutable_hops()) {
        if (h.has_tls()) trim(h.mutable_tls());
      }
    }
  }
}

namespace {

absl::Status StatusOf(const v1::LookupStatus& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.code()), s.message());
}

// "[::1]" -> "::1".
std::string Unbracket(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

std::string UrlFor(const std::string& scheme, const std::string& host, int port, int default_port) {
  return port == default_port ? absl::StrFormat("%s://%s/", scheme, host)
                              : absl::StrFormat("%s://%s:%d/", scheme, host, port);
}

}  // namespace

BannerMetrics::BannerMetrics(prometheus::Registry& registry) {
  auto& connection_family = prometheus::BuildCounter()
                                .Name("squatstream_banner_connections_total")
                                .Help(
                                    "Connections the banner stage made or tried, by protocol and outcome "
                                    "(denied: refused by the SSRF guard, never dialled)")
                                .Register(registry);
  auto& bytes_family = prometheus::BuildCounter()
                           .Name("squatstream_banner_bytes_read_total")
                           .Help("Bytes the banner stage read, by protocol (HTTP: decoded body bytes)")
                           .Register(registry);
  auto& denied_family = prometheus::BuildCounter()
                            .Name("squatstream_banner_ssrf_refusals_total")
                            .Help(
                                "Dials the SSRF guard refused (loopback, private, metadata, ... addresses), "
                                "by protocol")
                            .Register(registry);
  for (const char* protocol : kProtocols) {
    for (const char* outcome : kOutcomes) {
      connections[absl::StrFormat("%s/%s", protocol, outcome)] =
          &connection_family.Add({{"protocol", protocol}, {"outcome", outcome}});
    }
    bytes_read[protocol] = &bytes_family.Add({{"protocol", protocol}});
    denied[protocol] = &denied_family.Add({{"protocol", protocol}});
  }
  open = &prometheus::BuildGauge()
              .Name("squatstream_banner_connections_open")
              .Help("Banner connections open now (at most --banner_max_connections)")
              .Register(registry)
              .Add({});
  max_connections = &prometheus::BuildGauge()
                         .Name("squatstream_banner_max_connections")
                         .Help("--banner_max_connections: the most banner connections open at once")
                         .Register(registry)
                         .Add({});
  waits = &prometheus::BuildCounter()
               .Name("squatstream_banner_connection_waits_total")
               .Help("Banner connections that waited for a slot (the global or the per-address cap)")
               .Register(registry)
               .Add({});
  original_pages = &prometheus::BuildCounter()
                        .Name("squatstream_banner_original_pages_total")
                        .Help("Input domains' pages fetched for the similarity score (once per domain and TTL)")
                        .Register(registry)
                        .Add({});
}

prometheus::Counter* BannerMetrics::Connection(const std::string& protocol, const std::string& outcome) {
  return connections.at(protocol + "/" + outcome);
}
prometheus::Counter* BannerMetrics::BytesRead(const std::string& protocol) { return bytes_read.at(protocol); }
prometheus::Counter* BannerMetrics::Denied(const std::string& protocol) { return denied.at(protocol); }

// ---------------------------------------------------------------------------------------------------------
// ConnectionGate

ConnectionGate::ConnectionGate(int max_total, int max_per_address, BannerMetrics* metrics)
    : max_total_(std::max(1, max_total)), max_per_address_(std::max(1, max_per_address)), metrics_(metrics) {
  if (metrics_ != nullptr) metrics_->max_connections->Set(max_total_);
}

bool ConnectionGate::RoomAt(const std::string& address) const {
  const auto it = per_address_.find(address);
  return it == per_address_.end() || it->second < max_per_address_;
}

void ConnectionGate::Grant(Waiter w) {
  ++open_;
  ++per_address_[w.address];
  ++held_[w.stream];
  if (metrics_ != nullptr) metrics_->open->Increment();
  const asio::any_io_executor executor = w.executor;  // not read from `w` after the capture moved it
  asio::post(executor, [this, w = std::move(w)]() mutable {
    if (*w.abandoned) {
      Release(w.stream, w.address);
      return;
    }
    std::move(w.go)();
  });
}

void ConnectionGate::Acquire(std::uint64_t stream, const std::string& address, asio::any_io_executor executor,
                             std::shared_ptr<bool> abandoned, absl::AnyInvocable<void() &&> go) {
  MutexLock lock(mu_);
  Waiter w{stream, address, std::move(executor), std::move(abandoned), std::move(go), next_seq_++};
  // Straight through when there is room in all and at the address, and no one is queued for the address: a
  // busy address never holds up the others. (Below the global cap, whoever waits waits for its address: the
  // release that frees a slot there grants one of them.)
  if (open_ < max_total_ && RoomAt(address) && !queued_at_.contains(address)) {
    Grant(std::move(w));
    return;
  }
  if (metrics_ != nullptr) metrics_->waits->Increment();
  ++queued_at_[address];
  auto [q, new_stream] = waiting_.try_emplace(stream);
  if (new_stream) streams_waiting_.push_back(stream);
  auto [by_address, new_address] = q->second.by_address.try_emplace(address);
  if (new_address) q->second.addresses.push_back(address);
  by_address->second.push_back(std::move(w));
}

bool ConnectionGate::GrantOne(StreamQueue& q) {
  for (std::size_t i = 0, n = q.addresses.size(); i < n; ++i) {
    std::string address = std::move(q.addresses.front());
    q.addresses.pop_front();
    auto queued = q.by_address.find(address);
    const bool room = RoomAt(address);
    if (room) {
      if (auto it = queued_at_.find(address); --it->second == 0) queued_at_.erase(it);
      Grant(std::move(queued->second.front()));
      queued->second.pop_front();
    }
    if (queued->second.empty()) {
      q.by_address.erase(queued);
    } else {
      q.addresses.push_back(std::move(address));  // its turn taken (or no room): to the back
    }
    if (room) return true;
  }
  return false;
}

bool ConnectionGate::GrantOldestAt(const std::string& address) {
  auto oldest = waiting_.end();
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    auto at = it->second.by_address.find(address);
    if (at == it->second.by_address.end()) continue;
    if (oldest == waiting_.end() || at->second.front().seq < oldest->second.by_address.at(address).front().seq) {
      oldest = it;
    }
  }
  if (oldest == waiting_.end()) return false;
  const std::uint64_t stream = oldest->first;
  StreamQueue& q = oldest->second;
  auto queued = q.by_address.find(address);
  if (auto it = queued_at_.find(address); --it->second == 0) queued_at_.erase(it);
  Grant(std::move(queued->second.front()));
  queued->second.pop_front();
  if (queued->second.empty()) {
    q.by_address.erase(queued);
    q.addresses.erase(std::find(q.addresses.begin(), q.addresses.end(), address));
  }
  if (q.by_address.empty()) {
    waiting_.erase(oldest);
    streams_waiting_.erase(std::find(streams_waiting_.begin(), streams_waiting_.end(), stream));
  }
  return true;
}

void ConnectionGate::Release(std::uint64_t stream, const std::string& address) {
  MutexLock lock(mu_);
  const bool was_full = open_ >= max_total_;
  --open_;
  if (auto it = per_address_.find(address); it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
  if (auto it = held_.find(stream); it != held_.end() && --it->second <= 0) held_.erase(it);
  if (metrics_ != nullptr) metrics_->open->Decrement();
  // With room in all before this release, whoever waits waits for its address: the slot freed at `address` goes
  // to the oldest waiter there.
  if (!was_full) {
    if (RoomAt(address)) GrantOldestAt(address);
    return;
  }
  // One slot freed (in all, and at `address`): at most one waiter can take it. The waiting streams are asked
  // in turn order (the longest since its last turn first), those holding less than an equal share of the slots
  // (among the streams holding or waiting for one) first, then the others; the first with a waiter whose
  // address has room is granted one, and goes to the back of the turns. A stream over its share still gets
  // slots no one else can use, and falls under its share as its own slots free: no stream waits forever.
  std::size_t streams = held_.size();
  for (const auto& [stream_waiting, queue] : waiting_) streams += held_.contains(stream_waiting) ? 0 : 1;
  const int share = std::max(1, max_total_ / static_cast<int>(std::max<std::size_t>(1, streams)));
  for (const bool within_share_only : {true, false}) {
    for (std::size_t place = 0; place < streams_waiting_.size(); ++place) {
      const std::uint64_t next = streams_waiting_[place];
      if (within_share_only) {
        if (auto held = held_.find(next); held != held_.end() && held->second >= share) continue;
      }
      auto queue = waiting_.find(next);
      if (!GrantOne(queue->second)) continue;
      streams_waiting_.erase(streams_waiting_.begin() + static_cast<std::ptrdiff_t>(place));
      if (queue->second.by_address.empty()) {
        waiting_.erase(queue);
      } else {
        streams_waiting_.push_back(next);
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Shared state

struct BannerEnricher::Shared : std::enable_shared_from_this<BannerEnricher::Shared> {
  Shared(const BannerOptions& o, asio::any_io_executor ex, HostResolver r, BannerMetrics* m,
         std::shared_ptr<TrustStore> t)
      : options(o),
        executor(std::move(ex)),
        resolver(std::move(r)),
        metrics(m),
        trust(std::move(t)),
        http(o.max_connections),
        gate(o.max_connections, o.max_per_address, m) {}

  using PageCallback = absl::AnyInvocable<void(std::optional<std::string>) &&>;
  // The hash of `domain`'s page, fetched once per TTL however many lookups ask; `done` runs on `caller`.
  // The input domain's page, fetched once for every lookup that compares to it, through the gate as `stream`
  // (the first asker's).
  void OriginalPage(const std::string& domain, std::uint64_t stream, const asio::any_io_executor& caller,
                    PageCallback done);
  // The fetch of `domain`'s page ended: kept for the TTL, and every waiter told.
  void PageKnown(const std::string& domain, const std::optional<std::string>& hash);
  using Go = absl::AnyInvocable<void(std::string) &&>;
  // The gate's slot for `address`, then (with options.shared.concurrency) one of the places every replica
  // shares for it ("banner:<address>", max_per_address, leased request_timeout + 5 s): `go(holder)` runs on
  // `caller` once both are held ("" holder without a shared limiter). While other replicas hold every place
  // the slot is handed back and both are asked again 100 ms later; `abandoned` by then: `go` never runs, as
  // with the gate. ReleaseBoth follows `go`.
  void AcquireBoth(std::uint64_t stream, const std::string& address, const asio::any_io_executor& caller,
                   const std::shared_ptr<bool>& abandoned, Go go);
  void ReleaseBoth(std::uint64_t stream, const std::string& address, const std::string& holder);
  static constexpr std::size_t kMaxOriginals = 16384;

  BannerOptions options;
  asio::any_io_executor executor;
  HostResolver resolver;
  BannerMetrics* metrics;
  std::shared_ptr<TrustStore> trust;
  net::HttpClient http;
  ConnectionGate gate;
  std::atomic<bool> stopped{false};  // Shutdown: no new connection

  struct Original {
    bool ready = false;
    std::optional<std::string> hash;
    absl::Time expires;
    std::vector<std::pair<asio::any_io_executor, PageCallback>> waiters;
  };
  // One lock for the input domains' pages: taken once per lookup that compares, for a map probe.
  Mutex mu;  // Guards:
  absl::flat_hash_map<std::string, Original> originals;
};

void BannerEnricher::Shared::AcquireBoth(std::uint64_t stream, const std::string& address,
                                         const asio::any_io_executor& caller, const std::shared_ptr<bool>& abandoned,
                                         Go go) {
  gate.Acquire(stream, address, caller, abandoned,
               [self = shared_from_this(), stream, address, caller, abandoned, go = std::move(go)]() mutable {
                 const std::shared_ptr<net::ConcurrencyLimiter>& places = self->options.shared.concurrency;
                 if (places == nullptr) {
                   std::move(go)(std::string());
                   return;
                 }
                 std::string holder = net::UniqueHolder();
                 const absl::Duration lease = absl::FromChrono(self->options.request_timeout) + absl::Seconds(5);
                 if (places->TryAcquire("banner:" + address, self->options.max_per_address, holder, lease)) {
                   std::move(go)(std::move(holder));
                   return;
                 }
                 self->gate.Release(stream, address);
                 auto timer = std::make_shared<asio::steady_timer>(caller, std::chrono::milliseconds(100));
                 timer->async_wait(
                     [self, timer, stream, address, caller, abandoned, go = std::move(go)](std::error_code ec) mutable {
                       if (ec || *abandoned || self->stopped.load()) return;
                       self->AcquireBoth(stream, address, caller, abandoned, std::move(go));
                     });
               });
}

void BannerEnricher::Shared::ReleaseBoth(std::uint64_t stream, const std::string& address, const std::string& holder) {
  gate.Release(stream, address);
  if (!holder.empty()) options.shared.concurrency->Release("banner:" + address, holder);
}

namespace {

using Shared = BannerEnricher::Shared;

// One scheme on one address: GET /, then each redirect, hop by hop, each through the gate.
class Chain : public std::enable_shared_from_this<Chain> {
 public:
  using Done = absl::AnyInvocable<void(v1::HttpProbe, std::string body) &&>;

  Chain(std::shared_ptr<Shared> shared, asio::any_io_executor strand, std::string host, std::string scheme,
        std::string address, Done done, std::uint64_t stream)
      : shared_(std::move(shared)),
        strand_(std::move(strand)),
        host_(std::move(host)),
        address_(std::move(address)),
        stream_(stream),
        done_(std::move(done)) {
    probe_.set_scheme(scheme);
    probe_.set_address(address_);
  }

  void Start() {
    const BannerOptions& o = shared_->options;
    const bool https = probe_.scheme() == "https";
    Step(UrlFor(probe_.scheme(), host_, https ? o.https_port : o.http_port, https ? 443 : 80), address_);
  }

  // Ends the chain now with `status` on the probe, and on a hop for the request still out if there is one
  // (waiting for a slot or running). On the strand.
  void Abort(const absl::Status& status) {
    if (finished_) return;
    cancelled_->store(true);
    *abandoned_ = true;
    aborted_ = status;
    if (!current_url_.empty()) {
      v1::HttpHop* hop = probe_.add_hops();
      hop->set_url(current_url_);
      hop->set_address(current_address_);
      SetStatus(status, hop->mutable_error());
    }
    Finish(status);
  }

 private:
  void Step(const std::string& url, const std::string& connect_address) {
    if (finished_) return;
    current_url_ = url;
    current_address_ = connect_address;
    const std::string key = connect_address.empty() ? Unbracket(net::UrlHost(url)) : connect_address;
    shared_->AcquireBoth(
        stream_, key, strand_, abandoned_, [self = shared_from_this(), url, connect_address, key](std::string holder) {
          const BannerOptions& o = self->shared_->options;
          net::HttpRequest r;
          r.url = url;
          r.timeout = o.request_timeout;
          r.connect_timeout = o.connect_timeout;
          r.first_byte_timeout = o.connect_timeout + o.first_byte_timeout;
          r.max_body_bytes = o.max_body_bytes;
          r.truncate_body = true;
          r.max_redirects = 0;
          r.connect_address = connect_address;
          r.verify_tls = false;  // verified below, from the chain: a self-signed certificate is kept, not refused
          r.want_certificates = absl::StartsWith(url, "https://");
          r.fresh_connection = true;
          r.cancelled = self->cancelled_;
          r.policy = &o.policy;
          r.headers = {"Accept: text/html,*/*;q=0.8"};
          self->shared_->http.Fetch(
              std::move(r), [self, url, connect_address, key, holder](net::HttpResponse response) {
                asio::post(self->strand_,
                           [self, url, connect_address, key, holder, response = std::move(response)]() mutable {
                             self->shared_->ReleaseBoth(self->stream_, key, holder);
                             self->OnResponse(url, connect_address, std::move(response));
                           });
              });
        });
  }

  void OnResponse(const std::string& url, const std::string& connect_address, net::HttpResponse r) {
    current_url_.clear();
    const std::string protocol = absl::StartsWith(url, "https://") ? "https" : "http";
    BannerMetrics* m = shared_->metrics;
    if (m != nullptr) {
      // A request this chain's abort cut is counted as what cut it (the lookup's deadline: a timeout).
      const bool cut = r.status.code() == absl::StatusCode::kCancelled && !aborted_.ok();
      m->Connection(protocol, r.refused ? "refused" : Outcome(cut ? aborted_ : r.status))->Increment();
      m->BytesRead(protocol)->Increment(static_cast<double>(r.bytes_read));
      if (r.status.code() == absl::StatusCode::kPermissionDenied) m->Denied(protocol)->Increment();
    }
    if (finished_) return;
    v1::HttpHop* hop = probe_.add_hops();
    hop->set_url(url);
    hop->set_address(!r.primary_ip.empty() ? r.primary_ip : connect_address);
    hop->set_status(static_cast<std::uint32_t>(r.code));
    hop->set_server(r.server);
    if (!r.certificates_pem.empty()) {
      shared_->trust->Describe(r.certificates_pem, Unbracket(net::UrlHost(url)), hop->mutable_tls());
    }
    if (!r.status.ok()) {
      SetStatus(r.status, hop->mutable_error());
      Finish(r.status);
      return;
    }
    if (r.code >= 300 && r.code < 400 && !r.redirect_url.empty()) {
      hop->set_location(r.redirect_url);
      if (probe_.hops_size() > shared_->options.max_redirects) {
        Finish(
            absl::FailedPreconditionError(absl::StrFormat("more than %d redirects", shared_->options.max_redirects)));
        return;
      }
      Follow(r.redirect_url);
      return;
    }
    probe_.set_final_status(static_cast<std::uint32_t>(r.code));
    probe_.set_final_url(url);
    probe_.set_content_type(r.content_type);
    probe_.set_body_bytes(r.body.size());
    probe_.set_body_truncated(r.truncated);
    probe_.set_title(ExtractTitle(r.body));
    body_ = std::move(r.body);
    Finish(absl::OkStatus());
  }

  // The next hop: the candidate's own host is dialled at the address DNS gave; any other host (an address
  // literal, "127.0.0.1." included, as it is; a name through the DNS stage's resolver, never the system's:
  // net::ResolveHost) at the address found for it, which the policy checks at the dial.
  void Follow(const std::string& url) {
    if (!absl::StartsWithIgnoreCase(url, "http://") && !absl::StartsWithIgnoreCase(url, "https://")) {
      Finish(absl::FailedPreconditionError(
          absl::StrFormat("a redirect to \"%s\": only http and https are followed", url.substr(0, 256))));
      return;
    }
    std::string host = Unbracket(net::UrlHost(url));
    if (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty()) {
      Finish(absl::InvalidArgumentError(
          absl::StrFormat("a redirect to \"%s\", whose host is missing or not a valid name", url.substr(0, 256))));
      return;
    }
    if (host == host_) {
      Step(url, address_);
      return;
    }
    net::ResolveHost(
        shared_->resolver, host, nullptr,
        [self = shared_from_this(), url](absl::StatusOr<std::vector<std::string>> addresses) {
          asio::post(self->strand_, [self, url, addresses = std::move(addresses)] {
            if (!addresses.ok()) {
              self->Finish(absl::Status(addresses.status().code(),
                                        absl::StrFormat("the redirect's host: %s", addresses.status().message())));
              return;
            }
            self->Step(url, addresses->front());
          });
        });
  }

  void Finish(const absl::Status& status) {
    if (finished_) return;
    finished_ = true;
    SetStatus(status, probe_.mutable_status());
    std::move(done_)(std::move(probe_), std::move(body_));
  }

  std::shared_ptr<Shared> shared_;
  asio::any_io_executor strand_;
  std::string host_;
  std::string address_;
  std::uint64_t stream_;  // whose turn at the gate (LookupInput::stream)
  Done done_;
  v1::HttpProbe probe_;
  std::string body_;
  bool finished_ = false;
  std::string current_url_;      // the request out now (waiting for a slot or running); "" between them
  std::string current_address_;  // and the address it dials
  absl::Status aborted_;         // what Abort said, if it was called
  std::shared_ptr<std::atomic<bool>> cancelled_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<bool> abandoned_ = std::make_shared<bool>(false);
};

// One candidate's probes, on the lookup's strand.
class BannerLookup : public std::enable_shared_from_this<BannerLookup> {
 public:
  BannerLookup(std::shared_ptr<Shared> shared, const asio::any_io_executor& strand, std::string candidate,
               std::string input, v1::DnsResult dns, std::uint64_t stream, bool probe_mail, Enricher::Callback done)
      : shared_(std::move(shared)),
        strand_(strand),
        stream_(stream),
        probe_mail_(probe_mail),
        candidate_(std::move(candidate)),
        input_(std::move(input)),
        dns_(std::move(dns)),
        deadline_(strand),
        done_(std::move(done)) {}

  // Called in Lookup (on the strand), before Start is posted: a cancel that comes first is not lost. The
  // handler posts: `done` must never run inside the caller's emit (it may erase what emit walks).
  void Watch(asio::cancellation_slot cancel) {
    if (!cancel.is_connected()) return;
    cancel.assign([weak = weak_from_this(), strand = strand_](asio::cancellation_type) {
      asio::post(strand, [weak] {
        if (auto self = weak.lock()) self->Cancel();
      });
    });
  }

  void Start() {
    if (finished_) return;  // cancelled already
    const BannerOptions& o = shared_->options;
    std::string v4, v6;
    for (const std::string& a : dns_.addresses()) {
      std::error_code ec;
      const asio::ip::address parsed = asio::ip::make_address(a, ec);
      if (ec) continue;
      if (parsed.is_v4() && v4.empty()) v4 = a;
      if (parsed.is_v6() && v6.empty()) v6 = a;
    }
    // Slots in the order the record lists them: http then https, IPv4 then IPv6.
    if (o.http) {
      for (const std::string& address : {v4, v6}) {
        if (address.empty()) continue;
        for (const char* scheme : {"http", "https"}) StartChain(scheme, address);
      }
    }
    if (o.ssh && (!v4.empty() || !v6.empty())) StartSsh(!v4.empty() ? v4 : v6);
    if (o.smtp && dns_.mail_exchangers_size() > 0) StartSmtp(dns_.mail_exchangers(0));
    if (o.similarity && o.http && !input_.empty() && input_ != candidate_ && pending_ > 0) {
      ++pending_;
      shared_->OriginalPage(input_, stream_, strand_, [self = shared_from_this()](std::optional<std::string> hash) {
        self->original_ = std::move(hash);
        self->OneDone();
      });
    }
    deadline_.expires_after(std::chrono::microseconds(absl::ToInt64Microseconds(o.deadline)));
    deadline_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->DeadlinePassed();
    });
    if (pending_ == 0) Complete();
  }

 private:
  void StartChain(const std::string& scheme, const std::string& address) {
    const int slot = static_cast<int>(http_.size());
    http_.emplace_back();
    ++pending_;
    auto chain = std::make_shared<Chain>(
        shared_, strand_, candidate_, scheme, address,
        [self = shared_from_this(), slot](v1::HttpProbe probe, const std::string& body) {
          // The first 2xx page is read at once and let go: its hash and parking signs are all that is kept.
          if (!self->have_page_ && probe.final_status() >= 200 && probe.final_status() < 300 && !body.empty()) {
            self->have_page_ = true;
            self->page_hash_ = PageHash(body);
            self->page_signals_ = ParkedSignals(body, self->dns_.name_servers());
          }
          self->http_[static_cast<std::size_t>(slot)] = std::move(probe);
          self->OneDone();
        },
        stream_);
    aborts_.emplace_back([chain](const absl::Status& s) { chain->Abort(s); });
    chain->Start();
  }

  // A line probe through the gate; `run` starts it and returns its cancel function.
  template <typename Probe>
  void Gated(const std::string& protocol, const std::string& address,
             std::function<std::function<void()>(absl::AnyInvocable<void(Probe) &&>)> run, Probe* slot) {
    ++pending_;
    auto abandoned = std::make_shared<bool>(false);
    auto cancel_probe = std::make_shared<std::function<void()>>();
    auto ended = std::make_shared<bool>(false);
    // `dialled`: the probe ran (a connection was made or tried); one cut while waiting for a slot is not
    // counted as a connection.
    auto finish = [self = shared_from_this(), protocol, slot, ended](Probe p, bool dialled) {
      if (*ended) return;
      *ended = true;
      BannerMetrics* m = self->shared_->metrics;
      const absl::Status s = StatusOf(p.status());
      if (m != nullptr && dialled) {
        m->Connection(protocol, Outcome(s))->Increment();
        if (s.code() == absl::StatusCode::kPermissionDenied) m->Denied(protocol)->Increment();
      }
      *slot = std::move(p);
      self->OneDone();
    };
    // Aborted: said at once on what the slot held (the MX, the address; what the probe had read is lost); its
    // own CANCELLED callback, later, only releases the gate.
    aborts_.push_back([abandoned, cancel_probe, ended, finish, slot](absl::Status s) mutable {
      *abandoned = true;
      const bool dialled = static_cast<bool>(*cancel_probe);
      if (dialled) (*cancel_probe)();
      if (!*ended) {
        Probe p = *slot;
        if (!dialled && s.code() == absl::StatusCode::kDeadlineExceeded) {
          s = absl::DeadlineExceededError(absl::StrCat(
              s.message(),
              " while waiting for a connection slot (--banner_max_per_address, --banner_max_connections)"));
        }
        SetStatus(s, p.mutable_status());
        finish(std::move(p), dialled);
      }
    });
    shared_->AcquireBoth(stream_, address, strand_, abandoned,
                         [self = shared_from_this(), address, run, cancel_probe, finish](std::string holder) mutable {
                           if (self->shared_->stopped.load()) {  // shut down: nothing more is dialled
                             self->shared_->ReleaseBoth(self->stream_, address, holder);
                             Probe p;
                             SetStatus(absl::CancelledError("the server is shutting down"), p.mutable_status());
                             finish(std::move(p), false);
                             return;
                           }
                           *cancel_probe = run([self, address, holder, finish](Probe p) mutable {
                             self->shared_->ReleaseBoth(self->stream_, address, holder);
                             finish(std::move(p), true);
                           });
                         });
  }

  LineProbeOptions LineOptions() const {
    const BannerOptions& o = shared_->options;
    LineProbeOptions l;
    l.connect_timeout = o.connect_timeout;
    l.reply_timeout = o.first_byte_timeout;
    l.whole_timeout = o.request_timeout;
    l.max_bytes = o.max_line_bytes;
    l.policy = &o.policy;
    if (BannerMetrics* m = shared_->metrics) {
      l.bytes_read = [m](const std::string& protocol, std::size_t n) {
        m->BytesRead(protocol)->Increment(static_cast<double>(n));
      };
    }
    return l;
  }

  void StartSsh(const std::string& address) {
    const asio::ip::address a = asio::ip::make_address(address);
    ssh_.set_address(address);
    Gated<v1::SshProbe>(
        "ssh", address,
        [self = shared_from_this(), a](absl::AnyInvocable<void(v1::SshProbe) &&> done) {
          return ProbeSsh(self->strand_, a, self->shared_->options.ssh_port, self->LineOptions(), std::move(done));
        },
        &ssh_);
    has_ssh_ = true;
  }

  void StartSmtp(const std::string& mx) {
    has_smtp_ = true;
    smtp_.set_mx(mx);
    if (mx.empty() || mx == ".") {
      SetStatus(absl::NotFoundError("a null MX (RFC 7505): the domain takes no mail"), smtp_.mutable_status());
      return;
    }
    if (!shared_->resolver) {
      SetStatus(absl::FailedPreconditionError("the MX host is not resolved: DNS is a stub"), smtp_.mutable_status());
      return;
    }
    ++pending_;  // the resolution
    resolving_mx_ = true;
    shared_->resolver(mx, [self = shared_from_this(), mx](std::vector<std::string> addresses) {
      asio::post(self->strand_, [self, mx, addresses = std::move(addresses)] {
        if (self->finished_) return;
        self->resolving_mx_ = false;
        std::error_code ec;
        const asio::ip::address a = addresses.empty() ? asio::ip::address() : asio::ip::make_address(addresses[0], ec);
        if (addresses.empty() || ec) {
          SetStatus(absl::UnavailableError(absl::StrFormat("the MX host %s has no address", mx)),
                    self->smtp_.mutable_status());
        } else {
          self->smtp_.set_address(addresses[0]);
          self->resolving_mx_ = true;  // until the MX's rate lets the probe start: the deadline's status says so
          self->ProbeMxWhenAllowed(mx, a, addresses[0]);
          return;
        }
        self->OneDone();
      });
    });
  }

  // Starts the SMTP probe of `mx` at `a` once the mail exchanger's shared rate allows it (at once without a
  // shared limiter), then ends the resolution's part (OneDone). Strand only; a refusal arms a timer for the
  // limiter's retry_after, and the lookup's deadline ends the wait (DeadlinePassed completes the lookup).
  void ProbeMxWhenAllowed(const std::string& mx, const asio::ip::address& a, const std::string& address) {
    if (finished_) return;
    const BannerOptions& o = shared_->options;
    if (o.shared.rate != nullptr && o.smtp_rate_per_mx > 0) {
      const net::RateDecision d = o.shared.rate->Take("mx:" + mx, 1, absl::Seconds(1) / o.smtp_rate_per_mx);
      if (!d.allowed) {
        auto timer = std::make_shared<asio::steady_timer>(
            strand_, absl::ToChronoNanoseconds(std::clamp(d.retry_after, absl::Milliseconds(1), absl::Minutes(1))));
        timer->async_wait([self = shared_from_this(), timer, mx, a, address](std::error_code ec) {
          if (!ec) self->ProbeMxWhenAllowed(mx, a, address);
        });
        return;
      }
    }
    resolving_mx_ = false;
    const std::string candidate = candidate_;
    Gated<v1::SmtpProbe>(
        "smtp", address,
        [self = shared_from_this(), a, mx, candidate](absl::AnyInvocable<void(v1::SmtpProbe) &&> done) {
          return ProbeSmtp(self->strand_, a, self->shared_->options.smtp_port, mx, candidate, self->probe_mail_,
                           self->LineOptions(), std::move(done));
        },
        &smtp_);
    OneDone();
  }

  absl::Status DeadlineStatus() const {
    return absl::DeadlineExceededError(absl::StrFormat("the banner lookup's deadline (%s) passed first",
                                                       absl::FormatDuration(shared_->options.deadline)));
  }

  void DeadlinePassed() {
    if (finished_) return;
    if (resolving_mx_) SetStatus(DeadlineStatus(), smtp_.mutable_status());
    // Taken out first: an abort may end the last probe, and Complete clears the list.
    std::vector<std::function<void(absl::Status)>> aborts = std::move(aborts_);
    aborts_.clear();
    for (auto& abort : aborts) abort(DeadlineStatus());
    if (!finished_) Complete();  // the original page, or an MX resolution, may still be out
  }

  void Cancel() {
    if (finished_) return;
    finished_ = true;
    deadline_.cancel();
    std::vector<std::function<void(absl::Status)>> aborts = std::move(aborts_);
    aborts_.clear();
    for (auto& abort : aborts) abort(absl::CancelledError("cancelled"));
    std::move(done_)(LookupResult{absl::CancelledError("cancelled"), {}, {}});
  }

  void OneDone() {
    if (--pending_ == 0 && !finished_) Complete();
  }

  void Complete() {
    finished_ = true;
    deadline_.cancel();
    aborts_.clear();  // they hold the probes, which hold this
    v1::Enrichment e;
    e.set_enricher(v1::ENRICHER_BANNER);
    v1::BannerResult* b = e.mutable_banner();
    for (v1::HttpProbe& p : http_) {
      if (p.scheme().empty()) SetStatus(DeadlineStatus(), p.mutable_status());
      *b->add_http() = std::move(p);
    }
    for (const v1::HttpProbe& p : b->http()) {
      if (b->http_status() == 0 && p.final_status() != 0) {
        b->set_http_status(p.final_status());
        b->set_server(p.hops().empty() ? "" : p.hops(p.hops_size() - 1).server());
        b->set_title(p.title());
      }
      // The origin's certificate: the first hop's, the candidate's own (after a redirect the last hop may be
      // someone else's, the brand's own site for instance).
      if (!b->has_tls() && p.scheme() == "https" && !p.hops().empty() && p.hops(0).has_tls()) {
        *b->mutable_tls() = p.hops(0).tls();
        // The leaf only: the whole chain is on the hop.
        if (b->tls().chain_size() > 1) b->mutable_tls()->mutable_chain()->DeleteSubrange(1, b->tls().chain_size() - 1);
      }
    }
    if (has_smtp_) *b->mutable_smtp() = std::move(smtp_);
    if (has_ssh_) *b->mutable_ssh() = std::move(ssh_);
    if (page_hash_.has_value() && original_.has_value()) {
      if (const std::optional<int> score = Similarity(*page_hash_, *original_)) {
        b->set_similarity(static_cast<std::uint32_t>(*score));
        b->set_similarity_known(true);
      }
    }
    for (std::string& s : have_page_ ? page_signals_ : ParkedSignals("", dns_.name_servers())) {
      b->add_parked_signals(std::move(s));
    }
    b->set_parked(b->parked_signals_size() > 0);
    BoundBannerResult(b);
    MakeValidUtf8(b);
    std::move(done_)(LookupResult{absl::OkStatus(), std::move(e), {}});
  }

  std::shared_ptr<Shared> shared_;
  asio::any_io_executor strand_;
  std::uint64_t stream_;  // whose turn at the gate (LookupInput::stream)
  bool probe_mail_;       // MAIL FROM and RCPT TO after EHLO (LookupInput::probe_mail)
  std::string candidate_;
  std::string input_;
  v1::DnsResult dns_;
  asio::steady_timer deadline_;
  Enricher::Callback done_;
  int pending_ = 0;
  bool finished_ = false;
  bool resolving_mx_ = false;
  std::vector<v1::HttpProbe> http_;
  v1::SmtpProbe smtp_;
  v1::SshProbe ssh_;
  bool has_smtp_ = false;
  bool has_ssh_ = false;
  bool have_page_ = false;                // the first final 2xx page came: its hash and signs
  std::optional<std::string> page_hash_;  // nullopt: too small to hash
  std::vector<std::string> page_signals_;
  std::optional<std::string> original_;
  std::vector<std::function<void(absl::Status)>> aborts_;
};

}  // namespace

void Shared::OriginalPage(const std::string& domain, std::uint64_t stream, const asio::any_io_executor& caller,
                          PageCallback done) {
  {
    MutexLock lock(mu);
    // Clients choose the input domains: the map is swept of expired pages as it grows, and of every page
    // held (not those being fetched) past a hard bound.
    if (originals.size() >= kMaxOriginals / 4) {
      const absl::Time now = absl::Now();
      absl::erase_if(originals, [&](const auto& kv) {
        return kv.second.ready && (now >= kv.second.expires || originals.size() >= kMaxOriginals);
      });
    }
    Original& o = originals[domain];
    if (o.ready && absl::Now() < o.expires) {
      asio::post(caller, [done = std::move(done), hash = o.hash]() mutable { std::move(done)(hash); });
      return;
    }
    o.waiters.emplace_back(caller, std::move(done));
    if (o.waiters.size() > 1) return;  // a fetch is out already
    o.ready = false;
  }
  if (metrics != nullptr) metrics->original_pages->Increment();
  auto strand = asio::make_strand(executor);
  auto fetch = [self = shared_from_this(), domain, strand, stream](const std::string& address) {
    auto chain = std::make_shared<Chain>(
        self, strand, domain, "http", address,
        [shared = self.get(), domain](const v1::HttpProbe& probe, const std::string& body) {
          std::optional<std::string> hash;
          if (probe.final_status() >= 200 && probe.final_status() < 300) hash = PageHash(body);
          shared->PageKnown(domain, hash);
        },
        stream);
    chain->Start();
  };
  if (!resolver) {  // DNS is a stub: the input domain is not resolved (by no other resolver either): no page
    asio::post(strand, [self = shared_from_this(), domain] { self->PageKnown(domain, std::nullopt); });
    return;
  }
  resolver(domain, [self = shared_from_this(), domain, fetch, strand](std::vector<std::string> addresses) {
    asio::post(strand, [self, domain, fetch, addresses = std::move(addresses)] {
      if (!addresses.empty()) {
        fetch(addresses[0]);
        return;
      }
      self->PageKnown(domain, std::nullopt);  // no address: no page (and nothing resolved a second time)
    });
  });
}

void Shared::PageKnown(const std::string& domain, const std::optional<std::string>& hash) {
  std::vector<std::pair<asio::any_io_executor, PageCallback>> waiters;
  {
    MutexLock lock(mu);
    Original& o = originals[domain];
    o.ready = true;
    o.hash = hash;
    o.expires = absl::Now() + options.original_ttl;
    waiters.swap(o.waiters);
  }
  for (auto& [ex, cb] : waiters) {
    asio::post(ex, [cb = std::move(cb), hash]() mutable { std::move(cb)(hash); });
  }
}

absl::StatusOr<std::unique_ptr<BannerEnricher>> BannerEnricher::Create(const BannerOptions& options,
                                                                       asio::any_io_executor executor,
                                                                       HostResolver resolver, BannerMetrics* metrics) {
  absl::StatusOr<std::shared_ptr<TrustStore>> trust = TrustStore::Load(options.ca_file);
  if (!trust.ok()) return trust.status();
  return std::unique_ptr<BannerEnricher>(new BannerEnricher(
      std::make_shared<Shared>(options, std::move(executor), std::move(resolver), metrics, *std::move(trust))));
}

BannerEnricher::~BannerEnricher() { Shutdown(); }

void BannerEnricher::Shutdown() {
  shared_->stopped.store(true);
  shared_->http.Shutdown();
}

std::optional<LookupResult> BannerEnricher::TryLookupNow(const LookupInput& input) {
  const v1::DnsResult* dns = DnsResultOf(input.record);
  // Mail exchangers and no address: only the SMTP probe has anything to ask.
  if (dns != nullptr && dns->addresses_size() == 0 && dns->mail_exchangers_size() > 0 && shared_->options.smtp) {
    return std::nullopt;
  }
  return NeedAddresses(input);
}

void BannerEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor, asio::cancellation_slot cancel,
                            Callback done) {
  const v1::DnsResult* dns = DnsResultOf(input.record);
  auto lookup = std::make_shared<BannerLookup>(shared_, executor, std::string(input.domain_ascii), input.record.input(),
                                               dns == nullptr ? v1::DnsResult() : *dns, input.stream, input.probe_mail,
                                               std::move(done));
  lookup->Watch(cancel);
  // Started from the strand, so that `done` never runs inline.
  asio::post(executor, [lookup] { lookup->Start(); });
}

}  // namespace squatstream::workers::banner
