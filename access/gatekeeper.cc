#include "access/gatekeeper.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/rpc/error_details.pb.h"
#include "prometheus/family.h"

namespace squatstream::access {
namespace {

enum QuotaIndex { kCandidates = 0, kStreams = 1, kWatches = 2 };
constexpr const char* kQuotaNames[] = {"candidates_per_hour", "concurrent_streams", "watches"};
constexpr const char* kFailureNames[] = {"none", "missing", "malformed", "unknown", "expired", "revoked", "scope"};

std::string WithCommas(std::int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// "6m12s" rounded up to the second: what a person reads in a message (the exact delay is in RetryInfo).
std::string Readable(absl::Duration d) {
  return absl::FormatDuration(absl::Ceil(std::max(d, absl::Seconds(1)), absl::Seconds(1)));
}

std::string KeyName(const Principal& p) { return absl::StrCat("sqs_", p.id); }

}  // namespace

std::string Caller::Name() const { return key ? KeyName(*key) : "anonymous"; }

absl::Status QuotaExceeded(absl::string_view message, absl::Duration retry_after, absl::string_view subject,
                           absl::string_view description) {
  absl::Status status = absl::ResourceExhaustedError(message);
  if (retry_after > absl::ZeroDuration() && retry_after < absl::InfiniteDuration()) {
    google::rpc::RetryInfo retry;
    const std::int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(retry_after, absl::Milliseconds(1)));
    retry.mutable_retry_delay()->set_seconds(ms / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<std::int32_t>(ms % 1000) * 1'000'000);
    status.SetPayload(kRetryInfoTypeUrl, absl::Cord(retry.SerializeAsString()));
  }
  google::rpc::QuotaFailure failure;
  auto* violation = failure.add_violations();
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(description));
  status.SetPayload(kQuotaFailureTypeUrl, absl::Cord(failure.SerializeAsString()));
  return status;
}

StreamQuota::StreamQuota(Gatekeeper& gatekeeper, std::string key_id, std::int64_t reserved, std::int64_t per_hour,
                         std::string holder)
    : gatekeeper_(gatekeeper),
      key_id_(std::move(key_id)),
      reserved_(reserved),
      per_hour_(per_hour),
      used_(reserved),
      holder_(std::move(holder)) {}

StreamQuota::~StreamQuota() { gatekeeper_.EndStream(*this); }

Gatekeeper::Gatekeeper(const KeyBook* book, QuotaDefaults defaults, std::shared_ptr<workers::net::RateLimiter> rates,
                       std::shared_ptr<workers::net::ConcurrencyLimiter> places, std::string replica,
                       prometheus::Registry& registry)
    : book_(book),
      defaults_(defaults),
      rates_(std::move(rates)),
      places_(std::move(places)),
      replica_(std::move(replica)) {
  auto& failures = prometheus::BuildCounter()
                       .Name("squatstream_auth_failures_total")
                       .Help(
                           "Calls refused before any work: no key, a malformed, unknown, expired or revoked key "
                           "(UNAUTHENTICATED), or a key without the method's scope (PERMISSION_DENIED)")
                       .Register(registry);
  for (int i = 1; i < 7; ++i) auth_failures_[i - 1] = &failures.Add({{"reason", kFailureNames[i]}});
  auto& quotas = prometheus::BuildCounter()
                     .Name("squatstream_quota_refusals_total")
                     .Help(
                         "Calls refused because the caller's API key reached one of its quotas "
                         "(RESOURCE_EXHAUSTED with RetryInfo and QuotaFailure; the server's own capacity "
                         "refusals are counted apart)")
                     .Register(registry);
  for (int i = 0; i < 3; ++i) quota_refusals_[i] = &quotas.Add({{"quota", kQuotaNames[i]}});
  if (enabled()) renewer_ = std::thread([this] { Renew(); });
}

Gatekeeper::~Gatekeeper() {
  stop_.Notify();
  if (renewer_.joinable()) renewer_.join();
}

std::int64_t Gatekeeper::Quota(const std::optional<std::int64_t>& own, std::int64_t fallback) const {
  return own && *own > 0 ? *own : fallback;
}

void Gatekeeper::CountRefusal(int quota) { quota_refusals_[quota]->Increment(); }

absl::StatusOr<Caller> Gatekeeper::Admit(std::string_view authorization, Scope scope, std::string_view method) {
  if (!enabled()) return Caller{};
  AuthFailure reason = AuthFailure::kNone;
  absl::StatusOr<Principal> principal = book_->Authenticate(authorization, absl::Now(), &reason);
  if (!principal.ok()) {
    const int i = static_cast<int>(reason);
    if (i >= 1 && i <= 5) auth_failures_[i - 1]->Increment();
    return principal.status();
  }
  if (absl::Status s = Require(*principal, scope, method); !s.ok()) {
    auth_failures_[5]->Increment();
    return s;
  }
  return Caller{std::move(*principal)};
}

absl::StatusOr<std::unique_ptr<StreamQuota>> Gatekeeper::AdmitStream(const Caller& caller, std::int64_t candidates) {
  if (!caller.key) return nullptr;
  const Principal& key = *caller.key;
  const std::string subject = absl::StrCat("api_key:", KeyName(key));
  const std::int64_t per_hour = Quota(key.quota_candidates_per_hour, defaults_.candidates_per_hour);
  const std::int64_t streams = Quota(key.quota_concurrent_streams, defaults_.concurrent_streams);
  const std::string holder = absl::StrCat(replica_, ":", next_holder_.fetch_add(1));
  const std::string places_key = absl::StrCat("quota:streams:", key.id);
  if (!places_->TryAcquire(places_key, streams, holder, kPlaceLease)) {
    CountRefusal(kStreams);
    return QuotaExceeded(
        absl::StrFormat("quota exceeded: the API key %s may run %s at once and runs that many now; retry "
                        "when one of them ends",
                        KeyName(key), streams == 1 ? "1 stream" : WithCommas(streams) + " streams"),
        absl::Seconds(5), subject, absl::StrCat("concurrent streams: ", WithCommas(streams)));
  }
  const std::string rate_key = absl::StrCat("quota:candidates:", key.id);
  const workers::net::RateDecision decision = rates_->Take(rate_key, per_hour, absl::Hours(1), candidates);
  if (!decision.allowed) {
    places_->Release(places_key, holder);
    CountRefusal(kCandidates);
    const std::string description = absl::StrCat("candidates per hour: ", WithCommas(per_hour));
    if (candidates > per_hour) {
      return QuotaExceeded(absl::StrFormat("quota exceeded: this scan may look up %s candidates (its cap), more "
                                           "than the API key %s may look up in an hour (%s); lower max_candidates",
                                           WithCommas(candidates), KeyName(key), WithCommas(per_hour)),
                           absl::InfiniteDuration(), subject, description);
    }
    return QuotaExceeded(
        absl::StrFormat("quota exceeded: the API key %s may look up %s candidates per hour and "
                        "this scan may look up %s (its cap); retry in %s, or lower max_candidates",
                        KeyName(key), WithCommas(per_hour), WithCommas(candidates), Readable(decision.retry_after)),
        decision.retry_after, subject, description);
  }
  {
    MutexLock lock(mu_);
    held_[holder] = {places_key, streams};
  }
  return std::unique_ptr<StreamQuota>(new StreamQuota(*this, key.id, candidates, per_hour, holder));
}

void Gatekeeper::EndStream(const StreamQuota& quota) {
  {
    MutexLock lock(mu_);
    held_.erase(quota.holder_);  // no renewal after this (Renew runs under mu_)
  }
  places_->Release(absl::StrCat("quota:streams:", quota.key_id_), quota.holder_);
  const std::int64_t unused = quota.reserved_ - std::clamp<std::int64_t>(quota.used_, 0, quota.reserved_);
  if (unused > 0)
    rates_->Take(absl::StrCat("quota:candidates:", quota.key_id_), quota.per_hour_, absl::Hours(1), -unused);
}

absl::Status Gatekeeper::AdmitWatch(const Caller& caller, std::int64_t owned) {
  if (!caller.key) return absl::OkStatus();
  const Principal& key = *caller.key;
  const std::int64_t watches = Quota(key.quota_watches, defaults_.watches);
  if (owned < watches) return absl::OkStatus();
  CountRefusal(kWatches);
  return QuotaExceeded(
      absl::StrFormat("quota exceeded: the API key %s may keep %s and keeps %s; delete one "
                      "first (squatstream watch rm DOMAIN)",
                      KeyName(key), watches == 1 ? "1 watch" : WithCommas(watches) + " watches", WithCommas(owned)),
      absl::ZeroDuration(), absl::StrCat("api_key:", KeyName(key)), absl::StrCat("watches: ", WithCommas(watches)));
}

void Gatekeeper::Renew() {
  while (!stop_.WaitForNotificationWithTimeout(kPlaceLease / 3)) {
    // Under mu_, so that a stream that ends meanwhile is either renewed before EndStream erases it (and then
    // released) or not seen at all: TryAcquire of a holder that no longer holds would take a new place that
    // nobody gives back. A holder that holds its place renews its lease (TryAcquire's contract). Streams that
    // begin or end wait for the renewals (a round trip each with Redis, every 10 s).
    MutexLock lock(mu_);
    for (const auto& [holder, place] : held_) {
      if (!places_->TryAcquire(place.first, place.second, holder, kPlaceLease)) {
        // Lost (Redis restarted empty, or this replica's share while it cannot be asked is smaller): the stream
        // goes on; the key may run over its limit until it ends.
        std::fprintf(stderr,
                     "squatstreamd: a stream of an API key could not renew its place among the key's "
                     "streams (the shared limits restarted or fell back); it runs on uncounted\n");
      }
    }
  }
}

}  // namespace squatstream::access
