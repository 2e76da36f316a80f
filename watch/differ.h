// Differ: what one scan of a watch means — compares the scan's records with what the store remembers of each
// candidate and decides what to write (observations) and what to say (events). Pure: no I/O, no clock; the
// scheduler loads the observations, calls EvaluateScan and commits what it returns in one transaction.
//
// Rules (docs/WATCH.md):
// - The first complete scan is the baseline: every candidate observed, one BASELINE event with the counts,
//   no event per name.
// - A candidate's verdict and fingerprint (fingerprint.h) are *confirmed* only after `confirmations`
//   consecutive scans agree on the same new value; until then the change is pending (Observation.pending_scans)
//   and says nothing. Then: APPEARED (not registered -> REGISTERED/WILDCARD), GONE (-> UNREGISTERED), CHANGED
//   (registered both times, the fingerprint's fields differ: each field before and after).
// - UNKNOWN (SERVFAIL, timeout, a failed lookup) never counts for or against anything: the candidate keeps its
//   confirmed state and its pending count.
// - Names answered by the same wildcard zone count once per zone: one event for the zone (its first name in
//   candidate order), the zone's other names observed silently.
// - Triage OWNED, IGNORED and FALSE_POSITIVE silence a candidate's events (its observation still follows the
//   scans); MALICIOUS keeps them.
#ifndef SQUATSTREAM_WATCH_DIFFER_H_
#define SQUATSTREAM_WATCH_DIFFER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "squatstream/v1/watch.pb.h"
#include "store/store.h"

namespace squatstream::watch {

struct ScanInput {
  const store::WatchRow* watch = nullptr;
  std::vector<store::ObservationRow> previous;  // Store::LoadObservations (records empty)
  std::vector<v1::Record> records;              // every candidate of this scan, complete
  int confirmations = 2;                        // --watch_confirmations, at least 1
  absl::Time now;
  std::string lease_owner;
  absl::Time next_scan;
};

// The commit of one complete scan (ScanCommit's lease, times and outcome filled from `input`). A candidate whose
// observation did not change is in none of its lists: a rescan where nothing changed writes no observation.
// Candidates stored but not in `records` (the watch's kinds or cap changed) are in `absent`, once (not when
// they are absent already); one that comes back is an update with absent = false, changed or not.
store::ScanCommit EvaluateScan(ScanInput input);

// The API's view of a stored observation (its state decoded: the confirmed fingerprint, pending scans). Its
// last_seen: an absent row's own; else the watch's last_scan (the candidate was in it), unset when never.
v1::Observation ToObservation(const store::WatchRow& watch, const store::ObservationRow& row);

}  // namespace squatstream::watch

#endif  // SQUATSTREAM_WATCH_DIFFER_H_
