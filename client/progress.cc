#include "client/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace squatstream::client {

std::string WithSeparators(std::uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Rate(double per_second) {
  if (!(per_second > 0) || !std::isfinite(per_second)) return "0";
  if (per_second >= 99.95) return WithSeparators(static_cast<std::uint64_t>(std::llround(per_second)));
  // Three significant digits below 100: 93.7, 9.37, 0.937, 0.0937 -> 0.0937 keeps three too.
  const int magnitude = static_cast<int>(std::floor(std::log10(per_second)));
  const int decimals = std::max(0, 2 - magnitude);
  return absl::StrFormat("%.*f", decimals, per_second);
}

std::string ProgressLine(const v1::Progress& progress, std::uint64_t found, int width) {
  const bool known = progress.total() > 0;
  const std::uint64_t checked = progress.enriched();
  const std::uint64_t of = known ? progress.total() : progress.generated();
  const double share = of == 0 ? 0 : std::min(1.0, static_cast<double>(checked) / static_cast<double>(of));
  const int filled = static_cast<int>(width * share);
  std::string line = absl::StrCat("[", std::string(static_cast<std::size_t>(filled), '#'),
                                  std::string(static_cast<std::size_t>(width - filled), ' '), "] ",
                                  WithSeparators(checked), " of ", WithSeparators(of), known ? "" : "+", " checked");
  if (known) absl::StrAppend(&line, ", ", WithSeparators(of - std::min(of, checked)), " left");
  absl::StrAppend(&line, ", found ", WithSeparators(found));
  return line;
}

std::string SummaryLine(const StreamSummary& s) {
  const std::uint64_t checked = s.progress.enriched();
  const std::uint64_t total = s.progress.total();
  std::string candidates = WithSeparators(checked);
  if (total > checked) {
    absl::StrAppend(&candidates, " of ", WithSeparators(total));
  } else if (total == 0 && s.progress.generated() > checked) {
    absl::StrAppend(&candidates, " of ", WithSeparators(s.progress.generated()), "+");
  }
  const double seconds = std::max(s.seconds, 0.0);
  const std::string duration = seconds < 10 ? absl::StrFormat("%.3f s", seconds) : absl::StrFormat("%.1f s", seconds);
  auto rate = [&](std::uint64_t n) { return Rate(seconds > 0 ? static_cast<double>(n) / seconds : 0); };
  std::string line = absl::StrCat("squatstream: ", s.domain, ": ", WithSeparators(s.records),
                                  s.records == 1 ? " record, " : " records, ", candidates,
                                  checked == 1 && total <= 1 ? " candidate" : " candidates", " checked in ", duration,
                                  " (", rate(checked), " candidates/s, ", rate(s.records), " records/s), ",
                                  WithSeparators(s.batches), s.batches == 1 ? " batch" : " batches");
  if (s.first_batch_ms >= 0) absl::StrAppend(&line, absl::StrFormat(", first batch after %.1f ms", s.first_batch_ms));
  if (!s.stopped.empty()) absl::StrAppend(&line, "; stopped early: ", s.stopped);
  return line;
}

}  // namespace squatstream::client
