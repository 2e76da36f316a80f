#include "client/cli.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/channel.h"
#include "client/progress.h"
#include "client/sanitize.h"
#include "client/status_details.h"
#include "permute/domain.h"
#include "permute/generator.h"
#include "permute/kind.h"

namespace squatstream::client {
namespace {

// An enricher's CLI name: its enum name without the prefix, lower case ("dns").
std::string EnricherCliName(v1::Enricher e) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Enricher_Name(e), "ENRICHER_"));
}

std::vector<v1::Enricher> AllEnrichers() {
  std::vector<v1::Enricher> out;
  for (int v = 1; v <= v1::Enricher_MAX; ++v) {
    if (v1::Enricher_IsValid(v)) out.push_back(static_cast<v1::Enricher>(v));
  }
  return out;
}

// A duration as the flags spell it ("2m", "30s").
std::string FlagDuration(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

base::UsageSpec ClientUsage() {
  base::UsageSpec spec;
  spec.program = "squatstream";
  spec.short_flags = {{"r", "registered"}, {"m", "mail"}, {"f", "format"}};  // dnstwist's -r, -m, -f
  spec.synopsis =
      "Usage: squatstream [flags] DOMAIN [DOMAIN...]\n"
      "       squatstream names [flags] DOMAIN [DOMAIN...]\n"
      "       squatstream watch add|list|show|scan|rm|events|triage ...   (see: squatstream watch --help)\n"
      "\n"
      "Streams the look-alikes of each DOMAIN from squatstreamd, each checked (DNS, geo, registration, banners),\n"
      "and prints them (stdout) with a progress bar and a summary (stderr). A URL is reduced to its host.\n"
      "`names` lists the candidates only, generated here: no server, no lookups. `watch` keeps a domain under\n"
      "watch on the server: rescanned on an interval, with events when look-alikes appear, change or go.\n"
      "\n"
      "Examples:\n"
      "  squatstream example.com\n"
      "  squatstream --registered --format=csv example.com > example.csv\n"
      "  squatstream --kinds=tld-swap,homoglyph --enrichers=dns example.com paypal.com\n"
      "  squatstream names --format=list example.com\n";
  spec.groups = {
      {"Common flags", {"format", "registered", "kinds", "enrichers", "max_candidates", "server"}},
      {"Selection and output", {"unregistered", "subdomains", "mail", "mxcheck", "wide"}},
      {"Connection and advanced",
       {"deadline", "idle_timeout", "tls", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
        "api_key_file"}},
  };
  spec.owns = [](absl::string_view file) {
    return absl::EndsWith(file, "client/main.cc") || absl::EndsWith(file, "client/channel.cc");
  };
  spec.epilogue =
      "Flags may be spelled with dashes (--max-candidates=5); --helpfull lists every flag with its source file.\n"
      "The server's address may also come from $SQUATSTREAM_SERVER.\n"
      "\n"
      "Exit codes:\n"
      "  0    every candidate checked\n"
      "  1    the server failed the stream (an error not listed below)\n"
      "  2    usage error: a bad or unknown flag, kind, enricher or format; no domain\n"
      "  3    bad input: a domain refused (by the client or the server)\n"
      "  4    server unreachable: no connection, or UNAVAILABLE before any result\n"
      "  5    partial results: the stream ended before every candidate was checked (--deadline,\n"
      "       --idle_timeout, the server shut down, the connection was lost)\n"
      "  6    lookups failed: DNS failed for at least half the names checked (e.g. resolver unreachable)\n"
      "  130  interrupted (Ctrl-C): what arrived is written, with the summary\n";
  return spec;
}

std::string CanonicalName(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

absl::StatusOr<std::vector<v1::PermutationKind>> ParseKinds(absl::string_view list) {
  std::vector<v1::PermutationKind> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    absl::StatusOr<permute::Kind> kind = permute::ParseKindName(CanonicalName(item));
    if (!kind.ok()) {
      std::vector<std::string> names;
      for (permute::Kind k : permute::AllKinds()) names.emplace_back(permute::KindName(k));
      std::sort(names.begin(), names.end());
      return absl::InvalidArgumentError(absl::StrCat("unknown kind \"", Displayable(absl::StripAsciiWhitespace(item)),
                                                     "\"; the kinds are: ", absl::StrJoin(names, ", ")));
    }
    const auto value = static_cast<v1::PermutationKind>(*kind);
    if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(value);
  }
  return out;
}

absl::StatusOr<std::vector<v1::Enricher>> ParseEnrichers(absl::string_view list) {
  std::vector<v1::Enricher> out;
  const std::vector<v1::Enricher> all = AllEnrichers();
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    const std::string name = CanonicalName(item);
    auto it = std::find_if(all.begin(), all.end(), [&](v1::Enricher e) { return EnricherCliName(e) == name; });
    if (it == all.end()) {
      std::vector<std::string> names;
      names.reserve(all.size());
      for (v1::Enricher e : all) names.push_back(EnricherCliName(e));
      std::sort(names.begin(), names.end());
      return absl::InvalidArgumentError(absl::StrCat("unknown enricher \"",
                                                     Displayable(absl::StripAsciiWhitespace(item)),
                                                     "\"; the enrichers are: ", absl::StrJoin(names, ", ")));
    }
    if (std::find(out.begin(), out.end(), *it) == out.end()) out.push_back(*it);
  }
  return out;
}

DomainArgument ReduceUrl(absl::string_view argument) {
  DomainArgument out{std::string(argument), ""};
  const std::size_t scheme_end = argument.find("://");
  if (scheme_end == absl::string_view::npos || scheme_end == 0) return out;
  const absl::string_view scheme = argument.substr(0, scheme_end);
  const bool scheme_ok =
      std::isalpha(static_cast<unsigned char>(scheme[0])) != 0 && std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
      });
  if (!scheme_ok) return out;
  absl::string_view host = argument.substr(scheme_end + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (const std::size_t at = host.rfind('@'); at != absl::string_view::npos) host = host.substr(at + 1);
  // A port: ":443" after the name (a bracketed IPv6 literal keeps its brackets: the server says it is an
  // address).
  if (!host.empty() && host.front() != '[') {
    if (const std::size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
      const absl::string_view port = host.substr(colon + 1);
      if (std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        host = host.substr(0, colon);
      }
    }
  }
  if (host.empty()) return out;
  out.domain = std::string(host);
  out.note =
      absl::StrCat("squatstream: note: ", Displayable(argument), " is a URL; checking its host ", Displayable(host));
  return out;
}

std::string RewriteArgumentIndexes(absl::string_view message, const std::vector<std::string>& sent) {
  static constexpr absl::string_view kField = "domains[";
  std::string out;
  absl::string_view rest = message;
  for (;;) {
    const std::size_t at = rest.find(kField);
    if (at == absl::string_view::npos) break;
    const absl::string_view after = rest.substr(at + kField.size());
    const std::size_t close = after.find(']');
    std::size_t index = 0;
    if (close != absl::string_view::npos && absl::SimpleAtoi(after.substr(0, close), &index) && index < sent.size()) {
      absl::StrAppend(&out, rest.substr(0, at), "argument ", index + 1, " (\"", sent[index], "\")");
      rest = after.substr(close + 1);
    } else {
      absl::StrAppend(&out, rest.substr(0, at + kField.size()));
      rest = after;
    }
  }
  absl::StrAppend(&out, rest);
  return Displayable(out);
}

bool MostLookupsFailed(std::uint64_t failed, std::uint64_t checked) {
  return failed > 0 && checked > 0 && failed * 2 >= checked;
}

ExitCode ExitCodeFor(const StreamEnd& end) {
  if (end.interrupted) return ExitCode::kInterrupted;
  if (end.output_failed) return ExitCode::kOutputFailed;
  if (end.dns_gave_up) return ExitCode::kLookupsFailed;
  if (end.code == absl::StatusCode::kOk) {
    return MostLookupsFailed(end.dns_failed, end.dns_checked) ? ExitCode::kLookupsFailed : ExitCode::kOk;
  }
  if (end.idle_timed_out) return ExitCode::kPartial;
  switch (end.code) {
    case absl::StatusCode::kInvalidArgument:
      return ExitCode::kBadInput;
    case absl::StatusCode::kUnavailable:
      return end.received_any ? ExitCode::kPartial : ExitCode::kUnreachable;
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
      return ExitCode::kPartial;
    default:
      return ExitCode::kServerError;
  }
}

std::string ErrorLine(const StreamEnd& end, const CallSettings& settings) {
  // Stopped here: the summary and the DNS failure line (or the write error) say why.
  if (end.interrupted || end.dns_gave_up || end.output_failed || end.code == absl::StatusCode::kOk) return "";
  const std::string code = absl::StatusCodeToString(end.code);
  const std::string message = RewriteArgumentIndexes(end.message, settings.sent);
  const std::string server = Displayable(settings.server);
  const char* partial = end.received_any ? "the records above are partial; " : "";
  std::string cause, next;
  if (end.idle_timed_out) {
    cause = absl::StrCat("no message from squatstreamd at ", server, " for ", FlagDuration(settings.idle_timeout),
                         " (--idle_timeout)");
    next = absl::StrCat(partial, "check the server's log, or raise --idle_timeout");
  } else {
    switch (end.code) {
      case absl::StatusCode::kInvalidArgument:
        cause = message;
        next = "correct it and run again (see squatstream --help)";
        break;
      case absl::StatusCode::kUnavailable:
        if (absl::StrContains(end.message, "shutting down")) {
          cause = absl::StrCat("squatstreamd at ", server, " is shutting down (", message, ")");
          next = absl::StrCat(partial, "run again once it is back");
        } else if (!end.received_any && LooksLikeTlsFailure(end.message)) {
          // A failed handshake, or a server that closed the connection as it opened: a TLS server refusing a
          // plaintext client, or a mutual-TLS server refusing the client's certificate (or its absence).
          cause =
              absl::StrCat("squatstreamd at ", server, " refused the connection at the TLS handshake (", message, ")");
          next =
              "with a TLS server give --tls_ca_file (its CA) and, when it requires client certificates, "
              "--tls_cert_file and --tls_key_file; check --tls_server_name; a plaintext server takes no --tls";
        } else if (!end.received_any) {
          cause = absl::StrCat("cannot reach squatstreamd at ", server, " (", message, ")");
          next = absl::StrCat("is it running? start it with: squatstreamd --grpc_address=", server);
        } else {
          cause = absl::StrCat("the stream from squatstreamd at ", server, " broke off (", message, ")");
          next = absl::StrCat(partial, "run again");
        }
        break;
      case absl::StatusCode::kDeadlineExceeded:
        cause = settings.deadline > absl::ZeroDuration()
                    ? absl::StrCat("the deadline (--deadline=", FlagDuration(settings.deadline),
                                   ") passed before the scan ended")
                    : absl::StrCat("the scan took too long (", message, ")");
        next = absl::StrCat(partial, "raise --deadline (0: none)");
        break;
      case absl::StatusCode::kResourceExhausted:
      case absl::StatusCode::kUnauthenticated:
      case absl::StatusCode::kPermissionDenied:
        cause = message;
        next = *RefusalAdvice(end.code, ParseRefusalDetails(end.details), absl::Now());
        break;
      case absl::StatusCode::kUnimplemented:
        cause = message;
        next = absl::StrCat("is ", server, " a squatstreamd of this version?");
        break;
      default:
        cause = message.empty() ? "the stream failed" : message;
        next = absl::StrCat(partial, "see squatstreamd's log");
        break;
    }
  }
  return absl::StrCat("squatstream: ", code, ": ", cause, " — ", next);
}

std::string StopReason(const StreamEnd& end, const CallSettings& settings) {
  if (end.interrupted) return "interrupted";
  if (end.output_failed) return "the output could not be written";
  if (end.dns_gave_up) return absl::StrCat("DNS failed for each of the first ", kDnsGiveUpAfter, " names");
  if (end.code == absl::StatusCode::kOk) return "";
  if (end.idle_timed_out) {
    return absl::StrCat("no message for ", FlagDuration(settings.idle_timeout), " (--idle_timeout)");
  }
  switch (end.code) {
    case absl::StatusCode::kDeadlineExceeded:
      return settings.deadline > absl::ZeroDuration()
                 ? absl::StrCat("the deadline (--deadline=", FlagDuration(settings.deadline), ") passed")
                 : "the deadline passed";
    case absl::StatusCode::kUnavailable:
      return absl::StrContains(end.message, "shutting down") ? "the server shut down"
                                                             : "the connection was lost (UNAVAILABLE)";
    default:
      return absl::StrCat("server error ", absl::StatusCodeToString(end.code));
  }
}

std::optional<std::string> CapLine(const v1::Progress& p, std::size_t inputs) {
  if (p.uncapped_total() <= p.total() || p.total() == 0) return std::nullopt;
  const std::uint64_t limit = p.max_candidates_limit();
  std::string uncapped = WithSeparators(p.uncapped_total());
  // An input's count stops at limit + 1: above the limit, the true count is unknown.
  if (limit > 0 && p.uncapped_total() > limit) {
    uncapped = inputs <= 1 ? absl::StrCat("more than ", WithSeparators(limit)) : absl::StrCat("at least ", uncapped);
  }
  std::string line = absl::StrCat("squatstream: ", WithSeparators(p.total()), " of ", uncapped, " candidates",
                                  p.enriched() >= p.total() ? " checked" : "", ": the cap (",
                                  WithSeparators(p.max_candidates()), " per domain");
  if (limit > 0 && p.max_candidates() >= limit) {
    absl::StrAppend(&line, ", the most this server allows) cut the rest");
  } else {
    absl::StrAppend(&line, ") cut the rest; raise --max_candidates");
    if (limit > 0) absl::StrAppend(&line, " (this server allows up to ", WithSeparators(limit), ")");
  }
  return line;
}

v1::DnsVerdict DnsVerdictOf(const v1::Record& record) {
  for (const v1::Enrichment& e : record.enrichments()) {
    if (e.enricher() == v1::ENRICHER_DNS && e.has_dns()) return e.dns().verdict();
  }
  return v1::DNS_VERDICT_UNSPECIFIED;
}

void DnsTally::Add(const v1::Record& record) {
  for (const v1::Enrichment& e : record.enrichments()) {
    if (e.enricher() != v1::ENRICHER_DNS) continue;
    ++checked;
    const auto code = static_cast<absl::StatusCode>(e.status().code());
    if (code != absl::StatusCode::kOk && code != absl::StatusCode::kNotFound) {
      if (failed++ == 0) first_failure = e.status().message();
    }
    if (e.has_dns() && e.dns().verdict() == v1::DNS_VERDICT_REGISTERED) ++registered;
    return;
  }
}

std::optional<std::string> DnsFailureLine(std::uint64_t failed, std::uint64_t checked, absl::string_view first) {
  if (failed == 0) return std::nullopt;
  std::string line = absl::StrCat("squatstream: DNS failed for ", WithSeparators(failed), " of ",
                                  WithSeparators(checked), checked == 1 ? " name" : " names",
                                  " (first: ", first.empty() ? "no message" : Displayable(first), ")");
  if (MostLookupsFailed(failed, checked)) absl::StrAppend(&line, " — is the server's resolver reachable?");
  return line;
}

absl::Status GenerateNames(const std::vector<std::string>& domains, const std::vector<v1::PermutationKind>& kinds,
                           std::size_t max_candidates, bool subdomains,
                           const std::function<void(const v1::Record&)>& emit) {
  permute::KindSet selected;
  for (v1::PermutationKind k : kinds) {
    if (std::optional<permute::Kind> kind = permute::KindFromNumber(k)) selected.Insert(*kind);
  }
  for (std::size_t i = 0; i < domains.size(); ++i) {
    absl::StatusOr<permute::ParsedDomain> domain = permute::ParseDomain(domains[i]);
    if (!domain.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("argument ", i + 1, " (\"", Displayable(domains[i]), "\"): ", domain.status().message()));
    }
    permute::GeneratorOptions options;
    if (!kinds.empty()) options.kinds = permute::InRunOrder(selected);
    options.max_candidates = max_candidates == 0 ? SIZE_MAX : max_candidates;
    options.subdomains = subdomains;
    const std::string input = domain->ascii;
    permute::Generator generator(*std::move(domain), options);
    v1::Record record;
    while (std::optional<permute::Candidate> c = generator.Next()) {
      record.Clear();
      record.set_kind(static_cast<v1::PermutationKind>(c->kind));
      c->kinds.ForEach([&](permute::Kind k) { record.add_kinds(static_cast<v1::PermutationKind>(k)); });
      record.set_domain_ascii(c->ascii);
      record.set_domain_unicode(c->unicode);
      record.set_input(input);
      emit(record);
    }
  }
  return absl::OkStatus();
}

}  // namespace squatstream::client
