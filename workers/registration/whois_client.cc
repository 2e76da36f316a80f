#include "workers/registration/whois_client.h"

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "asio/connect.hpp"
#include "asio/ip/address.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/write.hpp"

namespace squatstream::workers::registration {
namespace {

struct Query : std::enable_shared_from_this<Query> {
  Query(const asio::any_io_executor& ex, std::string srv, std::size_t max)
      : executor(ex), server(std::move(srv)), socket(ex), timer(ex), max_bytes(max) {}

  asio::any_io_executor executor;
  std::string server;
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::size_t max_bytes;
  std::string request;
  WhoisReply reply;
  std::array<char, 8192> chunk;
  absl::AnyInvocable<void(absl::StatusOr<WhoisReply>) &&> done;
  bool finished = false;

  void Finish(absl::StatusOr<WhoisReply> result) {
    if (finished) return;
    finished = true;
    timer.cancel();
    std::error_code ignored;
    socket.close(ignored);
    asio::post(executor,
               [done = std::move(done), result = std::move(result)]() mutable { std::move(done)(std::move(result)); });
  }

  void Read() {
    socket.async_read_some(asio::buffer(chunk), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      if (self->finished) return;
      const std::size_t room = self->max_bytes - self->reply.text.size();
      self->reply.text.append(self->chunk.data(), std::min(n, room));
      if (n > room || self->reply.text.size() >= self->max_bytes) {
        self->reply.truncated = true;
        self->Finish(std::move(self->reply));
        return;
      }
      if (ec == asio::error::eof) {
        self->Finish(std::move(self->reply));
        return;
      }
      if (ec) {
        self->Finish(absl::UnavailableError(absl::StrFormat("whois %s: %s", self->server, ec.message())));
        return;
      }
      self->Read();
    });
  }
};

}  // namespace

bool SplitServer(const std::string& server, std::string* host, std::string* port) {
  *port = "43";
  if (server.empty()) return false;
  if (server[0] == '[') {
    const std::size_t close = server.find(']');
    if (close == std::string::npos) return false;
    *host = server.substr(1, close - 1);
    if (close + 1 < server.size()) {
      if (server[close + 1] != ':') return false;
      *port = server.substr(close + 2);
    }
  } else if (const std::size_t colon = server.find(':');
             colon != std::string::npos && server.find(':', colon + 1) == std::string::npos) {
    *host = server.substr(0, colon);
    *port = server.substr(colon + 1);
  } else {
    *host = server;
  }
  int p = 0;
  return !host->empty() && absl::SimpleAtoi(*port, &p) && p > 0 && p < 65536;
}

std::function<void()> WhoisQuery(const asio::any_io_executor& executor, const std::string& server,
                                 const std::string& query, std::chrono::milliseconds timeout, std::size_t max_bytes,
                                 const net::AddressPolicy* policy, const net::HostLookup& lookup,
                                 absl::AnyInvocable<void(absl::StatusOr<WhoisReply>) &&> done) {
  auto q = std::make_shared<Query>(executor, server, max_bytes);
  q->done = std::move(done);
  q->request = query + "\r\n";
  std::string host, port_text;
  int port_number = 0;
  if (!SplitServer(server, &host, &port_text) || !absl::SimpleAtoi(port_text, &port_number)) {
    q->Finish(absl::InvalidArgumentError(absl::StrFormat("whois server \"%s\" is not host[:port]", server)));
    return [] {};
  }
  const auto port = static_cast<std::uint16_t>(port_number);  // 1-65535: SplitServer checked
  q->timer.expires_after(timeout);
  q->timer.async_wait([q, timeout](std::error_code ec) {
    if (ec) return;
    q->Finish(absl::DeadlineExceededError(
        absl::StrFormat("whois %s: no complete answer within %d ms", q->server, timeout.count())));
  });
  // Only addresses the policy allows are dialled (a referral names any host it likes); the lookup may call
  // back on any thread, so its answer is taken on the strand.
  net::ResolveHost(lookup, host, policy, [q, port](absl::StatusOr<std::vector<std::string>> found) {
    asio::post(q->executor, [q, port, found = std::move(found)] {
      if (q->finished) return;
      if (!found.ok()) {
        q->Finish(
            absl::Status(found.status().code(), absl::StrFormat("whois %s: %s", q->server, found.status().message())));
        return;
      }
      std::vector<asio::ip::tcp::endpoint> allowed;
      for (const std::string& address : *found) {
        std::error_code ec;
        const asio::ip::address a = asio::ip::make_address(address, ec);
        if (!ec) allowed.emplace_back(a, port);
      }
      if (allowed.empty()) {
        q->Finish(absl::UnavailableError(absl::StrFormat("whois %s: no address to dial", q->server)));
        return;
      }
      asio::async_connect(q->socket, allowed, [q](std::error_code connected, const asio::ip::tcp::endpoint&) {
        if (q->finished) return;
        if (connected) {
          q->Finish(absl::UnavailableError(
              absl::StrFormat("whois %s: %s%s", q->server, connected.message(),
                              connected == asio::error::connection_refused ? " (refused)" : "")));
          return;
        }
        asio::async_write(q->socket, asio::buffer(q->request), [q](std::error_code written, std::size_t) {
          if (q->finished) return;
          if (written) {
            q->Finish(absl::UnavailableError(absl::StrFormat("whois %s: %s", q->server, written.message())));
            return;
          }
          q->Read();
        });
      });
    });
  });
  return [weak = std::weak_ptr<Query>(q)] {
    if (auto call = weak.lock()) call->Finish(absl::CancelledError("cancelled"));
  };
}

}  // namespace squatstream::workers::registration
