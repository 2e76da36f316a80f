// The HTTP client against peers on loopback started here: every host it dials is resolved through its
// HostLookup (redirects included, hop by hop) or dialled as the address literal it is ("127.0.0.1." too),
// never by libcurl; with no lookup a name is not resolved at all; the policy checks what a name resolves to;
// and a timeout is named for what happened (nothing came, or a slow sender's bytes did).
//
// Run by ctest inside tests/e2e/tools/resolver_trap.py (a network namespace of its own whose system resolver
// logs every question, and fails the test on any): a name resolved anywhere but through the lookup shows
// there. Outside it (SQUATSTREAM_RESOLVER_TRAP unset) the tests that name hosts are skipped, so that a
// regression could never send their names to the machine's resolver.
#include "workers/net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/net/address_policy.h"
#include "workers/net/host_lookup.h"

namespace squatstream::workers::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

bool InTrap() {
  const char* mark = std::getenv("SQUATSTREAM_RESOLVER_TRAP");
  return mark != nullptr && std::string(mark) == "1";
}

#define REQUIRE_TRAP()                                                                     \
  if (!InTrap())                                                                           \
  GTEST_SKIP() << "names hosts: run in tests/e2e/tools/resolver_trap.py (ctest does), so " \
                  "that nothing could ever ask the machine's resolver"

// A TCP server on `address`, port 0: each connection's request head is read, then `serve` runs on a thread of
// its own with the socket and the head. Stops (closing every socket, joining) when destroyed.
class Peer {
 public:
  using Serve = std::function<void(int fd, const std::string& head, const std::atomic<bool>& stop)>;

  Peer(const std::string& address, Serve serve) : serve_(std::move(serve)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    socklen_t len = sizeof(a);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(listener_, 64) != 0) {
      ADD_FAILURE() << "cannot listen on " << address;
      return;
    }
    getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~Peer() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);  // wakes accept()
    if (acceptor_.joinable()) acceptor_.join();
    close(listener_);
    std::vector<std::thread> handlers;
    {
      MutexLock lock(mu_);
      handlers.swap(handlers_);
    }
    for (std::thread& t : handlers) t.join();
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  int port() const { return port_; }
  std::vector<std::string> heads() {
    MutexLock lock(mu_);
    return heads_;
  }

  // Plain answers.
  static void Answer(int fd, const std::string& status, const std::string& headers, const std::string& body) {
    const std::string text = absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Length: ", body.size(),
                                          "\r\nConnection: close\r\n", headers, "\r\n", body);
    send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  }
  // Until the client closes (or the peer stops): what a silent server does after reading the request.
  static void WaitForClose(int fd, const std::atomic<bool>& stop) {
    timeval tv{0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char c;
    while (!stop) {
      const ssize_t n = recv(fd, &c, 1, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return;
    }
  }
  // `text` one byte every `pace` (a slowloris sender), until all is sent or the client is gone.
  static void Trickle(int fd, const std::string& text, std::chrono::milliseconds pace, const std::atomic<bool>& stop,
                      std::atomic<int>* sent) {
    for (char c : text) {
      if (stop || send(fd, &c, 1, MSG_NOSIGNAL) != 1) return;
      ++*sent;
      std::this_thread::sleep_for(pace);  // the peer's pace, not a test waiting for something
    }
    WaitForClose(fd, stop);
  }

 private:
  void Accept() {
    for (;;) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      MutexLock lock(mu_);
      handlers_.emplace_back([this, fd] {
        std::string head;
        char buf[4096];
        timeval tv{5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while (!absl::StrContains(head, "\r\n\r\n")) {
          const ssize_t n = recv(fd, buf, sizeof(buf), 0);
          if (n <= 0) break;
          head.append(buf, static_cast<std::size_t>(n));
        }
        {
          MutexLock seen(mu_);
          heads_.push_back(head);
        }
        if (absl::StrContains(head, "\r\n\r\n")) serve_(fd, head, stop_);
        close(fd);
      });
    }
  }

  Serve serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  Mutex mu_;  // Guards the handlers and what they saw (peers' threads and the test's).
  std::vector<std::thread> handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> heads_ ABSL_GUARDED_BY(mu_);
};

std::string PathOf(const std::string& head) {
  const std::size_t start = head.find(' ') + 1;
  return head.substr(start, head.find(' ', start) - start);
}

// A HostLookup answering from a table (inline, as a cache hit would), recording every name asked.
class FakeLookup {
 public:
  explicit FakeLookup(std::map<std::string, std::vector<std::string>> table) : table_(std::move(table)) {}
  HostLookup lookup() {
    return [this](const std::string& host, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
      std::vector<std::string> found;
      {
        MutexLock lock(mu_);
        asked_.push_back(host);
        if (auto it = table_.find(host); it != table_.end()) found = it->second;
      }
      std::move(done)(std::move(found));
    };
  }
  std::vector<std::string> asked() {
    MutexLock lock(mu_);
    return asked_;
  }

 private:
  const std::map<std::string, std::vector<std::string>> table_;
  Mutex mu_;  // Guards asked_ (the client's thread and the test's).
  std::vector<std::string> asked_ ABSL_GUARDED_BY(mu_);
};

HttpResponse Get(HttpClient& client, HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> future = promise->get_future();
  client.Fetch(std::move(request), [promise](HttpResponse r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within 30 s";
    HttpResponse r;
    r.status = absl::DeadlineExceededError("the test gave up");
    return r;
  }
  return future.get();
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpRequest Request(const std::string& url) const {
    HttpRequest r;
    r.url = url;
    r.timeout = std::chrono::seconds(10);
    r.policy = &policy_;
    return r;
  }

  const AddressPolicy policy_ = *AddressPolicy::WithAllowed({"127.0.0.0/8"});  // refused by default
  // Where the redirects lead: the final page, on 127.0.0.2 (a name's address, in the lookups' tables).
  Peer final_{"127.0.0.2", [](int fd, const std::string&, const std::atomic<bool>&) {
                Peer::Answer(fd, "200 OK", "Server: final\r\n", "the final page");
              }};
  std::string final_port_ = std::to_string(final_.port());
  // The first hop, on 127.0.0.1: redirects by path.
  Peer start_{"127.0.0.1", [this](int fd, const std::string& head, const std::atomic<bool>&) {
                const std::string path = PathOf(head);
                std::string to;
                if (path == "/to-name") to = "http://named.peer.test:" + final_port_ + "/final";
                if (path == "/to-dotted-literal") to = absl::StrCat("http://127.0.0.1.:", start_.port(), "/here");
                if (path == "/to-refused-name") to = "http://private.peer.test:" + final_port_ + "/final";
                if (path == "/to-ftp") to = "ftp://named.peer.test/file";
                if (path == "/loop") to = "/loop";
                if (to.empty()) {
                  Peer::Answer(fd, "200 OK", "", "start's page " + path);
                } else {
                  Peer::Answer(fd, "302 Found", "Location: " + to + "\r\n", "");
                }
              }};
  std::string start_url_ = absl::StrCat("http://127.0.0.1:", start_.port());
  FakeLookup names_{{{"named.peer.test", {"127.0.0.2"}},
                     {"private.peer.test", {"10.1.2.3"}},
                     {"mixed.peer.test", {"10.1.2.3", "127.0.0.2"}}}};
};

// What is an address literal (dialled as it is) and what a name (asked of the lookup, or of nothing).
TEST(HostLookupTest, LiteralsAndNames) {
  EXPECT_EQ(AddressLiteral("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(AddressLiteral("127.0.0.1."), "127.0.0.1");  // WHATWG: still the IPv4 address
  EXPECT_EQ(AddressLiteral("[2001:DB8::1]"), "2001:db8::1");
  EXPECT_EQ(AddressLiteral("::ffff:127.0.0.1"), "::ffff:127.0.0.1");
  for (const char* name : {"example.com", "example.com.", "127.0.0.1..", "[::1].", "", "127.0.0.1.example"}) {
    EXPECT_EQ(AddressLiteral(name), "") << name;
  }
  auto resolve = [](const HostLookup& lookup, const std::string& host, const AddressPolicy* policy) {
    absl::StatusOr<std::vector<std::string>> out = absl::UnknownError("no answer");
    ResolveHost(lookup, host, policy, [&](absl::StatusOr<std::vector<std::string>> r) { out = std::move(r); });
    return out;  // every case below answers inline
  };
  const AddressPolicy strict;
  const absl::StatusOr<std::vector<std::string>> loopback = resolve(nullptr, "127.0.0.1.", &strict);
  EXPECT_EQ(loopback.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(loopback.status().message(), "127.0.0.1 is loopback (127.0.0.0/8): not dialled");
  EXPECT_THAT(*resolve(nullptr, "[::1]", nullptr), ElementsAre("::1"));
  EXPECT_EQ(resolve(nullptr, "", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve(nullptr, ".", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<std::vector<std::string>> unresolved = resolve(nullptr, "Example.COM.", nullptr);
  EXPECT_EQ(unresolved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unresolved.status().message()), HasSubstr("example.com is not resolved"));
  FakeLookup table({{"a.peer.test", {"10.0.0.1", "192.0.2.7", "127.0.0.9"}}});
  const AddressPolicy loopback_open = *AddressPolicy::WithAllowed({"127.0.0.0/8"});
  EXPECT_THAT(*resolve(table.lookup(), "A.Peer.Test.", &loopback_open), ElementsAre("127.0.0.9"));
  const absl::StatusOr<std::vector<std::string>> none = resolve(table.lookup(), "a.peer.test", &strict);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(none.status().message(), "a.peer.test: 10.0.0.1 is private (10.0.0.0/8): not dialled");
  EXPECT_EQ(resolve(table.lookup(), "b.peer.test", nullptr).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(table.asked(), ElementsAre("a.peer.test", "a.peer.test", "b.peer.test"));
}

TEST_F(HttpClientTest, ARedirectToANameIsResolvedThroughTheLookupAndDialledAtItsAddress) {
  REQUIRE_TRAP();
  HttpClient client(8, names_.lookup());
  const HttpResponse r = Get(client, Request(start_url_ + "/to-name"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "the final page");
  EXPECT_EQ(r.server, "final");
  EXPECT_EQ(r.primary_ip, "127.0.0.2");
  EXPECT_EQ(r.final_url, "http://named.peer.test:" + final_port_ + "/final");
  EXPECT_THAT(names_.asked(), ElementsAre("named.peer.test"));
  ASSERT_EQ(final_.heads().size(), 1u);
  EXPECT_THAT(final_.heads()[0], HasSubstr("\r\nHost: named.peer.test:" + final_port_ + "\r\n"));
}

TEST_F(HttpClientTest, AUrlNamingAHostIsResolvedThroughTheLookup) {
  REQUIRE_TRAP();
  HttpClient client(8, names_.lookup());
  const HttpResponse r = Get(client, Request("http://Named.Peer.Test.:" + final_port_ + "/final"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "the final page");
  EXPECT_THAT(names_.asked(), ElementsAre("named.peer.test"));  // lower case, the trailing dot dropped
}

// "127.0.0.1." is 127.0.0.1 (WHATWG's URL standard): dialled as it is, nothing resolved — with a lookup or
// without one.
TEST_F(HttpClientTest, AnIpv4LiteralWithATrailingDotIsDialledAsItIs) {
  REQUIRE_TRAP();
  HttpClient client(8, names_.lookup());
  const HttpResponse r = Get(client, Request(start_url_ + "/to-dotted-literal"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "start's page /here");
  EXPECT_EQ(r.primary_ip, "127.0.0.1");
  EXPECT_THAT(r.final_url, HasSubstr("127.0.0.1.:"));
  EXPECT_THAT(names_.asked(), IsEmpty());
  HttpClient without(8);
  const HttpResponse direct = Get(without, Request(absl::StrCat("http://127.0.0.1.:", start_.port(), "/direct")));
  ASSERT_TRUE(direct.status.ok()) << direct.status;
  EXPECT_EQ(direct.body, "start's page /direct");
}

// With no lookup (the DNS stage simulated) a name is not resolved at all: never by libcurl in its place.
TEST_F(HttpClientTest, WithoutALookupANameIsNotResolvedAtAll) {
  REQUIRE_TRAP();
  HttpClient client(8);
  const HttpResponse named = Get(client, Request("http://named.peer.test:" + final_port_ + "/final"));
  EXPECT_EQ(named.status.code(), absl::StatusCode::kFailedPrecondition) << named.status;
  EXPECT_THAT(std::string(named.status.message()), HasSubstr("named.peer.test is not resolved"));
  const HttpResponse redirected = Get(client, Request(start_url_ + "/to-name"));
  EXPECT_EQ(redirected.status.code(), absl::StatusCode::kFailedPrecondition) << redirected.status;
  EXPECT_THAT(final_.heads(), IsEmpty());
  // A connect address needs no lookup: the host stays the Host header.
  HttpRequest pinned = Request("http://anything.peer.test:" + final_port_ + "/final");
  pinned.connect_address = "127.0.0.2";
  const HttpResponse r = Get(client, pinned);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "the final page");
  ASSERT_EQ(final_.heads().size(), 1u);
  EXPECT_THAT(final_.heads()[0], HasSubstr("\r\nHost: anything.peer.test:" + final_port_ + "\r\n"));
  pinned.connect_address = "not-an-address";
  EXPECT_EQ(Get(client, pinned).status.code(), absl::StatusCode::kInvalidArgument);
}

// The policy judges what a name resolves to, before anything is dialled: a refused address is skipped for
// the next one; only refused ones: PERMISSION_DENIED. No address: UNAVAILABLE.
TEST_F(HttpClientTest, ThePolicyJudgesWhatANameResolvesTo) {
  REQUIRE_TRAP();
  HttpClient client(8, names_.lookup());
  const HttpResponse refused = Get(client, Request(start_url_ + "/to-refused-name"));
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kPermissionDenied) << refused.status;
  EXPECT_THAT(std::string(refused.status.message()), HasSubstr("10.1.2.3 is private (10.0.0.0/8): not dialled"));
  const HttpResponse mixed = Get(client, Request("http://mixed.peer.test:" + final_port_ + "/final"));
  ASSERT_TRUE(mixed.status.ok()) << mixed.status;
  EXPECT_EQ(mixed.primary_ip, "127.0.0.2");
  const HttpResponse nowhere = Get(client, Request("http://nowhere.peer.test:" + final_port_ + "/"));
  EXPECT_EQ(nowhere.status.code(), absl::StatusCode::kUnavailable) << nowhere.status;
  EXPECT_THAT(std::string(nowhere.status.message()), HasSubstr("nowhere.peer.test has no address"));
  EXPECT_EQ(final_.heads().size(), 1u);  // only mixed.peer.test's request
}

TEST_F(HttpClientTest, RedirectRules) {
  REQUIRE_TRAP();
  HttpClient client(8, names_.lookup());
  const HttpResponse ftp = Get(client, Request(start_url_ + "/to-ftp"));
  EXPECT_EQ(ftp.status.code(), absl::StatusCode::kFailedPrecondition) << ftp.status;
  EXPECT_THAT(std::string(ftp.status.message()), HasSubstr("only http and https are followed"));
  HttpRequest loop = Request(start_url_ + "/loop");
  loop.max_redirects = 3;
  const HttpResponse looped = Get(client, loop);
  EXPECT_EQ(looped.status.code(), absl::StatusCode::kFailedPrecondition) << looped.status;
  EXPECT_THAT(std::string(looped.status.message()), HasSubstr("more than 3 redirects"));
  HttpRequest none = Request(start_url_ + "/to-name");
  none.max_redirects = 0;  // the 3xx is the answer
  const HttpResponse answer = Get(client, none);
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.code, 302);
  EXPECT_EQ(answer.redirect_url, "http://named.peer.test:" + final_port_ + "/final");
  EXPECT_THAT(names_.asked(), IsEmpty());  // neither the ftp host nor the unfollowed one
}

// A lookup still out when the client shuts down: its answer ends the request CANCELLED where it comes, and
// nothing is dialled.
TEST_F(HttpClientTest, ShutdownWhileAHostIsBeingResolved) {
  REQUIRE_TRAP();
  absl::AnyInvocable<void(std::vector<std::string>) &&> held;
  std::promise<void> asked;
  HttpClient client(8, [&](const std::string&, absl::AnyInvocable<void(std::vector<std::string>) &&> done) {
    held = std::move(done);
    asked.set_value();
  });
  std::promise<HttpResponse> answered;
  client.Fetch(Request("http://later.peer.test:" + final_port_ + "/final"),
               [&](HttpResponse r) { answered.set_value(std::move(r)); });
  ASSERT_EQ(asked.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  client.Shutdown();
  std::move(held)({"127.0.0.2"});
  const HttpResponse r = answered.get_future().get();
  EXPECT_EQ(r.status.code(), absl::StatusCode::kCancelled) << r.status;
  EXPECT_THAT(final_.heads(), IsEmpty());
}

// Each timeout is named for what happened: nothing came ("first byte"), or bytes came too slowly — a
// slowloris sender trickling its status line one byte at a time has answered, and is said so, with what came.
TEST_F(HttpClientTest, TimeoutsAreNamedForWhatHappened) {
  std::atomic<int> line_bytes{0}, body_bytes{0};
  Peer silent("127.0.0.3",
              [](int fd, const std::string&, const std::atomic<bool>& stop) { Peer::WaitForClose(fd, stop); });
  Peer slow_line("127.0.0.3", [&](int fd, const std::string&, const std::atomic<bool>& stop) {
    Peer::Trickle(fd, "HTTP/1.1 200 OK, one byte at a time, never a whole line", std::chrono::milliseconds(50), stop,
                  &line_bytes);
  });
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/html\r\n\r\n";
  Peer slow_body("127.0.0.3", [&](int fd, const std::string&, const std::atomic<bool>& stop) {
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    Peer::Trickle(fd, std::string(100000, 'x'), std::chrono::milliseconds(50), stop, &body_bytes);
  });
  HttpClient client(8);
  auto request = [&](const Peer& peer) {
    HttpRequest r = Request(absl::StrCat("http://127.0.0.3:", peer.port(), "/"));
    r.first_byte_timeout = std::chrono::milliseconds(500);
    r.timeout = std::chrono::milliseconds(2000);
    return r;
  };

  const HttpResponse nothing = Get(client, request(silent));
  EXPECT_EQ(nothing.status.code(), absl::StatusCode::kDeadlineExceeded) << nothing.status;
  EXPECT_THAT(std::string(nothing.status.message()),
              HasSubstr("timed out in the first byte phase (request sent, nothing came in 500 ms)"));

  const HttpResponse trickled = Get(client, request(slow_line));
  EXPECT_GT(line_bytes.load(), 1);  // what the peer sent before the client gave up
  EXPECT_EQ(trickled.status.code(), absl::StatusCode::kDeadlineExceeded) << trickled.status;
  EXPECT_THAT(std::string(trickled.status.message()),
              HasSubstr("timed out reading the response (2000 ms): bytes received, not one complete header line"));
  EXPECT_THAT(std::string(trickled.status.message()), Not(HasSubstr("first byte")));

  const HttpResponse body = Get(client, request(slow_body));
  EXPECT_GT(body_bytes.load(), 1);
  EXPECT_EQ(body.status.code(), absl::StatusCode::kDeadlineExceeded) << body.status;
  EXPECT_THAT(std::string(body.status.message()), HasSubstr("timed out reading the response (2000 ms): "));
  EXPECT_THAT(std::string(body.status.message()), HasSubstr(" bytes received"));
  EXPECT_THAT(std::string(body.status.message()), Not(HasSubstr("first byte")));
}

}  // namespace
}  // namespace squatstream::workers::net
