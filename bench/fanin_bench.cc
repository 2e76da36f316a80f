// Fan-in benchmark, the honest version of ../shared/seed/fan-in-blog.txt.
//
// W worker tasks on squatstream's executor (workers::Executor, 2 threads) each send S = 1000 messages;
// one consumer (this thread) receives them through the variant under test and writes one byte per message
// to a sink, one write per receive: in socket mode (BM_FanIn) a loopback TCP socket whose server reads with
// a 65536-byte buffer; in gRPC mode (BM_FanInGrpc) the server side of a real gRPC stream on loopback, one
// stream message per receive, read by a gRPC client. The clock stops when the reader has the byte of the
// *last* message. Every iteration checks delivery: count, a checksum of the (worker,
// sequence) pairs, and each worker's order; any loss, duplicate or reordering aborts the run.
// Counters: items_per_second, peak_rss_mb (the process's peak; run one case per process to compare).
#include <sys/resource.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/read.hpp"
#include "asio/write.hpp"
#include "bench/fanin_variants.h"
#include "benchmark/benchmark.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "workers/executor.h"

namespace squatstream::bench {
namespace {

constexpr std::uint32_t kMessagesPerWorker = 1000;

[[noreturn]] void Fail(const char* what, std::uint64_t a, std::uint64_t b) {
  std::fprintf(stderr, "fanin_bench: DELIVERY CHECK FAILED: %s (%llu vs %llu)\n", what,
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  std::abort();
}

// The checksum adds up the packed (worker, sequence) pairs; with the per-worker order check it catches any
// lost, duplicated or foreign message.
std::uint64_t Pair(std::uint32_t worker, std::uint32_t seq) { return (std::uint64_t{worker} << 32) | seq; }

// Counts bytes a sink's reader received; Expect(n) returns a future that is ready once n more arrived.
// Thread-safe: the reader calls Add, the benchmark thread Expect.
class ByteCounter {
 public:
  std::future<void> Expect(std::uint64_t bytes) {
    std::lock_guard<std::mutex> l(mu_);
    target_ += bytes;
    done_ = std::promise<void>();
    auto f = done_.get_future();
    if (received_ >= target_) done_.set_value();
    return f;
  }
  void Add(std::uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    const bool was_short = received_ < target_;
    received_ += n;
    if (was_short && received_ >= target_) done_.set_value();
  }

 private:
  std::mutex mu_;
  std::uint64_t received_ = 0;
  std::uint64_t target_ = 0;
  std::promise<void> done_;
};

// A loopback TCP server that reads with a 65536-byte buffer and counts bytes; Expect(n) returns a future
// that is ready once n more bytes arrived.
class SinkServer {
 public:
  SinkServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), client_(io_) {
    client_.connect(acceptor_.local_endpoint());
    client_.set_option(asio::ip::tcp::no_delay(true));
    server_side_ = std::make_unique<asio::ip::tcp::socket>(acceptor_.accept());
    reader_ = std::thread([this] { Read(); });
  }
  ~SinkServer() {
    client_.shutdown(asio::ip::tcp::socket::shutdown_send);
    reader_.join();
  }
  asio::ip::tcp::socket& client() { return client_; }
  std::future<void> Expect(std::uint64_t bytes) { return counter_.Expect(bytes); }

 private:
  void Read() {
    std::vector<char> buf(65536);
    asio::error_code ec;
    for (;;) {
      const std::size_t n = server_side_->read_some(asio::buffer(buf), ec);
      if (ec) return;
      counter_.Add(n);
    }
  }
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::socket client_;
  std::unique_ptr<asio::ip::tcp::socket> server_side_;
  std::thread reader_;
  ByteCounter counter_;
};

// A gRPC server on 127.0.0.1 with one generic bidi method, and a client that opened one call to it. The
// consumer writes through the server's side of that call (Write blocks until gRPC is done with the message:
// one write in flight, as in the service's reactor); the client reads and counts bytes. Same interface as
// SinkServer.
class GrpcSink {
 public:
  GrpcSink() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
    stub_->PrepareBidiStreamingCall(&client_context_, "/squatstream.bench.Sink/Drain", grpc::StubOptions(), &reader_);
    reader_.Begin(this);
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return service_.writer != nullptr; });
  }
  ~GrpcSink() {
    service_.writer->Finish(grpc::Status::OK);
    reader_.Await();
    server_->Shutdown();
  }

  void Write(const std::vector<char>& bytes) { service_.writer->Write(bytes); }

  std::future<void> Expect(std::uint64_t bytes) { return counter_.Expect(bytes); }

 private:
  // The server's side of the call: writes one message at a time for the consumer thread.
  class Writer : public grpc::ServerGenericBidiReactor {
   public:
    void Write(const std::vector<char>& bytes) {
      grpc::Slice slice(bytes.data(), bytes.size());
      message_ = grpc::ByteBuffer(&slice, 1);
      std::unique_lock<std::mutex> l(mu_);
      writing_ = true;
      StartWrite(&message_);
      cv_.wait(l, [&] { return !writing_; });
    }
    void OnWriteDone(bool ok) override {
      if (!ok) std::abort();  // the reader is in this process; a failed write is a bug
      std::lock_guard<std::mutex> l(mu_);
      writing_ = false;
      cv_.notify_all();
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer message_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool writing_ = false;
  };

  struct Service : grpc::CallbackGenericService {
    explicit Service(GrpcSink* o) : owner(o) {}
    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
      auto* w = new Writer();
      std::lock_guard<std::mutex> l(owner->mu_);
      writer = w;
      owner->cv_.notify_all();
      return w;
    }
    GrpcSink* owner;
    Writer* writer = nullptr;
  };

  // The client's side: reads every message and counts its bytes.
  class Reader : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    void Begin(GrpcSink* sink) {
      sink_ = sink;
      StartRead(&message_);
      StartWritesDone();
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      sink_->counter_.Add(message_.Length());
      message_.Clear();
      StartRead(&message_);
    }
    void OnDone(const grpc::Status&) override {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      cv_.notify_all();
    }
    void Await() {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return done_; });
    }

   private:
    GrpcSink* sink_ = nullptr;
    grpc::ByteBuffer message_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  Service service_{this};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext client_context_;
  Reader reader_;
  ByteCounter counter_;
};

// Socket mode's sink: writes go to the client socket of a SinkServer.
class SocketSink : public SinkServer {
 public:
  void Write(const std::vector<char>& bytes) { asio::write(client(), asio::buffer(bytes)); }
};

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

template <typename Variant, typename Sink>
void RunFanIn(benchmark::State& state) {
  const auto workers = static_cast<std::uint32_t>(state.range(0));
  const std::uint64_t total = std::uint64_t{workers} * kMessagesPerWorker;
  std::uint64_t want_checksum = 0;
  for (std::uint32_t w = 0; w < workers; ++w) {
    for (std::uint32_t s = 0; s < kMessagesPerWorker; ++s) want_checksum += Pair(w, s);
  }
  workers::Executor executor(kExecutorThreads);
  Sink sink;
  std::vector<Msg> batch;
  std::vector<char> bytes;
  std::vector<std::uint32_t> next(workers);
  for (auto _ : state) {
    Variant variant(workers);
    std::fill(next.begin(), next.end(), 0);
    std::atomic<std::uint32_t> finished{0};
    std::future<void> delivered = sink.Expect(total);
    const auto start = std::chrono::steady_clock::now();
    for (std::uint32_t w = 0; w < workers; ++w) {
      asio::co_spawn(
          executor.context(),
          [&variant, &finished, w, workers]() -> asio::awaitable<void> {
            co_await variant.Produce(w, kMessagesPerWorker);
            if (finished.fetch_add(1, std::memory_order_acq_rel) + 1 == workers) variant.ProducersDone();
          },
          asio::detached);
    }
    std::uint64_t received = 0;
    std::uint64_t checksum = 0;
    while (variant.Receive(&batch)) {
      if constexpr (requires { variant.bound(); }) {  // a bounded variant never holds more than its bound
        if (batch.size() > variant.bound()) Fail("receive larger than the bound", batch.size(), variant.bound());
      }
      bytes.resize(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const Msg m = batch[i];
        if (m.worker >= workers) Fail("worker id out of range", m.worker, workers);
        if (m.seq != next[m.worker]) Fail("out of order, lost or duplicated", m.seq, next[m.worker]);
        ++next[m.worker];
        checksum += Pair(m.worker, m.seq);
        bytes[i] = static_cast<char>(m.seq);
      }
      received += batch.size();
      sink.Write(bytes);  // one write per receive, as the seed's actor does
    }
    delivered.wait();
    const auto end = std::chrono::steady_clock::now();
    if (received != total) Fail("message count", received, total);
    if (checksum != want_checksum) Fail("checksum", checksum, want_checksum);
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(total));
  state.counters["peak_rss_mb"] = PeakRssMb();
}

template <typename Variant>
void BM_FanIn(benchmark::State& state) {
  RunFanIn<Variant, SocketSink>(state);
}

template <typename Variant>
void BM_FanInGrpc(benchmark::State& state) {
  RunFanIn<Variant, GrpcSink>(state);
}

void Workers(benchmark::internal::Benchmark* b) {
  for (int w = 2; w <= 8192; w *= 2) b->Arg(w);
  b->ArgName("W")->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

// gRPC mode: the channel sends one stream message per item (~10 µs each here), so it stops at W=64.
void FewWorkers(benchmark::internal::Benchmark* b) {
  for (int w = 2; w <= 64; w *= 2) b->Arg(w);
  b->ArgName("W")->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

BENCHMARK_TEMPLATE(BM_FanIn, Channel)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, StdMutexSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, AbslMutexSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, AsyncLockSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, AtomicExchange)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, Lanes)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, Moodycamel)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanIn, ProductionFanIn)->Apply(Workers);

BENCHMARK_TEMPLATE(BM_FanInGrpc, Channel)->Apply(FewWorkers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, StdMutexSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, AbslMutexSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, AsyncLockSwap)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, AtomicExchange)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, Lanes)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, Moodycamel)->Apply(Workers);
BENCHMARK_TEMPLATE(BM_FanInGrpc, ProductionFanIn)->Apply(Workers);

}  // namespace
}  // namespace squatstream::bench

BENCHMARK_MAIN();
