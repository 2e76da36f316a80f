#include "workers/dns/pace_controller.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace squatstream::workers::dns {
namespace {

constexpr std::size_t kMaxLatencySamples = 4096;           // per round: the median of the first ones is as good
constexpr std::size_t kRecentShares = 8;                   // rounds the failure base is the median of
constexpr auto kLatencyWindow = std::chrono::seconds(30);  // the latency base: the lowest round median in it
constexpr auto kLongestRound = std::chrono::seconds(1);
constexpr double kStepFraction = 0.05;                // of the threshold, added per round above it
constexpr auto kUndoAfter = std::chrono::seconds(3);  // past unbound's two-second rate windows
constexpr std::size_t kMinJudgedAnswers = 4;          // a round judged with fewer says nothing
constexpr double kMaxBaseShare = 0.9;                 // an undo's base: a burst of loss above it still shows

}  // namespace

PaceController::PaceController(const PaceOptions& options, Clock::time_point now)
    : options_(options), created_(now), rate_(0), round_start_(now) {
  rate_ = Bounded(options.start_qps);
  if (options_.ceiling_qps > 0 && rate_ >= options_.ceiling_qps) state_ = PaceState::kCeiling;
}

double PaceController::Bounded(double rate) const {
  rate = std::max(rate, options_.floor_qps);
  return options_.ceiling_qps > 0 ? std::min(rate, options_.ceiling_qps) : rate;
}

PaceController::Clock::duration PaceController::base_latency() const {
  Clock::duration base = Clock::duration::zero();
  for (const auto& [at, median] : recent_latencies_) {
    if (base == Clock::duration::zero() || median < base) base = median;
  }
  return base;
}

void PaceController::CountDelivered(Clock::time_point now) {
  const auto bucket = static_cast<std::int64_t>((now - created_) / kDeliveredBucket);
  auto& [index, count] = delivered_[static_cast<std::size_t>(bucket) % delivered_.size()];
  if (index != bucket) {
    index = bucket;
    count = 0;
  }
  ++count;
}

double PaceController::DeliveredRate(Clock::time_point now) const {
  const auto bucket = static_cast<std::int64_t>((now - created_) / kDeliveredBucket);
  std::size_t answers = 0;
  for (const auto& [index, count] : delivered_) {
    if (bucket - index < static_cast<std::int64_t>(delivered_.size())) answers += count;
  }
  // Over a whole second even in the first: a quota let through at once is a second's, not a fraction's.
  return static_cast<double>(answers) /
         std::chrono::duration<double>(kDeliveredBucket * static_cast<int>(delivered_.size())).count();
}

void PaceController::OnLateAnswer(Clock::time_point now) { CountDelivered(now); }

PaceController::Clock::duration PaceController::LateAfter() const {
  const Clock::duration base = base_latency();
  if (base == Clock::duration::zero()) return base;
  return std::max<Clock::duration>(std::chrono::duration_cast<Clock::duration>(options_.late_factor * base),
                                   base + options_.late_slack);
}

std::optional<BackoffReason> PaceController::OnAnswer(Clock::time_point now, std::uint64_t epoch, Outcome outcome,
                                                      Clock::duration latency) {
  if (outcome == Outcome::kAnswered) CountDelivered(now);
  if (epoch != epoch_) return std::nullopt;  // sent before the last decrease: its fate is already counted
  ++answers_;
  if (outcome == Outcome::kAnswered) {
    if (latencies_.size() < kMaxLatencySamples) latencies_.push_back(latency);
  } else {
    ++failures_[static_cast<std::size_t>(outcome)];
  }
  const std::size_t failed = std::accumulate(failures_.begin(), failures_.end(), std::size_t{0});
  const Clock::duration elapsed = now - round_start_;
  // At least a round trip, so that what the last change did can show.
  const bool full = elapsed >= std::max<Clock::duration>(options_.min_round, base_latency()) &&
                    answers_ >= options_.min_round_answers;
  // Half the answers failing: no need to wait for the round's end.
  const bool burst = failed >= 2 * options_.min_failures && 2 * failed > answers_;
  if (full || burst || elapsed >= kLongestRound) return EndRound(now);
  return std::nullopt;
}

std::optional<BackoffReason> PaceController::EndRound(Clock::time_point now) {
  const std::size_t failed = std::accumulate(failures_.begin(), failures_.end(), std::size_t{0});
  const double share = answers_ == 0 ? 0 : static_cast<double>(failed) / static_cast<double>(answers_);
  // Of the failures, the answered ones (REFUSED, SERVFAIL): what an undo judges.
  const std::size_t answered_failed = failures_[static_cast<std::size_t>(Outcome::kRefusal)] +
                                      failures_[static_cast<std::size_t>(Outcome::kServerFailure)];
  const double answered_share =
      answers_ == 0 ? 0 : static_cast<double>(answered_failed) / static_cast<double>(answers_);
  // The bases before this round's share and latency join them (the undo below may reset the shares'): the
  // median of the recent rounds' shares (the minimum sat below a steady share's noise and backed off on it).
  double base_share = 0;
  if (!recent_shares_.empty()) {
    std::vector<double> sorted(recent_shares_.begin(), recent_shares_.end());
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
    base_share = sorted[sorted.size() / 2];
  }
  const Clock::duration base_latency = this->base_latency();
  std::optional<Clock::duration> median;
  if (!latencies_.empty()) {
    auto mid = latencies_.begin() + static_cast<std::ptrdiff_t>(latencies_.size() / 2);
    std::nth_element(latencies_.begin(), mid, latencies_.end());
    median = *mid;
  }
  if (answers_ >= options_.min_round_answers) {
    recent_shares_.push_back(share);
    if (recent_shares_.size() > kRecentShares) recent_shares_.pop_front();
  }
  if (median) {
    recent_latencies_.emplace_back(now, *median);
    while (recent_latencies_.size() > 1 && now - recent_latencies_.front().first > kLatencyWindow) {
      recent_latencies_.pop_front();
    }
  }

  // A decrease for answers that refused or failed, judged: if the share did not at least halve at the lower
  // rate within kUndoAfter, those answers were the names' (a zone or a policy refusing them: lame delegations,
  // an authoritative server asked for names outside its zones), not the load's — the rate comes back.
  if (undo_) {
    if (answers_ >= kMinJudgedAnswers && answered_share < 0.5 * undo_->share) {
      undo_.reset();  // the decrease helped: it was load
    } else if (now - undo_->at >= kUndoAfter) {
      rate_ = Bounded(std::max(rate_, undo_->rate));
      threshold_ = rate_;
      step_ = std::max(1.0, kStepFraction * rate_);
      if (answers_ >= kMinJudgedAnswers) {
        // The new normal for these names — never so high that no loss could show above it.
        base_share = std::min(share, kMaxBaseShare);
        recent_shares_.assign(1, base_share);
      }
      undo_.reset();
    }
  }

  std::optional<BackoffReason> reason;
  // Above the base by more than chance: 3 standard deviations of a round of this many answers at the base's
  // share, and at least loss_excess.
  const double spread = answers_ == 0 ? 0
                                      : 3 * std::sqrt(std::max(base_share, 1.0 / static_cast<double>(answers_)) *
                                                      (1 - base_share) / static_cast<double>(answers_));
  // With no base yet (the first full round), only a burst — half the answers failing — is surely load.
  const bool unknown_base = recent_shares_.size() <= (answers_ >= options_.min_round_answers ? 1u : 0u);
  if (failed >= options_.min_failures && share > base_share + std::max(options_.loss_excess, spread) &&
      (!unknown_base || 2 * failed > answers_)) {
    // The outcome that failed most names the reason.
    const auto most = std::max_element(failures_.begin() + 1, failures_.end());
    switch (static_cast<Outcome>(most - failures_.begin())) {
      case Outcome::kServerFailure:
        reason = BackoffReason::kServerFailure;
        break;
      case Outcome::kRefusal:
        reason = BackoffReason::kRefusal;
        break;
      case Outcome::kTimeout:
        reason = BackoffReason::kTimeout;
        break;
      default:
        reason = BackoffReason::kError;
        break;
    }
  } else if (median && base_latency > Clock::duration::zero() &&
             *median > std::chrono::duration_cast<Clock::duration>(options_.latency_factor * base_latency) +
                           options_.latency_slack) {
    reason = BackoffReason::kLatency;
  }

  const bool answered_failures =
      reason && (*reason == BackoffReason::kRefusal || *reason == BackoffReason::kServerFailure);
  // One such decrease at a time, until it is judged: the round neither lowers nor raises the rate.
  const bool judging = answered_failures && undo_;
  if (judging) reason.reset();
  if (reason) {
    if (answered_failures) {
      undo_ = Undo{rate_, answered_share, now};
    } else {
      undo_.reset();  // a decrease of another kind: load for sure, nothing to give back
    }
    if (*reason == BackoffReason::kLatency) {
      rate_ = Bounded(rate_ * options_.latency_decrease);
    } else {
      // Halved, and no higher than what came back in the last second: a resolver that lets a second's quota
      // through at once and drops the rest shows its quota there, not in how far it let the rate climb.
      rate_ = Bounded(std::min(rate_ * options_.loss_decrease, std::max(DeliveredRate(now), options_.floor_qps)));
    }
    if (state_ != PaceState::kBackoff) {  // a new episode: slow start comes back to here
      threshold_ = rate_;
      step_ = std::max(1.0, kStepFraction * rate_);
    }
    ++epoch_;
    state_ = PaceState::kBackoff;
  } else if (!judging) {
    if (limited_) {
      double grown = rate_ < threshold_ ? std::min(2 * rate_, std::max(threshold_, rate_ + step_)) : rate_ + step_;
      // Never past twice the rate answers came back at in the round: what the resolver has shown it takes.
      const double seconds = std::chrono::duration<double>(now - round_start_).count();
      if (seconds > 0) grown = std::min(grown, std::max(rate_, 2 * static_cast<double>(answers_) / seconds));
      rate_ = Bounded(grown);
    }
    state_ = rate_ < threshold_ ? PaceState::kSlowStart : PaceState::kIncrease;
    if (options_.ceiling_qps > 0 && rate_ >= options_.ceiling_qps) state_ = PaceState::kCeiling;
  }
  ++rounds_;
  round_start_ = now;
  answers_ = 0;
  failures_ = {};
  latencies_.clear();
  limited_ = false;
  return reason;
}

}  // namespace squatstream::workers::dns
