// squatstream's engine against dnstwist, the reference most people use: every candidate dnstwist generates
// by default for example.com, google.com and paypal.com must be among squatstream's, under any of its kinds.
// Two dnstwists, both installed by scripts/install-deps.sh: Debian 12's package (20221213) and upstream's
// PyPI release (pinned there, in a venv under .tools/), which is what users run today.
//
// dnstwist runs with `--format list`, the one mode that only generates: every other format (csv and json
// included) resolves each name over DNS. Its kinds map onto squatstream's one to one (addition,
// bitsquatting, cyrillic, homoglyph, hyphenation, insertion, omission, repetition, replacement, subdomain,
// transposition, vowel-swap, various, and upstream's plural); its dictionary and tld-swap kinds are off
// without a word list or TLD file. Names are compared whole in ASCII form, which is stricter than comparing
// the permuted label.
//
// Deliberate exclusions: none are needed for these three domains. Two rules would exclude dnstwist output
// for other inputs, and this test would list such names here if they arose: squatstream keeps a permuted
// label single-script (dnstwist's default glyphs are all Latin, so its homoglyphs of an ASCII label pass),
// and it permutes the registrable label found by the public suffix list (dnstwist turns github.io results
// into github.io0.github.io-style names, which are not look-alikes of anything registrable).
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "permute/permutations.h"

namespace squatstream::permute {
namespace {

struct PipeCloser {
  void operator()(FILE* f) const { pclose(f); }
};

// The candidates of `domain` that the dnstwist at `program` makes, the original excluded.
std::set<std::string> Dnstwist(const std::string& program, const std::string& domain) {
  std::set<std::string> out;
  const std::string command = program + " --format list " + domain + " 2>&1 </dev/null";
  std::unique_ptr<FILE, PipeCloser> pipe(popen(command.c_str(), "r"));
  if (pipe == nullptr) return out;
  std::string text;
  char buf[65536];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, pipe.get())) > 0;) text.append(buf, n);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line != domain) out.insert(std::string(line));
  }
  return out;
}

class DnstwistComparison : public testing::TestWithParam<const char*> {};

TEST_P(DnstwistComparison, EveryDefaultCandidateIsProduced) {
  for (const std::string domain : {"example.com", "google.com", "paypal.com"}) {
    const std::set<std::string> theirs = Dnstwist(GetParam(), domain);
    ASSERT_GE(theirs.size(), 1000u) << GetParam() << " printed too little for " << domain
                                    << " (is it installed? scripts/install-deps.sh installs it)";
    absl::StatusOr<ParsedDomain> parsed = ParseDomain(domain);
    ASSERT_TRUE(parsed.ok());
    std::set<std::string> ours;
    for (const Candidate& c : GenerateAll(*parsed, {})) ours.insert(c.ascii);
    std::size_t missing = 0;
    for (const std::string& name : theirs) {
      if (!ours.contains(name) && ++missing <= 5)
        ADD_FAILURE() << domain << ": " << GetParam() << "'s " << name << " is missing";
    }
    EXPECT_EQ(missing, 0u) << domain << ": " << missing << " of dnstwist's " << theirs.size() << " are missing";
    EXPECT_GT(ours.size(), theirs.size()) << domain;  // a strict superset: squatstream has more kinds
  }
}

// Named by the prefix (the parameter, a path, would make an unreadable test name).
std::string DnstwistName(const testing::TestParamInfo<const char*>&) { return "dnstwist"; }
INSTANTIATE_TEST_SUITE_P(Debian, DnstwistComparison, testing::Values(SQUATSTREAM_DNSTWIST_DEBIAN), DnstwistName);
INSTANTIATE_TEST_SUITE_P(Upstream, DnstwistComparison, testing::Values(SQUATSTREAM_DNSTWIST_UPSTREAM), DnstwistName);

}  // namespace
}  // namespace squatstream::permute
