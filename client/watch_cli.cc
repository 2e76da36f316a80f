#include "client/watch_cli.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/flag_usage.h"
#include "client/call_watcher.h"
#include "client/channel.h"
#include "client/display_width.h"
#include "client/progress.h"
#include "client/sanitize.h"
#include "client/status_details.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "squatstream/v1/watch.grpc.pb.h"

namespace squatstream::client {
namespace {

constexpr WatchVerb kVerbs[] = {WatchVerb::kAdd,    WatchVerb::kList,   WatchVerb::kScan, WatchVerb::kRemove,
                                WatchVerb::kEvents, WatchVerb::kTriage, WatchVerb::kShow};

// A unary call that gets no answer in this long fails (DEADLINE_EXCEEDED): a store that is locked or a server
// that hangs does not hang the CLI. The events stream has none (--follow runs until Ctrl-C).
constexpr absl::Duration kCallDeadline = absl::Seconds(60);

// One flag of the watch verbs. `verbs` empty: every verb takes it.
struct WatchFlag {
  std::string name;
  bool takes_value;
  std::vector<WatchVerb> verbs;
  std::string usage;  // "--every=DURATION"
  std::string help;
};

// "--tls", "--tls_ca_file=FILE", "--tls_server_name=NAME": a connection flag as the help and errors spell it.
std::string ConnectionUsage(const ConnectionFlag& c) {
  if (!c.takes_value) return absl::StrCat("--", c.name);
  return absl::StrCat("--", c.name, absl::EndsWith(c.name, "_file") ? "=FILE" : "=NAME");
}

const std::vector<WatchFlag>& WatchFlags() {
  static auto* const flags = new std::vector<WatchFlag>{
      {"every",
       true,
       {WatchVerb::kAdd},
       "--every=DURATION",
       "How often to rescan: 90s, 30m, 6h, 1d, 1d12h (default: 6h; at least the server's --watch_min_interval)."},
      {"kinds",
       true,
       {WatchVerb::kAdd},
       "--kinds=a,b",
       "Permutation kinds (e.g. addition,tld-swap; any case, - or _); default all."},
      {"enrichers",
       true,
       {WatchVerb::kAdd},
       "--enrichers=a,b",
       "Enrichers (dns,geo,whois,banner); default every stage the server runs."},
      {"max_candidates",
       true,
       {WatchVerb::kAdd},
       "--max_candidates=N",
       "Cap on candidates per scan; 0 (default): the server's default."},
      {"webhook",
       true,
       {WatchVerb::kAdd},
       "--webhook=URL",
       "POST each event as JSON to this http(s) URL (signed with --webhook_secret)."},
      {"webhook_secret",
       true,
       {WatchVerb::kAdd},
       "--webhook_secret=SECRET",
       "HMAC-SHA256 key of the webhook's Squatstream-Signature header (never shown again)."},
      {"format",
       true,
       {WatchVerb::kList, WatchVerb::kEvents},
       "--format=table|json|csv",
       "table (default), json (one object per line, proto field names) or csv (with a header)."},
      {"since",
       true,
       {WatchVerb::kEvents},
       "--since=EVENT_ID",
       "Only the events after this id (the last one printed, to resume); default 0: every event kept."},
      {"follow",
       false,
       {WatchVerb::kEvents},
       "--follow",
       "Then print each new event as it is written, until Ctrl-C (exit 130)."},
      {"note", true, {WatchVerb::kTriage}, "--note=TEXT", "A note kept with the triage."},
      {"server",
       true,
       {},
       "--server=HOST:PORT",
       "squatstreamd address (default $SQUATSTREAM_SERVER or 127.0.0.1:50051)."},
  };
  // The connection flags (TLS, the API key file) are channel.h's: every verb takes them.
  for (const ConnectionFlag& c : ConnectionFlags()) {
    flags->push_back({c.name, c.takes_value, {}, ConnectionUsage(c), c.help});
  }
  flags->push_back({"help", false, {}, "--help", "This help (also -h)."});
  return *flags;
}

const WatchFlag* FindFlag(absl::string_view name) {
  for (const WatchFlag& f : WatchFlags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool Takes(const WatchFlag& flag, WatchVerb verb) {
  return flag.verbs.empty() || std::find(flag.verbs.begin(), flag.verbs.end(), verb) != flag.verbs.end();
}

std::string VerbFlagList(WatchVerb verb) {
  std::vector<std::string> names;
  for (const WatchFlag& f : WatchFlags()) {
    if (Takes(f, verb)) names.push_back(absl::StrCat("--", f.name));
  }
  return absl::StrJoin(names, ", ");
}

std::optional<WatchVerb> VerbNamed(absl::string_view name) {
  for (WatchVerb v : kVerbs) {
    if (WatchVerbName(v) == name) return v;
  }
  return std::nullopt;
}

std::string VerbNames() {
  std::vector<std::string> names;
  for (WatchVerb v : kVerbs) names.emplace_back(WatchVerbName(v));
  return absl::StrJoin(names, ", ");
}

// The verb a user coming from other tools may have meant.
std::string VerbHint(absl::string_view name) {
  static const auto* const aliases = new std::map<std::string, std::string, std::less<>>{
      {"remove", "rm"},   {"delete", "rm"},   {"del", "rm"},        {"ls", "list"},         {"create", "add"},
      {"new", "add"},     {"get", "show"},    {"status", "show"},   {"annotate", "triage"}, {"log", "events"},
      {"tail", "events"}, {"rescan", "scan"}, {"scan-now", "scan"},
  };
  const std::string lower = absl::AsciiStrToLower(name);
  if (auto it = aliases->find(lower); it != aliases->end()) return it->second;
  std::vector<std::string> names;
  for (WatchVerb v : kVerbs) names.emplace_back(WatchVerbName(v));
  return base::ClosestFlag(lower, names);
}

absl::Status Usage(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return Usage(absl::StrCat("bad value for --", name, ": \"", Displayable(value), "\" (true or false)"));
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// RFC 3339 in UTC to the second: what the CSV and the events table print.
std::string Rfc3339(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", TimeOf(t), absl::UTCTimeZone());
}

// A duration in at most `units` of its largest units ("2d3h", "5m"), from whole seconds.
std::string Units(std::int64_t seconds, int units) {
  static constexpr std::pair<std::int64_t, char> kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  if (seconds <= 0) return "0s";
  std::string out;
  int used = 0;
  for (const auto& [size, unit] : kUnits) {
    if (used == units) break;
    const std::int64_t n = seconds / size;
    if (n > 0) {
      absl::StrAppend(&out, n, std::string(1, unit));
      seconds -= n * size;
    }
    if (n > 0 || used > 0) ++used;  // units counted from the largest non-zero one, zeros included
  }
  return out;
}

std::string DomainText(const v1::Watch& w) { return CandidateText(w.domain_unicode(), w.domain()); }

// Rows (the first is the header) aligned by display width, two spaces apart, no trailing spaces.
std::string Aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? PadToWidth(row[i], widths[i] + 2) : row[i];
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  // Exact strings, escaped: what the printer leaves raw (C1, bidi isolates, ...) as \u escapes.
  return EscapeHiddenInJson(json) + "\n";
}

// "  --flag=VALUE   help..." with the help wrapped at 100 columns under itself.
std::string FlagLine(absl::string_view indent, absl::string_view usage, std::size_t usage_width,
                     absl::string_view help) {
  constexpr std::size_t kColumns = 100;
  const std::string hang(indent.size() + usage_width, ' ');
  std::string out = absl::StrCat(indent, PadToWidth(usage, usage_width)), line;
  for (absl::string_view word : absl::StrSplit(help, ' ', absl::SkipEmpty())) {
    if (!line.empty() && hang.size() + line.size() + 1 + word.size() > kColumns) {
      absl::StrAppend(&out, line, "\n", hang);
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  return absl::StrCat(out, line, "\n");
}

std::string CsvRow(const std::vector<std::string>& cells) {
  std::string row;
  for (const std::string& c : cells) absl::StrAppend(&row, row.empty() ? "" : ",", CsvCell(c));
  return row + "\n";
}

// The event table's fixed column widths (ID, TIME, WATCH, TYPE, CANDIDATE, KIND); CHANGED takes the rest.
constexpr std::size_t kEventWidths[] = {8, 22, 24, 10, 36, 24};

std::string EventTableRow(const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    line += i < std::size(kEventWidths) ? PadToWidth(cells[i], kEventWidths[i]) : cells[i];
  }
  return absl::StrCat(absl::StripTrailingAsciiWhitespace(line), "\n");
}

std::string KindText(v1::PermutationKind kind) {
  return kind == v1::PERMUTATION_KIND_UNSPECIFIED ? "" : KindName(kind);
}

std::string DefaultServer() {
  const char* env = std::getenv("SQUATSTREAM_SERVER");
  return env != nullptr && *env != '\0' ? env : "127.0.0.1:50051";
}

// The command as the user would type it again, for the next-step advice: "squatstream watch events example.com".
std::string Retyped(const WatchCommand& command) {
  std::string out = absl::StrCat("squatstream watch ", WatchVerbName(command.verb.value_or(WatchVerb::kList)));
  if (!command.domain.empty()) absl::StrAppend(&out, " ", Displayable(command.domain));
  return out;
}

}  // namespace

absl::string_view WatchVerbName(WatchVerb verb) {
  switch (verb) {
    case WatchVerb::kAdd:
      return "add";
    case WatchVerb::kList:
      return "list";
    case WatchVerb::kScan:
      return "scan";
    case WatchVerb::kRemove:
      return "rm";
    case WatchVerb::kEvents:
      return "events";
    case WatchVerb::kTriage:
      return "triage";
    case WatchVerb::kShow:
      return "show";
  }
  return "";
}

std::optional<std::size_t> FindWatchCommand(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      if (i + 1 < args.size() && args[i + 1] == "watch") return i + 1;
      return std::nullopt;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (a == "watch") return i;
      return std::nullopt;
    }
    if (absl::StrContains(a, '=')) continue;
    // "--server HOST:PORT watch list": the value of a flag given as its next argument is no command.
    const std::string spelled = base::SpellFlag(a);
    const absl::string_view name = absl::StripPrefix(absl::StripPrefix(spelled, "-"), "-");
    const WatchFlag* flag = FindFlag(name);
    if ((flag != nullptr && flag->takes_value) || name == "f") ++i;
  }
  return std::nullopt;
}

absl::StatusOr<WatchCommand> ParseWatchCommand(const std::vector<std::string>& args) {
  WatchCommand command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> given;  // flag name -> value (the last one given wins)
  std::vector<std::string> order;            // flag names as given, to name the first a verb does not take
  bool flags_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_ended || a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_ended = true;
      continue;
    }
    const std::string spelled = base::SpellFlag(a);
    const absl::string_view body = absl::StripPrefix(absl::StripPrefix(spelled, "-"), "-");
    const std::size_t eq = body.find('=');
    std::string name(body.substr(0, eq));
    std::optional<std::string> value;
    if (eq != absl::string_view::npos) value = std::string(body.substr(eq + 1));
    if (a[1] != '-' && name == "h") name = "help";
    if (a[1] != '-' && name == "f") name = "format";  // -f csv, as the scan command (dnstwist's -f)
    const WatchFlag* flag = FindFlag(name);
    if (flag == nullptr && !value && absl::StartsWith(name, "no")) {  // --nofollow, --no-follow
      const WatchFlag* negated = FindFlag(absl::StripPrefix(absl::StripPrefix(name, "no"), "_"));
      if (negated != nullptr && !negated->takes_value) {
        flag = negated;
        value = "false";
      }
    }
    if (flag == nullptr) {
      std::vector<std::string> names;
      for (const WatchFlag& f : WatchFlags()) names.push_back(f.name);
      const std::string close = base::ClosestFlag(name, names);
      return Usage(absl::StrCat("unknown flag --", Displayable(name),
                                close.empty() ? "" : absl::StrCat(" (did you mean --", close, "?)")));
    }
    if (flag->name == "help") {
      command.help = true;
      return command;
    }
    if (!value) {
      if (!flag->takes_value) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Usage(absl::StrCat("--", flag->name, " needs a value (", flag->usage, ")"));
      }
    }
    given[flag->name] = *value;
    order.push_back(flag->name);
  }

  if (positional.empty()) return command;  // `squatstream watch` alone: the usage, exit 2
  command.verb = VerbNamed(positional[0]);
  if (!command.verb) {
    const std::string hint = VerbHint(positional[0]);
    return Usage(absl::StrCat("unknown watch verb \"", Displayable(positional[0]), "\"",
                              hint.empty() ? "" : absl::StrCat(" (did you mean ", hint, "?)"),
                              "; the verbs are: ", VerbNames()));
  }
  const WatchVerb verb = *command.verb;
  const std::string verb_name(WatchVerbName(verb));
  for (const std::string& name : order) {
    if (!Takes(*FindFlag(name), verb)) {
      return Usage(
          absl::StrCat("--", name, " does not apply to `watch ", verb_name, "`; its flags are: ", VerbFlagList(verb)));
    }
  }
  positional.erase(positional.begin());

  // The arguments each verb takes.
  std::size_t least = 1, most = 1;
  std::string example = absl::StrCat("squatstream watch ", verb_name, " example.com");
  switch (verb) {
    case WatchVerb::kList:
      least = most = 0;
      break;
    case WatchVerb::kEvents:
      least = 0;
      break;
    case WatchVerb::kTriage:
      least = most = 3;
      example = "squatstream watch triage example.com examp1e.com malicious";
      break;
    default:
      break;
  }
  if (positional.size() < least) {
    return Usage(verb == WatchVerb::kTriage
                     ? absl::StrCat("`watch triage` takes the watch, the candidate and the triage (owned, ignored, "
                                    "false-positive or malicious), e.g.: ",
                                    example)
                     : absl::StrCat("give the watched domain, e.g.: ", example));
  }
  if (positional.size() > most) {
    return Usage(absl::StrCat("`watch ", verb_name, "` takes ",
                              most == 0   ? "no argument"
                              : most == 1 ? (least == 0 ? "at most one domain" : "one domain")
                                          : "three arguments",
                              "; unexpected \"", Displayable(positional[most]), "\""));
  }
  if (!positional.empty()) {
    DomainArgument d = ReduceUrl(positional[0]);
    command.domain = std::move(d.domain);
    if (!d.note.empty()) command.notes.push_back(std::move(d.note));
  }
  if (verb == WatchVerb::kTriage) {
    command.candidate = positional[1];
    absl::StatusOr<v1::Triage> triage = ParseTriage(positional[2]);
    if (!triage.ok()) return triage.status();
    command.triage = *triage;
  }

  // The flags' values.
  if (auto it = given.find("server"); it != given.end()) {
    if (it->second.empty()) return Usage("--server needs an address (--server=HOST:PORT)");
    command.server = it->second;
  }
  if (auto it = given.find("every"); it != given.end()) {
    absl::StatusOr<absl::Duration> every = ParseEvery(it->second);
    if (!every.ok()) return every.status();
    command.settings.set_interval_seconds(static_cast<std::uint64_t>(absl::ToInt64Seconds(*every)));
  }
  if (auto it = given.find("kinds"); it != given.end()) {
    absl::StatusOr<std::vector<v1::PermutationKind>> kinds = ParseKinds(it->second);
    if (!kinds.ok()) return kinds.status();
    for (v1::PermutationKind k : *kinds) command.settings.add_kinds(k);
  }
  if (auto it = given.find("enrichers"); it != given.end()) {
    absl::StatusOr<std::vector<v1::Enricher>> enrichers = ParseEnrichers(it->second);
    if (!enrichers.ok()) return enrichers.status();
    for (v1::Enricher e : *enrichers) command.settings.add_enrichers(e);
  }
  if (auto it = given.find("max_candidates"); it != given.end()) {
    std::uint32_t n = 0;
    if (!absl::SimpleAtoi(it->second, &n)) {
      return Usage(absl::StrCat("bad value for --max_candidates: \"", Displayable(it->second),
                                "\" (a whole number, 0 for the server's default)"));
    }
    command.settings.set_max_candidates(n);
  }
  if (auto it = given.find("webhook"); it != given.end()) {
    if (it->second.empty()) return Usage("--webhook needs a URL (--webhook=https://...)");
    command.settings.set_webhook_url(it->second);
  }
  if (auto it = given.find("webhook_secret"); it != given.end()) {
    if (command.settings.webhook_url().empty()) {
      return Usage("--webhook_secret signs the webhook's requests: give --webhook=URL with it");
    }
    if (it->second.empty()) return Usage("--webhook_secret needs a value (--webhook_secret=SECRET)");
    command.settings.set_webhook_secret(it->second);
  }
  if (auto it = given.find("format"); it != given.end()) {
    absl::StatusOr<Format> format = ParseFormat(it->second);
    if (!format.ok() || *format == Format::kList) {
      return Usage(absl::StrCat("unknown format \"", Displayable(it->second), "\" for `watch ", verb_name,
                                "`: the formats are table, json and csv"));
    }
    command.format = *format;
  }
  if (auto it = given.find("since"); it != given.end()) {
    if (!absl::SimpleAtoi(it->second, &command.since)) {
      return Usage(
          absl::StrCat("bad value for --since: \"", Displayable(it->second), "\" (an event id: the last one printed)"));
    }
  }
  if (auto it = given.find("follow"); it != given.end()) {
    absl::StatusOr<bool> follow = ParseBool("follow", it->second);
    if (!follow.ok()) return follow.status();
    command.follow = *follow;
  }
  if (auto it = given.find("note"); it != given.end()) command.note = it->second;
  for (const ConnectionFlag& c : ConnectionFlags()) {
    auto it = given.find(c.name);
    if (it == given.end()) continue;
    if (!c.takes_value) {
      absl::StatusOr<bool> on = ParseBool(c.name, it->second);
      if (!on.ok()) return on.status();
      it->second = *on ? "true" : "false";
    } else if (it->second.empty()) {
      return Usage(absl::StrCat("--", c.name, " needs a value (", ConnectionUsage(c), ")"));
    }
    command.connection.emplace_back(c.name, it->second);
  }
  return command;
}

std::string WatchUsage() {
  std::string out =
      "Usage: squatstream watch VERB [flags] [ARGUMENTS]\n"
      "\n"
      "Watches: squatstreamd rescans a watched domain on an interval and keeps what each scan observed. The\n"
      "first complete scan is the baseline; later, a look-alike that appears, changes or is gone becomes an\n"
      "event (once consecutive scans agree), listed by `watch events` and posted to the watch's webhook.\n"
      "\n"
      "Verbs:\n";
  struct VerbUsage {
    WatchVerb verb;
    std::string synopsis;
    std::string what;
  };
  const VerbUsage verbs[] = {
      {WatchVerb::kAdd, "add DOMAIN", "watch DOMAIN; its first scan is due at once"},
      {WatchVerb::kList, "list",
       "the watches: interval, last and next scan, registered of observed, baseline, webhook"},
      {WatchVerb::kScan, "scan DOMAIN", "rescan now (as soon as a scan slot is free); prints when it is due"},
      {WatchVerb::kRemove, "rm DOMAIN", "stop watching DOMAIN; its observations and events are deleted"},
      {WatchVerb::kEvents, "events [DOMAIN]",
       "the events (of every watch, or DOMAIN's): id, time, watch, type, candidate, kind, what changed"},
      {WatchVerb::kTriage, "triage DOMAIN CANDIDATE owned|ignored|false-positive|malicious",
       "owned, ignored and false-positive silence the candidate's events; malicious keeps them"},
      {WatchVerb::kShow, "show DOMAIN", "one watch's settings and state, and its registered candidates"},
  };
  for (const VerbUsage& v : verbs) {
    absl::StrAppend(&out, "  ", v.synopsis, "\n      ", v.what, "\n");
    for (const WatchFlag& f : WatchFlags()) {
      if (f.verbs.empty() || !Takes(f, v.verb)) continue;
      out += FlagLine("      ", f.usage, 26, f.help);
    }
  }
  absl::StrAppend(&out, "\nEvery verb:\n");
  for (const WatchFlag& f : WatchFlags()) {
    if (f.verbs.empty()) out += FlagLine("  ", f.usage, 30, f.help);
  }
  absl::StrAppend(&out,
                  "\n"
                  "Examples:\n"
                  "  squatstream watch add example.com --every=1d\n"
                  "  squatstream watch add example.org --webhook=https://hooks.example/w --webhook_secret=s3cret\n"
                  "  squatstream watch list --format=csv\n"
                  "  squatstream watch events example.com --follow --format=json\n"
                  "  squatstream watch events --since=1042          # resume after the last id printed\n"
                  "  squatstream watch triage example.com examp1e.com malicious --note=\"phishing kit\"\n"
                  "\n"
                  "Flags may be spelled with dashes (--max-candidates=5); -f stands for --format.\n"
                  "\n"
                  "Exit codes:\n"
                  "  0    done\n"
                  "  1    the server failed the call (an error not listed below)\n"
                  "  2    usage error: an unknown verb or flag, a flag the verb does not take, a bad duration, kind,\n"
                  "       enricher, format or triage, a missing argument\n"
                  "  3    bad input, refused by the server: INVALID_ARGUMENT (e.g. --every under its minimum),\n"
                  "       ALREADY_EXISTS (watched already), NOT_FOUND (no such watch or candidate), PERMISSION_DENIED\n"
                  "       (a webhook address the server may not reach)\n"
                  "  4    server unreachable: no connection, or UNAVAILABLE before any event\n"
                  "  5    the events stream broke off after events arrived (resume with the --since printed)\n"
                  "  7    the output could not be written\n"
                  "  130  interrupted (Ctrl-C): events --follow ends so, printing the id to resume from\n");
  return out;
}

absl::StatusOr<absl::Duration> ParseEvery(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  const auto bad = [&] {
    return Usage(absl::StrCat("bad duration \"", Displayable(text),
                              "\" for --every: a number and a unit, e.g. 90s, 30m, 6h, 1d, 1d12h"));
  };
  if (trimmed.empty() || trimmed.find_first_of("+-") != absl::string_view::npos) return bad();
  absl::Duration total = absl::ZeroDuration();
  absl::string_view rest = trimmed;
  if (const std::size_t d = rest.find('d'); d != absl::string_view::npos) {
    const absl::string_view number = rest.substr(0, d);
    double days = 0;
    if (number.empty() || number.find_first_not_of("0123456789.") != absl::string_view::npos ||
        !absl::SimpleAtod(number, &days) || !std::isfinite(days) || days > 1e6) {
      return bad();
    }
    total += absl::Seconds(days * 86400);
    rest = rest.substr(d + 1);
  }
  if (!rest.empty()) {
    absl::Duration part;
    if (!absl::ParseDuration(rest, &part) || part == absl::InfiniteDuration()) return bad();
    total += part;
  }
  if (total <= absl::ZeroDuration()) {
    return Usage(absl::StrCat("--every must be more than 0 (got \"", Displayable(text), "\")"));
  }
  if (absl::Trunc(total, absl::Seconds(1)) != total) {
    return Usage(absl::StrCat("--every must be a whole number of seconds (got \"", Displayable(text), "\")"));
  }
  return total;
}

std::string FormatEvery(absl::Duration d) { return Units(absl::ToInt64Seconds(d), 4); }

std::string FormatRelative(absl::Time t, absl::Time now) {
  const absl::Duration d = now - t;
  const std::int64_t seconds = absl::ToInt64Seconds(absl::AbsDuration(d));
  if (seconds < 1) return "now";
  return d > absl::ZeroDuration() ? absl::StrCat(Units(seconds, 2), " ago") : absl::StrCat("in ", Units(seconds, 2));
}

absl::StatusOr<v1::Triage> ParseTriage(absl::string_view text) {
  const std::string name = CanonicalName(text);
  for (v1::Triage t : {v1::TRIAGE_OWNED, v1::TRIAGE_IGNORED, v1::TRIAGE_FALSE_POSITIVE, v1::TRIAGE_MALICIOUS}) {
    if (TriageName(t) == name) return t;
  }
  return Usage(absl::StrCat("unknown triage \"", Displayable(text),
                            "\"; the triages are: owned, ignored, false-positive, malicious"));
}

std::string TriageName(v1::Triage triage) {
  if (triage == v1::TRIAGE_UNSPECIFIED) return "none";
  return CanonicalName(absl::StripPrefix(v1::Triage_Name(triage), "TRIAGE_"));
}

std::string EventTypeName(v1::EventType type) {
  return CanonicalName(absl::StripPrefix(v1::EventType_Name(type), "EVENT_TYPE_"));
}

std::string CandidateText(absl::string_view unicode, absl::string_view ascii) {
  if (unicode.empty() && ascii.empty()) return "-";
  if (unicode.empty() || unicode == ascii) return Displayable(ascii.empty() ? unicode : ascii);
  if (ascii.empty()) return Displayable(unicode);
  return absl::StrCat(Displayable(unicode), " (", Displayable(ascii), ")");
}

std::string FormatWatches(const std::vector<v1::Watch>& watches, Format format, absl::Time now) {
  std::string out;
  switch (format) {
    case Format::kJson:
      for (const v1::Watch& w : watches) out += Json(w);
      return out;
    case Format::kCsv:
      out = CsvRow({"domain", "domain_unicode", "every_seconds", "kinds", "enrichers", "max_candidates", "created",
                    "last_scan", "last_scan_outcome", "next_scan", "scans", "registered", "observed", "baseline",
                    "webhook"});
      for (const v1::Watch& w : watches) {
        std::vector<std::string> kinds, enrichers;
        for (int k : w.settings().kinds()) kinds.push_back(KindName(static_cast<v1::PermutationKind>(k)));
        for (int e : w.settings().enrichers()) enrichers.push_back(EnricherName(static_cast<v1::Enricher>(e)));
        out += CsvRow({w.domain(), w.domain_unicode(), absl::StrCat(w.settings().interval_seconds()),
                       absl::StrJoin(kinds, " "), absl::StrJoin(enrichers, " "),
                       absl::StrCat(w.settings().max_candidates()), w.has_created() ? Rfc3339(w.created()) : "",
                       w.has_last_scan() ? Rfc3339(w.last_scan()) : "", w.last_scan_outcome(),
                       w.has_next_scan() ? Rfc3339(w.next_scan()) : "", absl::StrCat(w.scans()),
                       absl::StrCat(w.registered()), absl::StrCat(w.observed()), w.baseline_done() ? "true" : "false",
                       w.settings().webhook_url().empty() ? "false" : "true"});
      }
      return out;
    case Format::kTable:
    case Format::kList:
      break;
  }
  if (watches.empty()) return "";
  std::vector<std::vector<std::string>> rows = {
      {"DOMAIN", "EVERY", "LAST SCAN", "NEXT SCAN", "REGISTERED", "BASELINE", "WEBHOOK"}};
  for (const v1::Watch& w : watches) {
    std::string last = "never";
    if (w.has_last_scan()) {
      const std::string outcome = w.last_scan_outcome().empty() ? "ok" : Displayable(w.last_scan_outcome());
      last = absl::StrCat(FormatRelative(TimeOf(w.last_scan()), now), ", ", CutToWidth(outcome, 48));
    }
    std::string next = "-";
    if (w.has_next_scan()) {
      next = TimeOf(w.next_scan()) <= now ? "due now" : FormatRelative(TimeOf(w.next_scan()), now);
    }
    rows.push_back({DomainText(w), FormatEvery(absl::Seconds(w.settings().interval_seconds())), last, next,
                    absl::StrCat(WithSeparators(w.registered()), " of ", WithSeparators(w.observed())),
                    w.baseline_done() ? "yes" : "no", w.settings().webhook_url().empty() ? "no" : "yes"});
  }
  return Aligned(rows);
}

std::string ChangesText(const v1::WatchEvent& event) {
  if (event.type() == v1::EVENT_TYPE_BASELINE || event.has_baseline()) {
    const v1::BaselineSummary& b = event.baseline();
    return absl::StrCat(WithSeparators(b.candidates()), " candidates, ", WithSeparators(b.registered()),
                        " registered, ", WithSeparators(b.unknown()), " unknown");
  }
  std::vector<std::string> parts;
  parts.reserve(static_cast<std::size_t>(event.changes_size()));
  for (const v1::FieldChange& c : event.changes()) {
    parts.push_back(absl::StrCat(Displayable(c.field()), ": ", c.before().empty() ? "-" : Displayable(c.before()),
                                 " → ", c.after().empty() ? "-" : Displayable(c.after())));
  }
  return absl::StrJoin(parts, "; ");
}

std::string EventHeader(Format format) {
  switch (format) {
    case Format::kCsv:
      return CsvRow({"id", "time", "watch", "type", "candidate_ascii", "candidate_unicode", "kind", "changes",
                     "baseline_candidates", "baseline_registered", "baseline_unknown"});
    case Format::kJson:
      return "";
    case Format::kTable:
    case Format::kList:
      break;
  }
  return EventTableRow({"ID", "TIME", "WATCH", "TYPE", "CANDIDATE", "KIND", "CHANGED"});
}

std::string FormatEvent(Format format, const v1::WatchEvent& event) {
  const bool baseline = event.type() == v1::EVENT_TYPE_BASELINE;
  switch (format) {
    case Format::kJson:
      return Json(event);
    case Format::kCsv:
      return CsvRow({absl::StrCat(event.id()), event.has_time() ? Rfc3339(event.time()) : "", event.watch(),
                     EventTypeName(event.type()), event.candidate_ascii(), event.candidate_unicode(),
                     KindText(event.kind()), baseline ? "" : ChangesText(event),
                     baseline ? absl::StrCat(event.baseline().candidates()) : "",
                     baseline ? absl::StrCat(event.baseline().registered()) : "",
                     baseline ? absl::StrCat(event.baseline().unknown()) : ""});
    case Format::kTable:
    case Format::kList:
      break;
  }
  const std::string kind = KindText(event.kind());
  const std::string changes = ChangesText(event);
  return EventTableRow({absl::StrCat(event.id()), event.has_time() ? Rfc3339(event.time()) : "-",
                        Displayable(event.watch()), EventTypeName(event.type()),
                        CandidateText(event.candidate_unicode(), event.candidate_ascii()), kind.empty() ? "-" : kind,
                        changes.empty() ? "-" : changes});
}

ExitCode WatchExitCode(const StreamEnd& end) {
  if (end.interrupted) return ExitCode::kInterrupted;
  if (end.output_failed) return ExitCode::kOutputFailed;
  switch (end.code) {
    case absl::StatusCode::kOk:
      return ExitCode::kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
      return ExitCode::kBadInput;
    case absl::StatusCode::kUnavailable:
      return end.received_any ? ExitCode::kPartial : ExitCode::kUnreachable;
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
      return end.received_any ? ExitCode::kPartial : ExitCode::kServerError;
    default:
      return ExitCode::kServerError;
  }
}

std::string WatchErrorLine(const StreamEnd& end, const WatchCommand& command, absl::string_view server_address) {
  if (end.interrupted || end.output_failed || end.code == absl::StatusCode::kOk) return "";
  const std::string message = Displayable(end.message);
  const std::string server = Displayable(server_address);
  const std::string domain = command.domain.empty() ? "DOMAIN" : Displayable(command.domain);
  std::string cause = message, next;
  // A refused key, a scope it lacks (not the webhook address policy's PERMISSION_DENIED), a quota.
  if (end.code != absl::StatusCode::kPermissionDenied || absl::StrContains(end.message, "lacks the scope")) {
    if (std::optional<std::string> advice = RefusalAdvice(end.code, ParseRefusalDetails(end.details), absl::Now())) {
      return absl::StrCat("squatstream: ", absl::StatusCodeToString(end.code), ": ", cause, " — ", *advice);
    }
  }
  switch (end.code) {
    case absl::StatusCode::kInvalidArgument:
      next = "correct it and run again (see squatstream watch --help)";
      break;
    case absl::StatusCode::kOutOfRange:
      next = "resume from an event id this server printed (or leave --since out to start from the first)";
      break;
    case absl::StatusCode::kAlreadyExists:
      next = absl::StrCat("see it with: squatstream watch show ", domain,
                          "; its settings change through the API's UpdateWatch (squatstream watch rm deletes its "
                          "history too)");
      break;
    case absl::StatusCode::kNotFound:
      next = command.verb == WatchVerb::kTriage
                 ? absl::StrCat(
                       "the watches are listed by: squatstream watch list; a watch's registered "
                       "candidates by: squatstream watch show ",
                       domain)
                 : "the watches are listed by: squatstream watch list";
      break;
    case absl::StatusCode::kPermissionDenied:
      next = "the server refuses it; correct it and run again";
      break;
    case absl::StatusCode::kUnavailable:
      if (absl::StrContains(end.message, "shutting down")) {
        cause = absl::StrCat("squatstreamd at ", server, " is shutting down (", message, ")");
        next = end.received_any ? "resume once it is back with the --since above" : "run again once it is back";
      } else if (end.received_any) {
        cause = absl::StrCat("the event stream from squatstreamd at ", server, " broke off (", message, ")");
        next = "resume with the --since above";
      } else if (absl::StartsWith(absl::AsciiStrToLower(end.message), "failed to connect") ||
                 absl::StrContains(end.message, "DNS resolution failed") || end.message.empty()) {
        // gRPC's own words for a channel that reached nothing (a store the server cannot reach is its message)
        cause = absl::StrCat("cannot reach squatstreamd at ", server, " (", message, ")");
        next =
            absl::StrCat("is it running? start it with: squatstreamd --grpc_address=", server, " --store=sqlite:PATH");
      } else {
        // Reached, and unavailable: e.g. its store cannot be reached.
        cause = absl::StrCat("squatstreamd at ", server, " is unavailable (", message, ")");
        next = "try again shortly; see squatstreamd's log";
      }
      break;
    case absl::StatusCode::kUnimplemented:
      next = absl::StrCat("is ", server, " a squatstreamd of this version, with watches (--store)?");
      break;
    case absl::StatusCode::kDeadlineExceeded:
      cause = absl::StrCat("no answer from squatstreamd at ", server, " within ", FormatEvery(kCallDeadline),
                           message.empty() ? "" : absl::StrCat(" (", message, ")"));
      next = "see squatstreamd's log";
      break;
    case absl::StatusCode::kResourceExhausted:
      next = "the server is at a limit; try again shortly";
      break;
    default:
      if (cause.empty()) cause = "the call failed";
      next = "see squatstreamd's log";
      break;
  }
  return absl::StrCat("squatstream: ", absl::StatusCodeToString(end.code), ": ", cause, " — ", next);
}

std::string ResumeLine(const WatchCommand& command, std::uint64_t events, std::uint64_t last_id) {
  return absl::StrCat("squatstream: ", WithSeparators(events), events == 1 ? " event" : " events", ", the last ",
                      last_id, "; resume with: ", Retyped(command), " --since=", last_id,
                      command.follow ? " --follow" : "",
                      command.format == Format::kJson  ? " --format=json"
                      : command.format == Format::kCsv ? " --format=csv"
                                                       : "");
}

namespace {

// Writes `text` to stdout now; false when the write failed (a full disk, a closed pipe: errno says why).
bool WriteOut(const std::string& text) {
  if (text.empty()) return true;
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0 &&
         std::ferror(stdout) == 0;
}

// Runs the calls of one verb and prints what they returned.
class WatchRunner {
 public:
  WatchRunner(const WatchCommand& command, const sigset_t& signals)
      : command_(command),
        signals_(signals),
        server_(command.server.empty() ? DefaultServer() : command.server),
        stub_(v1::WatchService::NewStub(MakeChannel(server_))) {}

  int Run() {
    switch (*command_.verb) {
      case WatchVerb::kAdd:
        return Add();
      case WatchVerb::kList:
        return List();
      case WatchVerb::kScan:
        return Scan();
      case WatchVerb::kRemove:
        return Remove();
      case WatchVerb::kEvents:
        return Events();
      case WatchVerb::kTriage:
        return Triage();
      case WatchVerb::kShow:
        return Show();
    }
    return static_cast<int>(ExitCode::kUsage);
  }

 private:
  // One unary call (a deadline, Ctrl-C cancels it); its end in `end_`. True when it returned OK.
  bool Unary(const std::function<grpc::Status(grpc::ClientContext*)>& call) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(kCallDeadline));
    CallWatcher watcher(&context, absl::ZeroDuration(), signals_);
    const grpc::Status status = call(&context);
    watcher.Stop();
    end_.code = static_cast<absl::StatusCode>(status.error_code());
    end_.message = status.error_message();
    end_.details = status.error_details();
    end_.interrupted = watcher.interrupted();
    return status.ok() && !end_.interrupted;
  }

  // Prints `text` (stdout); a failed write is exit 7.
  void Print(const std::string& text) {
    if (!WriteOut(text) && !end_.output_failed) {
      std::fprintf(stderr, "squatstream: cannot write the output: %s\n", std::strerror(errno));
      end_.output_failed = true;
    }
  }

  // The error line (or the interruption) of the verb's end, and its exit code.
  int Finish() {
    if (end_.interrupted && !said_interrupted_) std::fputs("squatstream: interrupted\n", stderr);
    if (const std::string line = WatchErrorLine(end_, command_, server_); !line.empty()) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    return static_cast<int>(WatchExitCode(end_));
  }

  int Add() {
    v1::CreateWatchRequest request;
    request.set_domain(command_.domain);
    *request.mutable_settings() = command_.settings;
    v1::Watch watch;
    if (Unary([&](grpc::ClientContext* c) { return stub_->CreateWatch(c, request, &watch); })) {
      const absl::Time now = absl::Now();
      std::string due = "due now";
      if (watch.has_next_scan() && TimeOf(watch.next_scan()) > now) {
        due = absl::StrCat("due ", FormatRelative(TimeOf(watch.next_scan()), now));
      }
      Print(absl::StrCat("watching ", DomainText(watch), " every ",
                         FormatEvery(absl::Seconds(watch.settings().interval_seconds())), "; first scan ", due,
                         watch.settings().webhook_url().empty() ? "" : "; events posted to its webhook", "\n"));
      std::fprintf(stderr, "squatstream: follow its events with: squatstream watch events %s --follow\n",
                   Displayable(watch.domain()).c_str());
    }
    return Finish();
  }

  // Every watch, page by page.
  bool ListAll(std::vector<v1::Watch>* watches) {
    v1::ListWatchesRequest request;
    request.set_page_size(1000);
    for (;;) {
      v1::ListWatchesResponse response;
      if (!Unary([&](grpc::ClientContext* c) { return stub_->ListWatches(c, request, &response); })) return false;
      for (v1::Watch& w : *response.mutable_watches()) watches->push_back(std::move(w));
      if (response.next_page_token().empty()) return true;
      request.set_page_token(response.next_page_token());
    }
  }

  int List() {
    std::vector<v1::Watch> watches;
    if (ListAll(&watches)) {
      Print(FormatWatches(watches, command_.format, absl::Now()));
      if (watches.empty() && command_.format == Format::kTable) {
        std::fputs("squatstream: no watches; add one with: squatstream watch add DOMAIN\n", stderr);
      }
    }
    return Finish();
  }

  int Scan() {
    v1::ScanWatchNowRequest request;
    request.set_domain(command_.domain);
    v1::Watch watch;
    if (Unary([&](grpc::ClientContext* c) { return stub_->ScanWatchNow(c, request, &watch); })) {
      const absl::Time now = absl::Now();
      std::string due = "due now (it starts as soon as a scan slot is free)";
      if (watch.has_next_scan() && TimeOf(watch.next_scan()) > now) {
        due = absl::StrCat("due ", FormatRelative(TimeOf(watch.next_scan()), now));
      }
      Print(absl::StrCat(DomainText(watch), ": scan ", due, "\n"));
      std::fprintf(stderr, "squatstream: follow its events with: squatstream watch events %s --follow\n",
                   Displayable(watch.domain()).c_str());
    }
    return Finish();
  }

  int Remove() {
    v1::DeleteWatchRequest request;
    request.set_domain(command_.domain);
    v1::DeleteWatchResponse response;
    if (Unary([&](grpc::ClientContext* c) { return stub_->DeleteWatch(c, request, &response); })) {
      Print(absl::StrCat(Displayable(command_.domain),
                         ": no longer watched (its observations, events and pending deliveries are deleted)\n"));
    }
    return Finish();
  }

  int Triage() {
    v1::AnnotateRequest request;
    request.set_watch(command_.domain);
    request.set_candidate(command_.candidate);
    request.set_triage(command_.triage);
    request.set_note(command_.note);
    v1::Observation observation;
    if (Unary([&](grpc::ClientContext* c) { return stub_->Annotate(c, request, &observation); })) {
      const bool silenced = observation.triage() != v1::TRIAGE_MALICIOUS;
      Print(absl::StrCat(
          Displayable(observation.watch().empty() ? command_.domain : observation.watch()), ": ",
          CandidateText(observation.candidate_unicode(), observation.candidate_ascii()), " is ",
          TriageName(observation.triage()), silenced ? " (its events are silenced)" : " (its events keep coming)",
          observation.triage_note().empty() ? "" : absl::StrCat("; note: ", Displayable(observation.triage_note())),
          "\n"));
    }
    return Finish();
  }

  int Show() {
    v1::GetWatchRequest get;
    get.set_domain(command_.domain);
    v1::Watch watch;
    if (!Unary([&](grpc::ClientContext* c) { return stub_->GetWatch(c, get, &watch); })) return Finish();
    std::vector<v1::Observation> observations;
    v1::ListObservationsRequest request;
    request.set_watch(watch.domain());
    request.set_page_size(1000);
    request.add_verdicts(v1::DNS_VERDICT_REGISTERED);
    request.add_verdicts(v1::DNS_VERDICT_WILDCARD);
    for (;;) {
      v1::ListObservationsResponse response;
      if (!Unary([&](grpc::ClientContext* c) { return stub_->ListObservations(c, request, &response); })) {
        return Finish();
      }
      for (v1::Observation& o : *response.mutable_observations()) observations.push_back(std::move(o));
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    Print(FormatWatchDetail(watch, observations, absl::Now()));
    return Finish();
  }

  int Events() {
    v1::StreamEventsRequest request;
    request.set_watch(command_.domain);
    request.set_since_id(command_.since);
    request.set_follow(command_.follow);
    grpc::ClientContext context;
    CallWatcher watcher(&context, absl::ZeroDuration(), signals_);  // --follow may wait for hours: no idle limit
    std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader = stub_->StreamEvents(&context, request);
    v1::WatchEvent event;
    std::uint64_t events = 0, last_id = command_.since;
    while (reader->Read(&event)) {
      std::string text = events++ == 0 ? EventHeader(command_.format) : "";
      text += FormatEvent(command_.format, event);
      last_id = event.id();
      end_.received_any = true;
      Print(text);  // each event as it arrives: a reader at the other end of a pipe has it now
      if (end_.output_failed) {
        context.TryCancel();
        break;
      }
    }
    const grpc::Status status = reader->Finish();
    watcher.Stop();
    end_.code = static_cast<absl::StatusCode>(status.error_code());
    end_.message = status.error_message();
    end_.details = status.error_details();
    end_.interrupted = watcher.interrupted();
    // The id to resume from last: the line a user copies.
    if (end_.interrupted) {
      std::fputs(events > 0 ? "squatstream: interrupted\n" : "squatstream: interrupted; no event came\n", stderr);
      said_interrupted_ = true;
    }
    if (events > 0) std::fprintf(stderr, "%s\n", ResumeLine(command_, events, last_id).c_str());
    return Finish();
  }

  // `watch show`: the watch's settings and state, then its registered candidates.
  static std::string FormatWatchDetail(const v1::Watch& w, const std::vector<v1::Observation>& observations,
                                       absl::Time now) {
    std::vector<std::string> kinds, enrichers;
    for (int k : w.settings().kinds()) kinds.push_back(KindName(static_cast<v1::PermutationKind>(k)));
    for (int e : w.settings().enrichers()) enrichers.push_back(EnricherName(static_cast<v1::Enricher>(e)));
    std::string last = "never";
    if (w.has_last_scan()) {
      last = absl::StrCat(FormatRelative(TimeOf(w.last_scan()), now), " (", Rfc3339(w.last_scan()), "), ",
                          w.last_scan_outcome().empty() ? "ok" : Displayable(w.last_scan_outcome()));
    }
    std::string next = "-";
    if (w.has_next_scan()) {
      next = absl::StrCat(TimeOf(w.next_scan()) <= now ? "due now" : FormatRelative(TimeOf(w.next_scan()), now), " (",
                          Rfc3339(w.next_scan()), ")");
    }
    std::string webhook = "none";
    if (!w.settings().webhook_url().empty()) {
      webhook = absl::StrCat(Displayable(w.settings().webhook_url()), w.has_webhook_secret() ? " (signed)" : "");
    }
    std::string out = Aligned({
        {"watch", DomainText(w)},
        {"every", FormatEvery(absl::Seconds(w.settings().interval_seconds()))},
        {"kinds", kinds.empty() ? "all" : absl::StrJoin(kinds, ", ")},
        {"enrichers", enrichers.empty() ? "all" : absl::StrJoin(enrichers, ", ")},
        {"max candidates",
         w.settings().max_candidates() == 0 ? "the server's default" : WithSeparators(w.settings().max_candidates())},
        {"webhook", webhook},
        {"created", w.has_created() ? Rfc3339(w.created()) : "-"},
        {"last scan", last},
        {"next scan", next},
        {"scans", WithSeparators(w.scans())},
        {"baseline", w.baseline_done() ? "yes" : "no"},
        {"registered", absl::StrCat(WithSeparators(w.registered()), " of ", WithSeparators(w.observed()), " observed")},
    });
    if (observations.empty()) return out;
    std::vector<std::vector<std::string>> rows = {
        {"CANDIDATE", "KIND", "VERDICT", "FIRST SEEN", "LAST CHANGED", "TRIAGE", "ADDRESSES"}};
    for (const v1::Observation& o : observations) {
      std::string verdict = CanonicalName(absl::StripPrefix(v1::DnsVerdict_Name(o.verdict()), "DNS_VERDICT_"));
      if (o.pending_scans() > 0) absl::StrAppend(&verdict, " (change pending)");
      std::vector<std::string> addresses;
      for (const std::string& a : o.fingerprint().addresses()) addresses.push_back(Displayable(a));
      rows.push_back({CandidateText(o.candidate_unicode(), o.candidate_ascii()), KindText(o.kind()), verdict,
                      o.has_first_seen() ? Rfc3339(o.first_seen()) : "-",
                      o.has_last_changed() ? Rfc3339(o.last_changed()) : "-", TriageName(o.triage()),
                      addresses.empty() ? "-" : absl::StrJoin(addresses, " ")});
    }
    return absl::StrCat(out, "\n", Aligned(rows));
  }

  const WatchCommand& command_;
  const sigset_t signals_;
  const std::string server_;
  std::unique_ptr<v1::WatchService::Stub> stub_;
  StreamEnd end_;
  bool said_interrupted_ = false;
};

}  // namespace

int RunWatch(const std::vector<std::string>& args, const sigset_t& signals) {
  absl::StatusOr<WatchCommand> command = ParseWatchCommand(args);
  if (!command.ok()) {
    std::fprintf(stderr, "squatstream: %s — see squatstream watch --help\n",
                 std::string(command.status().message()).c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  if (command->help) {
    std::fputs(WatchUsage().c_str(), stdout);
    return std::fflush(stdout) == 0 ? static_cast<int>(ExitCode::kOk) : static_cast<int>(ExitCode::kOutputFailed);
  }
  if (!command->verb) {
    std::fputs(WatchUsage().c_str(), stderr);
    std::fprintf(stderr, "\nsquatstream: give a verb (%s) — see squatstream watch --help\n", VerbNames().c_str());
    return static_cast<int>(ExitCode::kUsage);
  }
  for (const auto& [name, value] : command->connection) {
    if (absl::Status set = SetConnectionFlag(name, value); !set.ok()) {
      std::fprintf(stderr, "squatstream: %s — see squatstream watch --help\n", std::string(set.message()).c_str());
      return static_cast<int>(ExitCode::kUsage);
    }
  }
  for (const std::string& note : command->notes) std::fprintf(stderr, "%s\n", note.c_str());
  return WatchRunner(*command, signals).Run();
}

}  // namespace squatstream::client
