// `squatstream watch VERB ...`: the CLI of squatstreamd's WatchService (proto/squatstream/v1/watch.proto) —
// add, list, scan, rm, events, triage and show. How each verb's command line is read, how watches and events
// are printed (table, JSON lines, CSV), which exit code a call's end gets and its one error line: pure
// functions, tested in tests/client/watch_cli_test.cc. RunWatch makes the calls; client/main.cc hands it the
// command line when its first argument that is no flag is "watch".
//
// The verbs' flags are read here, per verb, not as absl's global flags: a verb takes only its own flags (a
// scan flag such as --registered given to `watch list` is a usage error, not silently ignored), and the scan
// command's --help, --helpfull and docs/FLAGS.md stay as they are. Spellings are the scan command's
// (base/flag_usage.h: --max-candidates, "--since 42", -h, -f csv; an unknown flag is named with the closest).
#ifndef SQUATSTREAM_CLIENT_WATCH_CLI_H_
#define SQUATSTREAM_CLIENT_WATCH_CLI_H_

#include <signal.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/cli.h"
#include "client/output.h"
#include "squatstream/v1/watch.pb.h"

namespace squatstream::client {

enum class WatchVerb { kAdd, kList, kScan, kRemove, kEvents, kTriage, kShow };

// The verb as the command line spells it ("add", "rm", ...).
absl::string_view WatchVerbName(WatchVerb verb);

// A `squatstream watch` command line, read.
struct WatchCommand {
  std::optional<WatchVerb> verb;  // none: `squatstream watch` alone (usage, exit 2) or `watch --help`
  bool help = false;              // -h, --help: WatchUsage() on stdout, exit 0
  std::string server;             // --server; "": $SQUATSTREAM_SERVER, else 127.0.0.1:50051
  // The watch: add, scan, rm, triage, show; events: "" for every watch. A URL argument is reduced to its host
  // (ReduceUrl) and `notes` holds the note to print.
  std::string domain;
  std::vector<std::string> notes;
  v1::WatchSettings settings;      // add: --every, --kinds, --enrichers, --max_candidates, --webhook(_secret)
  Format format = Format::kTable;  // list, events: table, json or csv
  std::uint64_t since = 0;         // events: after this event id
  bool follow = false;             // events: then each new one, until Ctrl-C
  std::string candidate;           // triage
  v1::Triage triage = v1::TRIAGE_UNSPECIFIED;
  std::string note;  // triage --note
  // Every verb: the connection flags given (client/channel.h's ConnectionFlags: --tls, --tls_ca_file, ...,
  // --api_key_file), name without "--" and value ("true"/"false" for --tls), in ConnectionFlags() order; RunWatch
  // sets them (SetConnectionFlag) before it makes the channel.
  std::vector<std::pair<std::string, std::string>> connection;
};

// Where "watch" is on the command line `args` (argv, the program first): the index of the first argument that
// is neither a flag nor the value of a flag given as its next argument ("--server HOST:PORT watch list"), when
// that argument is "watch"; nullopt otherwise (the scan command: `squatstream example.com`).
std::optional<std::size_t> FindWatchCommand(const std::vector<std::string>& args);

// Reads a watch command line: `args` is argv without the program and without the "watch" argument (flags may
// come before the verb, after it, or both). INVALID_ARGUMENT with the message to print (exit 2) for a usage
// error: an unknown verb or flag (naming the closest), a flag the verb does not take (listing those it
// takes), a missing or extra argument, a bad duration, kind, enricher, format, triage or number.
absl::StatusOr<WatchCommand> ParseWatchCommand(const std::vector<std::string>& args);

// `squatstream watch --help`: every verb, its arguments and flags, the exit codes.
std::string WatchUsage();

// --every: absl::ParseDuration's units (90s, 30m, 6h, 1h30m) plus days ("1d", "1.5d", "1d12h"). A positive
// whole number of seconds; INVALID_ARGUMENT naming the value otherwise.
absl::StatusOr<absl::Duration> ParseEvery(absl::string_view text);

// An interval as --every spells it, at most its three largest units: "6h", "1d", "1m30s", "1d12h", "0s".
std::string FormatEvery(absl::Duration d);

// `t` relative to `now`, its two largest units: "5m ago", "in 2h30m", "now" (within a second).
std::string FormatRelative(absl::Time t, absl::Time now);

// "owned", "ignored", "false-positive", "malicious" (any case, '-' or '_'); INVALID_ARGUMENT listing the four.
absl::StatusOr<v1::Triage> ParseTriage(absl::string_view text);
// The triage as the CLI spells it ("false-positive"); "none" for UNSPECIFIED.
std::string TriageName(v1::Triage triage);
// The event type as the CLI prints it: "baseline", "appeared", "changed", "gone".
std::string EventTypeName(v1::EventType type);

// The watches of `watch list`: a table (DOMAIN, EVERY, LAST SCAN, NEXT SCAN, REGISTERED, BASELINE, WEBHOOK;
// times relative to `now`; nothing when there are none), one Watch per line as JSON (proto field names), or
// CSV with its header (always; times RFC 3339 in UTC, empty when unset). Server text through Displayable.
std::string FormatWatches(const std::vector<v1::Watch>& watches, Format format, absl::Time now);

// The events of `watch events`, one line each, printed as they arrive: the header (table titles, the CSV's
// column names; "" for json) before the first, then FormatEvent for each. The table's columns have fixed
// widths (no line is known in advance), a longer cell widens its row only; the last column, CHANGED, is not
// cut. JSON: the WatchEvent as grpcurl prints it (proto field names), hidden characters escaped.
std::string EventHeader(Format format);
std::string FormatEvent(Format format, const v1::WatchEvent& event);

// What an event says changed, as one line: "addresses: 192.0.2.1 → 192.0.2.7; http_title: - → Login" ("-" for
// an empty side); a BASELINE event's counts ("812 candidates, 12 registered, 3 unknown"); "" for none.
std::string ChangesText(const v1::WatchEvent& event);

// The candidate of an event or observation: its Unicode form, with the ASCII one in parentheses when they
// differ ("bücher.de (xn--bcher-kva.de)"); "-" when there is none (BASELINE).
std::string CandidateText(absl::string_view unicode, absl::string_view ascii);

// The exit code of a watch call's end: OK 0; INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND, PERMISSION_DENIED 3
// (the user's input: a domain, an interval, a webhook, a watch or candidate that does not exist);
// UNAVAILABLE 4 before any event, 5 after (an events stream broken off); CANCELLED, ABORTED,
// DEADLINE_EXCEEDED after an event 5; anything else 1. Interrupted (Ctrl-C) is 130 and an output failure 7,
// whatever the status.
ExitCode WatchExitCode(const StreamEnd& end);

// The one error line of a failed watch call (no newline), "squatstream: <CODE>: <cause> — <next step>", the
// server's message through Displayable; "" when none is needed (OK, interrupted, output failed). `command`
// says which verb (the next step names it); `server` is the address asked.
std::string WatchErrorLine(const StreamEnd& end, const WatchCommand& command, absl::string_view server);

// The stderr line after `watch events` printed events: "squatstream: 3 events, the last 42; resume with:
// squatstream watch events example.com --since=42 --follow" (the domain, --follow and --format as given;
// "1 event").
std::string ResumeLine(const WatchCommand& command, std::uint64_t events, std::uint64_t last_id);

// Runs `squatstream watch ...`: `args` is argv without the program, "watch" removed. Every call runs under a
// CallWatcher (SIGINT must be blocked in `signals` by main, before any thread started: Ctrl-C cancels the
// call, exit 130). Returns the exit code.
int RunWatch(const std::vector<std::string>& args, const sigset_t& signals);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_WATCH_CLI_H_
