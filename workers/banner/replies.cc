#include "workers/banner/replies.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace squatstream::workers::banner {
namespace {

constexpr std::size_t kMaxSmtpLine = 2048;
constexpr int kMaxSmtpLines = 64;
constexpr std::size_t kMaxSshLine = 255;
constexpr int kMaxSshLines = 20;

}  // namespace

absl::StatusOr<std::optional<std::pair<SmtpReply, std::size_t>>> ParseSmtpReply(absl::string_view buffer) {
  SmtpReply reply;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t eol = buffer.find('\n', pos);
    if (eol == absl::string_view::npos) {
      if (buffer.size() - pos > kMaxSmtpLine) return absl::InvalidArgumentError("an SMTP reply line over 2048 bytes");
      return std::nullopt;
    }
    absl::string_view line = buffer.substr(pos, eol - pos);
    if (line.size() > kMaxSmtpLine) return absl::InvalidArgumentError("an SMTP reply line over 2048 bytes");
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    int code = 0;
    if (line.size() < 3 || !absl::ascii_isdigit(static_cast<unsigned char>(line[0])) ||
        !absl::ascii_isdigit(static_cast<unsigned char>(line[1])) ||
        !absl::ascii_isdigit(static_cast<unsigned char>(line[2])) || !absl::SimpleAtoi(line.substr(0, 3), &code) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return absl::InvalidArgumentError(
          absl::StrFormat("not an SMTP reply: \"%s\"", absl::CHexEscape(line.substr(0, 64))));
    }
    if (reply.code != 0 && code != reply.code) {
      return absl::InvalidArgumentError(
          absl::StrFormat("an SMTP reply whose lines disagree (%d, %d)", reply.code, code));
    }
    reply.code = code;
    reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : absl::string_view());
    pos = eol + 1;
    if (line.size() <= 3 || line[3] == ' ') return std::make_optional(std::make_pair(std::move(reply), pos));
    if (static_cast<int>(reply.lines.size()) >= kMaxSmtpLines) {
      return absl::InvalidArgumentError("an SMTP reply of more than 64 lines");
    }
  }
}

absl::StatusOr<std::optional<std::string>> ParseSshIdentification(absl::string_view buffer) {
  std::size_t pos = 0;
  for (int lines = 0;; ++lines) {
    if (lines >= kMaxSshLines) return absl::InvalidArgumentError("no SSH identification in the first 20 lines");
    const std::size_t eol = buffer.find('\n', pos);
    if (eol == absl::string_view::npos) {
      if (buffer.size() - pos > kMaxSshLine) return absl::InvalidArgumentError("a line over 255 bytes");
      return std::nullopt;
    }
    absl::string_view line = buffer.substr(pos, eol - pos);
    if (line.size() > kMaxSshLine) return absl::InvalidArgumentError("a line over 255 bytes");
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (absl::StartsWith(line, "SSH-")) {
      for (char c : line) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
          return absl::InvalidArgumentError("an SSH identification with a non-printable character");
        }
      }
      return std::make_optional(std::string(line));
    }
    pos = eol + 1;
  }
}

}  // namespace squatstream::workers::banner
