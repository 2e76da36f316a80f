// EnrichDomainReactor: the server side of one EnrichDomain stream.
//
// It validates the request, starts an EnrichPipeline, and drains the pipeline's fan-in buffer into the
// stream, one write in flight at a time: the first write takes whatever is there, later ones a full batch
// (max_batch_records) unless the pipeline flushed because nothing more is coming right away, or finished.
// Reactions never block: when there is nothing to take the reactor returns, and the buffer's data callback
// resumes it — through the executor, so that framing and starting a write never run on (and stall) the
// pipeline's strand that pushed the record. OnWriteDone(false) and OnCancel (client gone, deadline passed,
// server shutting down) cancel the pipeline. It frees itself in OnDone, or after the last posted resumption.
#ifndef SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_
#define SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "pipeline/enrich_pipeline.h"
#include "service/service_context.h"
#include "service/stream_registry.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::service {

// Writes the wire form of an EnrichDomainResponse holding `records` (each a serialized v1::Record) and
// `progress` into *out: what serializing that message gives, without parsing the records back.
void FrameResponse(const std::vector<std::string>& records, const v1::Progress& progress, std::string* out);

class EnrichDomainReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public CuttableStream {
 public:
  // `context` and `call` outlive the reactor; `request` is a serialized EnrichDomainRequest.
  EnrichDomainReactor(ServiceContext& context, grpc::CallbackServerContext* call, const grpc::ByteBuffer* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  // Cancels the pipeline and finishes the call with `why` (the server's drain, at the end of its grace).
  void Cut(const absl::Status& why) override;

 private:
  // Drains the buffer and starts a write, finishes the stream, or waits for the data callback. Called from
  // the constructor, OnWriteDone and ScheduleTryWrite's posted call, on any thread.
  void TryWrite();
  // The buffer's data callback: posts TryWrite to the executor. OnDone waits for posted calls to run.
  void ScheduleTryWrite();
  // Starts the pipeline for a valid request, or returns why the request is refused.
  absl::Status Begin(const grpc::ByteBuffer& request);
  // Finishes the call once; later calls do nothing.
  void FinishOnce(const absl::Status& status);

  ServiceContext& context_;
  grpc::CallbackServerContext* const call_;
  const std::chrono::steady_clock::time_point started_;
  bool counted_active_ = false;      // set in the constructor only
  bool registered_ = false;          // in context_.streams; set in the constructor only
  std::size_t granted_slots_ = 0;    // from context_.budget; set in the constructor only
  std::size_t granted_buffer_ = 0;   // of them, the fan-in buffer's bound
  std::size_t granted_running_ = 0;  // of them, the running Generator's bound
  // What of granted_running_ the stream still holds: the pipeline's generation_done returns it early.
  std::shared_ptr<std::atomic<std::size_t>> running_left_;
  std::shared_ptr<pipeline::EnrichPipeline> pipeline_;  // null when the request was refused

  // The consumer role (drain + write) is claimed under mu_ but exercised outside it, because draining can
  // run the buffer's callbacks and those must not run under our lock. `retry_` records a wake-up that came
  // while another thread held the role, so that it is not lost.
  std::mutex mu_;  // std::mutex: ThreadSanitizer sees it (Debian's Abseil is not instrumented)
  bool consumer_busy_ ABSL_GUARDED_BY(mu_) = false;  // a thread is draining, or a write is in flight
  bool retry_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int posted_ ABSL_GUARDED_BY(mu_) = 0;     // ScheduleTryWrite calls not run yet
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran: the last posted call frees the reactor

  // Touched only by the thread holding the consumer role.
  std::vector<std::string> batch_;  // serialized records
  std::string wire_;                // the response being written, framed by FrameResponse (reused)
  grpc::ByteBuffer serialized_;     // wire_ as handed to gRPC
  std::uint64_t sent_ = 0;
  std::uint64_t reported_enriched_ = 0;  // the enriched count of the last message sent
  bool first_write_done_ = false;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_
