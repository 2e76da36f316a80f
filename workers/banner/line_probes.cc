#include "workers/banner/line_probes.h"

#include <array>
#include <cstdint>
#include <memory>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "asio/ip/tcp.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "asio/write.hpp"

namespace squatstream::workers::banner {
namespace {

void SetStatus(const absl::Status& s, v1::LookupStatus* out) {
  out->set_code(static_cast<int>(s.code()));
  out->set_message(std::string(s.message()));
}

// One TCP conversation on a strand: connect (policy first), reads parsed as they come, writes, a timeout
// per phase and one for the whole, a byte cap. Ends once (End), closing everything.
class Conversation : public std::enable_shared_from_this<Conversation> {
 public:
  using Next = std::function<void()>;
  // Returns true when what it waits for is complete (it consumes it from `buffer`); an error ends the talk.
  using Parser = std::function<absl::StatusOr<bool>(std::string& buffer)>;

  Conversation(const asio::any_io_executor& strand, asio::ip::tcp::endpoint endpoint, const LineProbeOptions& options,
               std::string protocol, std::string label, absl::AnyInvocable<void(absl::Status) &&> on_end)
      : protocol_(std::move(protocol)),
        strand_(strand),
        endpoint_(std::move(endpoint)),
        options_(options),
        label_(std::move(label)),
        socket_(strand),
        phase_timer_(strand),
        whole_timer_(strand),
        on_end_(std::move(on_end)) {}

  void Start(Next connected) {
    if (options_.policy != nullptr) {
      if (absl::Status allowed = options_.policy->Check(endpoint_.data()); !allowed.ok()) {
        End(absl::PermissionDeniedError(absl::StrFormat("%s: %s", label_, allowed.message())));
        return;
      }
    }
    auto self = shared_from_this();
    whole_timer_.expires_after(options_.whole_timeout);
    whole_timer_.async_wait([self](std::error_code ec) {
      if (!ec) self->End(self->Timeout("whole conversation", self->options_.whole_timeout));
    });
    Phase("connect", options_.connect_timeout);
    socket_.async_connect(endpoint_, [self, connected = std::move(connected)](std::error_code ec) {
      if (self->finished_) return;
      if (ec) {
        self->End(absl::UnavailableError(absl::StrFormat("%s: %s%s", self->label_, ec.message(),
                                                         ec == asio::error::connection_refused ? " (refused)" : "")));
        return;
      }
      connected();
    });
  }

  // Reads until `parse` says complete, within the reply timeout (or `limit`, when shorter and not zero).
  void Read(const char* phase, Parser parse, Next next, std::chrono::milliseconds limit = {}) {
    Phase(phase, limit.count() > 0 ? std::min(limit, options_.reply_timeout) : options_.reply_timeout);
    ReadMore(std::move(parse), std::move(next));
  }

  void Write(std::string text, Next next) {
    auto self = shared_from_this();
    auto data = std::make_shared<std::string>(std::move(text));
    asio::async_write(socket_, asio::buffer(*data),
                      [self, data, next = std::move(next)](std::error_code ec, std::size_t) {
                        if (self->finished_) return;
                        if (ec && self->close_is_fine_) {  // after QUIT: the answers are in
                          self->End(absl::OkStatus());
                          return;
                        }
                        if (ec) {
                          self->End(absl::UnavailableError(absl::StrFormat("%s: %s", self->label_, ec.message())));
                          return;
                        }
                        next();
                      });
  }

  void End(absl::Status status) {
    if (finished_) return;
    finished_ = true;
    if (options_.bytes_read) options_.bytes_read(protocol_, bytes_read_);
    phase_timer_.cancel();
    whole_timer_.cancel();
    std::error_code ignored;
    socket_.close(ignored);
    asio::post(strand_, [done = std::move(on_end_), status = std::move(status)]() mutable {
      std::move(done)(std::move(status));
    });
  }

  std::size_t bytes_read() const { return bytes_read_; }
  // From now on the server closing the connection ends the talk OK (after QUIT, the 221 is a courtesy).
  void CloseIsFine() { close_is_fine_ = true; }

 private:
  absl::Status Timeout(const char* phase, std::chrono::milliseconds limit) const {
    return absl::DeadlineExceededError(
        absl::StrFormat("%s: timed out in the %s phase (%d ms)", label_, phase, limit.count()));
  }

  void Phase(const char* phase, std::chrono::milliseconds limit) {
    phase_timer_.expires_after(limit);
    phase_timer_.async_wait([self = shared_from_this(), phase, limit](std::error_code ec) {
      if (ec) return;
      // After QUIT, silence ends the talk as well as a reply would: the answers are in.
      self->End(self->close_is_fine_ ? absl::OkStatus() : self->Timeout(phase, limit));
    });
  }

  void ReadMore(Parser parse, Next next) {
    absl::StatusOr<bool> complete = parse(buffer_);
    if (!complete.ok()) {
      End(absl::InvalidArgumentError(absl::StrFormat("%s: %s", label_, complete.status().message())));
      return;
    }
    if (*complete) {
      phase_timer_.cancel();
      next();
      return;
    }
    if (bytes_read_ >= options_.max_bytes) {
      End(absl::ResourceExhaustedError(
          absl::StrFormat("%s: more than %d bytes without a complete reply", label_, options_.max_bytes)));
      return;
    }
    auto self = shared_from_this();
    const std::size_t room = std::min(chunk_.size(), options_.max_bytes - bytes_read_);
    socket_.async_read_some(asio::buffer(chunk_.data(), room), [self, parse = std::move(parse), next = std::move(next)](
                                                                   std::error_code ec, std::size_t n) mutable {
      if (self->finished_) return;
      self->bytes_read_ += n;
      self->buffer_.append(self->chunk_.data(), n);
      if (ec && self->close_is_fine_) {  // closed or reset after QUIT: fine
        self->End(absl::OkStatus());
        return;
      }
      if (ec) {
        self->End(absl::UnavailableError(absl::StrFormat(
            "%s: %s", self->label_, ec == asio::error::eof ? "the server closed the connection" : ec.message())));
        return;
      }
      self->ReadMore(std::move(parse), std::move(next));
    });
  }

  std::string protocol_;
  asio::any_io_executor strand_;
  asio::ip::tcp::endpoint endpoint_;
  LineProbeOptions options_;
  std::string label_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer phase_timer_;
  asio::steady_timer whole_timer_;
  absl::AnyInvocable<void(absl::Status) &&> on_end_;
  std::string buffer_;
  std::array<char, 4096> chunk_{};
  std::size_t bytes_read_ = 0;
  bool finished_ = false;
  bool close_is_fine_ = false;
};

std::string RandomMailbox() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string box = "squatstream-check-";
  for (int i = 0; i < 12; ++i) box.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return box;
}

// A parser that reads one SMTP reply into `*out`.
Conversation::Parser SmtpReplyInto(const std::shared_ptr<SmtpReply>& out) {
  return [out](std::string& buffer) -> absl::StatusOr<bool> {
    auto parsed = ParseSmtpReply(buffer);
    if (!parsed.ok()) return parsed.status();
    if (!parsed->has_value()) return false;
    *out = std::move((*parsed)->first);
    buffer.erase(0, (*parsed)->second);
    return true;
  };
}

// Sends `command` ("": none) and reads one reply into `*reply`, then runs `next`; nothing once the talk ended.
void Exchange(const std::weak_ptr<Conversation>& weak, std::string command, const char* phase,
              const std::shared_ptr<SmtpReply>& reply, std::function<void()> next,
              std::chrono::milliseconds limit = {}) {
  auto talk = weak.lock();
  if (!talk) return;
  auto read = [weak, phase, reply, next = std::move(next), limit] {
    if (auto t = weak.lock()) t->Read(phase, SmtpReplyInto(reply), next, limit);
  };
  if (command.empty()) {
    read();
  } else {
    talk->Write(std::move(command), std::move(read));
  }
}

std::string FirstLine(const SmtpReply& r) {
  return absl::StrFormat("%d %s", r.code, r.lines.empty() ? "" : r.lines.front());
}

std::string Joined(const SmtpReply& r) {
  std::string text;
  for (const std::string& l : r.lines) {
    if (!text.empty()) text += " / ";
    text += l;
  }
  return text.substr(0, 1024);
}

}  // namespace

std::function<void()> ProbeSmtp(const asio::any_io_executor& strand, const asio::ip::address& address, int port,
                                const std::string& mx, const std::string& candidate, bool probe_mail,
                                const LineProbeOptions& options, absl::AnyInvocable<void(v1::SmtpProbe) &&> done) {
  auto result = std::make_shared<v1::SmtpProbe>();
  result->set_mx(mx);
  result->set_address(address.to_string());
  if (probe_mail) result->set_rcpt_to(RandomMailbox() + "@" + candidate);
  auto talk = std::make_shared<Conversation>(strand, asio::ip::tcp::endpoint(address, static_cast<std::uint16_t>(port)),
                                             options, "smtp", absl::StrFormat("smtp %s (%s)", mx, address.to_string()),
                                             [result, done = std::move(done)](const absl::Status& status) mutable {
                                               SetStatus(status, result->mutable_status());
                                               std::move(done)(std::move(*result));
                                             });
  auto reply = std::make_shared<SmtpReply>();
  // 220 greeting -> EHLO -> (probe_mail: MAIL FROM:<> -> RCPT TO) -> QUIT. A weak pointer in the steps: the
  // conversation's own callbacks hold it.
  std::weak_ptr<Conversation> weak = talk;
  auto quit = [weak, reply] {
    if (auto t = weak.lock()) t->CloseIsFine();  // the 221 is a courtesy: the answers are in
    Exchange(
        weak, "QUIT\r\n", "QUIT reply", reply,
        [weak] {
          if (auto t = weak.lock()) t->End(absl::OkStatus());
        },
        std::chrono::milliseconds(1000));  // a courtesy: not worth a slot for long
  };
  auto rcpt = [weak, reply, result, quit] {
    Exchange(weak, "RCPT TO:<" + result->rcpt_to() + ">\r\n", "RCPT reply", reply, [reply, result, quit] {
      result->set_rcpt_code(static_cast<std::uint32_t>(reply->code));
      result->set_rcpt_reply(Joined(*reply));
      result->set_accepts_any_recipient(reply->code / 100 == 2);
      quit();
    });
  };
  auto mail = [weak, reply, result, rcpt, quit] {
    if (result->rcpt_to().empty()) {  // not asked for: the greeting and EHLO are all (probe_mail)
      quit();
      return;
    }
    Exchange(weak, "MAIL FROM:<>\r\n", "MAIL reply", reply, [reply, result, rcpt, quit] {
      result->set_mail_code(static_cast<std::uint32_t>(reply->code));
      if (reply->code / 100 == 2) {
        rcpt();
      } else {
        result->set_rcpt_reply("not asked: MAIL FROM:<> refused (" + Joined(*reply) + ")");
        quit();
      }
    });
  };
  auto ehlo = [weak, reply, result, mail, quit] {
    Exchange(weak, "EHLO squatstream.invalid\r\n", "EHLO reply", reply, [weak, reply, result, mail, quit] {
      if (reply->code / 100 != 2) {  // an old server: HELO instead (RFC 5321 3.2)
        result->add_ehlo(FirstLine(*reply));
        Exchange(weak, "HELO squatstream.invalid\r\n", "HELO reply", reply, [reply, result, mail, quit] {
          result->add_ehlo(FirstLine(*reply));
          if (reply->code / 100 == 2) {
            mail();
          } else {
            quit();
          }
        });
        return;
      }
      for (std::size_t i = 1; i < reply->lines.size(); ++i) {
        result->add_ehlo(reply->lines[i]);
        if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(reply->lines[i]), "STARTTLS")) result->set_starttls(true);
      }
      mail();
    });
  };
  talk->Start([weak, reply, result, ehlo] {
    Exchange(weak, "", "greeting", reply, [weak, reply, result, ehlo] {
      result->set_banner(FirstLine(*reply).substr(0, 512));
      if (reply->code != 220) {
        if (auto t = weak.lock()) {
          t->End(absl::FailedPreconditionError(
              absl::StrFormat("the server greets with %d, not 220: it takes no mail now", reply->code)));
        }
        return;
      }
      ehlo();
    });
  });
  return [weak] {
    if (auto t = weak.lock()) t->End(absl::CancelledError("cancelled"));
  };
}

std::function<void()> ProbeSsh(const asio::any_io_executor& strand, const asio::ip::address& address, int port,
                               const LineProbeOptions& options, absl::AnyInvocable<void(v1::SshProbe) &&> done) {
  auto result = std::make_shared<v1::SshProbe>();
  result->set_address(address.to_string());
  auto talk = std::make_shared<Conversation>(strand, asio::ip::tcp::endpoint(address, static_cast<std::uint16_t>(port)),
                                             options, "ssh", absl::StrFormat("ssh %s", address.to_string()),
                                             [result, done = std::move(done)](const absl::Status& status) mutable {
                                               SetStatus(status, result->mutable_status());
                                               std::move(done)(std::move(*result));
                                             });
  std::weak_ptr<Conversation> weak = talk;
  talk->Start([weak, result] {
    auto conversation = weak.lock();
    if (!conversation) return;
    conversation->Read(
        "identification",
        [result](std::string& buffer) -> absl::StatusOr<bool> {
          auto line = ParseSshIdentification(buffer);
          if (!line.ok()) return line.status();
          if (!line->has_value()) return false;
          result->set_identification(**line);
          return true;
        },
        [weak] {
          if (auto t = weak.lock()) t->End(absl::OkStatus());
        });
  });
  return [weak] {
    if (auto t = weak.lock()) t->End(absl::CancelledError("cancelled"));
  };
}

}  // namespace squatstream::workers::banner
