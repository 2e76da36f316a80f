// Loopback listeners that accept every connection and never send a byte: targets that hold a banner probe's
// connection slot for its whole timeout (the connect phase over TLS, the first byte over plain HTTP), as a
// squatter's addresses that accept and never answer would. One asio thread of their own, so that the test's
// own io_context and its waits never delay an accept.
#ifndef SQUATSTREAM_TESTS_WORKERS_BANNER_SILENT_LISTENERS_H_
#define SQUATSTREAM_TESTS_WORKERS_BANNER_SILENT_LISTENERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "asio/buffer.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/address.hpp"
#include "asio/ip/tcp.hpp"

namespace squatstream::workers::banner::testing {

class SilentListeners {
 public:
  // Listens on every address and port; fails naming the first pair that cannot be bound (a port someone
  // else holds there). Accepted connections are read (and the bytes dropped) until the client closes.
  static absl::StatusOr<std::unique_ptr<SilentListeners>> Open(const std::vector<std::string>& addresses,
                                                               const std::vector<int>& ports) {
    std::unique_ptr<SilentListeners> s(new SilentListeners());
    for (const std::string& address : addresses) {
      for (const int port : ports) {
        std::error_code ec;
        const asio::ip::tcp::endpoint at(asio::ip::make_address(address, ec), static_cast<std::uint16_t>(port));
        auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(s->io_);
        if (!ec) acceptor->open(at.protocol(), ec);
        if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor->bind(at, ec);
        if (!ec) acceptor->listen(64, ec);
        if (ec)
          return absl::UnavailableError(absl::StrFormat("silent listener %s:%d: %s", address, port, ec.message()));
        s->acceptors_.push_back(std::move(acceptor));
      }
    }
    for (auto& acceptor : s->acceptors_) s->Accept(*acceptor);
    s->thread_ = std::thread([io = &s->io_] { io->run(); });
    return s;
  }

  SilentListeners(const SilentListeners&) = delete;
  SilentListeners& operator=(const SilentListeners&) = delete;

  // Closes every listener and connection (the clients see the close) and joins the thread.
  ~SilentListeners() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Connections accepted so far. Thread-safe.
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}
    asio::ip::tcp::socket socket;
    std::array<char, 4096> buffer{};
  };

  SilentListeners() = default;

  void Accept(asio::ip::tcp::acceptor& acceptor) {
    auto connection = std::make_shared<Connection>(io_);
    acceptor.async_accept(connection->socket, [this, &acceptor, connection](std::error_code ec) {
      if (ec) return;  // closed
      accepted_.fetch_add(1);
      Drop(connection);
      Accept(acceptor);
    });
  }

  // Reads and drops what the client sends; the connection goes when the client closes it.
  static void Drop(const std::shared_ptr<Connection>& connection) {
    connection->socket.async_read_some(asio::buffer(connection->buffer),
                                       [connection](std::error_code ec, std::size_t /*n*/) {
                                         if (!ec) Drop(connection);
                                       });
  }

  asio::io_context io_;  // first: outlives the sockets its handlers hold
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace squatstream::workers::banner::testing

#endif  // SQUATSTREAM_TESTS_WORKERS_BANNER_SILENT_LISTENERS_H_
