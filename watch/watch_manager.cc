#include "watch/watch_manager.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "watch/deliverer.h"
#include "watch/differ.h"
#include "watch/proto_time.h"

namespace squatstream::watch {
namespace {

constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;
// The longest interval taken: far beyond any use, and small enough that a scan's time plus it stays a time the
// store writes as milliseconds (and that interval_seconds, a uint64, converts to a Duration without wrapping).
constexpr std::uint64_t kMaxIntervalSeconds = 10ull * 366 * 24 * 3600;

int PageSize(std::uint32_t asked) {
  if (asked == 0) return kDefaultPage;
  return static_cast<int>(std::min<std::uint32_t>(asked, kMaxPage));
}

absl::Status WithWatch(const absl::Status& s, const std::string& domain) {
  if (s.code() == absl::StatusCode::kNotFound) return absl::NotFoundError(absl::StrFormat("no watch of %s", domain));
  return s;
}

}  // namespace

WatchManager::WatchManager(store::Store& store, Scheduler* scheduler, WatchManagerOptions options)
    : store_(store), scheduler_(scheduler), options_(options) {}

v1::Watch WatchManager::ToProto(const store::WatchRow& row) {
  v1::Watch w;
  w.set_domain(row.domain);
  w.set_domain_unicode(row.domain_unicode);
  *w.mutable_settings() = row.settings;
  w.mutable_settings()->clear_webhook_secret();
  w.set_has_webhook_secret(!row.settings.webhook_secret().empty());
  SetTimestamp(row.created, w.mutable_created());
  SetTimestamp(row.next_scan, w.mutable_next_scan());
  if (row.last_scan != absl::InfinitePast()) SetTimestamp(row.last_scan, w.mutable_last_scan());
  w.set_last_scan_outcome(row.last_scan_outcome);
  w.set_scans(row.scans);
  w.set_baseline_done(row.baseline_done);
  w.set_registered(row.registered);
  w.set_observed(row.observed);
  return w;
}

absl::Status WatchManager::CheckSettings(const v1::WatchSettings& settings) const {
  if (settings.interval_seconds() > kMaxIntervalSeconds) {
    return absl::InvalidArgumentError(absl::StrFormat("interval %ds is over the maximum of %ds (10 years)",
                                                      settings.interval_seconds(), kMaxIntervalSeconds));
  }
  const absl::Duration every = absl::Seconds(static_cast<std::int64_t>(settings.interval_seconds()));
  if (every < options_.min_interval) {
    return absl::InvalidArgumentError(
        absl::StrFormat("interval %s is under this server's minimum of %s (--watch_min_interval)",
                        absl::FormatDuration(every), absl::FormatDuration(options_.min_interval)));
  }
  if (settings.webhook_url().empty()) {
    if (!settings.webhook_secret().empty()) {
      return absl::InvalidArgumentError("a webhook secret without a webhook URL: set webhook_url too");
    }
    return absl::OkStatus();
  }
  if (settings.webhook_secret().empty()) {
    return absl::InvalidArgumentError(
        "a webhook needs a secret (webhook_secret): its deliveries are signed with it (Squatstream-Signature)");
  }
  static const workers::net::AddressPolicy kAnything = [] {
    absl::StatusOr<workers::net::AddressPolicy> all = workers::net::AddressPolicy::WithAllowed({"0.0.0.0/0", "::/0"});
    return all.ok() ? *all : workers::net::AddressPolicy();
  }();
  return CheckWebhookUrl(settings.webhook_url(),
                         options_.webhook_policy != nullptr ? *options_.webhook_policy : kAnything);
}

absl::StatusOr<v1::Watch> WatchManager::Create(const std::string& domain_ascii, const std::string& domain_unicode,
                                               v1::WatchSettings settings, const std::string& owner_key_id) {
  if (settings.interval_seconds() == 0) {
    settings.set_interval_seconds(static_cast<std::uint64_t>(absl::ToInt64Seconds(options_.default_interval)));
  }
  if (absl::Status s = CheckSettings(settings); !s.ok()) return s;
  store::WatchRow row;
  row.domain = domain_ascii;
  row.domain_unicode = domain_unicode;
  row.settings = std::move(settings);
  row.owner_key_id = owner_key_id;
  row.created = absl::Now();
  row.next_scan = row.created;
  absl::StatusOr<store::WatchRow> created = store_.CreateWatch(row);
  if (!created.ok()) {
    if (created.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrFormat("%s is watched already", domain_ascii));
    }
    return created.status();
  }
  if (scheduler_ != nullptr) scheduler_->Wake();
  return ToProto(*created);
}

absl::StatusOr<std::int64_t> WatchManager::CountOwnedBy(const std::string& key_id) {
  return store_.CountWatchesOwnedBy(key_id);
}

absl::StatusOr<v1::Watch> WatchManager::Get(const std::string& domain) {
  absl::StatusOr<store::WatchRow> row = store_.GetWatch(domain);
  if (!row.ok()) return WithWatch(row.status(), domain);
  return ToProto(*row);
}

absl::StatusOr<v1::ListWatchesResponse> WatchManager::List(const v1::ListWatchesRequest& request) {
  const int size = PageSize(request.page_size());
  absl::StatusOr<std::vector<store::WatchRow>> rows = store_.ListWatches(request.page_token(), size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListWatchesResponse response;
  const std::size_t page = static_cast<std::size_t>(size);
  for (std::size_t i = 0; i < rows->size() && i < page; ++i) *response.add_watches() = ToProto((*rows)[i]);
  if (rows->size() > page) response.set_next_page_token((*rows)[page - 1].domain);
  return response;
}

absl::StatusOr<v1::Watch> WatchManager::Update(const std::string& domain, const v1::WatchSettings& settings,
                                               const std::vector<std::string>& mask) {
  absl::StatusOr<store::WatchRow> row = store_.GetWatch(domain);
  if (!row.ok()) return WithWatch(row.status(), domain);
  v1::WatchSettings merged = row->settings;
  std::vector<std::string> fields = mask;
  if (fields.empty()) {
    if (settings.interval_seconds() != 0) fields.emplace_back("interval_seconds");
    if (settings.kinds_size() != 0) fields.emplace_back("kinds");
    if (settings.enrichers_size() != 0) fields.emplace_back("enrichers");
    if (settings.max_candidates() != 0) fields.emplace_back("max_candidates");
    if (!settings.webhook_url().empty()) fields.emplace_back("webhook_url");
    if (!settings.webhook_secret().empty()) fields.emplace_back("webhook_secret");
  }
  bool interval_changed = false;
  for (const std::string& f : fields) {
    if (f == "interval_seconds") {
      merged.set_interval_seconds(settings.interval_seconds() == 0
                                      ? static_cast<std::uint64_t>(absl::ToInt64Seconds(options_.default_interval))
                                      : settings.interval_seconds());
      interval_changed = true;
    } else if (f == "kinds") {
      merged.mutable_kinds()->CopyFrom(settings.kinds());
    } else if (f == "enrichers") {
      merged.mutable_enrichers()->CopyFrom(settings.enrichers());
    } else if (f == "max_candidates") {
      merged.set_max_candidates(settings.max_candidates());
    } else if (f == "webhook_url") {
      merged.set_webhook_url(settings.webhook_url());
      if (settings.webhook_url().empty()) merged.clear_webhook_secret();
    } else if (f == "webhook_secret") {
      merged.set_webhook_secret(settings.webhook_secret());
    } else {
      return absl::InvalidArgumentError(absl::StrFormat(
          "update_mask: no setting %s (interval_seconds, kinds, enrichers, max_candidates, webhook_url, "
          "webhook_secret)",
          f));
    }
  }
  if (absl::Status s = CheckSettings(merged); !s.ok()) return s;
  // A watch never scanned keeps its schedule (due since its creation, or retrying a failed first scan): moving
  // it to now + the interval would put its baseline off by a whole interval.
  std::optional<absl::Time> next;
  if (interval_changed && row->last_scan != absl::InfinitePast()) {
    next = row->last_scan + absl::Seconds(static_cast<std::int64_t>(merged.interval_seconds()));
  }
  absl::StatusOr<store::WatchRow> updated = store_.UpdateWatch(domain, merged, next);
  if (!updated.ok()) return WithWatch(updated.status(), domain);
  if (scheduler_ != nullptr) scheduler_->Wake();
  return ToProto(*updated);
}

absl::Status WatchManager::Delete(const std::string& domain) { return WithWatch(store_.DeleteWatch(domain), domain); }

absl::StatusOr<v1::Watch> WatchManager::ScanNow(const std::string& domain) {
  absl::StatusOr<store::WatchRow> row = store_.ScheduleScan(domain, absl::Now());
  if (!row.ok()) return WithWatch(row.status(), domain);
  if (scheduler_ != nullptr) scheduler_->Wake();
  return ToProto(*row);
}

absl::StatusOr<v1::ListObservationsResponse> WatchManager::ListObservations(
    const v1::ListObservationsRequest& request) {
  absl::StatusOr<store::WatchRow> watch = store_.GetWatch(request.watch());
  if (!watch.ok()) return WithWatch(watch.status(), request.watch());
  store::ObservationFilter filter;
  for (int v : request.verdicts()) filter.verdicts.push_back(static_cast<v1::DnsVerdict>(v));
  for (int t : request.triage()) filter.triage.push_back(static_cast<v1::Triage>(t));
  for (int k : request.kinds()) filter.kinds.push_back(static_cast<v1::PermutationKind>(k));
  filter.changed_only = request.changed_only();
  filter.include_records = request.include_records();
  const int size = PageSize(request.page_size());
  absl::StatusOr<std::vector<store::ObservationRow>> rows =
      store_.ListObservations(watch->id, filter, request.page_token(), size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListObservationsResponse response;
  const std::size_t page = static_cast<std::size_t>(size);
  for (std::size_t i = 0; i < rows->size() && i < page; ++i) {
    *response.add_observations() = ToObservation(*watch, (*rows)[i]);
  }
  if (rows->size() > page) response.set_next_page_token((*rows)[page - 1].candidate);
  return response;
}

absl::StatusOr<v1::Observation> WatchManager::Annotate(const std::string& watch, const std::string& candidate_ascii,
                                                       v1::Triage triage, const std::string& note) {
  absl::StatusOr<store::WatchRow> row = store_.GetWatch(watch);
  if (!row.ok()) return WithWatch(row.status(), watch);
  absl::StatusOr<store::ObservationRow> annotated = store_.Annotate(row->id, candidate_ascii, triage, note);
  if (!annotated.ok()) {
    if (annotated.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrFormat("the watch of %s has not observed %s", watch, candidate_ascii));
    }
    return annotated.status();
  }
  return ToObservation(*row, *annotated);
}

absl::StatusOr<std::vector<v1::WatchEvent>> WatchManager::Events(const std::string& watch, std::uint64_t after_id,
                                                                 int limit) {
  std::int64_t watch_id = 0;
  if (!watch.empty()) {
    absl::StatusOr<store::WatchRow> row = store_.GetWatch(watch);
    if (!row.ok()) return WithWatch(row.status(), watch);
    watch_id = row->id;
  }
  // The engines differ on a LIMIT out of range (SQLite: none; PostgreSQL: an error): a page of a sane size.
  if (limit <= 0) limit = kDefaultPage;
  return store_.ListEvents(watch_id, after_id, std::min(limit, kMaxPage));
}

absl::Status WatchManager::CheckCursor(std::uint64_t since_id) {
  if (since_id == 0) return absl::OkStatus();
  absl::StatusOr<std::uint64_t> last = store_.LastEventId();
  if (!last.ok()) return last.status();
  if (since_id <= *last) return absl::OkStatus();  // (events pruned or deleted with their watch included)
  return absl::OutOfRangeError(absl::StrFormat(
      "since_id %d: no event has that id yet — the last one written is %d (another store, or a typo?); resume from "
      "an id this server gave you, or from 0",
      since_id, *last));
}

void WatchManager::WaitForEvents(absl::Duration at_most) {
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(std::min(at_most, options_.events_poll));
  MutexLock lock(mu_);
  const std::uint64_t seen = events_generation_;
  while (events_generation_ == seen && std::chrono::steady_clock::now() < deadline) {
    events_cv_.WaitFor(mu_, deadline - std::chrono::steady_clock::now());
  }
}

void WatchManager::NotifyEvents() {
  MutexLock lock(mu_);
  ++events_generation_;
  events_cv_.NotifyAll();
}

}  // namespace squatstream::watch
