#include "permute/permutations.h"

#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::permute {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

ParsedDomain Parse(const std::string& d) {
  absl::StatusOr<ParsedDomain> parsed = ParseDomain(d);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

// ASCII names of one kind's candidates for `domain`, in generation order.
std::vector<std::string> Names(const std::string& domain, Kind kind) {
  std::vector<std::string> out;
  for (const Candidate& c : GenerateAll(Parse(domain), {.kinds = {kind}})) {
    EXPECT_EQ(c.kind, kind);
    out.push_back(c.ascii);
  }
  return out;
}

TEST(Kinds, Omission) { EXPECT_THAT(Names("abc.com", Kind::kOmission), ElementsAre("bc.com", "ac.com", "ab.com")); }

TEST(Kinds, Repetition) {
  EXPECT_THAT(Names("abc.com", Kind::kRepetition), ElementsAre("aabc.com", "abbc.com", "abcc.com"));
}

TEST(Kinds, Transposition) {
  EXPECT_THAT(Names("abc.com", Kind::kTransposition), ElementsAre("bac.com", "acb.com"));
  EXPECT_THAT(Names("aab.com", Kind::kTransposition), ElementsAre("aba.com"));  // equal pair skipped
}

TEST(Kinds, Hyphenation) { EXPECT_THAT(Names("abc.com", Kind::kHyphenation), ElementsAre("a-bc.com", "ab-c.com")); }

TEST(Kinds, Subdomain) { EXPECT_THAT(Names("abc.com", Kind::kSubdomain), ElementsAre("a.bc.com", "ab.c.com")); }

TEST(Kinds, VowelSwap) {
  EXPECT_THAT(Names("abc.com", Kind::kVowelSwap), ElementsAre("ebc.com", "ibc.com", "obc.com", "ubc.com"));
}

TEST(Kinds, Addition) {
  std::vector<std::string> names = Names("abc.com", Kind::kAddition);
  EXPECT_EQ(names.size(), 36u);
  EXPECT_EQ(names.front(), "abca.com");
  EXPECT_EQ(names.back(), "abc9.com");
}

TEST(Kinds, Replacement) {
  EXPECT_THAT(Names("abc.com", Kind::kReplacement),
              ElementsAre("qbc.com", "wbc.com", "sbc.com", "zbc.com", "avc.com", "agc.com", "ahc.com", "anc.com",
                          "abx.com", "abd.com", "abf.com", "abv.com"));
}

TEST(Kinds, InsertionDeduplicates) {
  // 3 characters x 4 neighbours x (before, after) = 24, but "abvc" comes from b and from c.
  std::vector<std::string> names = Names("abc.com", Kind::kInsertion);
  EXPECT_EQ(names.size(), 23u);
  EXPECT_THAT(names, IsSupersetOf({"qabc.com", "aqbc.com", "abvc.com", "abcd.com"}));
}

TEST(Kinds, Bitsquatting) {
  // a=0x61 -> c e i q; b=0x62 -> c f j r; c=0x63 -> b a g k s (others leave [a-z0-9-]).
  EXPECT_THAT(Names("abc.com", Kind::kBitsquatting),
              UnorderedElementsAre("cbc.com", "ebc.com", "ibc.com", "qbc.com", "acc.com", "afc.com", "ajc.com",
                                   "arc.com", "abb.com", "aba.com", "abg.com", "abk.com", "abs.com"));
}

TEST(Kinds, Homoglyph) {
  std::vector<Candidate> all = GenerateAll(Parse("abc.com"), {.kinds = {Kind::kHomoglyph}});
  std::set<std::string> unicode;
  for (const Candidate& c : all) unicode.insert(c.unicode);
  EXPECT_THAT(unicode, IsSupersetOf({"adc.com", "аbc.com" /* Cyrillic а */, "àbc.com", "ab\u0441.com"}));
  for (const Candidate& c : all) {
    if (c.unicode != c.ascii) {
      EXPECT_EQ(c.ascii.rfind("xn--", 0), 0u) << c.unicode;
    }
  }
}

TEST(Kinds, TldSwapKeepsTheLabel) {
  std::vector<std::string> names = Names("abc.com", Kind::kTldSwap);
  EXPECT_THAT(names, IsSupersetOf({"abc.net", "abc.co.uk", "abc.io"}));
  EXPECT_THAT(names, Not(Contains("abc.com")));
  for (const std::string& n : names) EXPECT_EQ(n.rfind("abc.", 0), 0u) << n;
}

TEST(Kinds, PermuteTheRegistrableLabelOnly) {
  EXPECT_THAT(Names("www.abc.co.uk", Kind::kOmission), ElementsAre("www.bc.co.uk", "www.ac.co.uk", "www.ab.co.uk"));
  EXPECT_THAT(Names("abc.github.io", Kind::kTransposition), ElementsAre("bac.github.io", "acb.github.io"));
}

TEST(Kinds, Plural) {
  EXPECT_THAT(Names("shop.com", Kind::kPlural), ElementsAre("shops.com"));
  EXPECT_THAT(Names("box.com", Kind::kPlural), ElementsAre("boxs.com", "boxes.com"));
}

TEST(Kinds, VariousFoldsTheSuffixIntoTheLabel) {
  EXPECT_THAT(Names("example.com", Kind::kVarious), ElementsAre("examplecom.com", "example-com.com"));
  EXPECT_THAT(Names("bank.co.uk", Kind::kVarious), ElementsAre("bankcouk.co.uk", "bank-co-uk.co.uk"));
}

TEST(Kinds, FauxTld) {
  EXPECT_THAT(Names("bank.co.uk", Kind::kFauxTld), ElementsAre("bank-co-uk.com", "bank-co-uk.net", "bank-co-uk.org"));
  EXPECT_THAT(Names("bank.com", Kind::kFauxTld), ElementsAre("bank-com.net", "bank-com.org"));
}

TEST(Kinds, TldAppend) {
  std::vector<std::string> names = Names("example.com", Kind::kTldAppend);
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(names.front(), "example.com.it");
}

TEST(Kinds, MissingDot) {
  EXPECT_THAT(Names("example.com", Kind::kMissingDot), ElementsAre("wwwexample.com"));
  EXPECT_THAT(Names("mail.example.com", Kind::kMissingDot), ElementsAre("wwwexample.com", "mailexample.com"));
}

TEST(Kinds, StripDash) {
  EXPECT_THAT(Names("my-big-bank.com", Kind::kStripDash),
              ElementsAre("mybig-bank.com", "my-bigbank.com", "mybigbank.com"));
  EXPECT_TRUE(Names("bank.com", Kind::kStripDash).empty());
}

TEST(Kinds, Mapped) {
  EXPECT_THAT(Names("modern.com", Kind::kMapped),
              ElementsAre("rnodern.com", "modem.com", "nnodern.com", "moclern.com"));
  EXPECT_THAT(Names("vvclw.com", Kind::kMapped), UnorderedElementsAre("vvclvv.com", "vvdw.com", "wclw.com"));
}

TEST(Kinds, VowelShuffle) {
  EXPECT_THAT(Names("paypal.com", Kind::kVowelShuffle), ElementsAre());  // a, a: no other order
  EXPECT_THAT(Names("google.com", Kind::kVowelShuffle), UnorderedElementsAre("geoglo.com", "goeglo.com"));
  // Long labels stay within the budget.
  EXPECT_LE(Names("aeiouaeiouaeiou.com", Kind::kVowelShuffle).size(), 120u);
}

TEST(Kinds, CyrillicNeedsALookAlikeForEveryLetter) {
  std::vector<Candidate> all = GenerateAll(Parse("apple.com"), {.kinds = {Kind::kCyrillic}, .max_candidates = 100});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].unicode, "аррӏе.com");                    // аррӏе.com
  EXPECT_TRUE(Names("frank.com", Kind::kCyrillic).empty());  // f, r, n have none
}

TEST(Kinds, NumberWord) {
  EXPECT_THAT(Names("oneway.com", Kind::kNumberWord), ElementsAre("1way.com"));
  EXPECT_THAT(Names("go4it.com", Kind::kNumberWord), ElementsAre("gofourit.com", "goforit.com"));
}

TEST(Kinds, Dictionary) {
  std::vector<std::string> names = Names("bank.com", Kind::kDictionary);
  EXPECT_EQ(names.size(), 60u);  // 15 words x (before, before-, after, -after)
  EXPECT_THAT(names, IsSupersetOf({"loginbank.com", "secure-bank.com", "bankapp.com", "bank-support.com"}));
}

TEST(Classify, NamesEveryKindThatProducesTheCandidate) {
  const ParsedDomain target = Parse("example.com");
  EXPECT_THAT(Classify(target, "exampel.com"), ElementsAre(Kind::kTransposition));
  // "examplee.com": an 'e' appended (addition), the last 'e' doubled (repetition), and a vowel... not a swap.
  EXPECT_THAT(Classify(target, "examplee.com"), ElementsAre(Kind::kAddition, Kind::kRepetition));
  EXPECT_THAT(Classify(target, "example.net"), ElementsAre(Kind::kTldSwap));
  EXPECT_THAT(Classify(target, "xn--xample-2of.com"), Contains(Kind::kHomoglyph));  // еxample.com, Cyrillic е
  EXPECT_TRUE(Classify(target, "google.com").empty());
  EXPECT_TRUE(Classify(target, "example.com").empty());  // the target itself is no twist
}

TEST(Kinds, NamesRoundTrip) {
  for (Kind k : AllKinds()) {
    absl::StatusOr<Kind> parsed = ParseKindName(KindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_FALSE(ParseKindName("nonsense").ok());
}

// Properties over many domains: every candidate is a valid IDNA2008 hostname in both forms, differs from
// the input, appears once; the cap holds; the order is stable.
TEST(Generator, PropertiesOverManyDomains) {
  const std::vector<std::string> domains = {"example.com",
                                            "google.com",
                                            "paypal.com",
                                            "a.io",
                                            "x1-y2.org",
                                            "bücher.de",
                                            "www.bank.co.uk",
                                            "octocat.github.io",
                                            "internationalbusinessmachines.com",
                                            "xn--80ak6aa92e.com"};
  for (const std::string& d : domains) {
    const ParsedDomain parsed = Parse(d);
    std::vector<Candidate> all = GenerateAll(parsed, {});
    EXPECT_GT(all.size(), 50u) << d;
    std::set<std::string> seen;
    for (const Candidate& c : all) {
      EXPECT_NE(c.ascii, parsed.ascii) << d;
      EXPECT_TRUE(seen.insert(c.ascii).second) << "duplicate " << c.ascii;
      absl::StatusOr<NameForms> forms = ToNameForms(c.unicode);
      ASSERT_TRUE(forms.ok()) << c.unicode << ": " << forms.status();
      EXPECT_EQ(forms->ascii, c.ascii);
      EXPECT_LE(c.ascii.size(), kMaxDomainBytes);
    }
    std::vector<Candidate> again = GenerateAll(parsed, {});
    ASSERT_EQ(again.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(again[i].ascii, all[i].ascii);
    EXPECT_EQ(GenerateAll(parsed, {.kinds = {}, .max_candidates = 7}).size(), 7u);
  }
}

TEST(Generator, YieldsIncrementally) {
  Generator g(Parse("example.com"), {});
  std::optional<Candidate> first = g.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->kind, Kind::kAddition);
  EXPECT_EQ(g.generated(), 1u);
}

}  // namespace
}  // namespace squatstream::permute
