#include "workers/registration/registration_enricher.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asio/bind_executor.hpp"
#include "asio/post.hpp"
#include "permute/domain.h"
#include "workers/registration/whois_client.h"

namespace squatstream::workers::registration {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxRawText = 4 << 10;  // kept on every record of the domain, and in the cache
// A request with less time than this before its lookup's deadline is not sent (it could not be answered).
constexpr std::chrono::milliseconds kMinRequestTime{250};

std::string HostOf(const std::string& url) {
  absl::string_view rest = url;
  if (const std::size_t scheme = rest.find("://"); scheme != absl::string_view::npos) rest.remove_prefix(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  if (const std::size_t at = rest.rfind('@'); at != absl::string_view::npos) rest.remove_prefix(at + 1);
  return absl::AsciiStrToLower(rest);
}

std::string OutcomeOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kResourceExhausted:
      return "too_large";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    default:
      return "error";
  }
}

}  // namespace

RegistrationMetrics::RegistrationMetrics(prometheus::Registry& registry) {
  requests = &prometheus::BuildCounter()
                  .Name("squatstream_registration_requests_total")
                  .Help(
                      "Requests to registry servers by protocol (rdap, whois, bootstrap), server and outcome "
                      "(ok, not_found, rate_limited, timeout, unavailable, malformed, too_large, error)")
                  .Register(registry);
  auto& cache = prometheus::BuildCounter()
                    .Name("squatstream_registration_cache_lookups_total")
                    .Help(
                        "Registration lookups by how the shared cache answered: hit, miss (a request), joined "
                        "(the same registered domain already being asked)")
                    .Register(registry);
  cache_hits = &cache.Add({{"result", "hit"}});
  cache_misses = &cache.Add({{"result", "miss"}});
  cache_joined = &cache.Add({{"result", "joined"}});
  cache_bytes = &prometheus::BuildGauge()
                     .Name("squatstream_registration_cache_bytes")
                     .Help(
                         "What the registration cache holds, roughly (messages, keys, slots); capped by "
                         "--registration_cache_mb")
                     .Register(registry)
                     .Add({});
  gate_waits = &prometheus::BuildCounter()
                    .Name("squatstream_registration_rate_limit_waits_total")
                    .Help(
                        "Requests that waited for a registry server's turn (its rate limit, concurrency cap "
                        "or a pause after HTTP 429 / refusals)")
                    .Register(registry)
                    .Add({});
  gate_waiting = &prometheus::BuildGauge()
                      .Name("squatstream_registration_waiting_requests")
                      .Help("Requests waiting for a registry server's turn now")
                      .Register(registry)
                      .Add({});
  auto& bootstrap = prometheus::BuildGauge()
                        .Name("squatstream_registration_bootstrap")
                        .Help(
                            "The RDAP bootstrap in use: tlds (TLDs with an RDAP service), publication (its "
                            "publication time, Unix seconds)")
                        .Register(registry);
  bootstrap_tlds = &bootstrap.Add({{"value", "tlds"}});
  bootstrap_publication = &bootstrap.Add({{"value", "publication"}});
}

prometheus::Counter* RegistrationMetrics::Request(const std::string& protocol, const std::string& server_name,
                                                  const std::string& outcome) {
  // Servers are named by registries' answers (related links, referrals): past kMaxServers distinct ones, the
  // rest share the label "other", so no stranger can grow the series without bound.
  constexpr std::size_t kMaxServers = 200;
  if (servers_seen.size() < kMaxServers) servers_seen.insert(server_name);
  const std::string& server = servers_seen.contains(server_name) ? server_name : kOther;
  const std::string key = absl::StrCat(protocol, "/", server, "/", outcome);
  auto it = request_counters.find(key);
  if (it != request_counters.end()) return it->second;
  prometheus::Counter* c = &requests->Add({{"protocol", protocol}, {"server", server}, {"outcome", outcome}});
  request_counters.emplace(key, c);
  return c;
}

struct RegistrationEnricher::Waiter {
  asio::any_io_executor executor;
  std::uint64_t stream = 0;  // whose turn at the registry's gate
  Callback done;
  std::string registered;
  Clock::time_point started;
  std::unique_ptr<asio::steady_timer> timer;
  bool finished = false;
};

struct RegistrationEnricher::Fetch {
  std::string name;
  std::vector<std::shared_ptr<Waiter>> waiters;
  v1::WhoisResult result;
  Clock::time_point deadline;
  std::shared_ptr<bool> abandoned = std::make_shared<bool>(false);  // the gate drops it from its queue
  std::uint64_t stream = 0;                                         // its first waiter's: its turns at the gate
  std::function<void()> cancel_whois;                               // the WHOIS query in progress, if any
  std::string doing;                                                // what it waits for now, for the deadline message
  int throttled = 0;
  bool done = false;
};

absl::string_view BootstrapSnapshotText();  // generated from data/rdap-dns-bootstrap.json

absl::string_view BootstrapSnapshot() { return BootstrapSnapshotText(); }

namespace {
// A shared place outlives the request it was taken for by a little (a replica that died frees it then).
GateOptions GateWithLease(const RegistrationOptions& options) {
  GateOptions gate = options.gate;
  gate.lease = std::chrono::duration_cast<std::chrono::milliseconds>(
      absl::ToChronoNanoseconds(options.request_timeout + absl::Seconds(5)));
  return gate;
}
}  // namespace

RegistrationEnricher::RegistrationEnricher(const RegistrationOptions& options, const asio::any_io_executor& executor,
                                           RegistrationMetrics* metrics, net::HostLookup lookup)
    : options_(options),
      metrics_(metrics),
      strand_(asio::make_strand(executor)),
      lookup_(std::move(lookup)),
      http_(64, lookup_),
      gate_(strand_, GateWithLease(options), options.shared.rate, options.shared.concurrency),
      refresh_timer_(strand_) {}

absl::StatusOr<std::unique_ptr<RegistrationEnricher>> RegistrationEnricher::Create(
    const RegistrationOptions& options, const asio::any_io_executor& executor, RegistrationMetrics* metrics,
    net::HostLookup lookup) {
  std::string text(BootstrapSnapshot());
  if (!options.bootstrap_file.empty()) {
    std::ifstream in(options.bootstrap_file);
    if (!in) return absl::InvalidArgumentError(absl::StrFormat("cannot read %s", options.bootstrap_file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  absl::StatusOr<RdapBootstrap> bootstrap = ParseRdapBootstrap(text);
  if (!bootstrap.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RDAP bootstrap %s: %s", options.bootstrap_file.empty() ? "snapshot" : options.bootstrap_file,
                        bootstrap.status().message()));
  }
  std::unique_ptr<RegistrationEnricher> e(new RegistrationEnricher(options, executor, metrics, std::move(lookup)));
  e->SetBootstrap(*std::move(bootstrap));
  if (!options.bootstrap_url.empty() && options.bootstrap_refresh > absl::ZeroDuration()) {
    asio::post(e->strand_, [raw = e.get()] { raw->RefreshBootstrap(); });
  }
  return e;
}

// Only joins libcurl's thread: Shutdown, which the server calls while the executor still runs, did the rest.
RegistrationEnricher::~RegistrationEnricher() { http_.Shutdown(); }

void RegistrationEnricher::Shutdown() {
  if (shutdown_called_.exchange(true)) return;
  http_.Shutdown();  // joins libcurl's thread; its last callbacks only post to the strand
  asio::post(strand_, [this] {
    shut_down_ = true;
    refresh_timer_.cancel();
    std::vector<std::shared_ptr<Fetch>> running;
    for (const auto& [name, fetch] : in_flight_) running.push_back(fetch);
    for (const auto& fetch : running) Finish(fetch, absl::CancelledError("shutting down"));
    gate_.Shutdown();
  });
}

std::string RegistrationEnricher::bootstrap_publication() const {
  MutexLock lock(mu_);
  return bootstrap_ == nullptr ? "" : bootstrap_->publication;
}

void RegistrationEnricher::SetBootstrap(RdapBootstrap bootstrap) {
  metrics_->bootstrap_tlds->Set(static_cast<double>(bootstrap.bases.size()));
  absl::Time published;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, bootstrap.publication, &published, &error)) {
    metrics_->bootstrap_publication->Set(static_cast<double>(absl::ToUnixSeconds(published)));
  }
  auto shared = std::make_shared<const RdapBootstrap>(std::move(bootstrap));
  MutexLock lock(mu_);
  bootstrap_ = std::move(shared);
}

void RegistrationEnricher::RefreshBootstrap() {
  if (shut_down_) return;
  net::HttpRequest request;
  request.url = options_.bootstrap_url;
  request.headers = {"Accept: application/json"};
  request.timeout = std::chrono::seconds(30);
  request.max_body_bytes = std::size_t{8} << 20;
  request.policy = &options_.policy;
  http_.Fetch(std::move(request), [this](net::HttpResponse r) {
    asio::post(strand_, [this, r = std::move(r)]() mutable {
      if (shut_down_) return;
      absl::Status status = r.status;
      if (status.ok() && r.code != 200) status = absl::UnavailableError(absl::StrFormat("HTTP %d", r.code));
      if (status.ok()) {
        absl::StatusOr<RdapBootstrap> fresh = ParseRdapBootstrap(r.body);
        if (fresh.ok()) {
          std::fprintf(stderr, "squatstreamd: RDAP bootstrap refreshed from %s (published %s, %zu TLDs)\n",
                       options_.bootstrap_url.c_str(), fresh->publication.c_str(), fresh->bases.size());
          SetBootstrap(*std::move(fresh));
        } else {
          status = fresh.status();
        }
      }
      metrics_->Request("bootstrap", HostOf(options_.bootstrap_url), status.ok() ? "ok" : OutcomeOf(status))
          ->Increment();
      if (!status.ok()) {
        std::fprintf(stderr, "squatstreamd: RDAP bootstrap refresh from %s failed (%s); keeping the one in use\n",
                     options_.bootstrap_url.c_str(), std::string(status.message()).c_str());
      }
      refresh_timer_.expires_after(absl::ToChronoNanoseconds(options_.bootstrap_refresh));
      refresh_timer_.async_wait([this](std::error_code ec) {
        if (!ec) RefreshBootstrap();
      });
    });
  });
}

std::optional<LookupResult> RegistrationEnricher::Skip(const LookupInput& input, std::string* registered) {
  if (std::optional<LookupResult> skipped = NeedMayBeRegistered(input)) return skipped;  // the stage's rule
  std::optional<std::string> name = permute::RegisteredDomain(absl::AsciiStrToLower(input.domain_ascii));
  if (!name.has_value()) {
    return Skipped(absl::StrFormat("not asked: %s has no registered domain (a public suffix?)", input.domain_ascii));
  }
  *registered = *std::move(name);
  return std::nullopt;
}

std::optional<v1::WhoisResult> RegistrationEnricher::CacheFind(const std::string& name) {
  if (options_.cache_entries == 0) return std::nullopt;
  MutexLock lock(mu_);
  auto it = cache_.find(name);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires <= Clock::now()) {
    cache_bytes_ -= it->second.bytes;
    cache_.erase(it);
    return std::nullopt;
  }
  return it->second.result;
}

void RegistrationEnricher::CacheStore(const std::string& name, const v1::WhoisResult& result) {
  if (options_.cache_entries == 0) return;
  const absl::Duration ttl = result.registered() ? options_.cache_ttl : options_.negative_ttl;
  // What an entry holds, roughly: the message (a WHOIS answer's text up to 4 KiB), the key, the table's slot.
  const std::size_t bytes = result.ByteSizeLong() + 2 * name.size() + 128;
  if (bytes > options_.cache_bytes) return;
  const Clock::time_point now = Clock::now();
  MutexLock lock(mu_);
  if (auto old = cache_.find(name); old != cache_.end()) {
    cache_bytes_ -= old->second.bytes;
    cache_.erase(old);
  }
  // Full (entries or bytes): drop what expired — a sweep at most once a minute, since it reads every entry
  // — then any entries (the table's order is arbitrary enough) until this one fits.
  auto full = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cache_.size() >= options_.cache_entries || cache_bytes_ + bytes > options_.cache_bytes;
  };
  if (full() && now - last_sweep_ > std::chrono::minutes(1)) {
    last_sweep_ = now;
    absl::erase_if(cache_, [&](const auto& kv) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (kv.second.expires > now) return false;
      cache_bytes_ -= kv.second.bytes;
      return true;
    });
  }
  while (full() && !cache_.empty()) {
    cache_bytes_ -= cache_.begin()->second.bytes;
    cache_.erase(cache_.begin());
  }
  cache_bytes_ += bytes;
  cache_.emplace(name, CacheEntry{result, now + absl::ToChronoNanoseconds(ttl), bytes});
  metrics_->cache_bytes->Set(static_cast<double>(cache_bytes_));
}

std::optional<v1::WhoisResult> RegistrationEnricher::SharedCacheFind(const std::string& name) {
  if (options_.cache_entries == 0 || options_.shared.cache == nullptr) return std::nullopt;
  std::optional<std::string> bytes = options_.shared.cache->Get("registration:" + name);
  if (!bytes.has_value()) return std::nullopt;
  v1::WhoisResult result;
  // Written by a replica of another version, or damaged: asked again, as on a miss.
  if (!result.ParseFromString(*bytes) || result.registered_domain() != name) return std::nullopt;
  return result;
}

void RegistrationEnricher::SharedCacheStore(const std::string& name, const v1::WhoisResult& result) {
  if (options_.cache_entries == 0 || options_.shared.cache == nullptr) return;
  const absl::Duration ttl = result.registered() ? options_.cache_ttl : options_.negative_ttl;
  options_.shared.cache->Put("registration:" + name, result.SerializeAsString(), ttl);
}

std::optional<LookupResult> RegistrationEnricher::Now(const LookupInput& input, std::string* registered) {
  if (std::optional<LookupResult> skipped = Skip(input, registered)) return skipped;
  std::optional<v1::WhoisResult> cached = CacheFind(*registered);
  if (!cached.has_value()) return std::nullopt;
  metrics_->cache_hits->Increment();
  LookupResult r;
  *r.value.mutable_whois() = *std::move(cached);
  r.value.mutable_whois()->set_cached(true);
  return r;
}

std::optional<LookupResult> RegistrationEnricher::TryLookupNow(const LookupInput& input) {
  std::string registered;
  return Now(input, &registered);
}

void RegistrationEnricher::Lookup(const LookupInput& input, asio::any_io_executor executor,
                                  asio::cancellation_slot cancel, Callback done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->executor = executor;
  waiter->stream = input.stream;
  waiter->done = std::move(done);
  waiter->started = Clock::now();
  if (std::optional<LookupResult> now = Now(input, &waiter->registered)) {
    asio::post(executor, [w = waiter, r = *std::move(now)]() mutable { std::move(w->done)(std::move(r)); });
    return;
  }
  if (cancel.is_connected()) {
    cancel.assign([this, weak = std::weak_ptr<Waiter>(waiter)](asio::cancellation_type) {
      asio::post(strand_, [this, weak] {
        auto w = weak.lock();
        if (w == nullptr || w->finished) return;
        Deliver(w, absl::CancelledError("cancelled"));
        AbandonIfUnwanted(w->registered);
      });
    });
  }
  asio::post(strand_, [this, waiter] {
    if (waiter->finished) return;
    if (shut_down_) {
      Deliver(waiter, absl::CancelledError("shutting down"));
      return;
    }
    waiter->timer = std::make_unique<asio::steady_timer>(strand_);
    waiter->timer->expires_at(waiter->started + absl::ToChronoNanoseconds(options_.deadline));
    waiter->timer->async_wait([this, weak = std::weak_ptr<Waiter>(waiter)](std::error_code ec) {
      auto w = weak.lock();
      if (ec || w == nullptr || w->finished) return;
      std::string doing;
      if (auto it = in_flight_.find(w->registered); it != in_flight_.end()) doing = it->second->doing;
      Deliver(w, absl::DeadlineExceededError(absl::StrFormat(
                     "%s: no registration data within %s%s%s", w->registered, absl::FormatDuration(options_.deadline),
                     doing.empty() ? "" : " (", doing.empty() ? "" : doing + ")")));
      AbandonIfUnwanted(w->registered);  // no one else waiting: its queued requests are dropped
    });
    // Cached meanwhile (another lookup of the same name finished)?
    if (std::optional<v1::WhoisResult> cached = CacheFind(waiter->registered)) {
      metrics_->cache_hits->Increment();
      cached->set_cached(true);
      Deliver(waiter, *std::move(cached));
      return;
    }
    auto it = in_flight_.find(waiter->registered);
    if (it != in_flight_.end()) {
      metrics_->cache_joined->Increment();
      it->second->waiters.push_back(waiter);
      it->second->deadline =
          std::max(it->second->deadline, waiter->started + absl::ToChronoNanoseconds(options_.deadline));
      return;
    }
    // Another replica's answer (the shared cache), kept here too for the next ones.
    if (std::optional<v1::WhoisResult> shared = SharedCacheFind(waiter->registered)) {
      metrics_->cache_hits->Increment();
      CacheStore(waiter->registered, *shared);
      shared->set_cached(true);
      Deliver(waiter, *std::move(shared));
      return;
    }
    metrics_->cache_misses->Increment();
    auto fetch = std::make_shared<Fetch>();
    fetch->name = waiter->registered;
    fetch->result.set_registered_domain(fetch->name);
    fetch->deadline = waiter->started + absl::ToChronoNanoseconds(options_.deadline);
    fetch->waiters.push_back(waiter);
    fetch->stream = waiter->stream;
    in_flight_.emplace(fetch->name, fetch);
    Start(fetch);
  });
}

// A request ends a little after its lookup's deadline, so that the lookup's own DEADLINE_EXCEEDED (saying
// what it waited for) is what the record gets.
std::chrono::milliseconds RegistrationEnricher::RequestTimeout(const Fetch& fetch) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(fetch.deadline - Clock::now());
  return std::max(std::chrono::milliseconds(1),
                  std::min(left + kMinRequestTime, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       absl::ToChronoNanoseconds(options_.request_timeout))));
}

bool RegistrationEnricher::Worthwhile(const std::shared_ptr<Fetch>& fetch) {
  if (fetch->done) return false;
  if (shut_down_) {
    Finish(fetch, absl::CancelledError("shutting down"));
    return false;
  }
  if (fetch->deadline - Clock::now() < kMinRequestTime) {
    Finish(fetch, absl::DeadlineExceededError(absl::StrFormat("%s: no registration data within %s (%s)", fetch->name,
                                                              absl::FormatDuration(options_.deadline), fetch->doing)));
    return false;
  }
  return true;
}

void RegistrationEnricher::Start(const std::shared_ptr<Fetch>& fetch) {
  std::shared_ptr<const RdapBootstrap> bootstrap;
  {
    MutexLock lock(mu_);
    bootstrap = bootstrap_;
  }
  const std::vector<std::string> bases = bootstrap->BasesFor(fetch->name);
  if (!bases.empty()) {
    AskRdap(fetch, absl::StrCat(bases.front(), "domain/", fetch->name), /*related=*/false);
    return;
  }
  const std::string tld = fetch->name.substr(fetch->name.rfind('.') + 1);
  if (auto it = tld_whois_.find(tld); it != tld_whois_.end()) {
    AskWhois(fetch, it->second, WhoisStep::kRegistry);
  } else {
    AskWhois(fetch, options_.whois_server, WhoisStep::kIana);
  }
}

void RegistrationEnricher::AskRdap(const std::shared_ptr<Fetch>& fetch, const std::string& url, bool related) {
  const std::string host = HostOf(url);
  fetch->doing = absl::StrFormat("waiting for %s's turn", host);
  gate_.Acquire(host, fetch->stream, fetch->abandoned, [this, fetch, url, host, related](bool waited) {
    if (waited) metrics_->gate_waits->Increment();
    if (!Worthwhile(fetch)) {  // ended, or too late, since it queued: the turn goes back unused
      gate_.Release(host, GateOutcome::kOk, std::chrono::seconds(0));
      return;
    }
    metrics_->gate_waiting->Set(static_cast<double>(gate_.waiting()));
    fetch->doing = absl::StrFormat("asking %s", url);
    fetch->result.add_servers(url);
    net::HttpRequest request;
    request.url = url;
    request.headers = {"Accept: application/rdap+json"};
    request.timeout = RequestTimeout(*fetch);
    request.max_body_bytes = options_.max_rdap_bytes;
    request.policy = &options_.policy;
    http_.Fetch(std::move(request), [this, fetch, url, related](net::HttpResponse r) {
      asio::post(strand_, [this, fetch, url, related, r = std::move(r)] { OnRdap(fetch, url, related, r); });
    });
  });
  metrics_->gate_waiting->Set(static_cast<double>(gate_.waiting()));
}

void RegistrationEnricher::OnRdap(const std::shared_ptr<Fetch>& fetch, const std::string& url, bool related,
                                  const net::HttpResponse& r) {
  const std::string host = HostOf(url);
  GateOutcome gate_outcome = GateOutcome::kOk;
  std::string outcome;
  absl::Status failure;
  absl::StatusOr<RdapDomain> parsed = absl::UnknownError("unset");
  if (!r.status.ok()) {
    outcome = OutcomeOf(r.status);
    failure = r.status;
    if (r.refused || r.status.code() == absl::StatusCode::kUnavailable) gate_outcome = GateOutcome::kFailed;
  } else if (r.code == 429) {
    outcome = "rate_limited";
    gate_outcome = GateOutcome::kThrottled;
    failure = absl::ResourceExhaustedError(
        absl::StrFormat("%s: rate limited (HTTP 429, Retry-After %ds)", host, r.retry_after.count()));
  } else if (r.code == 404) {
    outcome = "not_found";
  } else if (r.code == 200) {
    parsed = ParseRdapDomain(r.body);
    outcome = parsed.ok() ? "ok" : (parsed.status().code() == absl::StatusCode::kNotFound ? "not_found" : "malformed");
    if (!parsed.ok() && parsed.status().code() != absl::StatusCode::kNotFound) {
      failure =
          absl::UnknownError(absl::StrFormat("malformed RDAP answer from %s: %s", host, parsed.status().message()));
    }
  } else {
    outcome = "error";
    if (r.code >= 500) gate_outcome = GateOutcome::kFailed;
    failure = absl::UnavailableError(absl::StrFormat("%s: HTTP %d", host, r.code));
  }
  gate_.Release(host, gate_outcome, r.retry_after);
  metrics_->Request("rdap", host, outcome)->Increment();
  if (fetch->done) return;
  if (related) {  // the registrar's answer only adds: whatever happened, the registry's answer stands
    if (parsed.ok()) MergeRegistration(parsed->result, &fetch->result);
    Succeed(fetch);
    return;
  }
  if (outcome == "rate_limited" && fetch->throttled < options_.max_throttled_retries &&
      Clock::now() + r.retry_after + kMinRequestTime < fetch->deadline) {
    ++fetch->throttled;
    AskRdap(fetch, url, related);  // the gate holds it until the pause ends
    return;
  }
  if (outcome == "not_found") {
    fetch->result.set_registered(false);
    fetch->result.set_source("rdap");
    Succeed(fetch);
    return;
  }
  if (!failure.ok()) {
    Finish(fetch, failure);
    return;
  }
  v1::WhoisResult merged = parsed->result;
  merged.set_registered_domain(fetch->name);
  *merged.mutable_servers() = fetch->result.servers();
  fetch->result = std::move(merged);
  if (options_.follow_related && !parsed->related_url.empty() && parsed->related_url != url &&
      parsed->related_url != r.final_url) {
    AskRdap(fetch, parsed->related_url, /*related=*/true);
    return;
  }
  Succeed(fetch);
}

void RegistrationEnricher::AskWhois(const std::shared_ptr<Fetch>& fetch, const std::string& server, WhoisStep step) {
  fetch->doing = absl::StrFormat("waiting for whois %s's turn", server);
  gate_.Acquire(server, fetch->stream, fetch->abandoned, [this, fetch, server, step](bool waited) {
    if (waited) metrics_->gate_waits->Increment();
    if (!Worthwhile(fetch)) {
      gate_.Release(server, GateOutcome::kOk, std::chrono::seconds(0));
      return;
    }
    metrics_->gate_waiting->Set(static_cast<double>(gate_.waiting()));
    fetch->doing = absl::StrFormat("asking whois %s", server);
    fetch->result.add_servers(absl::StrCat("whois://", server));
    fetch->cancel_whois =
        WhoisQuery(strand_, server, fetch->name, RequestTimeout(*fetch), options_.max_whois_bytes, &options_.policy,
                   lookup_, [this, fetch, server, step](absl::StatusOr<WhoisReply> reply) {
                     fetch->cancel_whois = nullptr;
                     OnWhois(fetch, server, step, std::move(reply));
                   });
  });
  metrics_->gate_waiting->Set(static_cast<double>(gate_.waiting()));
}

void RegistrationEnricher::OnWhois(const std::shared_ptr<Fetch>& fetch, const std::string& server, WhoisStep step,
                                   absl::StatusOr<WhoisReply> reply) {
  // A server that did not answer in time, a query we cancelled, a server name we would not dial or could not
  // resolve with no DNS stage (FAILED_PRECONDITION) is no reason to back off from that server.
  const absl::StatusCode code = reply.ok() ? absl::StatusCode::kOk : reply.status().code();
  const bool neutral = code == absl::StatusCode::kOk || code == absl::StatusCode::kDeadlineExceeded ||
                       code == absl::StatusCode::kCancelled || code == absl::StatusCode::kPermissionDenied ||
                       code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kFailedPrecondition;
  gate_.Release(server, neutral ? GateOutcome::kOk : GateOutcome::kFailed, std::chrono::seconds(0));
  if (!reply.ok()) {
    metrics_->Request("whois", server, OutcomeOf(reply.status()))->Increment();
    if (fetch->done) return;
    if (step == WhoisStep::kRegistrar) {
      Succeed(fetch);  // the registry's answer stands
    } else {
      Finish(fetch, reply.status());
    }
    return;
  }
  WhoisAnswer answer = ParseWhois(reply->text);
  metrics_->Request("whois", server, answer.not_found ? "not_found" : "ok")->Increment();
  if (fetch->done) return;
  switch (step) {
    case WhoisStep::kIana: {
      if (answer.referral.empty()) {
        Finish(fetch, absl::NotFoundError(absl::StrFormat("%s: %s names no WHOIS server for its TLD and the "
                                                          "RDAP bootstrap no RDAP service",
                                                          fetch->name, server)));
        return;
      }
      tld_whois_[fetch->name.substr(fetch->name.rfind('.') + 1)] = answer.referral;
      AskWhois(fetch, answer.referral, WhoisStep::kRegistry);
      return;
    }
    case WhoisStep::kRegistry: {
      v1::WhoisResult result = std::move(answer.result);
      result.set_registered_domain(fetch->name);
      *result.mutable_servers() = fetch->result.servers();
      result.set_raw_text(ToValidUtf8(absl::string_view(reply->text).substr(0, kMaxRawText)));
      fetch->result = std::move(result);
      if (!answer.not_found && !answer.referral.empty() && answer.referral != server) {
        AskWhois(fetch, answer.referral, WhoisStep::kRegistrar);
        return;
      }
      Succeed(fetch);
      return;
    }
    case WhoisStep::kRegistrar:
      if (!answer.not_found) MergeRegistration(answer.result, &fetch->result);
      Succeed(fetch);
      return;
  }
}

void RegistrationEnricher::Succeed(const std::shared_ptr<Fetch>& fetch) {
  BoundWhoisResult(&fetch->result);  // the URLs asked came from answers too (a registry's related link ...)
  MakeValidUtf8(&fetch->result);
  CacheStore(fetch->name, fetch->result);
  SharedCacheStore(fetch->name, fetch->result);
  Finish(fetch, fetch->result);
}

void RegistrationEnricher::Finish(const std::shared_ptr<Fetch>& fetch, const absl::StatusOr<v1::WhoisResult>& result) {
  if (fetch->done) return;
  fetch->done = true;
  *fetch->abandoned = true;
  if (fetch->cancel_whois) std::exchange(fetch->cancel_whois, nullptr)();
  in_flight_.erase(fetch->name);
  for (const auto& w : fetch->waiters) {
    if (!w->finished) Deliver(w, result);
  }
  fetch->waiters.clear();
  metrics_->gate_waiting->Set(static_cast<double>(gate_.waiting()));
}

void RegistrationEnricher::AbandonIfUnwanted(const std::string& name) {
  auto it = in_flight_.find(name);
  if (it == in_flight_.end()) return;
  const std::shared_ptr<Fetch> fetch = it->second;
  for (const auto& w : fetch->waiters) {
    if (!w->finished) return;
  }
  // A request already sent still ends (and releases its server's slot); its answer is dropped.
  Finish(fetch, absl::CancelledError("no lookup waits for it"));
}

void RegistrationEnricher::Deliver(const std::shared_ptr<Waiter>& waiter,
                                   const absl::StatusOr<v1::WhoisResult>& result) {
  waiter->finished = true;
  if (waiter->timer != nullptr) waiter->timer->cancel();
  LookupResult r;
  if (result.ok()) {
    *r.value.mutable_whois() = *result;
  } else {
    // Messages quote what servers sent (a JSON parser's excerpt of the body): valid UTF-8 for the API.
    r.status = absl::Status(result.status().code(), ToValidUtf8(result.status().message()));
  }
  asio::post(waiter->executor, [w = waiter, r = std::move(r)]() mutable { std::move(w->done)(std::move(r)); });
}

}  // namespace squatstream::workers::registration
