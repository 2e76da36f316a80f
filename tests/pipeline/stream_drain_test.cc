// The consumer side of a stream (StreamDrain) over a real pipeline (stub stages on real executors), with a
// fake transport that behaves as gRPC's callback API does: a write completes later on another thread, a
// finished stream's write in flight completes not ok, and the end (OnDone) comes once the stream finished and
// no write is in flight. The cases are the ones where a stream's threads meet — the whole stream, a client
// that cancels mid-stream, a client that stops reading, a server drain cutting a stream at full speed — and
// the ThreadSanitizer preset runs them.
#include "pipeline/stream_drain.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "permute/domain.h"
#include "tests/pipeline/test_metrics.h"
#include "workers/executor.h"
#include "workers/stage_table.h"
#include "workers/stub/stub_enricher.h"

namespace squatstream::pipeline {
namespace {

// Plays gRPC's part on its own "network" thread: completes writes (after `write_delay`, or not at all while
// `stalled`), and delivers the end once the stream finished and no write is in flight. It checks the
// drain's promises: one write in flight at most, none started after Finish, Finish once, Free once.
class FakeTransport final : public StreamTransport {
 public:
  explicit FakeTransport(std::chrono::microseconds write_delay, bool stalled = false)
      : write_delay_(write_delay), stalled_(stalled) {}
  ~FakeTransport() { Stop(); }

  void Attach(std::unique_ptr<StreamDrain> drain) { drain_ = std::move(drain); }
  // The reactor's constructor returned: gRPC delivers reactions from now on (what came before waits).
  void Bind() {
    network_ = std::thread([this] { Run(); });
  }

  void Frame(const std::vector<std::string>& records, const v1::Progress& progress) override {
    {
      std::lock_guard<std::mutex> lock(mu_);  // the reactor reuses its message: none may be in flight
      if (in_flight_) violations_.emplace_back("a message framed while a write was in flight");
    }
    // The records are counted here; the drain reuses the vector after the call.
    framed_records_ += records.size();
    // The counters only grow; total is 0 until generation ended, then the whole set: at least generated.
    if (progress.total() != 0 && progress.total() < progress.generated()) {
      std::lock_guard<std::mutex> lock(mu_);
      violations_.emplace_back("a total below generated");
    }
    if (last_progress_.total() != 0 && progress.total() != last_progress_.total()) {
      std::lock_guard<std::mutex> lock(mu_);
      violations_.emplace_back("the total changed once known");
    }
    last_progress_ = progress;
  }
  void StartWrite() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) violations_.emplace_back("a write started after Finish");
    if (in_flight_) violations_.emplace_back("two writes in flight");
    in_flight_ = true;
    ++writes_;
    cv_.notify_all();
  }
  void Finish(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) violations_.emplace_back("Finish twice");
    finished_ = true;
    status_ = status;
    cv_.notify_all();
  }
  void Free() override {
    // As the reactor's `delete this`: the drain is destroyed inside its own call. Published (under mu_) only
    // once that is over, so that the test cannot end while it runs.
    const bool twice = free_calls_.fetch_add(1) > 0;
    if (!twice) drain_.reset();
    std::lock_guard<std::mutex> lock(mu_);
    if (twice) violations_.emplace_back("Free twice");
    freed_ = true;
    cv_.notify_all();
  }

  // The client goes away: the write in flight (a stalled one too) completes not ok.
  void ClientGone() {
    std::lock_guard<std::mutex> lock(mu_);
    gone_ = true;
    cv_.notify_all();
  }
  // What gRPC's OnCancel or the server drain's CutAll does: reaches the drain while the stream is registered
  // (the end unregisters it first, as the reactor's OnDone does), so never after it was freed.
  void Cut(const absl::Status& why) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    if (registered_) drain_->Cancel(why);
  }
  // Waits (bounded) until the drain freed its owner.
  bool WaitFreed(std::chrono::seconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return freed_; });
  }
  bool WaitWrites(int n, std::chrono::seconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return writes_ >= n || finished_; });
  }

  std::vector<std::string> violations() {
    std::lock_guard<std::mutex> lock(mu_);
    return violations_;
  }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  int writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }
  // Read after Free (the network thread joined or idle): the consumer role's last writes happened before.
  std::size_t framed_records() const { return framed_records_; }
  const v1::Progress& last_progress() const { return last_progress_; }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      const auto write_ends = [&] { return in_flight_ && (!stalled_ || finished_ || gone_); };
      cv_.wait(lock, [&] { return stop_ || write_ends() || (finished_ && !done_sent_); });
      if (stop_) return;
      if (write_ends()) {
        in_flight_ = false;
        const bool ok = !finished_ && !gone_;  // a finished or abandoned stream's write completes not ok
        lock.unlock();
        if (ok) std::this_thread::sleep_for(write_delay_);
        drain_->WriteDone(ok);
        lock.lock();
        continue;
      }
      // Finished, nothing in flight: the end.
      done_sent_ = true;
      lock.unlock();
      {
        std::lock_guard<std::mutex> registry(registry_mu_);
        registered_ = false;
      }
      drain_->Done();
      lock.lock();
    }
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (network_.joinable()) network_.join();
  }

  const std::chrono::microseconds write_delay_;
  std::unique_ptr<StreamDrain> drain_;
  std::thread network_;
  std::size_t framed_records_ = 0;  // consumer role only
  v1::Progress last_progress_;      // consumer role only
  std::atomic<int> free_calls_{0};
  std::mutex registry_mu_;  // Cut against the end, as the server's stream registry
  bool registered_ = true;  // guarded by registry_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  bool stalled_;
  bool gone_ = false;
  bool in_flight_ = false;
  bool finished_ = false;
  bool done_sent_ = false;
  bool freed_ = false;
  bool stop_ = false;
  int writes_ = 0;
  absl::Status status_;
  std::vector<std::string> violations_;
};

class StreamDrainTest : public ::testing::Test {
 protected:
  StreamDrainTest() {
    for (v1::Enricher id : {v1::ENRICHER_DNS, v1::ENRICHER_GEO}) {
      const workers::StageDef& stage = **workers::FindStage(id);
      EXPECT_TRUE(
          registry_
              .Add(stage,
                   std::make_unique<workers::StubEnricher>(stage, workers::StubConfig{absl::Microseconds(200), 0, 1}),
                   metrics_.Stage(workers::EnricherName(id)))
              .ok());
    }
  }

  // Starts a stream of `candidates` of internationalbusinessmachines.com through `transport`.
  void Start(FakeTransport& transport, std::size_t candidates, std::size_t buffer = 512) {
    Begin(transport, candidates, buffer, /*cut_first=*/false);
  }
  // The same, cut by a server drain before the drain's Start.
  void StartCutFirst(FakeTransport& transport, std::size_t candidates) {
    Begin(transport, candidates, 512, /*cut_first=*/true);
  }
  void Begin(FakeTransport& transport, std::size_t candidates, std::size_t buffer, bool cut_first) {
    absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain("internationalbusinessmachines.com");
    ASSERT_TRUE(parsed.ok());
    permute::GeneratorOptions options;
    options.max_candidates = candidates;
    StreamWork work;
    work.generators.emplace_back(*parsed, options);
    absl::StatusOr<StagePlan> plan = registry_.Plan({v1::ENRICHER_DNS, v1::ENRICHER_GEO});
    ASSERT_TRUE(plan.ok());
    work.stages = *plan;
    PipelineOptions pipeline_options;
    pipeline_options.buffer_capacity = buffer;
    pipeline_options.batch_window = std::chrono::milliseconds(1);
    auto pipeline =
        EnrichPipeline::Create(io_.context(), cpu_.context(), std::move(work), pipeline_options, metrics_.pipeline);
    auto drain = std::make_unique<StreamDrain>(pipeline, io_.context(), 64, metrics_.pipeline, transport);
    StreamDrain* raw = drain.get();
    transport.Attach(std::move(drain));
    if (cut_first) transport.Cut(absl::UnavailableError("server shutting down"));
    pipeline->Start();
    raw->Start();
    transport.Bind();
  }

  TestMetrics metrics_;
  EnricherRegistry registry_;
  workers::Executor io_{2};
  workers::Executor cpu_{1};
};

TEST_F(StreamDrainTest, AWholeStreamGoesOutOnceAndEndsOk) {
  FakeTransport transport(std::chrono::microseconds(50));
  Start(transport, 3000);
  ASSERT_TRUE(transport.WaitFreed());
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_TRUE(transport.status().ok()) << transport.status();
  EXPECT_EQ(transport.framed_records(), 3000u);
  EXPECT_EQ(transport.last_progress().sent(), 3000u);
  EXPECT_EQ(transport.last_progress().generated(), 3000u);
  EXPECT_EQ(transport.last_progress().total(), 3000u);  // every candidate: nothing left
}

TEST_F(StreamDrainTest, AClientThatCancelsMidStreamEndsItOnce) {
  FakeTransport transport(std::chrono::microseconds(200));
  Start(transport, 20000);
  ASSERT_TRUE(transport.WaitWrites(5));
  std::thread client([&] { transport.Cut(absl::CancelledError("cancelled by the client")); });
  client.join();
  ASSERT_TRUE(transport.WaitFreed());
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_EQ(transport.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(transport.framed_records(), 20000u);
}

TEST_F(StreamDrainTest, AStalledReaderHoldsTheBufferUntilItGoes) {
  FakeTransport transport(std::chrono::microseconds(0), /*stalled=*/true);
  Start(transport, 20000, /*buffer=*/256);
  ASSERT_TRUE(transport.WaitWrites(1));
  // The pipeline fills the buffer and waits; nothing more is written while the first write is stuck.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (metrics_.pipeline.fanin_buffer_depth->Value() < 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, bounded
  }
  EXPECT_GE(metrics_.pipeline.fanin_buffer_depth->Value(), 200);
  EXPECT_EQ(transport.writes(), 1);
  transport.ClientGone();  // its write fails
  ASSERT_TRUE(transport.WaitFreed());
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_EQ(transport.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(StreamDrainTest, AServerDrainCutsStreamsAtFullSpeed) {
  int cut = 0;
  for (int round = 0; round < 10; ++round) {
    FakeTransport transport(std::chrono::microseconds(0));
    Start(transport, 5000);
    std::this_thread::sleep_for(std::chrono::milliseconds(round));  // cut at different points
    std::thread drain([&] { transport.Cut(absl::UnavailableError("server shutting down")); });
    drain.join();
    ASSERT_TRUE(transport.WaitFreed()) << "round " << round;
    EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
    // Cut before its end, or finished first (a 5,000-name stream can end within a few ms).
    EXPECT_TRUE(transport.status().code() == absl::StatusCode::kUnavailable || transport.status().ok())
        << transport.status();
    if (transport.status().code() == absl::StatusCode::kUnavailable) ++cut;
  }
  EXPECT_GE(cut, 5);  // the early rounds cut streams that had thousands of names to go
}

// The server's drain can reach a stream between its registration and the drain's Start (the reactor's
// constructor): it ends at once, writes nothing, and is freed once.
TEST_F(StreamDrainTest, ACutBeforeTheStartEndsTheStreamWithoutAWrite) {
  FakeTransport transport(std::chrono::microseconds(0));
  StartCutFirst(transport, 5000);
  ASSERT_TRUE(transport.WaitFreed());
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_EQ(transport.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(transport.writes(), 0);
}

// A registered_only stream whose names are all unregistered sends no record until its end: with a progress
// interval it sends its progress alone meanwhile (a client's bar moves), without one only at the end.
class QuietStreamTest : public ::testing::Test {
 protected:
  QuietStreamTest() {
    const workers::StageDef& dns = **workers::FindStage(v1::ENRICHER_DNS);
    EXPECT_TRUE(registry_
                    .Add(dns,
                         std::make_unique<workers::StubEnricher>(
                             dns, workers::StubConfig{absl::Milliseconds(20), 0, /*registered_rate=*/0}),
                         metrics_.Stage("dns"))
                    .ok());
  }
  // 60 names, 2 lookups at a time of ~20 ms each: the stream runs ~0.6 s.
  void Run(FakeTransport& transport, std::chrono::milliseconds progress_interval) {
    absl::StatusOr<permute::ParsedDomain> parsed = permute::ParseDomain("internationalbusinessmachines.com");
    ASSERT_TRUE(parsed.ok());
    permute::GeneratorOptions options;
    options.max_candidates = 60;
    StreamWork work;
    work.generators.emplace_back(*parsed, options);
    work.registered_only = true;
    absl::StatusOr<StagePlan> plan = registry_.Plan({v1::ENRICHER_DNS});
    ASSERT_TRUE(plan.ok());
    work.stages = *plan;
    PipelineOptions pipeline_options;
    pipeline_options.max_inflight_lookups = 2;
    auto pipeline =
        EnrichPipeline::Create(io_.context(), cpu_.context(), std::move(work), pipeline_options, metrics_.pipeline);
    auto drain = std::make_unique<StreamDrain>(pipeline, io_.context(), 64, metrics_.pipeline, transport,
                                               StreamDrain::kDefaultMaxBatchBytes, progress_interval);
    StreamDrain* raw = drain.get();
    transport.Attach(std::move(drain));
    pipeline->Start();
    raw->Start();
    transport.Bind();
    ASSERT_TRUE(transport.WaitFreed());
  }

  TestMetrics metrics_;
  EnricherRegistry registry_;
  workers::Executor io_{2};
  workers::Executor cpu_{1};
};

TEST_F(QuietStreamTest, ItsProgressGoesOutAloneEveryInterval) {
  FakeTransport transport(std::chrono::microseconds(0));
  Run(transport, std::chrono::milliseconds(100));
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_TRUE(transport.status().ok()) << transport.status();
  EXPECT_EQ(transport.framed_records(), 0u);
  // The heartbeats (at least two in ~0.6 s at 100 ms) and the final progress: every name checked.
  EXPECT_GE(transport.writes(), 3);
  EXPECT_EQ(transport.last_progress().enriched(), 60u);
  EXPECT_EQ(transport.last_progress().total(), 60u);
}

TEST_F(QuietStreamTest, WithoutAnIntervalOnlyTheEndSaysHowFarItGot) {
  FakeTransport transport(std::chrono::microseconds(0));
  Run(transport, std::chrono::milliseconds(0));
  EXPECT_TRUE(transport.violations().empty()) << transport.violations().front();
  EXPECT_EQ(transport.writes(), 1);
  EXPECT_EQ(transport.last_progress().enriched(), 60u);
}

}  // namespace
}  // namespace squatstream::pipeline
