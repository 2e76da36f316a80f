// EnrichPipeline: one stream's work — generate the candidates of each input domain in turn, run each
// candidate's lookup stages in dependency order (a stage starts once the stages it needs have ended, and
// reads their results on the record), and push each finished record into the stream's fan-in buffer — or
// drop it, for a registered_only stream, when DNS found the name absent.
//
// Generation — CPU work: an internationalized input runs every kind on its first candidate, tens of ms —
// runs on a separate CPU executor, a chunk of candidates at a time, one chunk in flight, the next asked for
// while the strand dispatches the last; the I/O executor that fires every stream's lookups never waits for
// it. All of the pipeline's other state lives on one asio strand: dispatch, lookup completions and cancellation
// run there in turn, which is what lets cancellation signals be emitted safely (asio requires it) and keeps
// the state free of locks. The consumer (the gRPC reactor) drains the buffer from gRPC's threads.
// Backpressure and memory: the buffer counts bytes (its capacity: `buffer_capacity` memory-budget slots).
// Whatever a candidate may hold is reserved before it can hold it: its record's fields and its state in flight
// when it is dispatched, with the bound (Enricher::MaxResultBytes; a result over it is dropped,
// RESOURCE_EXHAUSTED) of each stage that needs no other; each other stage's bound when it starts — a stage
// waits for space like a dispatch, ahead of new dispatches, which leave room for one candidate's later stages
// so that a waiting one can always go on. A stage's result gives back what it did not use, and a record once
// finished is charged its bytes. So records held plus lookups in flight never exceed the buffer's capacity,
// whatever strangers answer (a candidate alone in a buffer smaller than its stages' bounds goes on past it). When it is
// full the pipeline waits (without blocking a thread) until a drain frees space. Batching: the records a Pump pass
// finished are handed over together at its end (FanInBuffer::PushReservedAll, one lock acquisition; the stream's first
// record goes at once), and a pass that leaves nothing more to do right away (it waits for lookups or for space) arms
// the batch window: when it ends the buffer is flushed, so the consumer, which otherwise waits for a full batch, takes
// what is there — records held at most about one window (plus a lookup's completion).
#ifndef SQUATSTREAM_PIPELINE_ENRICH_PIPELINE_H_
#define SQUATSTREAM_PIPELINE_ENRICH_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "asio/cancellation_signal.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "fanin/fan_in_buffer.h"
#include "permute/permutations.h"
#include "pipeline/pipeline_metrics.h"
#include "pipeline/stages.h"
#include "squatstream/v1/squatstream.pb.h"
#include "workers/enricher.h"

namespace squatstream::pipeline {

struct PipelineOptions {
  std::size_t max_inflight_lookups = 10000;  // per stream; at least one candidate's lookups always fit
  std::size_t buffer_capacity = 16384;       // records held plus candidates in flight, in slots of bytes_per_slot
  std::size_t bytes_per_slot = 1536;         // the service's memory budget slot
  // When a pass leaves records held and nothing more comes right away (lookups pending), they go out once
  // this much time has passed (or a batch is full), so that records finishing one by one still travel in
  // batches. Zero: at once (one message per record when lookups trickle in).
  std::chrono::steady_clock::duration batch_window = std::chrono::milliseconds(20);
};

// What one stream asks for.
struct StreamWork {
  std::vector<permute::Generator> generators;  // one per input domain, run in order
  StagePlan stages;                            // non-empty
  bool registered_only = false;                // drop records whose DNS verdict is UNREGISTERED or WILDCARD
  // What the stages read of the request beyond the name (LookupInput): the MX check's RCPT opt-in.
  bool probe_mail = false;
  // When a generator stops at its cap (options().max_candidates) with names left, the pipeline counts how many
  // its kinds make without the cap, up to this + 1 (uncapped_total()); 0: no count.
  std::size_t count_uncapped_up_to = 0;
  // Called once, on the CPU executor, when the last generator ended (each then freed its names: what a
  // memory budget charged for them can go back); not called when the stream is cancelled first. Optional.
  std::function<void()> generation_done;
};

// What a candidate of a stream with these stages reserves in flight, at most, in bytes: the stages' bounds,
// the longest names and kInflightBytes.
std::size_t MaxReservationBytes(const StagePlan& stages);
// What a candidate's state in flight costs besides its record's bytes (its record's objects, the pipeline's
// and the stages' state), and what a record held costs besides its bytes (its heap block, its buffer entry):
// the measured ~1.04 KiB a slot of docs/BENCHMARKS.md ("Under load and faults"), split between the two.
inline constexpr std::size_t kInflightBytes = 1024;
inline constexpr std::size_t kHeldRecordBytes = 64;

class EnrichPipeline : public std::enable_shared_from_this<EnrichPipeline> {
 public:
  // Lookups run on `io`, generation on `cpu`. The stages' enrichers and metrics, and `metrics`, must outlive
  // the pipeline and every lookup it starts.
  static std::shared_ptr<EnrichPipeline> Create(asio::io_context& io, asio::io_context& cpu, StreamWork work,
                                                const PipelineOptions& options, const PipelineMetrics& metrics);
  ~EnrichPipeline();

  // Starts generating and dispatching. Returns at once; the work runs on the executor.
  void Start();

  // Stops all work: no more dispatches, in-flight lookups are cancelled, the buffer is cancelled. Safe to
  // call from any thread, more than once, and after the pipeline finished.
  void Cancel();

  // Where finished records arrive, each a serialized v1::Record (serialized where it was built, so the
  // stream only frames them); closed (finished) once every candidate's record was pushed.
  fanin::FanInBuffer<std::string>& buffer() { return buffer_; }

  // Progress, readable from any thread.
  std::uint64_t generated() const { return generated_.load(std::memory_order_relaxed); }
  std::uint64_t enriched() const { return enriched_.load(std::memory_order_relaxed); }
  // Of the enriched, those dropped by registered_only.
  std::uint64_t filtered() const { return filtered_.load(std::memory_order_relaxed); }
  // Every candidate of the stream (every input domain's), once known: the last input's Generator runs its
  // kinds ahead from its second chunk (permute::Generator::RunAhead), so usually long before generation ends;
  // 0 before. Once set it does not change, and it is never less than generated().
  std::uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  // Once generation has ended, when a cap cut an input's candidates: the stream's candidates without the cap
  // (each cut input counted up to StreamWork::count_uncapped_up_to + 1); 0 before, or when nothing was cut.
  std::uint64_t uncapped_total() const { return uncapped_total_.load(std::memory_order_relaxed); }
  // The cap of each input's candidates (its Generator's), and the count's own cap (StreamWork).
  std::uint64_t max_candidates() const { return max_candidates_; }
  std::uint64_t count_uncapped_up_to() const { return count_uncapped_up_to_; }

 private:
  struct Slot {
    asio::cancellation_signal cancel;
    std::chrono::steady_clock::time_point started;
    std::size_t reserved = 0;  // bytes reserved for the stage's result (its bound), until it ends
  };
  struct Pending {
    v1::Record record;              // one enrichment per stage, in plan order, filled as they end
    std::size_t reserved = 0;       // bytes reserved in the buffer for the record
    bool awaiting_space = false;    // in awaiting_space_: a stage waits to reserve its bound
    std::uint32_t started = 0;      // bit i: stage i started (or answered at once)
    std::uint32_t done = 0;         // bit i: stage i ended
    std::size_t running = 0;        // lookups in flight
    std::unique_ptr<Slot[]> slots;  // one per stage; stable addresses (signals cannot move)
  };

  EnrichPipeline(asio::io_context& io, asio::io_context& cpu, StreamWork work, const PipelineOptions& options,
                 const PipelineMetrics& metrics);

  // A candidate generated ahead, with the index of its input domain.
  struct Generated {
    permute::Candidate candidate;
    std::size_t input = 0;
    std::size_t reserved = 0;  // bytes reserved in the buffer, once dispatched
  };
  // Candidates one generation task makes (or fewer, at the end).
  static constexpr std::size_t kGenerateChunk = 256;

  // Candidates one Pump pass dispatches before it yields the strand. Without a limit the first record waits
  // for the whole generation; a small one makes small batches; 64 balances the two (bench/e2e_bench, the
  // measurements in docs/BENCHMARKS.md).
  static constexpr std::uint64_t kDispatchPerPump = 64;

  // Strand only.
  void Pump();
  // Posts a generation task to the CPU executor unless one is running or generation ended.
  void GenerateAhead();
  // On the CPU executor: up to kGenerateChunk candidates, moving on to the next input domain when one is done.
  // Moves on to the next input's Generator (CPU executor), counting the one that ended's late merges.
  void FinishGenerator();
  void GenerateChunk();
  // Builds the candidate's record and runs its stages (Advance); a record whose every stage answered at
  // once is delivered here.
  void Dispatch(Generated generated);
  // Starts every stage of `id` whose needs have ended; stages that answer at once (TryLookupNow) are
  // recorded here and may unlock more. Delivers the record when every stage has ended.
  void Advance(std::uint64_t id);
  // Counts a finished stage in the metrics and writes its result into the record's enrichment.
  // Gives back what the stage reserved beyond what its result holds.
  void RecordStage(Pending& p, std::size_t stage, workers::LookupResult result,
                   std::chrono::steady_clock::duration elapsed);
  // Reserves stage `i`'s bound for `p` (a stage that needs another: the others' were reserved at dispatch).
  bool ReserveForStage(Pending& p, std::size_t i);
  // Starts the candidates' stages that wait for space, in order, while there is space. False if some still wait.
  bool ResumeAwaitingSpace();
  // A record whose stages all ended: staged for the buffer, or dropped (registered_only).
  void Finish(const v1::Record& record, std::size_t reserved);
  // Serializes a finished record for its candidate's reservation (`reserved` units) of the buffer: staged,
  // and handed over with the rest of the pass's records at the end of the Pump pass (the stream's first
  // record at once).
  void Deliver(const v1::Record& record, std::size_t reserved);
  // Moves the staged records into their reservations, a lock acquisition of the buffer per run of equal ones.
  void HandOver();
  // Bytes a candidate reserves: what its record may hold (its names and every stage's bound) and its state.
  std::size_t ReservationFor(const permute::Candidate& candidate, std::size_t input) const;
  void OnLookupDone(std::uint64_t id, std::size_t stage, workers::LookupResult result);
  void CancelOnStrand();
  // Flushes the buffer when the batch window ends (at once with a zero window); one window at a time.
  void FlushWithinWindow();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::io_context& cpu_;
  // Touched only by the generation task, one at a time (generating_ hands them over through the posts).
  std::vector<permute::Generator> generators_;
  std::size_t current_ = 0;                         // generators_[current_] is running
  std::uint64_t produced_ = 0;                      // candidates the generators handed out so far
  std::function<void()> generation_done_callback_;  // StreamWork::generation_done; emptied when called
  const std::vector<std::string> inputs_;           // each input domain's ASCII form, for the records
  std::atomic<bool> stop_generating_{false};        // set by Cancel, read by the generation task
  const StagePlan stages_;
  const std::uint32_t all_stages_;  // a bit per stage
  const bool registered_only_;
  const bool probe_mail_;
  const std::size_t count_uncapped_up_to_;
  const std::uint64_t max_candidates_;
  const std::size_t max_inflight_candidates_;
  const std::uint64_t stream_id_;  // LookupInput::stream: unique in the process
  const std::chrono::steady_clock::duration batch_window_;
  const PipelineMetrics& metrics_;
  fanin::FanInBuffer<std::string> buffer_;

  // Strand-only state.
  absl::flat_hash_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_id_ = 0;
  std::deque<Generated> ready_;   // generated, not dispatched yet
  bool generating_ = false;       // a generation task is posted or running
  bool generation_done_ = false;  // every input domain's candidates are in ready_ (or dispatched)
  bool exhausted_ = false;        // ... and ready_ is empty
  bool cancelled_ = false;
  bool pump_posted_ = false;        // a continuation pass is queued
  asio::steady_timer flush_timer_;  // the batch window
  bool flush_armed_ = false;
  struct Staged {
    std::vector<std::string> records;   // delivered records not handed over yet
    std::vector<std::size_t> reserved;  // the bytes each one's candidate reserved
  };
  Staged staged_;
  std::vector<std::size_t> bounds_;           // each planned stage's MaxResultBytes
  std::size_t root_bounds_ = 0;               // those of the stages that need no other, summed: reserved at dispatch
  std::size_t later_bounds_ = 0;              // the others', summed: the room a dispatch leaves free
  std::deque<std::uint64_t> awaiting_space_;  // candidates with a stage waiting to reserve its bound
  bool delivered_any_ = false;

  std::atomic<std::uint64_t> generated_{0};
  std::atomic<std::uint64_t> enriched_{0};
  std::atomic<std::uint64_t> filtered_{0};
  std::atomic<std::uint64_t> total_{0};           // set by the generation task once known (the same value after)
  std::atomic<std::uint64_t> uncapped_total_{0};  // set with total_ at the end of generation, when a cap cut
  // Touched by the generation task only: what the cut inputs' kinds make beyond their caps.
  std::uint64_t beyond_caps_ = 0;
  bool capped_ = false;
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_PIPELINE_ENRICH_PIPELINE_H_
