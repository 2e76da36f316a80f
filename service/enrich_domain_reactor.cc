#include "service/enrich_domain_reactor.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "permute/permutations.h"
#include "service/request.h"
#include "service/status.h"

namespace squatstream::service {

void FrameResponse(const std::vector<std::string>& records, const v1::Progress& progress, std::string* out) {
  using google::protobuf::internal::WireFormatLite;
  out->clear();
  google::protobuf::io::StringOutputStream stream(out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  // Field numbers of EnrichDomainResponse: records = 1, progress = 2 (the test parses what this writes).
  const std::uint32_t records_tag = WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  for (const std::string& record : records) {
    coded.WriteTag(records_tag);
    coded.WriteVarint32(static_cast<std::uint32_t>(record.size()));
    coded.WriteRaw(record.data(), static_cast<int>(record.size()));
  }
  coded.WriteTag(WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  coded.WriteVarint32(static_cast<std::uint32_t>(progress.ByteSizeLong()));
  progress.SerializeWithCachedSizes(&coded);
}

EnrichDomainReactor::EnrichDomainReactor(ServiceContext& context, grpc::CallbackServerContext* call,
                                         const grpc::ByteBuffer* request)
    : context_(context), call_(call), started_(std::chrono::steady_clock::now()), admission_(context) {
  context_.metrics->enrich_domain.started->Increment();
  context_.metrics->enrich_domain.msg_received->Increment();
  if (absl::Status s = Begin(*request); !s.ok()) {
    Finish(s);  // refused: no drain, nothing else finishes the call
    return;
  }
  drain_->Start();
}

absl::Status EnrichDomainReactor::Begin(const grpc::ByteBuffer& serialized) {
  if (absl::Status s = admission_.TakeSlot(); !s.ok()) return s;
  absl::StatusOr<v1::EnrichDomainRequest> request = DecodeRequest(serialized);
  if (!request.ok()) return request.status();
  absl::StatusOr<StreamSpec> spec = ParseRequest(*request, context_.limits.request);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<pipeline::StagePlan> stages = context_.enrichers->Plan(spec->enrichers);
  if (!stages.ok()) return stages.status();
  // The stream's share of the server's memory budget: its Generators' state (built first, so that the
  // grant charges what they hold) and as many buffer slots as it can use, if they are free.
  pipeline::PipelineOptions pipeline_options = context_.limits.pipeline;
  const std::size_t candidates = spec->generator.max_candidates * spec->domains.size();
  pipeline::StreamWork work;
  std::size_t generators_bytes = 0;  // what the Generators hold before they run (each input's own state)
  for (permute::ParsedDomain& domain : spec->domains) {
    generators_bytes += work.generators.emplace_back(std::move(domain), spec->generator).HeldBytes();
  }
  // Buffer slots: room for every candidate in flight at once — each reserves what its record may grow to (the
  // stages' bounds: enrich_pipeline.h), and its record once held weighs its bytes — up to the buffer's capacity.
  const std::size_t buffer_need = std::min(pipeline_options.buffer_capacity,
                                           MemoryBudget::SlotsFor(candidates * pipeline::MaxReservationBytes(*stages)));
  if (absl::Status s = admission_.TakeGrant(
          MemoryBudget::GenerationSlots(spec->generator.max_held_bytes, generators_bytes), buffer_need);
      !s.ok()) {
    return s;
  }
  pipeline_options.buffer_capacity = admission_.buffer();
  pipeline_options.bytes_per_slot = MemoryBudget::kBytesPerSlot;
  work.stages = *std::move(stages);
  work.registered_only = spec->registered_only;
  work.probe_mail = spec->probe_mail;
  work.count_uncapped_up_to = context_.limits.request.max_candidates;
  // The running Generator's share goes back once the last one ended — or with the rest at the end, whichever
  // comes first.
  work.generation_done = admission_.GenerationDone();
  auto pipeline = pipeline::EnrichPipeline::Create(context_.executor->context(), context_.cpu_executor->context(),
                                                   std::move(work), pipeline_options, context_.metrics->pipeline);
  // Before the registry can reach it: a drain's CutAll may cut the stream as soon as it is registered.
  drain_.emplace(pipeline, context_.executor->context(), context_.limits.max_batch_records, context_.metrics->pipeline,
                 *this, context_.limits.max_batch_bytes, context_.limits.progress_interval);
  if (absl::Status s = admission_.Register(this); !s.ok()) {  // the drain began since the slot was taken
    pipeline->Cancel();
    drain_.reset();
    return s;
  }
  pipeline->Start();
  return absl::OkStatus();
}

void EnrichDomainReactor::Frame(const std::vector<std::string>& records, const v1::Progress& progress) {
  FrameResponse(records, progress, &wire_);
  grpc::Slice slice(wire_.data(), wire_.size());  // a copy: wire_ is reused for the next message
  serialized_ = grpc::ByteBuffer(&slice, 1);
}

void EnrichDomainReactor::StartWrite() {
  context_.metrics->enrich_domain.msg_sent->Increment();
  // Not buffer-hinted: a hinted first write never completes with gRPC 1.51, and each batch should leave as
  // soon as it is written anyway.
  grpc::ServerWriteReactor<grpc::ByteBuffer>::StartWrite(&serialized_);
}

void EnrichDomainReactor::OnWriteDone(bool ok) { drain_->WriteDone(ok); }  // a write needs a drain

void EnrichDomainReactor::OnCancel() {
  if (!drain_) return;  // refused: finished already
  // The client's own deadline timer usually fires (and resets the stream) a little before the server's copy
  // of the deadline passes — the server's copy starts when the request arrives — so a cancellation that
  // close to the deadline is the deadline's (19 of 25 expired streams were counted as Canceled).
  constexpr auto kDeadlineSlack = std::chrono::milliseconds(250);
  const bool deadline_passed = call_->deadline() - std::chrono::system_clock::now() <= kDeadlineSlack;
  drain_->Cancel(deadline_passed ? absl::DeadlineExceededError("deadline exceeded")
                                 : absl::CancelledError("cancelled by the client"));
}

void EnrichDomainReactor::Cut(const absl::Status& why) { drain_->Cancel(why); }  // registered only with a drain

void EnrichDomainReactor::Finish(const absl::Status& status) {
  // Once: from the drain (under its lock), or from the constructor for a refused stream. The grant and the
  // slot go back before the status leaves (Admission::Release); the pipeline's memory is freed by OnDone
  // soon after.
  admission_.Release();
  const GrpcMethodMetrics& m = context_.metrics->enrich_domain;
  m.handled[static_cast<std::size_t>(status.code()) % kGrpcCodeCount]->Increment();
  m.handling_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  grpc::ServerWriteReactor<grpc::ByteBuffer>::Finish(ToGrpcStatus(status));
}

void EnrichDomainReactor::OnDone() {
  admission_.Unregister();  // a drain's CutAll no longer reaches this reactor
  if (!drain_) {
    delete this;
    return;
  }
  drain_->Done();  // Free follows, now or after the last posted drain
}

void EnrichDomainReactor::Free() { delete this; }

}  // namespace squatstream::service
