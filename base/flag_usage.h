// The command line as both programs (squatstream, squatstreamd) read it before absl does: -h/--help print a
// grouped help (common flags first, no source paths), --version prints the version and the commit, dashed
// flag spellings are taken (--max-candidates=5 is --max_candidates=5), and an unknown flag or a bad value is
// refused with one line naming it (and the closest flag), exit 2 — absl's own parser would exit 1 on all of
// these. absl's --helpfull (every flag under its source file) stays as absl prints it: scripts/gen-flags-doc.py
// reads it.
#ifndef SQUATSTREAM_BASE_FLAG_USAGE_H_
#define SQUATSTREAM_BASE_FLAG_USAGE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace squatstream::base {

// One section of --help: its title and the flags it lists, in this order (a name no flag has is left out).
struct FlagGroup {
  std::string title;
  std::vector<std::string> flags;
};

// What --help says and which flags are the program's.
struct UsageSpec {
  std::string program;   // "squatstream": the prefix of its messages and of the --version line
  std::string synopsis;  // the lines before the flags (usage, one sentence on what the program does)
  std::string epilogue;  // the lines after them (exit codes, environment); may be empty
  // The groups listed first, in this order.
  std::vector<FlagGroup> groups;
  // Whether a flag defined in source file `file` is the program's: --help lists it and a misspelt flag is
  // matched against these. Flags absl defines (--helpfull, --flagfile ...) are accepted but not listed.
  std::function<bool(absl::string_view file)> owns;
  // The title of the group for an owned flag that no group names (e.g. one per stage); empty: "Other flags".
  // Such groups follow the named ones, sorted by title, their flags by name.
  std::function<std::string(absl::string_view file)> group_of;
  // One-letter spellings and the flag each stands for ("r" -> "registered": -r, -f=csv, -f csv), as the tools
  // users come from spell them (dnstwist's -r, -m, -f).
  std::map<std::string, std::string> short_flags;
};

// The --help text: synopsis, each group ("Title:" then "  --name (default: value)" and its help wrapped at 100
// columns under it), epilogue. Reads the registered flags (absl::GetAllFlags).
std::string HelpText(const UsageSpec& spec);

// "squatstream 0.1.0 (commit abc1234)".
std::string VersionLine(absl::string_view program);

// `arg` ("--max-candidates=5", "-max-candidates", "--no-subdomains") with the name's dashes as underscores;
// anything that is not a flag ("-", "--", "example.com") as it is.
std::string SpellFlag(absl::string_view arg);

// The owned flag name closest to `name` (edit distance at most a third of its length, at least 2; or one that
// starts with it), or "" when none is close. `names` is the candidates.
std::string ClosestFlag(absl::string_view name, const std::vector<std::string>& names);

// What the command line asks before any work.
struct PreParsed {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  std::vector<std::string> args;  // argv with the flags respelled (SpellFlag), for absl::ParseCommandLine
};

// Reads `args` (argv, program name first) up to "--": help or version asked (-h, --help, --version; the first
// wins), else every flag respelled and checked — known (a registered flag, or --noNAME of a boolean one),
// given a value when it needs one, the value valid (the flag is set to it, as absl would). INVALID_ARGUMENT
// with the message to print otherwise, e.g. "unknown flag --max_candiates (did you mean --max_candidates?)".
absl::StatusOr<PreParsed> PreParseCommandLine(const std::vector<std::string>& args, const UsageSpec& spec);

// The program's command line: PreParseCommandLine, then absl::ParseCommandLine on what it respelled.
// Prints the help or the version to stdout and exits 0 when asked; prints
// "PROGRAM: <message> — see PROGRAM --help" to stderr and exits 2 on a usage error. Returns the positional
// arguments, the program name first. Call once, from main, before any thread reads a flag.
std::vector<std::string> ParseCommandLineOrExit(int argc, char** argv, const UsageSpec& spec);

}  // namespace squatstream::base

#endif  // SQUATSTREAM_BASE_FLAG_USAGE_H_
