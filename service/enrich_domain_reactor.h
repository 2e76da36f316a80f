// EnrichDomainReactor: the server side of one EnrichDomain stream.
//
// It validates the request, is admitted (service/admission.h), starts an EnrichPipeline, and is the
// transport of the stream's StreamDrain (pipeline/stream_drain.h), which drains the pipeline's fan-in buffer
// into messages, one write in flight at a time, and ends the stream: the reactor frames and writes the
// messages, forwards its reactions (OnWriteDone, OnCancel, OnDone) and the server drain's Cut to it, and
// gives the slot and grant back when the drain finishes the stream. It frees itself when the drain says
// (Free), or in OnDone for a refused request.
#ifndef SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_
#define SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "pipeline/enrich_pipeline.h"
#include "pipeline/stream_drain.h"
#include "service/admission.h"
#include "service/service_context.h"
#include "service/stream_registry.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::service {

// Writes the wire form of an EnrichDomainResponse holding `records` (each a serialized v1::Record) and
// `progress` into *out: what serializing that message gives, without parsing the records back.
void FrameResponse(const std::vector<std::string>& records, const v1::Progress& progress, std::string* out);

class EnrichDomainReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                                  public CuttableStream,
                                  public pipeline::StreamTransport {
 public:
  // `context` and `call` outlive the reactor; `request` is a serialized EnrichDomainRequest.
  EnrichDomainReactor(ServiceContext& context, grpc::CallbackServerContext* call, const grpc::ByteBuffer* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  // Cancels the pipeline and finishes the call with `why` (the server's drain, at the end of its grace).
  void Cut(const absl::Status& why) override;

  // StreamTransport.
  void Frame(const std::vector<std::string>& records, const v1::Progress& progress) override;
  void StartWrite() override;
  // Gives the stream's slot and grant back, counts it, and finishes the call.
  void Finish(const absl::Status& status) override;
  void Free() override;

 private:
  // Starts the pipeline for a valid request, or returns why the request is refused.
  absl::Status Begin(const grpc::ByteBuffer& request);

  ServiceContext& context_;
  grpc::CallbackServerContext* const call_;
  const std::chrono::steady_clock::time_point started_;
  Admission admission_;  // the slot, grant and registry entry: taken in Begin, given back in Finish and OnDone
  std::optional<pipeline::StreamDrain> drain_;  // set in the constructor only; empty when refused

  // Touched only by the thread holding the drain's consumer role (Frame, StartWrite).
  std::string wire_;             // the response being written, framed by FrameResponse (reused)
  grpc::ByteBuffer serialized_;  // wire_ as handed to gRPC
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_ENRICH_DOMAIN_REACTOR_H_
