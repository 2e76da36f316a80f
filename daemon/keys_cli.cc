#include "daemon/keys_cli.h"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>  // access/ speaks std::string_view
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/api_key.h"
#include "access/key_admin.h"
#include "access/scopes.h"
#include "base/flag_usage.h"
#include "daemon/flags.h"
#include "store/store.h"

// The keys verbs' own flags (not squatstreamd's: no SQUATSTREAM_* variable sets them).
ABSL_FLAG(std::string, name, "", "keys create: who or what the key is for (required), e.g. \"ci-pipeline\".");
ABSL_FLAG(std::string, scopes, "",
          "keys create: what the key may do, comma-separated (required): scan, classify, watch:read, watch:write, "
          "admin.");
ABSL_FLAG(std::string, expires_in, "",
          "keys create: how long the key is valid, e.g. 90d, 12h, 30m (empty: it never expires).");
// The quota flags are squatstreamd's (daemon/flags.cc): on the server they are every key's default; given to
// `keys create`, the new key's own.
ABSL_DECLARE_FLAG(std::int64_t, quota_candidates_per_hour);
ABSL_DECLARE_FLAG(std::int64_t, quota_concurrent_streams);
ABSL_DECLARE_FLAG(std::int64_t, quota_watches);
ABSL_FLAG(std::string, format, "table", "keys list: table or json.");

namespace squatstream::daemon {
namespace {

constexpr char kSynopsis[] =
    "Usage: squatstreamd keys create --name=NAME --scopes=SCOPE[,SCOPE...] [--expires_in=90d]\n"
    "                                [--quota_candidates_per_hour=N] [--quota_concurrent_streams=N]\n"
    "                                [--quota_watches=N]\n"
    "       squatstreamd keys list [--format=table|json]\n"
    "       squatstreamd keys revoke ID\n"
    "\n"
    "Manages the API keys squatstreamd --auth=api_key accepts, in the store the server uses (--store,\n"
    "--store_file or SQUATSTREAM_STORE, as for the server). create prints the key once: only its hash is kept.\n"
    "Scopes: scan, classify, watch:read, watch:write, admin.\n";
constexpr char kEpilogue[] = "Exit codes: 0 done, 1 the store failed, 2 a usage error.\n";

constexpr absl::string_view kQuotaFlags[] = {"quota_candidates_per_hour", "quota_concurrent_streams", "quota_watches"};

base::UsageSpec KeysUsage(const std::string& program) {
  base::UsageSpec spec;
  spec.program = program;
  spec.synopsis = kSynopsis;
  spec.epilogue = kEpilogue;
  spec.groups = {
      {"create",
       {"name", "scopes", "expires_in", "quota_candidates_per_hour", "quota_concurrent_streams", "quota_watches"}},
      {"list", {"format"}},
      {"Store (as the server's)", {"store", "store_file"}}};
  spec.owns = [](absl::string_view file) {
    return absl::EndsWith(file, "daemon/keys_cli.cc") || absl::EndsWith(file, "daemon/flags.cc");
  };
  return spec;
}

int Usage(const std::string& program, absl::string_view message) {
  std::fprintf(stderr, "%s: %s — see %s --help\n", program.c_str(), std::string(message).c_str(), program.c_str());
  return 2;
}

int StoreFailed(absl::string_view message) {
  std::fprintf(stderr, "squatstreamd keys: %s\n", std::string(message).c_str());
  return 1;
}

std::string When(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

// "90d", "36h", "30m", or any absl duration ("1h30m"); positive.
absl::StatusOr<absl::Duration> ParseExpiresIn(const std::string& text) {
  constexpr std::int64_t kMaxDays = 36'500;
  absl::Duration d;
  std::int64_t days = 0;
  if (absl::EndsWith(text, "d") && absl::SimpleAtoi(absl::StripSuffix(text, "d"), &days) && days > 0 &&
      days <= kMaxDays) {
    return absl::Hours(24 * days);
  }
  if (absl::ParseDuration(text, &d) && d > absl::ZeroDuration() && d < absl::Hours(24 * kMaxDays)) return d;
  return absl::InvalidArgumentError(absl::StrCat("--expires_in=", text,
                                                 ": not a positive duration (e.g. 90d, 12h, 30m; leave it out for a "
                                                 "key that never expires)"));
}

std::string Quotas(const store::ApiKeyRow& k) {
  std::string out;
  auto add = [&out](absl::string_view name, const std::optional<std::int64_t>& v) {
    if (v.has_value()) absl::StrAppend(&out, out.empty() ? "" : " ", name, "=", *v);
  };
  add("candidates_per_hour", k.quota_candidates_per_hour);
  add("concurrent_streams", k.quota_concurrent_streams);
  add("watches", k.quota_watches);
  return out.empty() ? "none" : out;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\u%04x", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string JsonTime(const std::optional<absl::Time>& t) { return t.has_value() ? JsonString(When(*t)) : "null"; }
std::string JsonInt(const std::optional<std::int64_t>& v) { return v.has_value() ? absl::StrCat(*v) : "null"; }

// A name for a table row and a terminal: control characters shown as '?'.
std::string Printable(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

absl::StatusOr<std::unique_ptr<store::Store>> OpenKeysStore(int argc, char** argv) {
  absl::StatusOr<StoreFlags> flags = ReadStoreFlags(argc, argv);
  if (!flags.ok()) return flags.status();
  if (flags->spec.empty()) {
    return absl::FailedPreconditionError(
        "API keys live in the store, and the store is \"none\": give --store=sqlite:PATH or "
        "--store=postgresql://... (the server's)");
  }
  return store::OpenStore(flags->spec);
}

int Create(int argc, char** argv, const std::string& program) {
  access::NewKeySpec spec;
  spec.name = absl::GetFlag(FLAGS_name);
  spec.scopes = absl::GetFlag(FLAGS_scopes);
  if (const std::string e = absl::GetFlag(FLAGS_expires_in); !e.empty()) {
    absl::StatusOr<absl::Duration> d = ParseExpiresIn(e);
    if (!d.ok()) return Usage(program, d.status().message());
    spec.expires_in = *d;
  }
  std::optional<std::int64_t>* quotas[] = {&spec.quota_candidates_per_hour, &spec.quota_concurrent_streams,
                                           &spec.quota_watches};
  const std::int64_t values[] = {absl::GetFlag(FLAGS_quota_candidates_per_hour),
                                 absl::GetFlag(FLAGS_quota_concurrent_streams), absl::GetFlag(FLAGS_quota_watches)};
  for (int i = 0; i < 3; ++i) {
    // Only a flag given here (other than its default) is the key's own; left out, the key takes the server's
    // default at each call.
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(kQuotaFlags[i]);
    if (flag != nullptr && flag->CurrentValue() != flag->DefaultValue()) *quotas[i] = values[i];
  }
  absl::StatusOr<std::unique_ptr<store::Store>> store = OpenKeysStore(argc, argv);
  if (!store.ok()) return StoreFailed(store.status().message());
  absl::StatusOr<access::CreatedKey> created = access::CreateKey(**store, spec, absl::Now());
  if (!created.ok()) {
    // The spec's faults are the flags': "name: ..." is --name's.
    if (absl::IsInvalidArgument(created.status()))
      return Usage(program, absl::StrCat("--", created.status().message()));
    return StoreFailed(created.status().message());
  }
  const store::ApiKeyRow& row = created->row;
  std::printf(
      "API key created. Copy it now: it will not be shown again (only its hash is stored).\n"
      "\n"
      "  %s\n"
      "\n"
      "id:       %s\n"
      "name:     %s\n"
      "scopes:   %s\n"
      "expires:  %s\n"
      "quotas:   %s\n"
      "Clients send it as the metadata 'authorization: Bearer <key>'.\n",
      created->key.c_str(), row.id.c_str(), Printable(row.name).c_str(), row.scopes.c_str(),
      row.expires.has_value() ? When(*row.expires).c_str() : "never", Quotas(row).c_str());
  return 0;
}

int List(int argc, char** argv, const std::string& program) {
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "table" && format != "json") {
    return Usage(program, absl::StrCat("--format=", format, ": give table or json"));
  }
  absl::StatusOr<std::unique_ptr<store::Store>> store = OpenKeysStore(argc, argv);
  if (!store.ok()) return StoreFailed(store.status().message());
  absl::StatusOr<std::vector<store::ApiKeyRow>> keys = (*store)->ListApiKeys();
  if (!keys.ok()) return StoreFailed(keys.status().message());
  if (format == "json") {
    std::string out = "[";
    for (std::size_t i = 0; i < keys->size(); ++i) {
      const store::ApiKeyRow& k = (*keys)[i];
      absl::StrAppend(&out, i == 0 ? "\n" : ",\n", "  {\"id\": ", JsonString(k.id), ", \"name\": ", JsonString(k.name),
                      ", \"scopes\": ", JsonString(k.scopes), ", \"created\": ", JsonTime(k.created),
                      ", \"expires\": ", JsonTime(k.expires), ", \"revoked\": ", JsonTime(k.revoked),
                      ", \"quota_candidates_per_hour\": ", JsonInt(k.quota_candidates_per_hour),
                      ", \"quota_concurrent_streams\": ", JsonInt(k.quota_concurrent_streams),
                      ", \"quota_watches\": ", JsonInt(k.quota_watches), "}");
    }
    absl::StrAppend(&out, keys->empty() ? "]\n" : "\n]\n");
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  if (keys->empty()) {
    std::printf("no API keys: squatstreamd keys create --name=NAME --scopes=... makes one\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "QUOTAS"}};
  for (const store::ApiKeyRow& k : *keys) {
    rows.push_back({k.id, Printable(k.name), k.scopes, When(k.created), k.expires ? When(*k.expires) : "never",
                    k.revoked ? When(*k.revoked) : "-", Quotas(k)});
  }
  std::vector<std::size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      absl::StrAppend(&line, r[c]);
      if (c + 1 < r.size()) line.append(widths[c] - r[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int Revoke(int argc, char** argv, const std::string& program, const std::vector<std::string>& positional) {
  if (positional.size() != 2) return Usage(program, "give the id of the key to revoke (squatstreamd keys list)");
  absl::StatusOr<std::string> parsed = access::ParseKeyId(positional[1]);
  if (!parsed.ok()) return Usage(program, parsed.status().message());
  const std::string& id = *parsed;
  absl::StatusOr<std::unique_ptr<store::Store>> store = OpenKeysStore(argc, argv);
  if (!store.ok()) return StoreFailed(store.status().message());
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  absl::StatusOr<store::ApiKeyRow> row = (*store)->RevokeApiKey(id, now);
  if (!row.ok()) return StoreFailed(row.status().message());
  if (row->revoked.has_value() && *row->revoked != now) {
    std::printf("API key %s (\"%s\") was revoked already, at %s\n", row->id.c_str(), Printable(row->name).c_str(),
                When(*row->revoked).c_str());
  } else {
    std::printf("API key %s (\"%s\") revoked at %s; every server refuses it within 5 seconds\n", row->id.c_str(),
                Printable(row->name).c_str(), When(now).c_str());
  }
  return 0;
}

}  // namespace

int RunKeysCommand(int argc, char** argv) {
  const std::string verb = argc > 2 ? argv[2] : "";
  if (verb == "-h" || verb == "--help" || verb == "help") {
    std::fputs(base::HelpText(KeysUsage("squatstreamd keys")).c_str(), stdout);
    return 0;
  }
  if (verb != "create" && verb != "list" && verb != "revoke") {
    return Usage("squatstreamd keys", verb.empty()
                                          ? "give a verb: create, list or revoke"
                                          : absl::StrCat("unknown verb \"", verb, "\": give create, list or revoke"));
  }
  const std::string program = absl::StrCat("squatstreamd keys ", verb);
  // Only this verb's flags and the store's: squatstreamd's other flags mean nothing here.
  std::set<std::string> allowed = {"store", "store_file", "help", "h"};
  if (verb == "create") {
    allowed.insert({"name", "scopes", "expires_in"});
    for (absl::string_view q : kQuotaFlags) allowed.emplace(q);
  } else if (verb == "list") {
    allowed.insert("format");
  }
  std::vector<char*> args = {argv[0]};
  for (int i = 3; i < argc; ++i) {
    const std::string spelled = base::SpellFlag(argv[i]);
    if (spelled == "--") break;
    if (absl::StartsWith(spelled, "-") && spelled != "-") {
      absl::string_view flag = absl::StripPrefix(absl::StripPrefix(spelled, "-"), "-");
      flag = flag.substr(0, flag.find('='));
      if (!allowed.contains(std::string(flag))) {
        const std::string closest = base::ClosestFlag(flag, std::vector<std::string>(allowed.begin(), allowed.end()));
        return Usage(program, absl::StrCat("unknown flag --", flag,
                                           closest.empty() ? "" : absl::StrCat(" (did you mean --", closest, "?)")));
      }
    }
    args.push_back(argv[i]);
  }
  if (absl::Status env = ApplyDaemonEnvironment(); !env.ok()) return Usage(program, env.message());
  const std::vector<std::string> positional =
      base::ParseCommandLineOrExit(static_cast<int>(args.size()), args.data(), KeysUsage(program));
  const int store_argc = static_cast<int>(args.size());
  char** store_argv = args.data();
  if (verb == "create") {
    if (positional.size() > 1) return Usage(program, absl::StrCat("unexpected argument \"", positional[1], "\""));
    return Create(store_argc, store_argv, program);
  }
  if (verb == "list") {
    if (positional.size() > 1) return Usage(program, absl::StrCat("unexpected argument \"", positional[1], "\""));
    return List(store_argc, store_argv, program);
  }
  return Revoke(store_argc, store_argv, program, positional);
}

}  // namespace squatstream::daemon
