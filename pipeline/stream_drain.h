// StreamDrain: the consumer side of one stream, without gRPC — it drains the pipeline's fan-in buffer into
// messages, one write in flight at a time, finishes the stream once, and says when the owner may be freed.
// The gRPC reactor (service/enrich_domain_reactor) is its transport: it frames and writes the messages and
// forwards its reactions here, so that the concurrency of a stream's end (a client that cancels while a
// write is in flight, a drain cutting the stream, a data callback racing the last write) is code that the
// ThreadSanitizer preset builds and tests with a fake transport (tests/pipeline/stream_drain_test.cc).
//
// Writes: the first message goes as soon as there is a record; later ones wait for a full batch unless the
// pipeline flushes (nothing more comes right away) or finishes. Reactions never block: when there is nothing
// to take the drain returns, and the buffer's data callback resumes it — posted to the executor, so that
// framing and starting a write never run on (and stall) the pipeline's strand that pushed the record.
//
// Progress: every message carries the stream's counters. With a progress interval, a stream that sends
// nothing for that long (a registered_only stream whose names are all unregistered, a slow resolver) sends a
// message of progress alone, so that a client can show how far it is and tell a slow stream from a dead server.
#ifndef SQUATSTREAM_PIPELINE_STREAM_DRAIN_H_
#define SQUATSTREAM_PIPELINE_STREAM_DRAIN_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "base/mutex.h"
#include "pipeline/enrich_pipeline.h"
#include "pipeline/pipeline_metrics.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::pipeline {

// What carries a stream's messages to its client. Calls come from any thread and never inline from within
// each other; Frame and StartWrite come from the one thread holding the consumer role (Finish may run
// meanwhile, from a cancellation), one message at a time: never while a write is in flight.
class StreamTransport {
 public:
  // Makes the next message of `records` (serialized v1::Record) and `progress`; the transport keeps neither
  // past the call. Called outside the drain's lock, by the one thread that holds the consumer role.
  virtual void Frame(const std::vector<std::string>& records, const v1::Progress& progress) = 0;
  // Starts sending the message Frame made last. StreamDrain::WriteDone follows, never inline.
  virtual void StartWrite() = 0;
  // Ends the stream with `status`; called once, and no StartWrite after it.
  virtual void Finish(const absl::Status& status) = 0;
  // The drain is done with the owner (after Done and the last posted drain): the owner may be freed now,
  // and the drain is not touched again by this call's caller.
  virtual void Free() = 0;

 protected:
  ~StreamTransport() = default;
};

class StreamDrain {
 public:
  // `pipeline` is started by the caller; `io` runs the posted drains. Everything given outlives the drain.
  // A message holds at most `max_batch_records` records and, beyond its first record, at most
  // `max_batch_bytes` of them (well under a client's default 4 MiB message limit: a record is at most its
  // candidate's reservation, see enrich_pipeline.h). A positive `progress_interval` arms the progress
  // heartbeat (above); zero: messages go only with records, and at the end.
  StreamDrain(std::shared_ptr<EnrichPipeline> pipeline, asio::io_context& io, std::size_t max_batch_records,
              const PipelineMetrics& metrics, StreamTransport& transport,
              std::size_t max_batch_bytes = kDefaultMaxBatchBytes,
              std::chrono::steady_clock::duration progress_interval = std::chrono::steady_clock::duration::zero());
  static constexpr std::size_t kDefaultMaxBatchBytes = std::size_t{1} << 20;

  // Takes the first records, or arms the buffer's data callback. Call once, after the pipeline started.
  void Start();
  // The transport's write ended: `ok` false when the stream broke (client gone) — the work stops and the
  // stream finishes CANCELLED.
  void WriteDone(bool ok);
  // Stops the work and finishes the stream with `why` unless it finished already (client cancelled,
  // deadline, server drain).
  void Cancel(const absl::Status& why);
  // The transport will report nothing more: stops the work; Free follows once no posted drain is pending
  // (maybe inside this call).
  void Done();

  // Whether the stream finished (the transport's Finish was called).
  bool finished();

 private:
  // Drains the buffer and starts a write, finishes the stream, or waits for the data callback.
  void TryWrite();
  // The buffer's data callback: posts TryWrite to the executor; Done waits for posted calls to run.
  void ScheduleTryWrite();
  void FinishOnce(const absl::Status& status);
  // Arms the progress heartbeat's timer once more (counted as a posted call) unless the stream finished.
  void ArmHeartbeat() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Heartbeat(bool cancelled);

  const std::shared_ptr<EnrichPipeline> pipeline_;
  asio::io_context& io_;
  const std::size_t max_batch_records_;
  const std::size_t max_batch_bytes_;  // the buffer's units are bytes (each record's and kHeldRecordBytes)
  const PipelineMetrics& metrics_;
  StreamTransport& transport_;
  const std::chrono::steady_clock::time_point started_;
  const std::chrono::steady_clock::duration progress_interval_;

  // The consumer role (drain + write) is claimed under mu_ but exercised outside it, because draining can
  // run the buffer's callbacks and those must not run under our lock. `retry_` records a wake-up that came
  // while another thread held the role, so that it is not lost.
  Mutex mu_;
  bool consumer_busy_ ABSL_GUARDED_BY(mu_) = false;  // a thread is draining, or a write is in flight
  bool retry_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int posted_ ABSL_GUARDED_BY(mu_) = 0;     // ScheduleTryWrite calls not run yet
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // Done ran: the last posted call frees the owner
  // The heartbeat's timer: armed and cancelled under mu_, so that calls on it never overlap (an asio timer is
  // not thread-safe, and Done runs on a gRPC thread while the handler re-arms on an executor thread).
  asio::steady_timer heartbeat_ ABSL_GUARDED_BY(mu_);
  bool progress_due_ ABSL_GUARDED_BY(mu_) = false;  // the heartbeat fired: send progress even without records

  // Touched only by the thread holding the consumer role.
  std::vector<std::string> batch_;  // serialized records
  std::uint64_t sent_ = 0;
  std::uint64_t reported_enriched_ = 0;  // the enriched count of the last message sent
  std::uint64_t reported_total_ = 0;     // and its total
  bool first_write_done_ = false;
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_PIPELINE_STREAM_DRAIN_H_
