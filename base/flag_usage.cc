#include "base/flag_usage.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/version.h"

namespace squatstream::base {
namespace {

constexpr std::size_t kHelpColumns = 100;
constexpr absl::string_view kIndent = "      ";

// Help text wrapped at kHelpColumns under kIndent, each line with its newline.
std::string Wrapped(absl::string_view text) {
  std::string out, line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && kIndent.size() + line.size() + 1 + word.size() > kHelpColumns) {
      absl::StrAppend(&out, kIndent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, kIndent, line, "\n");
  return out;
}

std::string FlagEntry(const absl::CommandLineFlag& flag) {
  std::string value = flag.DefaultValue();
  if (flag.IsOfType<std::string>()) {
    value = absl::StrCat("\"", value, "\"");
  } else if (value.empty()) {
    value = "none";  // an empty list
  }
  return absl::StrCat("  --", flag.Name(), " (default: ", value, ")\n", Wrapped(flag.Help()));
}

// The program's flags by name.
std::map<std::string, const absl::CommandLineFlag*> OwnedFlags(const UsageSpec& spec) {
  std::map<std::string, const absl::CommandLineFlag*> out;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && spec.owns(flag->Filename())) out.emplace(std::string(name), flag);
  }
  return out;
}

std::size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string HelpText(const UsageSpec& spec) {
  const std::map<std::string, const absl::CommandLineFlag*> owned = OwnedFlags(spec);
  std::set<std::string> listed;
  std::string out = spec.synopsis;
  if (!absl::EndsWith(out, "\n")) out += "\n";
  for (const FlagGroup& group : spec.groups) {
    std::string entries;
    for (const std::string& name : group.flags) {
      auto it = owned.find(name);
      if (it == owned.end() || !listed.insert(name).second) continue;
      entries += FlagEntry(*it->second);
    }
    if (!entries.empty()) absl::StrAppend(&out, "\n", group.title, ":\n", entries);
  }
  std::map<std::string, std::string> rest;  // title -> entries (the map sorts both)
  for (const auto& [name, flag] : owned) {
    if (listed.count(name) > 0) continue;
    std::string title = spec.group_of ? spec.group_of(flag->Filename()) : "";
    if (title.empty()) title = "Other flags";
    rest[title] += FlagEntry(*flag);
  }
  for (const auto& [title, entries] : rest) absl::StrAppend(&out, "\n", title, ":\n", entries);
  if (!spec.epilogue.empty()) {
    absl::StrAppend(&out, "\n", spec.epilogue);
    if (!absl::EndsWith(out, "\n")) out += "\n";
  }
  return out;
}

std::string VersionLine(absl::string_view program) {
  return absl::StrCat(program, " ", squatstream::kVersion, " (commit ", squatstream::kCommit, ")");
}

std::string SpellFlag(absl::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::string(arg);
  const std::size_t dashes = arg[1] == '-' ? 2 : 1;
  const std::size_t eq = arg.find('=');
  std::string name(arg.substr(dashes, eq == absl::string_view::npos ? absl::string_view::npos : eq - dashes));
  std::replace(name.begin(), name.end(), '-', '_');
  return absl::StrCat(arg.substr(0, dashes), name, eq == absl::string_view::npos ? "" : arg.substr(eq));
}

std::string ClosestFlag(absl::string_view name, const std::vector<std::string>& names) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const std::string& candidate : names) {
    const std::size_t d = EditDistance(name, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best.empty() && name.size() >= 3) {
    for (const std::string& candidate : names) {
      if (absl::StartsWith(candidate, name)) return candidate;
    }
  }
  return best;
}

absl::StatusOr<PreParsed> PreParseCommandLine(const std::vector<std::string>& args, const UsageSpec& spec) {
  PreParsed out;
  std::vector<std::string> owned_names;
  for (const auto& [name, flag] : OwnedFlags(spec)) owned_names.push_back(name);
  owned_names.emplace_back("help");
  owned_names.emplace_back("version");
  bool flags_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0 || flags_ended || arg.size() < 2 || arg[0] != '-') {
      out.args.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      out.args.push_back(arg);
      continue;
    }
    std::string spelled = SpellFlag(arg);
    if (arg[1] != '-') {  // a one-letter spelling: -r, -f=csv
      const std::size_t end = arg.find('=');
      if (auto it = spec.short_flags.find(arg.substr(1, end == std::string::npos ? end : end - 1));
          it != spec.short_flags.end()) {
        spelled = absl::StrCat("--", it->second, end == std::string::npos ? "" : arg.substr(end));
      }
    }
    absl::string_view body = absl::StripPrefix(absl::StripPrefix(spelled, "-"), "-");
    const std::size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    const bool has_value = eq != absl::string_view::npos;
    if (name == "h" || name == "help") {
      out.action = PreParsed::Action::kHelp;
      return out;
    }
    if (name == "version") {
      out.action = PreParsed::Action::kVersion;
      return out;
    }
    // absl's other help flags are no registered flags: its parser recognises them by name.
    if (name == "helpfull" || name == "helpshort" || name == "helppackage" || name == "only_check_args" ||
        name == "helpon" || name == "helpmatch") {
      out.args.push_back(spelled);
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string value = has_value ? std::string(body.substr(eq + 1)) : "";
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      // --noNAME (absl's negation of a boolean), also spelled --no-NAME / --no_NAME.
      absl::string_view positive = absl::StripPrefix(name.substr(2), "_");
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(positive);
      if (negated != nullptr && negated->IsOfType<bool>()) {
        out.args.push_back(absl::StrCat("--no", positive));
        continue;
      }
    }
    if (flag == nullptr || flag->IsRetired()) {
      const std::string close = ClosestFlag(name, owned_names);
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, close.empty() ? "" : absl::StrCat(" (did you mean --", close, "?)")));
    }
    if (!spec.owns(flag->Filename())) {  // absl's own (--helpfull, --flagfile ...): absl reads them
      out.args.push_back(spelled);
      continue;
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[i + 1];  // absl takes "--flag value" for a flag that is not a boolean
        out.args.emplace_back(spelled);
        out.args.push_back(args[++i]);
        std::string error;
        if (!flag->ParseFrom(value, &error)) {
          return absl::InvalidArgumentError(absl::StrCat("bad value for --", name, ": ", error));
        }
        continue;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value (--", name, "=VALUE)"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("bad value for --", name, ": ", error));
    }
    out.args.push_back(spelled);
  }
  return out;
}

std::vector<std::string> ParseCommandLineOrExit(int argc, char** argv, const UsageSpec& spec) {
  std::vector<std::string> args(argv, argv + argc);
  absl::StatusOr<PreParsed> pre = PreParseCommandLine(args, spec);
  if (!pre.ok()) {
    std::fprintf(stderr, "%s: %s — see %s --help\n", spec.program.c_str(), std::string(pre.status().message()).c_str(),
                 spec.program.c_str());
    std::exit(2);
  }
  if (pre->action == PreParsed::Action::kHelp) {
    std::fputs(HelpText(spec).c_str(), stdout);
    std::exit(0);
  }
  if (pre->action == PreParsed::Action::kVersion) {
    std::printf("%s\n", VersionLine(spec.program).c_str());
    std::exit(0);
  }
  // absl::ParseCommandLine keeps pointers into what it is given for the process's life (positional
  // arguments): these strings live as long.
  static std::vector<std::string>* kept = new std::vector<std::string>();
  *kept = std::move(pre->args);
  std::vector<char*> pointers;
  for (std::string& a : *kept) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  const std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(kept->size()), pointers.data());
  return std::vector<std::string>(rest.begin(), rest.end());
}

}  // namespace squatstream::base
