// The kind registry (permute/kinds/registry.h): it covers every kind once, and each kind's may-produce
// check accepts every candidate the kind's generator makes (the Generator hands candidates out early on the
// strength of those checks; a check that misses one would drop a kind from a record).
#include <algorithm>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "permute/kinds/registry.h"
#include "permute/permutations.h"
#include "permute/unicode.h"

namespace squatstream::permute {
namespace {

using internal::EntryOf;
using internal::KindEntry;
using internal::kKindTable;
using internal::LabelDiff;
using internal::Level;

TEST(KindRegistry, CoversEveryKindExactlyOnceInValueOrder) {
  ASSERT_EQ(kKindTable.size(), kKindCount);
  ASSERT_EQ(AllKinds().size(), kKindCount);
  std::set<Kind> ids;
  std::set<std::string> names;
  for (std::size_t i = 0; i < kKindTable.size(); ++i) {
    const KindEntry& e = kKindTable[i];
    const auto value = static_cast<int>(i + 1);
    EXPECT_EQ(static_cast<int>(e.id), value) << e.name;
    EXPECT_EQ(KindFromNumber(value), e.id);
    EXPECT_EQ(&EntryOf(e.id), &e);
    EXPECT_TRUE(ids.insert(e.id).second) << e.name;
    EXPECT_TRUE(names.insert(std::string(e.name)).second) << e.name;
    EXPECT_EQ(KindName(e.id), e.name);
    EXPECT_EQ(KindBudget(e.id), e.budget);
    absl::StatusOr<Kind> parsed = ParseKindName(e.name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, e.id);
    // Each entry holds its level's two functions and not the other level's.
    if (e.level == Level::kLabel) {
      EXPECT_TRUE(e.label_variants != nullptr && e.label_may_produce != nullptr) << e.name;
      EXPECT_TRUE(e.name_variants == nullptr && e.name_may_produce == nullptr) << e.name;
    } else {
      EXPECT_TRUE(e.name_variants != nullptr && e.name_may_produce != nullptr) << e.name;
      EXPECT_TRUE(e.label_variants == nullptr && e.label_may_produce == nullptr) << e.name;
    }
  }
  // Every value of the enum, 1..kMaxValue, and nothing else.
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(Kind::kMaxValue));
  // The run order (AllKinds) holds each of them once.
  EXPECT_EQ(std::set<Kind>(AllKinds().begin(), AllKinds().end()), ids);
  EXPECT_EQ(*ids.begin(), Kind::kAddition);
  EXPECT_EQ(*ids.rbegin(), Kind::kMaxValue);
}

TEST(KindRegistry, AValueThatIsNoKindMakesNothing) {
  for (int value : {0, static_cast<int>(kKindCount) + 1, 255}) {
    const auto kind = static_cast<Kind>(value);
    EXPECT_EQ(KindFromNumber(value), std::nullopt) << value;
    EXPECT_EQ(KindName(kind), "unknown") << value;
    EXPECT_EQ(KindBudget(kind), SIZE_MAX) << value;
    EXPECT_TRUE(GenerateAll(*ParseDomain("example.com"), {.kinds = {kind}}).empty()) << value;
  }
  EXPECT_FALSE(ParseKindName("unknown").ok());
}

// ASCII inputs (the checks serve ASCII inputs only) holding what the kinds look for: doubled letters,
// vowels, hyphens, digits and number words, look-alike pairs (rn, cl, vv), homophones, a label every letter
// of which has a Cyrillic look-alike, subdomains, two-label suffixes, and a long label.
const std::vector<std::string>& AsciiInputs() {
  static const auto* const inputs = new std::vector<std::string>{
      "example.com",   "google.com",        "my-bank.co.uk", "www.paypal.com",  "login.mail.example.com",
      "one2three.net", "go4it.com",         "modern.com",    "vvclw.com",       "phoenix-quickbooks.com",
      "taxicab.com",   "box.com",           "apple.com",     "quick.com",       "xaaeeiioouu.com",
      "a.io",          "octocat.github.io", "x1-y2.org",     "mail.bank.co.uk", "internationalbusinessmachines.com",
  };
  return *inputs;
}

// The text around one permutable label of `d`: labels before it with their dots, and after it.
struct Around {
  std::string before, after;
  Label label;
};
std::vector<Around> PermutableLabels(const ParsedDomain& d, bool subdomains) {
  const std::vector<std::string> labels = absl::StrSplit(d.unicode, '.');
  const auto registrable = static_cast<std::size_t>(std::count(d.prefix.begin(), d.prefix.end(), '.'));
  std::vector<Around> out;
  for (std::size_t at = subdomains ? 0 : registrable; at <= registrable; ++at) {
    Around a;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i < at) a.before += labels[i] + ".";
      if (i > at) a.after += "." + labels[i];
    }
    a.label = DecodeUtf8(labels[at]);
    out.push_back(std::move(a));
  }
  return out;
}

class KindMayProduce : public ::testing::TestWithParam<Kind> {};

TEST_P(KindMayProduce, AcceptsEveryCandidateOfTheKindsGenerator) {
  const Kind kind = GetParam();
  const KindEntry& entry = EntryOf(kind);
  std::size_t candidates = 0;
  for (const std::string& input : AsciiInputs()) {
    absl::StatusOr<ParsedDomain> parsed = ParseDomain(input);
    ASSERT_TRUE(parsed.ok()) << input << ": " << parsed.status();
    for (bool subdomains : {false, true}) {
      if (subdomains && parsed->prefix.empty()) continue;
      const std::vector<Around> around = PermutableLabels(*parsed, subdomains);
      for (const Candidate& c : GenerateAll(*parsed, {.kinds = {kind}, .subdomains = subdomains})) {
        ++candidates;
        ASSERT_TRUE(c.kinds.Contains(kind)) << c.unicode;
        bool accepted = false;
        if (entry.level == Level::kName) {
          accepted = entry.MayProduce(*parsed, c.unicode);
        } else {
          for (const Around& a : around) {  // a variant of some permutable label, the rest of the name kept
            absl::string_view middle = c.unicode;
            if (absl::ConsumePrefix(&middle, a.before) && absl::ConsumeSuffix(&middle, a.after) &&
                entry.MayProduce(LabelDiff(a.label, DecodeUtf8(middle)))) {
              accepted = true;
              break;
            }
          }
        }
        EXPECT_TRUE(accepted) << KindName(kind) << " makes " << c.unicode << " from " << input
                              << (subdomains ? " (subdomains)" : "") << ", which its check refuses";
      }
    }
  }
  if (kind == Kind::kAsciiLookAlike) {
    EXPECT_EQ(candidates, 0u);  // it needs an internationalized label, as its check says
  } else {
    EXPECT_GT(candidates, 0u) << "the inputs exercise no candidate of " << KindName(kind);
  }
}

std::string KindTestName(const ::testing::TestParamInfo<Kind>& param) {
  return absl::StrReplaceAll(KindName(param.param), {{"-", "_"}});  // "vowel_swap": gtest names take no '-'
}

INSTANTIATE_TEST_SUITE_P(EveryKind, KindMayProduce, ::testing::ValuesIn(AllKinds().begin(), AllKinds().end()),
                         KindTestName);

}  // namespace
}  // namespace squatstream::permute
