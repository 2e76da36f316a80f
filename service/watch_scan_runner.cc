#include "service/watch_scan_runner.h"

#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_format.h"
#include "asio/post.hpp"
#include "asio/strand.hpp"
#include "base/mutex.h"
#include "pipeline/stream_drain.h"
#include "service/admission.h"
#include "service/stream_registry.h"
#include "service/stream_start.h"

namespace squatstream::service {
namespace {

// One scan's transport: instead of framing and writing messages it parses the records into a list. Its "writes"
// complete at once (posted, as StreamDrain requires: never inline). The scan's thread waits for Free.
class RecordCollector final : public pipeline::StreamTransport, public CuttableStream {
 public:
  explicit RecordCollector(ServiceContext& context)
      : strand_(asio::make_strand(context.executor->context())), admission_(context) {}

  Admission& admission() { return admission_; }
  std::optional<pipeline::StreamDrain>& drain() { return drain_; }

  void Frame(const std::vector<std::string>& records, const v1::Progress& /*progress*/) override {
    for (const std::string& serialized : records) {
      if (!records_.emplace_back().ParseFromString(serialized)) parse_failed_ = true;  // our own bytes: never
    }
  }
  void StartWrite() override {
    asio::post(strand_, [this] { drain_->WriteDone(true); });
  }
  void Finish(const absl::Status& status) override {
    // Under the drain's lock: the slot and grant go back now, the rest (which calls back into the drain) is posted.
    status_ = status;
    admission_.Release();
    asio::post(strand_, [this] {  // after a write's completion still queued (as gRPC ends a call after OnWriteDone)
      admission_.Unregister();
      drain_->Done();
    });
  }
  void Free() override {
    MutexLock lock(mu_);
    freed_ = true;
    freed_cv_.NotifyAll();
  }
  void Cut(const absl::Status& why) override { drain_->Cancel(why); }

  // Waits for Free, cancelling the scan once `stop` is set.
  void Wait(const std::atomic<bool>& stop) {
    bool cancelled = false;
    MutexLock lock(mu_);
    while (!freed_) {
      if (!cancelled && stop.load()) {
        cancelled = true;
        mu_.Unlock();
        drain_->Cancel(absl::CancelledError("the watch scheduler stopped"));
        mu_.Lock();
        continue;
      }
      freed_cv_.WaitFor(mu_, std::chrono::milliseconds(200));
    }
  }

  absl::StatusOr<std::vector<v1::Record>> Result() && {
    if (!status_.ok()) return status_;
    if (parse_failed_) return absl::InternalError("a record of the scan could not be read back");
    return std::move(records_);
  }

 private:
  // The write completions and the end, in the order they were posted (the executor has several threads).
  asio::strand<asio::io_context::executor_type> strand_;
  Admission admission_;
  std::optional<pipeline::StreamDrain> drain_;
  // Written by the drain's consumer (Frame) and Finish, read by the scan's thread after Free.
  std::vector<v1::Record> records_;
  bool parse_failed_ = false;
  absl::Status status_;
  Mutex mu_;
  CondVar freed_cv_;
  bool freed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::vector<v1::Record>> WatchScanRunner::Scan(const std::string& domain,
                                                              const v1::WatchSettings& settings,
                                                              const std::atomic<bool>& stop) {
  v1::EnrichDomainRequest request;
  request.set_domain(domain);
  request.mutable_kinds()->CopyFrom(settings.kinds());
  request.mutable_enrichers()->CopyFrom(settings.enrichers());
  request.set_max_candidates(settings.max_candidates());
  RecordCollector collector(context_);
  if (absl::Status s = collector.admission().TakeSlot(keep_free_); !s.ok()) return s;
  if (absl::Status s = StartStream(context_, collector.admission(), access::Caller{}, request, collector, &collector,
                                   collector.drain());
      !s.ok()) {
    return s;  // nothing runs; the admission gives back what it took
  }
  collector.drain()->Start();
  collector.Wait(stop);
  return std::move(collector).Result();
}

}  // namespace squatstream::service
