#include "service/enrich_pipeline.h"

#include <algorithm>
#include <string>
#include <utility>
#include <variant>

#include "absl/container/inlined_vector.h"
#include "asio/post.hpp"

namespace squatstream::service {
namespace {

void FillEnrichment(workers::LookupResult result, std::chrono::steady_clock::duration elapsed, v1::Enrichment* out) {
  out->set_latency_micros(static_cast<std::uint32_t>(
      std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(), UINT32_MAX)));
  if (!result.status.ok()) {
    out->mutable_status()->set_code(static_cast<int>(result.status.code()));
    out->mutable_status()->set_message(std::string(result.status.message()));
    return;
  }
  out->mutable_status();  // present and OK (code 0)
  if (auto* geo = std::get_if<workers::GeoInfo>(&result.value)) {
    v1::GeoResult* g = out->mutable_geo();
    g->set_ip(std::move(geo->ip));
    g->set_country_code(std::move(geo->country_code));
    g->set_city(std::move(geo->city));
    g->set_asn(geo->asn);
    g->set_latitude(geo->latitude);
    g->set_longitude(geo->longitude);
  } else if (auto* whois = std::get_if<workers::WhoisInfo>(&result.value)) {
    v1::WhoisResult* w = out->mutable_whois();
    w->set_registered(whois->registered);
    w->set_registrar(std::move(whois->registrar));
    w->set_created(std::move(whois->created));
    w->set_expires(std::move(whois->expires));
  } else if (auto* banner = std::get_if<workers::BannerInfo>(&result.value)) {
    v1::BannerResult* b = out->mutable_banner();
    b->set_http_status(banner->http_status);
    b->set_server(std::move(banner->server));
    b->set_title(std::move(banner->title));
  }
}

}  // namespace

std::shared_ptr<EnrichPipeline> EnrichPipeline::Create(asio::io_context& io, std::vector<permute::Generator> generators,
                                                       std::vector<workers::Enricher*> enrichers,
                                                       const PipelineOptions& options, const PipelineMetrics& metrics) {
  return std::shared_ptr<EnrichPipeline>(
      new EnrichPipeline(io, std::move(generators), std::move(enrichers), options, metrics));
}

EnrichPipeline::EnrichPipeline(asio::io_context& io, std::vector<permute::Generator> generators,
                               std::vector<workers::Enricher*> enrichers, const PipelineOptions& options,
                               const PipelineMetrics& metrics)
    : strand_(asio::make_strand(io)),
      generators_(std::move(generators)),
      enrichers_(std::move(enrichers)),
      max_inflight_candidates_(std::max<std::size_t>(1, options.max_inflight_lookups / enrichers_.size())),
      batch_window_(options.batch_window),
      metrics_(metrics),
      buffer_(options.buffer_capacity),
      flush_timer_(strand_) {
  // The gauge follows every push, drain and discard, so it shows the records a stalled reader holds too.
  buffer_.SetDepthObserver([gauge = metrics.fanin_buffer_depth](double delta) { gauge->Increment(delta); });
  // Space freed by a drain (on a gRPC thread) resumes dispatching on the strand.
  buffer_.SetSpaceCallback([this] { asio::post(strand_, [self = shared_from_this()] { self->Pump(); }); });
}

EnrichPipeline::~EnrichPipeline() { buffer_.ClearCallbacks(); }

void EnrichPipeline::Start() {
  asio::post(strand_, [self = shared_from_this()] { self->Pump(); });
}

void EnrichPipeline::Cancel() {
  buffer_.Cancel();  // at once, so the consumer's memory is freed and producers stop now
  asio::post(strand_, [self = shared_from_this()] { self->CancelOnStrand(); });
}

void EnrichPipeline::Pump() {
  if (cancelled_) return;
  std::uint64_t dispatched = 0;
  while (!exhausted_ && pending_.size() < max_inflight_candidates_) {
    if (dispatched == kDispatchPerPump) {
      // Let the completions queued behind us on the strand run, so the first records reach the stream
      // before every candidate was generated; continue in a fresh pass.
      if (!pump_posted_) {
        pump_posted_ = true;
        asio::post(strand_, [self = shared_from_this()] {
          self->pump_posted_ = false;
          self->Pump();
        });
      }
      break;
    }
    if (!buffer_.TryReserve()) break;  // full (the space callback resumes us) or cancelled
    std::optional<permute::Candidate> candidate = NextCandidate();
    if (!candidate) {
      buffer_.ReleaseReservation();
      exhausted_ = true;
      break;
    }
    // Counted before its record can exist: a progress message never says more enriched than generated.
    generated_.fetch_add(1, std::memory_order_relaxed);
    Dispatch(*std::move(candidate));
    ++dispatched;
  }
  if (dispatched > 0) metrics_.permutations_generated->Increment(static_cast<double>(dispatched));
  HandOver();
  if (exhausted_ && pending_.empty()) {
    buffer_.Close();
  } else if (!pump_posted_) {
    // Nothing more comes until a lookup finishes or space frees: what is held goes within the batch window,
    // however few. (A posted continuation pass means more records right away, so the batch keeps growing.)
    FlushWithinWindow();
  }
}

void EnrichPipeline::FlushWithinWindow() {
  if (batch_window_ <= std::chrono::steady_clock::duration::zero()) {
    buffer_.Flush();
    return;
  }
  if (flush_armed_ || buffer_.size() == 0) return;
  flush_armed_ = true;
  flush_timer_.expires_after(batch_window_);
  flush_timer_.async_wait([self = shared_from_this()](const asio::error_code&) {
    self->flush_armed_ = false;
    if (!self->cancelled_) self->buffer_.Flush();
  });
}

std::optional<permute::Candidate> EnrichPipeline::NextCandidate() {
  for (; current_ < generators_.size(); ++current_) {
    if (std::optional<permute::Candidate> c = generators_[current_].Next()) return c;
  }
  return std::nullopt;
}

void EnrichPipeline::Dispatch(permute::Candidate candidate) {
  // Built on the arena: the record is serialized (or copied, if it must wait for lookups) before the next
  // Dispatch resets it, so building costs no allocation per field and freeing it costs nothing.
  arena_.Reset();
  v1::Record* record = google::protobuf::Arena::CreateMessage<v1::Record>(&arena_);
  record->set_kind(static_cast<v1::PermutationKind>(candidate.kind));
  candidate.kinds.ForEach([&](permute::Kind k) { record->add_kinds(static_cast<v1::PermutationKind>(k)); });
  record->set_input(generators_[current_].domain().ascii);
  record->set_domain_ascii(std::move(candidate.ascii));  // moved: no copy of the names per record
  record->set_domain_unicode(std::move(candidate.unicode));
  const auto started = std::chrono::steady_clock::now();
  // Enrichers that know their answer now (zero-latency stubs) fill their slot here; the others start lookups.
  absl::InlinedVector<std::size_t, 4> waiting;  // slots whose lookup must be started
  for (std::size_t slot = 0; slot < enrichers_.size(); ++slot) {
    v1::Enrichment* e = record->add_enrichments();
    e->set_enricher(static_cast<v1::Enricher>(enrichers_[slot]->kind()));
    if (std::optional<workers::LookupResult> now = enrichers_[slot]->TryLookupNow(record->domain_ascii())) {
      RecordLookup(slot, *std::move(now), std::chrono::steady_clock::now() - started, e);
    } else {
      waiting.push_back(slot);
    }
  }
  if (waiting.empty()) {
    Deliver(*record);
    return;
  }
  const std::uint64_t id = next_id_++;
  Pending& p = pending_[id];
  p.record = *record;  // off the arena: it outlives this call
  p.remaining = waiting.size();
  p.started = started;
  p.cancel = std::make_unique<asio::cancellation_signal[]>(enrichers_.size());
  metrics_.inflight_lookups->Increment(static_cast<double>(waiting.size()));
  // Lookups never complete inline, so pending_ does not change (and `p` stays put) during this loop.
  const std::string& domain = p.record.domain_ascii();
  for (std::size_t slot : waiting) {
    enrichers_[slot]->Lookup(domain, strand_, p.cancel[slot].slot(),
                             [self = shared_from_this(), id, slot](workers::LookupResult result) {
                               self->OnLookupDone(id, slot, std::move(result));
                             });
  }
}

void EnrichPipeline::RecordLookup(std::size_t slot, workers::LookupResult result,
                                  std::chrono::steady_clock::duration elapsed, v1::Enrichment* out) {
  const auto kind = static_cast<std::size_t>(enrichers_[slot]->kind());
  metrics_.enrichment_latency_seconds[kind]->Observe(std::chrono::duration<double>(elapsed).count());
  if (!result.status.ok()) metrics_.enrichment_failures[kind]->Increment();
  FillEnrichment(std::move(result), elapsed, out);
}

void EnrichPipeline::Deliver(const v1::Record& record) {
  std::string serialized;
  record.SerializeToString(&serialized);
  staged_.push_back(std::move(serialized));
  // The stream's first record goes at once.
  if (enriched_.fetch_add(1, std::memory_order_relaxed) == 0) HandOver();
}

void EnrichPipeline::HandOver() {
  if (staged_.empty()) return;
  buffer_.PushReservedAll(&staged_);  // after Cancel: drops them and gives their reservations back
}

void EnrichPipeline::OnLookupDone(std::uint64_t id, std::size_t slot, workers::LookupResult result) {
  metrics_.inflight_lookups->Decrement();
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  // The finished operation leaves its cancellation handler installed; drop it so that a later Cancel does
  // not reach into a timer (or socket) that no longer exists.
  p.cancel[slot].slot().clear();
  if (!cancelled_) {
    RecordLookup(slot, std::move(result), std::chrono::steady_clock::now() - p.started,
                 p.record.mutable_enrichments(static_cast<int>(slot)));
  }
  if (--p.remaining > 0) return;
  if (cancelled_) {
    pending_.erase(it);
    buffer_.ReleaseReservation();
    return;
  }
  Deliver(p.record);
  pending_.erase(it);
  Pump();
}

void EnrichPipeline::CancelOnStrand() {
  if (cancelled_) return;
  cancelled_ = true;
  flush_timer_.cancel();
  HandOver();
  for (auto& [id, p] : pending_) {
    for (std::size_t slot = 0; slot < enrichers_.size(); ++slot) p.cancel[slot].emit(asio::cancellation_type::all);
  }
}

}  // namespace squatstream::service
