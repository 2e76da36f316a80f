#include "service/enrich_domain_reactor.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "permute/permutations.h"
#include "service/call_access.h"
#include "service/request.h"
#include "service/status.h"
#include "service/stream_start.h"

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
  absl::StatusOr<access::Caller> caller = AdmitCall(context_, *call_, access::Scope::kScan, "EnrichDomain");
  if (!caller.ok()) return caller.status();
  if (absl::Status s = admission_.TakeSlot(); !s.ok()) return s;
  absl::StatusOr<v1::EnrichDomainRequest> request = DecodeRequest(serialized);
  if (!request.ok()) return request.status();
  return StartStream(context_, admission_, *caller, *request, *this, this, drain_);
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
