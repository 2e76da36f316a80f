// PaceController: how fast to ask one resolver — AIMD on a rate in queries/s, with a slow start and a latency
// guard. Pure: no I/O, no clock of its own (the caller passes the time), one owner (the resolver's strand).
//
// Why AIMD: what a resolver says when it has had enough is loss — unbound's ip-ratelimit drops, its ratelimit
// and many home routers answer SERVFAIL or REFUSED, a saturated one times out — and additive increase with
// multiplicative decrease is the controller that converges on such a signal and shares a resolver fairly
// between scanners (Chiu and Jain; TCP's congestion avoidance). A latency-only controller (Vegas, a gradient)
// would be steered by what it cannot tell apart from queueing through a recursive resolver — the upstream
// round trips of cache misses, which differ by TLD and name — so latency here is a guard, not the signal: a
// round whose median latency doubles over the lowest recent one (plus a slack for jitter) backs off gently.
//
// Rounds: the controller decides once per round — at least `min_round` and the base latency (a round trip), and
// `min_round_answers` answers, or a second with at least one — from the answers in it. Failures (timeouts,
// SERVFAIL, REFUSED, no usable answer) count as congestion only above what the resolver gave at rest: their share
// is compared with the median share of the recent rounds (the base) plus three standard deviations of a round
// that size (at least 5 points), so that names that fail whatever the rate (lame delegations, a squatter's broken
// zone) do not hold the rate down, nor does chance; with no base yet only a burst (half failing) counts. After a
// decrease, answers to queries sent before it are not counted (one decrease per round trip, as TCP does): the epoch
// a query was sent in tells them apart.
//
// Undo: REFUSED and SERVFAIL are answers a busy resolver gives, but also what a zone or a policy gives certain
// names whatever the rate (lame delegations; an authoritative server asked for names outside its zones) — and
// the likely-first order asks such names in runs. A decrease for them is judged: if their share has not at
// least halved at the lower rate within 3 s (past unbound's two-second rate windows), the rate comes back and
// that share becomes the base; until then no second decrease for them.
//
// Decrease: a loss halves the rate, and brings it no higher than the answers that came back in the last second
// (a resolver that lets a second's quota through at once and drops the rest, as unbound's ip-ratelimit does,
// shows its quota there); a latency rise lowers it by a fifth.
//
// Growth, as TCP's: the rate doubles each round (slow start) up to a threshold — none at first; after a backoff
// episode (decreases in consecutive rounds, as when a resolver drops everything for a while) the rate after
// its first decrease — then rises by a step per round, 5% of that rate: after a resolver heals the rate is back near
// what it took within a few rounds, not a few minutes. And never past twice the rate answers came back at in the round
// (a resolver that drops shows it there before its losses are counted). It rises only in a round in which queries
// waited for the rate (a rate nobody uses is not a rate the resolver has been shown to take). Never below `floor_qps`,
// never above `ceiling_qps`.
#ifndef SQUATSTREAM_WORKERS_DNS_PACE_CONTROLLER_H_
#define SQUATSTREAM_WORKERS_DNS_PACE_CONTROLLER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <vector>

namespace squatstream::workers::dns {

struct PaceOptions {
  double start_qps = 100;  // the old fixed default: polite to any resolver at first
  double floor_qps = 10;   // the rate never goes below this
  double ceiling_qps = 0;  // nor above this; 0: no ceiling
  std::chrono::milliseconds min_round{50};
  std::size_t min_round_answers = 16;
  double loss_excess = 0.05;  // failure share over the base that is congestion
  std::size_t min_failures = 3;
  double latency_factor = 2;
  std::chrono::milliseconds latency_slack{10};
  // A query unanswered this long past the base latency (and this many times it) is counted lost at once
  // (LateAfter): a resolver that drops shows it within a round trip or two, not after the try's timeout.
  double late_factor = 4;
  std::chrono::milliseconds late_slack{100};
  double loss_decrease = 0.5;     // the rate after a loss decrease, as a fraction of before
  double latency_decrease = 0.8;  // and after a latency one
};

enum class PaceState { kSlowStart, kIncrease, kBackoff, kCeiling };
inline constexpr std::array<const char*, 4> kPaceStateNames = {"slow_start", "increase", "backoff", "ceiling"};

// What one try of a query ended with.
enum class Outcome { kAnswered, kServerFailure, kRefusal, kTimeout, kError };

enum class BackoffReason { kTimeout, kRefusal, kServerFailure, kError, kLatency };
inline constexpr std::array<const char*, 5> kBackoffReasonNames = {"timeout", "refused", "servfail", "error",
                                                                   "latency"};

class PaceController {
 public:
  using Clock = std::chrono::steady_clock;

  PaceController(const PaceOptions& options, Clock::time_point now);

  double rate() const { return rate_; }
  PaceState state() const { return state_; }
  // Rounds ended so far.
  std::uint64_t rounds() const { return rounds_; }
  // The lowest recent round median latency (zero before the first round with an answer).
  Clock::duration base_latency() const;

  // How long a query may go unanswered before the resolver reports it lost (Outcome::kTimeout, and not
  // again when its answer or timeout comes); zero until a latency is known.
  Clock::duration LateAfter() const;

  // A query is sent: the epoch to hand back with its answer.
  std::uint64_t OnSent() const { return epoch_; }
  // The answer to a try already reported lost (late): it still came back, and counts in what the resolver took.
  void OnLateAnswer(Clock::time_point now);
  // Queries waited for this controller's rate (it bound).
  void OnLimited() { limited_ = true; }
  // A try's outcome. Returns why the rate went down, when this answer ended a round with a decrease.
  std::optional<BackoffReason> OnAnswer(Clock::time_point now, std::uint64_t epoch, Outcome outcome,
                                        Clock::duration latency);

 private:
  std::optional<BackoffReason> EndRound(Clock::time_point now);
  void CountDelivered(Clock::time_point now);
  // Answers per second over the last second.
  double DeliveredRate(Clock::time_point now) const;

  static constexpr Clock::duration kDeliveredBucket = std::chrono::milliseconds(100);
  double Bounded(double rate) const;

  const PaceOptions options_;
  const Clock::time_point created_;
  double rate_;
  PaceState state_ = PaceState::kSlowStart;
  // Below it the rate doubles per round (slow start), above it rises by step_: set when a backoff episode
  // (decreases in consecutive rounds) begins, to the rate after its first decrease, and the step to 5% of it.
  double threshold_ = std::numeric_limits<double>::infinity();
  double step_ = 0;
  // The last decrease for REFUSED or SERVFAIL answers, until judged (EndRound): the rate before it, the share
  // that caused it, when.
  struct Undo {
    double rate;
    double share;
    Clock::time_point at;
  };
  std::optional<Undo> undo_;
  std::uint64_t epoch_ = 0;
  std::uint64_t rounds_ = 0;
  bool limited_ = false;

  // The round.
  Clock::time_point round_start_;
  std::size_t answers_ = 0;
  std::array<std::size_t, 5> failures_{};  // by Outcome (kAnswered's unused)
  std::vector<Clock::duration> latencies_;

  // Answers of the last second, in buckets of kDeliveredBucket: (bucket number since creation, answers).
  std::array<std::pair<std::int64_t, std::size_t>, 10> delivered_{};
  std::deque<double> recent_shares_;                                            // failure shares of recent full rounds
  std::deque<std::pair<Clock::time_point, Clock::duration>> recent_latencies_;  // round medians, 30 s
};

}  // namespace squatstream::workers::dns

#endif  // SQUATSTREAM_WORKERS_DNS_PACE_CONTROLLER_H_
