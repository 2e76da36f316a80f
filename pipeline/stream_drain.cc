#include "pipeline/stream_drain.h"

#include <algorithm>
#include <utility>

#include "asio/post.hpp"

namespace squatstream::pipeline {

StreamDrain::StreamDrain(std::shared_ptr<EnrichPipeline> pipeline, asio::io_context& io, std::size_t max_batch_records,
                         const PipelineMetrics& metrics, StreamTransport& transport, std::size_t max_batch_bytes,
                         std::chrono::steady_clock::duration progress_interval)
    : pipeline_(std::move(pipeline)),
      io_(io),
      max_batch_records_(max_batch_records),
      max_batch_bytes_(max_batch_bytes),
      metrics_(metrics),
      transport_(transport),
      started_(std::chrono::steady_clock::now()),
      progress_interval_(progress_interval),
      heartbeat_(io) {}

void StreamDrain::Start() {
  pipeline_->buffer().SetDataCallback([this] { ScheduleTryWrite(); });
  if (progress_interval_ > std::chrono::steady_clock::duration::zero()) {
    MutexLock lock(mu_);
    ArmHeartbeat();
  }
  TryWrite();  // arms the data callback if nothing is there yet
}

void StreamDrain::ArmHeartbeat() {
  if (finished_ || done_) return;
  ++posted_;
  heartbeat_.expires_after(progress_interval_);
  heartbeat_.async_wait([this](const asio::error_code& error) { Heartbeat(error == asio::error::operation_aborted); });
}

void StreamDrain::Heartbeat(bool cancelled) {
  if (!cancelled) {
    {
      MutexLock lock(mu_);
      progress_due_ = true;
    }
    TryWrite();
  }
  bool last = false;
  {
    MutexLock lock(mu_);
    // Handled: the message just sent carried the progress, or the write in flight carries it.
    progress_due_ = false;
    if (!cancelled) ArmHeartbeat();
    last = --posted_ == 0 && done_;
  }
  if (last) transport_.Free();
}

bool StreamDrain::finished() {
  MutexLock lock(mu_);
  return finished_;
}

void StreamDrain::ScheduleTryWrite() {
  {
    MutexLock lock(mu_);
    if (finished_) return;
    ++posted_;
  }
  asio::post(io_, [this] {
    TryWrite();
    bool last = false;
    {
      MutexLock lock(mu_);
      last = --posted_ == 0 && done_;
    }
    if (last) transport_.Free();
  });
}

void StreamDrain::TryWrite() {
  bool progress_due = false;
  {
    MutexLock lock(mu_);
    if (finished_) return;
    if (consumer_busy_) {
      retry_ = true;
      return;
    }
    consumer_busy_ = true;
    retry_ = false;
    progress_due = progress_due_;
  }
  for (;;) {
    // The first batch goes as soon as there is a record; later ones wait for a full batch unless the
    // pipeline flushes (it has nothing more coming right away) or finishes.
    const std::size_t max = max_batch_records_;
    const auto result = pipeline_->buffer().Drain(&batch_, max, first_write_done_ ? max : 1, max_batch_bytes_);
    // A finished stream whose last records were filtered out (registered_only) ends with a message of
    // progress alone, so that the client learns how many candidates were looked up; so does a quiet stream
    // when the heartbeat fires, whether or not its counters moved (a client tells a slow stream, its lookups
    // all waiting, from a dead server by that message).
    const bool moved = pipeline_->enriched() != reported_enriched_ || pipeline_->total() != reported_total_;
    const bool final_progress = result.taken == 0 && ((result.finished && moved) || (progress_due && !result.finished));
    if (result.taken > 0 || final_progress) {
      sent_ += batch_.size();
      v1::Progress progress;
      progress.set_generated(pipeline_->generated());
      progress.set_enriched(pipeline_->enriched());
      progress.set_sent(sent_);
      progress.set_total(pipeline_->total());
      if (const std::uint64_t uncapped = pipeline_->uncapped_total(); uncapped != 0) {  // the cap cut: say so
        progress.set_max_candidates(pipeline_->max_candidates());
        progress.set_max_candidates_limit(pipeline_->count_uncapped_up_to());
        progress.set_uncapped_total(uncapped);
      }
      reported_enriched_ = progress.enriched();
      reported_total_ = progress.total();
      transport_.Frame(batch_, progress);

      const auto n = static_cast<double>(batch_.size());
      if (!final_progress) {
        metrics_.records_streamed->Increment(n);
        metrics_.batches_drained->Increment();
        metrics_.batch_size->Observe(n);
      }
      if (!first_write_done_ && !final_progress) {
        first_write_done_ = true;
        metrics_.time_to_first_batch_seconds->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
      }
      // The role stays claimed until WriteDone. Under mu_ so that no write starts after Finish (StartWrite
      // and Finish return at once; reactions never run inline).
      MutexLock lock(mu_);
      progress_due_ = false;  // this message carries the progress
      if (!finished_) transport_.StartWrite();
      return;
    }
    if (result.finished) {
      {
        MutexLock lock(mu_);
        consumer_busy_ = false;
      }
      FinishOnce(absl::OkStatus());
      return;
    }
    MutexLock lock(mu_);
    if (!retry_) {
      consumer_busy_ = false;
      return;
    }
    retry_ = false;
    progress_due = progress_due_;
  }
}

void StreamDrain::WriteDone(bool ok) {
  if (!ok) {
    // The stream broke (client gone); a cancellation normally follows, but stop the work now.
    Cancel(absl::CancelledError("the stream broke before every record was sent"));
    return;
  }
  {
    MutexLock lock(mu_);
    consumer_busy_ = false;
  }
  TryWrite();
}

void StreamDrain::Cancel(const absl::Status& why) {
  pipeline_->Cancel();
  FinishOnce(why);
}

void StreamDrain::FinishOnce(const absl::Status& status) {
  MutexLock lock(mu_);
  if (finished_) return;
  finished_ = true;
  heartbeat_.cancel();  // its handler runs soon, aborted, and is the last posted call if it was pending
  transport_.Finish(status);
}

void StreamDrain::Done() {
  pipeline_->buffer().SetDataCallback(nullptr);  // waits out a callback in progress; none after
  pipeline_->Cancel();                           // no-op when the pipeline already finished
  {
    MutexLock lock(mu_);
    done_ = true;
    heartbeat_.cancel();
    if (posted_ > 0) return;  // the last posted call (a TryWrite, the heartbeat) frees the owner
  }
  transport_.Free();
}

}  // namespace squatstream::pipeline
