#include "watch/differ.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "squatstream/v1/internal/watch_state.pb.h"
#include "watch/fingerprint.h"
#include "watch/proto_time.h"

namespace squatstream::watch {
namespace {

using State = v1::internal::WatchCandidateState;

// A verdict with its fingerprint and the groups of it that are known: what is confirmed, pending or seen.
struct Value {
  v1::DnsVerdict verdict = v1::DNS_VERDICT_UNSPECIFIED;
  v1::Fingerprint fingerprint;
  std::uint32_t known = 0;
};

State Decode(const store::ObservationRow& row) {
  State s;
  if (!row.state.empty() && s.ParseFromString(row.state)) return s;
  // No state of ours (or one that does not parse): the row's verdict, nothing of the fingerprint known.
  s.Clear();
  s.set_confirmed(row.verdict != v1::DNS_VERDICT_UNKNOWN && row.verdict != v1::DNS_VERDICT_UNSPECIFIED);
  s.set_verdict(s.confirmed() ? row.verdict : v1::DNS_VERDICT_UNSPECIFIED);
  *s.mutable_fingerprint() = EmptyFingerprint();
  return s;
}

Value Confirmed(const State& s) {
  if (!s.confirmed()) return Value{v1::DNS_VERDICT_UNSPECIFIED, EmptyFingerprint(), 0};
  return Value{s.verdict(), s.fingerprint(), s.known()};
}

Value Pending(const State& s) { return Value{s.pending_verdict(), s.pending_fingerprint(), s.pending_known()}; }

void SetConfirmed(const Value& v, State* s) {
  s->set_confirmed(true);
  s->set_verdict(v.verdict);
  *s->mutable_fingerprint() = v.fingerprint;
  s->set_known(v.known);
}

void ClearPending(State* s) {
  s->clear_pending_verdict();
  s->clear_pending_fingerprint();
  s->clear_pending_known();
  s->clear_pending_scans();
}

// `seen` with the groups it does not know taken from `base`, when both are registered (a group this scan
// could not see keeps the value it had). Across a change of registration nothing is carried over: a name
// that appears has only what this scan saw.
Value Merge(const Observed& seen, const Value& base) {
  Value v{seen.verdict, seen.fingerprint, seen.known};
  if (IsRegistered(seen.verdict) && IsRegistered(base.verdict)) {
    const std::uint32_t missing = base.known & ~seen.known;
    CopyGroups(base.fingerprint, missing, &v.fingerprint);
    v.known |= missing;
  }
  return v;
}

// Whether two values say the same: the same verdict and, registered, the same fields in the groups both know.
bool Agree(const Value& a, const Value& b) {
  if (a.verdict != b.verdict) return false;
  return !IsRegistered(a.verdict) || DiffFingerprints(a.fingerprint, b.fingerprint, a.known & b.known).empty();
}

bool Silenced(v1::Triage triage) {
  return triage == v1::TRIAGE_OWNED || triage == v1::TRIAGE_IGNORED || triage == v1::TRIAGE_FALSE_POSITIVE;
}

// A time that was set: neither of the infinities that stand for "never".
bool IsSet(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

v1::FieldChange VerdictChange(const State& before, v1::DnsVerdict after) {
  v1::FieldChange c;
  c.set_field("verdict");
  c.set_before(before.confirmed() ? VerdictName(before.verdict()) : "");
  c.set_after(VerdictName(after));
  return c;
}

// What one candidate's scan decided.
struct Outcome {
  bool changed = false;  // its row is written (state, verdict or record)
  v1::EventType event = v1::EVENT_TYPE_UNSPECIFIED;
  std::vector<v1::FieldChange> changes;
  std::string zone;  // the wildcard zone its event speaks for ("" for none)
};

// The baseline: what this scan saw is confirmed as it is (UNKNOWN leaves the state as it was).
Outcome Baseline(const Observed& seen, absl::Time now, State* s, store::ObservationRow* row) {
  Outcome out;
  if (seen.verdict == v1::DNS_VERDICT_UNKNOWN) return out;
  SetConfirmed(Value{seen.verdict, seen.fingerprint, seen.known}, s);
  ClearPending(s);
  if (IsRegistered(seen.verdict) && row->first_seen == absl::InfinitePast()) row->first_seen = row->last_changed = now;
  out.changed = true;
  return out;
}

// A later scan: debounce, then what the confirmed change means.
Outcome Rescan(const Observed& seen, int confirmations, absl::Time now, State* s, store::ObservationRow* row) {
  Outcome out;
  if (seen.verdict == v1::DNS_VERDICT_UNKNOWN) return out;  // counts for nothing, against nothing
  const Value confirmed = Confirmed(*s);
  Value now_seen = Merge(seen, confirmed);
  const bool agrees = s->confirmed() ? Agree(now_seen, confirmed) : !IsRegistered(now_seen.verdict);
  // The pending change is compared on what this scan saw only: a group it could not see (merged from the
  // confirmed value) says nothing for or against it.
  const bool pending = s->pending_scans() > 0;
  const Value was_pending = Pending(*s);
  const bool agrees_pending =
      pending && now_seen.verdict == was_pending.verdict &&
      (!IsRegistered(now_seen.verdict) ||
       DiffFingerprints(now_seen.fingerprint, was_pending.fingerprint, seen.known & was_pending.known).empty());
  if (agrees) {
    if (!s->confirmed()) {  // never registered, now seen not to be: nothing to say
      SetConfirmed(now_seen, s);
      out.changed = true;
    } else if (const std::uint32_t learnt = now_seen.known & ~confirmed.known;
               learnt != 0 && IsRegistered(now_seen.verdict)) {
      // A group no scan could see before (its stage failed, or was not run): learnt, not a change.
      CopyGroups(now_seen.fingerprint, learnt, s->mutable_fingerprint());
      s->set_known(confirmed.known | learnt);
      out.changed = true;
    }
    // Back to what was confirmed: the pending change did not hold. (A pending change this scan agrees with too
    // is in a group it could not see: it stays as it is.)
    if (pending && !agrees_pending) {
      ClearPending(s);
      out.changed = true;
    }
    return out;
  }

  std::uint32_t count = 1;
  if (agrees_pending) {
    count = s->pending_scans() + 1;
    if (IsRegistered(now_seen.verdict)) {
      // The pending value, with what this scan saw in it.
      Value next = was_pending;
      CopyGroups(seen.fingerprint, seen.known, &next.fingerprint);
      next.known |= seen.known;
      now_seen = std::move(next);
    }
  }
  out.changed = true;
  if (count < static_cast<std::uint32_t>(confirmations)) {
    s->set_pending_verdict(now_seen.verdict);
    *s->mutable_pending_fingerprint() = now_seen.fingerprint;
    s->set_pending_known(now_seen.known);
    s->set_pending_scans(count);
    return out;
  }

  // Confirmed: the change is what the events say.
  const bool was = s->confirmed() && IsRegistered(confirmed.verdict);
  const bool is = IsRegistered(now_seen.verdict);
  if (!was && is) {
    out.event = v1::EVENT_TYPE_APPEARED;
    out.changes.push_back(VerdictChange(*s, now_seen.verdict));
  } else if (was && !is) {
    out.event = v1::EVENT_TYPE_GONE;
    out.changes.push_back(VerdictChange(*s, now_seen.verdict));
  } else if (was && is) {
    out.event = v1::EVENT_TYPE_CHANGED;
    if (confirmed.verdict != now_seen.verdict) out.changes.push_back(VerdictChange(*s, now_seen.verdict));
    for (v1::FieldChange& c :
         DiffFingerprints(confirmed.fingerprint, now_seen.fingerprint, confirmed.known & now_seen.known)) {
      out.changes.push_back(std::move(c));
    }
  }
  // The zone whose wildcard answers for the name (after the change; before it, for GONE).
  const Value& answered = out.event == v1::EVENT_TYPE_GONE ? confirmed : now_seen;
  if (answered.verdict == v1::DNS_VERDICT_WILDCARD) out.zone = answered.fingerprint.wildcard_zone();
  SetConfirmed(now_seen, s);
  ClearPending(s);
  if (out.event != v1::EVENT_TYPE_UNSPECIFIED) row->last_changed = now;
  if (is && row->first_seen == absl::InfinitePast()) row->first_seen = now;
  return out;
}

}  // namespace

store::ScanCommit EvaluateScan(ScanInput input) {
  const store::WatchRow& watch = *input.watch;
  const bool baseline = !watch.baseline_done;
  const int confirmations = input.confirmations < 1 ? 1 : input.confirmations;

  store::ScanCommit commit;
  commit.watch_id = watch.id;
  commit.lease_owner = std::move(input.lease_owner);
  commit.scanned_at = input.now;
  commit.next_scan = input.next_scan;
  commit.outcome = "ok";
  commit.baseline_done = true;

  // Candidates stored but not in this scan (the watch's kinds or cap changed): marked absent once. (Before the
  // loop below, which moves the previous rows.)
  {
    std::unordered_set<std::string_view> in_scan;
    in_scan.reserve(input.records.size());
    for (const v1::Record& record : input.records) in_scan.insert(record.domain_ascii());
    for (const store::ObservationRow& row : input.previous) {
      if (!row.absent && !in_scan.contains(row.candidate)) commit.absent.push_back(row.candidate);
    }
  }

  std::unordered_map<std::string, store::ObservationRow*> previous;
  previous.reserve(input.previous.size());
  for (store::ObservationRow& row : input.previous) previous.emplace(row.candidate, &row);

  v1::BaselineSummary summary;
  std::set<std::string> baseline_zones;
  std::set<std::string> done;                         // candidates already taken (a record given twice)
  std::set<std::pair<std::string, int>> zone_events;  // (wildcard zone, event type) already said this scan
  for (v1::Record& record : input.records) {
    if (!done.insert(record.domain_ascii()).second) continue;
    const Observed seen = Observe(record);
    if (baseline) {
      summary.set_candidates(summary.candidates() + 1);
      if (seen.verdict == v1::DNS_VERDICT_UNKNOWN) summary.set_unknown(summary.unknown() + 1);
      if (seen.verdict == v1::DNS_VERDICT_REGISTERED ||
          (seen.verdict == v1::DNS_VERDICT_WILDCARD &&
           (seen.fingerprint.wildcard_zone().empty() ||
            baseline_zones.insert(seen.fingerprint.wildcard_zone()).second))) {
        summary.set_registered(summary.registered() + 1);
      }
    }

    const auto it = previous.find(record.domain_ascii());
    const bool is_new = it == previous.end();
    store::ObservationRow row;
    State state;
    if (is_new) {
      row.candidate = record.domain_ascii();
      row.candidate_unicode = record.domain_unicode();
      row.kind = record.kind();
      *state.mutable_fingerprint() = EmptyFingerprint();
    } else {
      row = std::move(*it->second);
      state = Decode(row);
    }

    // A candidate new to the watch after its baseline (its kinds or cap grew, the engine learnt a kind) is
    // baselined too: what was there all along is not news, or widening a watch would flood it with APPEARED.
    Outcome out = baseline || is_new ? Baseline(seen, input.now, &state, &row)
                                     : Rescan(seen, confirmations, input.now, &state, &row);
    // Nothing changed: nothing written (its last_seen is the watch's last_scan, which the commit sets). A
    // candidate back in the scans after it was absent is written once, to say it is here again.
    if (!is_new && !out.changed && !row.absent) continue;
    row.absent = false;
    row.candidate_unicode = record.domain_unicode();
    row.kind = record.kind();
    row.verdict = state.confirmed() ? state.verdict() : v1::DNS_VERDICT_UNKNOWN;
    row.state = state.SerializeAsString();
    row.record = record.SerializeAsString();
    row.last_seen = input.now;

    if (out.event != v1::EVENT_TYPE_UNSPECIFIED && !Silenced(row.triage) &&
        (out.zone.empty() || zone_events.emplace(out.zone, out.event).second)) {
      v1::WatchEvent& e = commit.events.emplace_back();
      e.set_watch(watch.domain);
      e.set_type(out.event);
      SetTimestamp(input.now, e.mutable_time());
      e.set_candidate_ascii(row.candidate);
      e.set_candidate_unicode(row.candidate_unicode);
      e.set_kind(record.kind());
      for (v1::FieldChange& c : out.changes) *e.add_changes() = std::move(c);
      *e.mutable_record() = std::move(record);
    }
    (is_new ? commit.inserts : commit.updates).push_back(std::move(row));
  }

  if (baseline) {
    v1::WatchEvent e;
    e.set_watch(watch.domain);
    e.set_type(v1::EVENT_TYPE_BASELINE);
    SetTimestamp(input.now, e.mutable_time());
    *e.mutable_baseline() = summary;
    commit.events.insert(commit.events.begin(), std::move(e));
  }
  return commit;
}

v1::Observation ToObservation(const store::WatchRow& watch, const store::ObservationRow& row) {
  v1::Observation o;
  const State s = Decode(row);
  o.set_watch(watch.domain);
  o.set_candidate_ascii(row.candidate);
  o.set_candidate_unicode(row.candidate_unicode);
  o.set_kind(row.kind);
  o.set_verdict(row.verdict);
  *o.mutable_fingerprint() = s.confirmed() ? s.fingerprint() : EmptyFingerprint();
  if (IsSet(row.first_seen)) SetTimestamp(row.first_seen, o.mutable_first_seen());
  // A candidate in the watch's last scan was seen then (store.h: nothing of it is written when nothing changed);
  // the later of the two covers a row written by a scan committed after `watch` was read.
  const absl::Time last_seen = row.absent ? row.last_seen : std::max(watch.last_scan, row.last_seen);
  if (IsSet(last_seen)) SetTimestamp(last_seen, o.mutable_last_seen());
  if (IsSet(row.last_changed)) SetTimestamp(row.last_changed, o.mutable_last_changed());
  o.set_triage(row.triage);
  o.set_triage_note(row.triage_note);
  if (!row.record.empty() && !o.mutable_record()->ParseFromString(row.record)) o.clear_record();
  o.set_pending_scans(s.pending_scans());
  return o;
}

}  // namespace squatstream::watch
