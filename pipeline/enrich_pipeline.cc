#include "pipeline/enrich_pipeline.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"

namespace squatstream::pipeline {
namespace {

std::uint32_t AllStages(std::size_t n) { return n >= 32 ? ~std::uint32_t{0} : (std::uint32_t{1} << n) - 1; }

// registered_only keeps a record unless DNS ran and found the name absent or only a wildcard's answer.
bool KeepRegisteredOnly(const v1::Record& record) {
  const v1::DnsResult* dns = workers::DnsResultOf(record);
  return dns == nullptr ||
         (dns->verdict() != v1::DNS_VERDICT_UNREGISTERED && dns->verdict() != v1::DNS_VERDICT_WILDCARD);
}

std::vector<std::string> InputNames(const std::vector<permute::Generator>& generators) {
  std::vector<std::string> out;
  out.reserve(generators.size());
  for (const permute::Generator& g : generators) out.push_back(g.domain().ascii);
  return out;
}

// What a candidate reserves at dispatch: its record's own fields (its names, its input's, a tag and a length
// per field and kind, and each enrichment's envelope — enricher, status code, latency, flags, and a skipped
// stage's message — around its result), `results_bytes` of results' bounds, and its state in flight.
std::size_t ReservationBytes(std::size_t names_bytes, const StagePlan& stages, std::size_t results_bytes) {
  return names_bytes + 32 + 2 * permute::kKindCount + 256 * stages.size() + results_bytes + kInflightBytes;
}

std::size_t ResultsBytes(const StagePlan& stages) {
  std::size_t bytes = 0;
  for (const PlannedStage& stage : stages) bytes += stage.enricher->MaxResultBytes();
  return bytes;
}

std::uint64_t NextStreamId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::shared_ptr<EnrichPipeline> EnrichPipeline::Create(asio::io_context& io, asio::io_context& cpu, StreamWork work,
                                                       const PipelineOptions& options, const PipelineMetrics& metrics) {
  return std::shared_ptr<EnrichPipeline>(new EnrichPipeline(io, cpu, std::move(work), options, metrics));
}

EnrichPipeline::EnrichPipeline(asio::io_context& io, asio::io_context& cpu, StreamWork work,
                               const PipelineOptions& options, const PipelineMetrics& metrics)
    : strand_(asio::make_strand(io)),
      cpu_(cpu),
      generators_(std::move(work.generators)),
      generation_done_callback_(std::move(work.generation_done)),
      inputs_(InputNames(generators_)),
      stages_(std::move(work.stages)),
      all_stages_(AllStages(stages_.size())),
      registered_only_(work.registered_only),
      probe_mail_(work.probe_mail),
      count_uncapped_up_to_(work.count_uncapped_up_to),
      max_candidates_(generators_.empty() || generators_.front().options().max_candidates == SIZE_MAX
                          ? 0
                          : generators_.front().options().max_candidates),
      max_inflight_candidates_(std::max<std::size_t>(1, options.max_inflight_lookups / stages_.size())),
      stream_id_(NextStreamId()),
      batch_window_(options.batch_window),
      metrics_(metrics),
      buffer_(options.buffer_capacity * std::max<std::size_t>(1, options.bytes_per_slot),
              [](const std::string& record) { return record.size() + kHeldRecordBytes; }),
      flush_timer_(strand_) {
  for (const PlannedStage& stage : stages_) {
    bounds_.push_back(stage.enricher->MaxResultBytes());
    (stage.needs == 0 ? root_bounds_ : later_bounds_) += bounds_.back();
  }
  // The gauge follows every push, drain and discard, so it shows the records a stalled reader holds too.
  buffer_.SetDepthObserver(
      [depth = metrics.fanin_buffer_depth, bytes = metrics.fanin_buffer_bytes](double items, double units) {
        depth->Increment(items);
        bytes->Increment(units);
      });
  // Space freed by a drain (on a gRPC thread) resumes dispatching on the strand.
  buffer_.SetSpaceCallback([this] { asio::post(strand_, [self = shared_from_this()] { self->Pump(); }); });
}

EnrichPipeline::~EnrichPipeline() { buffer_.ClearCallbacks(); }

void EnrichPipeline::Start() {
  asio::post(strand_, [self = shared_from_this()] { self->Pump(); });
}

void EnrichPipeline::Cancel() {
  stop_generating_.store(true, std::memory_order_relaxed);
  buffer_.Cancel();  // at once, so the consumer's memory is freed and producers stop now
  asio::post(strand_, [self = shared_from_this()] { self->CancelOnStrand(); });
}

bool EnrichPipeline::ResumeAwaitingSpace() {
  while (!awaiting_space_.empty()) {
    const std::uint64_t id = awaiting_space_.front();
    awaiting_space_.pop_front();
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    it->second.awaiting_space = false;
    Advance(id);  // may deliver and erase it, or queue it again (at the back)
    if (auto again = pending_.find(id); again != pending_.end() && again->second.awaiting_space) {
      awaiting_space_.pop_back();  // still no space: first in line again
      awaiting_space_.push_front(id);
      return false;
    }
  }
  return true;
}

bool EnrichPipeline::ReserveForStage(Pending& p, std::size_t i) {
  const std::size_t bound = bounds_[i];
  // Alone (nothing else in flight, nothing held) a candidate cannot wait for anyone: it goes on, past the
  // capacity if its stages' bounds exceed it.
  const bool alone = pending_.size() == 1 && buffer_.size() == 0;
  if (!buffer_.TryReserve(bound) && !(alone && buffer_.ForceReserve(bound))) return false;
  p.slots[i].reserved = bound;
  p.reserved += bound;
  return true;
}

void EnrichPipeline::Pump() {
  if (cancelled_) return;
  std::uint64_t dispatched = 0;
  // Candidates in flight first: their stages waiting for space go before new candidates take it.
  const bool none_waiting = ResumeAwaitingSpace();
  while (none_waiting && !exhausted_ && pending_.size() < max_inflight_candidates_) {
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
    if (ready_.empty()) {
      if (generation_done_) exhausted_ = true;  // else the generation task's chunk resumes us
      break;
    }
    const std::size_t reservation = ReservationFor(ready_.front().candidate, ready_.front().input);
    // Room is left for one candidate's later stages, so that a candidate waiting to start one can always go on.
    if (!buffer_.TryReserve(reservation, later_bounds_)) break;  // full (the space callback resumes us) or cancelled
    Generated next = std::move(ready_.front());
    ready_.pop_front();
    next.reserved = reservation;
    // Counted before its record can exist: a progress message never says more enriched than generated.
    generated_.fetch_add(1, std::memory_order_relaxed);
    Dispatch(std::move(next));
    ++dispatched;
  }
  if (ready_.size() < kGenerateChunk / 2) GenerateAhead();
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

void EnrichPipeline::GenerateAhead() {
  if (generating_ || generation_done_ || cancelled_) return;
  generating_ = true;
  asio::post(cpu_, [self = shared_from_this()] { self->GenerateChunk(); });
}

void EnrichPipeline::GenerateChunk() {
  // From its second chunk on, the current input's Generator runs its kinds ahead, so that the stream's total
  // is known early (once the last input's is): the first chunk still goes out after the first kinds ran.
  if (current_ < generators_.size() && generators_[current_].generated() > 0 &&
      !stop_generating_.load(std::memory_order_relaxed)) {
    generators_[current_].RunAhead();
  }
  std::vector<Generated> chunk;
  chunk.reserve(kGenerateChunk);
  while (chunk.size() < kGenerateChunk && current_ < generators_.size() &&
         !stop_generating_.load(std::memory_order_relaxed)) {
    if (std::optional<permute::Candidate> c = generators_[current_].Next()) {
      chunk.push_back({*std::move(c), current_});
      if (generators_[current_].exhausted()) FinishGenerator();  // its cap reached: it holds nothing more
    } else {
      FinishGenerator();
    }
  }
  const bool done = current_ == generators_.size();
  produced_ += chunk.size();
  if (done) {
    if (capped_) uncapped_total_.store(produced_ + beyond_caps_, std::memory_order_relaxed);
    total_.store(produced_, std::memory_order_relaxed);
  } else if (current_ + 1 == generators_.size()) {
    // The last input: what the ones before it handed out, and its own total once known.
    if (const std::optional<std::size_t> last = generators_[current_].total()) {
      total_.store(produced_ - generators_[current_].generated() + *last, std::memory_order_relaxed);
    }
  }
  if (done && generation_done_callback_) std::exchange(generation_done_callback_, nullptr)();
  asio::post(strand_, [self = shared_from_this(), chunk = std::move(chunk), done]() mutable {
    self->generating_ = false;
    self->generation_done_ = done;
    for (Generated& g : chunk) self->ready_.push_back(std::move(g));
    self->Pump();
  });
}

void EnrichPipeline::FinishGenerator() {
  const permute::Generator& generator = generators_[current_];
  // A kind's may-produce check that missed a way its generator makes a name (a bug the tests and the fuzzer
  // look for) shows here, summed over streams.
  metrics_.late_merges->Increment(static_cast<double>(generator.late_merges()));
  if (count_uncapped_up_to_ > 0 && generator.generated() == generator.options().max_candidates) {
    // It stopped at its cap: how many its kinds make without it, so that the client can say what the cap cut.
    // The same kinds again, up to the count's own cap (the server's largest), within the same held bytes.
    permute::GeneratorOptions options = generator.options();
    options.max_candidates = count_uncapped_up_to_ + 1;
    permute::Generator counter(generator.domain(), options);
    counter.RunAhead();
    const std::size_t all = counter.total().value_or(counter.generated());
    if (all > generator.generated()) {
      capped_ = true;
      beyond_caps_ += all - generator.generated();
    }
  }
  ++current_;
}

std::size_t MaxReservationBytes(const StagePlan& stages) {
  // A name is at most 253 bytes in ASCII, its Unicode form at most 4 bytes per character of it.
  return ReservationBytes(253 + 4 * 253 + 253, stages, ResultsBytes(stages));
}

std::size_t EnrichPipeline::ReservationFor(const permute::Candidate& candidate, std::size_t input) const {
  return ReservationBytes(candidate.ascii.size() + candidate.unicode.size() + inputs_[input].size(), stages_,
                          root_bounds_);
}

void EnrichPipeline::Dispatch(Generated generated) {
  permute::Candidate& candidate = generated.candidate;
  const std::uint64_t id = next_id_++;
  Pending& p = pending_[id];
  p.reserved = generated.reserved;
  v1::Record& record = p.record;
  record.set_kind(static_cast<v1::PermutationKind>(candidate.kind));
  candidate.kinds.ForEach([&](permute::Kind k) { record.add_kinds(static_cast<v1::PermutationKind>(k)); });
  record.set_input(inputs_[generated.input]);
  record.set_domain_ascii(std::move(candidate.ascii));  // moved: no copy of the names per record
  record.set_domain_unicode(std::move(candidate.unicode));
  for (const PlannedStage& stage : stages_) record.add_enrichments()->set_enricher(stage.enricher->id());
  p.slots = std::make_unique<Slot[]>(stages_.size());
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i].needs == 0) p.slots[i].reserved = bounds_[i];  // part of the dispatch's reservation
  }
  Advance(id);
}

void EnrichPipeline::Advance(std::uint64_t id) {
  auto it = pending_.find(id);
  Pending& p = it->second;
  // Lookups never complete inline, so pending_ does not change (and `p` stays put) during this loop.
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (std::size_t i = 0; i < stages_.size(); ++i) {
      const std::uint32_t bit = std::uint32_t{1} << i;
      if ((p.started & bit) != 0 || (stages_[i].needs & ~p.done) != 0) continue;
      const workers::LookupInput input{p.record.domain_ascii(), p.record, stream_id_, probe_mail_};
      const auto started = std::chrono::steady_clock::now();
      std::optional<workers::LookupResult> now;
      if (stages_[i].skip != nullptr) now = stages_[i].skip(input);  // the stage's rule, real or simulated
      // A stage that will look up reserves its bound first (unless dispatch did), or waits for space.
      if (!now.has_value() && stages_[i].needs != 0 && !ReserveForStage(p, i)) {
        if (!p.awaiting_space) {
          p.awaiting_space = true;
          awaiting_space_.push_back(id);
        }
        continue;
      }
      p.started |= bit;
      p.slots[i].started = started;
      if (!now.has_value()) now = stages_[i].enricher->TryLookupNow(input);
      if (now.has_value()) {
        RecordStage(p, i, *std::move(now), std::chrono::steady_clock::now() - p.slots[i].started);
        p.done |= bit;
        progressed = true;  // may unlock the stages that need it
        continue;
      }
      ++p.running;
      metrics_.inflight_lookups->Increment();
      stages_[i].enricher->Lookup(input, strand_, p.slots[i].cancel.slot(),
                                  [self = shared_from_this(), id, i](workers::LookupResult result) {
                                    self->OnLookupDone(id, i, std::move(result));
                                  });
    }
  }
  if (p.done != all_stages_) return;
  Finish(p.record, p.reserved);
  pending_.erase(it);
}

void EnrichPipeline::RecordStage(Pending& p, std::size_t stage, workers::LookupResult result,
                                 std::chrono::steady_clock::duration elapsed) {
  v1::Enrichment* out = p.record.mutable_enrichments(static_cast<int>(stage));
  const StageMetrics& m = *stages_[stage].metrics;
  switch (result.outcome()) {
    case workers::LookupOutcome::kSkipped:
      m.skipped->Increment();
      elapsed = {};
      break;
    case workers::LookupOutcome::kFailed:
      // A cancelled lookup is the stream's end, not the stage's failure (and its record is never sent).
      if (!absl::IsCancelled(result.status)) m.failures->Increment();
      m.latency_seconds->Observe(std::chrono::duration<double>(elapsed).count());
      break;
    case workers::LookupOutcome::kDone:
      m.latency_seconds->Observe(std::chrono::duration<double>(elapsed).count());
      break;
  }
  v1::Enrichment& value = result.value;
  if (!result.status.ok()) {
    value.Clear();
    value.mutable_status()->set_code(static_cast<int>(result.status.code()));
    value.mutable_status()->set_message(std::string(result.status.message()));
  } else {
    value.mutable_status();  // present and OK (code 0)
  }
  // The stage's bound holds whatever a stage (or a stranger behind it) produced: a result over it is dropped,
  // so that the record fits the reservation its candidate made.
  const std::size_t max_bytes = bounds_[stage];
  std::size_t bytes = value.ByteSizeLong();
  if (bytes > max_bytes) {
    if (result.outcome() != workers::LookupOutcome::kFailed) m.failures->Increment();
    value.Clear();
    value.mutable_status()->set_code(static_cast<int>(absl::StatusCode::kResourceExhausted));
    value.mutable_status()->set_message(
        absl::StrCat("the result (", bytes, " bytes) is over the stage's bound of ", max_bytes, " bytes: dropped"));
    value.set_truncated("the whole result, over the stage's bound");
    bytes = value.ByteSizeLong();
  }
  // What the stage reserved and its result does not use goes back (a skipped stage reserved nothing: its
  // message is in the dispatch's envelope).
  if (const std::size_t reserved = std::exchange(p.slots[stage].reserved, 0); reserved > bytes) {
    buffer_.ReleaseReservation(reserved - bytes);
    p.reserved -= reserved - bytes;
  }
  value.set_enricher(out->enricher());
  value.set_skipped(result.skipped);
  value.set_latency_micros(static_cast<std::uint32_t>(
      std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(), UINT32_MAX)));
  out->Swap(&value);
}

void EnrichPipeline::Finish(const v1::Record& record, std::size_t reserved) {
  if (registered_only_ && !KeepRegisteredOnly(record)) {
    filtered_.fetch_add(1, std::memory_order_relaxed);
    enriched_.fetch_add(1, std::memory_order_relaxed);
    metrics_.records_filtered->Increment();
    buffer_.ReleaseReservation(reserved);
    return;
  }
  Deliver(record, reserved);
}

void EnrichPipeline::Deliver(const v1::Record& record, std::size_t reserved) {
  std::string serialized;
  record.SerializeToString(&serialized);
  staged_.records.push_back(std::move(serialized));
  staged_.reserved.push_back(reserved);
  enriched_.fetch_add(1, std::memory_order_relaxed);
  // The stream's first record goes at once.
  if (!delivered_any_) {
    delivered_any_ = true;
    HandOver();
  }
}

void EnrichPipeline::HandOver() {
  if (staged_.records.empty()) return;
  // After Cancel these drop the records and give their reservations back. Candidates of one input domain
  // reserve alike, so the staged records usually go in one or two runs of equal reservations.
  const std::size_t n = staged_.records.size();
  for (std::size_t i = 0, j = 0; i < n; i = j) {
    while (j < n && staged_.reserved[j] == staged_.reserved[i]) ++j;
    if (i == 0 && j == n) {
      buffer_.PushReservedAll(&staged_.records, staged_.reserved[0]);
      break;
    }
    std::vector<std::string> run(std::make_move_iterator(staged_.records.begin() + static_cast<std::ptrdiff_t>(i)),
                                 std::make_move_iterator(staged_.records.begin() + static_cast<std::ptrdiff_t>(j)));
    buffer_.PushReservedAll(&run, staged_.reserved[i]);
  }
  staged_.records.clear();
  staged_.reserved.clear();
}

void EnrichPipeline::OnLookupDone(std::uint64_t id, std::size_t stage, workers::LookupResult result) {
  metrics_.inflight_lookups->Decrement();
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  // The finished operation leaves its cancellation handler installed; drop it so that a later Cancel does
  // not reach into a timer (or socket) that no longer exists.
  p.slots[stage].cancel.slot().clear();
  --p.running;
  p.done |= std::uint32_t{1} << stage;
  if (cancelled_) {
    if (p.running == 0) {
      buffer_.ReleaseReservation(p.reserved);
      pending_.erase(it);
    }
    return;
  }
  RecordStage(p, stage, std::move(result), std::chrono::steady_clock::now() - p.slots[stage].started);
  Advance(id);
  Pump();
}

void EnrichPipeline::CancelOnStrand() {
  if (cancelled_) return;
  cancelled_ = true;
  flush_timer_.cancel();
  HandOver();
  // A pending candidate with no lookup in flight waits for space to start a stage: it ends here. Every other
  // has a lookup in flight (Advance starts whatever can start on the strand): each ends with CANCELLED and
  // OnLookupDone releases the candidate's reservation after its last one.
  awaiting_space_.clear();
  absl::erase_if(pending_, [this](const auto& entry) {
    if (entry.second.running > 0) return false;
    buffer_.ReleaseReservation(entry.second.reserved);
    return true;
  });
  for (auto& [id, p] : pending_) {
    for (std::size_t i = 0; i < stages_.size(); ++i) {
      const std::uint32_t bit = std::uint32_t{1} << i;
      if ((p.started & bit) != 0 && (p.done & bit) == 0) p.slots[i].cancel.emit(asio::cancellation_type::all);
    }
  }
}

}  // namespace squatstream::pipeline
