#include "permute/permutations.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "permute/kinds/families.h"
#include "permute/kinds/registry.h"
#include "permute/unicode.h"

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

// A kind's place in the run order (AllKinds).
std::size_t RunPosition(Kind kind) {
  return static_cast<std::size_t>(std::find(AllKinds().begin(), AllKinds().end(), kind) - AllKinds().begin());
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
              ElementsAre(  // a: QWERTY s w q z, QWERTZ y, AZERTY 2 1 (q, z, s... already listed)
                  "sbc.com", "wbc.com", "qbc.com", "zbc.com", "ybc.com", "2bc.com", "1bc.com",
                  // b: n h g v on all three layouts; c: v f d x on all three
                  "anc.com", "ahc.com", "agc.com", "avc.com", "abv.com", "abf.com", "abd.com", "abx.com"));
}

TEST(Kinds, Dvorak) {
  // Dvorak: a (home row, first key) has o beside it and ' , above (not hostname characters) and ; below.
  std::vector<std::string> names = Names("a.com", Kind::kDvorak);
  EXPECT_THAT(names, IsSupersetOf({"o.com", "oa.com", "ao.com"}));
  EXPECT_THAT(names, Not(Contains("s.com")));  // a QWERTY neighbour, not a Dvorak one
}

TEST(Kinds, DoubleReplacement) {
  // Both o's of google replaced by one neighbour: QWERTY 0 p l k i 9, and no other layout adds one.
  EXPECT_THAT(Names("google.com", Kind::kDoubleReplacement),
              UnorderedElementsAre("gppgle.com", "gllgle.com", "gkkgle.com", "giigle.com", "g00gle.com", "g99gle.com"));
  EXPECT_TRUE(Names("abc.com", Kind::kDoubleReplacement).empty());
}

TEST(Kinds, DoubleVowelInsertion) {
  std::vector<std::string> names = Names("ab.com", Kind::kDoubleVowelInsertion);
  EXPECT_EQ(names.size(), 14u);  // 3 positions x 5 vowels, but "aa" before or after the a is the same name
  EXPECT_THAT(names, IsSupersetOf({"aaab.com", "aeeb.com", "abuu.com"}));
}

TEST(Kinds, Homophone) {
  EXPECT_THAT(Names("phone.com", Kind::kHomophone), IsSupersetOf({"fone.com"}));
  EXPECT_THAT(Names("quick.com", Kind::kHomophone), IsSupersetOf({"quik.com", "kwick.com"}));
}

TEST(Kinds, KeywordTldIsBounded) {
  std::vector<std::string> names = Names("bank.com", Kind::kKeywordTld);
  EXPECT_EQ(names.size(), KindBudget(Kind::kKeywordTld));
  EXPECT_THAT(names, IsSupersetOf({"loginbank.net", "bank-secure.net"}));
  for (const std::string& n : names) EXPECT_EQ(n.find(".com"), std::string::npos) << n;
}

TEST(Kinds, AsciiLookAlikeMapsAnIdnBackToAscii) {
  // аррӏе.com (all Cyrillic) looks like apple.com: Unicode's data pairs palochka ӏ with i, the ASCII table
  // i with l and 1, and e with c.
  EXPECT_THAT(Names("xn--80ak6aa92e.com", Kind::kAsciiLookAlike),
              UnorderedElementsAre("appie.com", "app1e.com", "apple.com", "appic.com"));
  EXPECT_THAT(Names("bücher.de", Kind::kAsciiLookAlike), ElementsAre("bucher.de"));
  EXPECT_TRUE(Names("apple.com", Kind::kAsciiLookAlike).empty());
}

TEST(Kinds, InsertionDeduplicates) {
  // 15 neighbours (see Replacement) x (before, after) = 30, but "abvc" comes from b and from c.
  std::vector<std::string> names = Names("abc.com", Kind::kInsertion);
  EXPECT_EQ(names.size(), 29u);
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
  // ASCII look-alikes (d for b), Unicode confusables with a diacritic (à) or without one (ɑ, Latin alpha),
  // and two steps (àdc).
  EXPECT_THAT(unicode, IsSupersetOf({"adc.com", "àbc.com", "ɑbc.com", "abç.com", "àdc.com"}));
  // Not a Cyrillic а or с in a Latin label: registries refuse mixed scripts.
  EXPECT_THAT(unicode, Not(Contains("аbc.com")));
  EXPECT_THAT(unicode, Not(Contains("ab\u0441.com")));
  for (const Candidate& c : all) {
    if (c.unicode != c.ascii) {
      EXPECT_EQ(c.ascii.rfind("xn--", 0), 0u) << c.unicode;
    }
  }
  // A Cyrillic label gets Cyrillic look-alikes (ӓ for а) and no Latin ones.
  std::set<std::string> cyrillic;
  for (const Candidate& c : GenerateAll(Parse("аррӏе.com"), {.kinds = {Kind::kHomoglyph}})) cyrillic.insert(c.unicode);
  EXPECT_THAT(cyrillic, Contains("ӓррӏе.com"));
  EXPECT_THAT(cyrillic, Not(Contains("аррlе.com")));
}

TEST(Kinds, HomoglyphIsBoundedOnLongLabels) {
  EXPECT_EQ(Names("internationalbusinessmachines.com", Kind::kHomoglyph).size(), KindBudget(Kind::kHomoglyph));
}

// Where a label's variants are nearly all refused once made (too long once punycoded, as in a 63-letter
// label, or mixing scripts, as a Latin label with a Greek letter), a budgeted kind stops at its work limit
// rather than trying every variant. Before the limit, the homoglyph kind tried 3 million variants (1.7 s)
// for the long label, aeiouaeiouaeΐ.com took 27 s (vowel-shuffle tried 1.7 million orders), and the fuzzer's
// input (ejafΐa9…) 9 s; a label with a few more vowels would have run for hours.
TEST(Generator, BudgetedKindsStopAtTheirWorkLimitWhereVariantsAreRefused) {
  const std::string long_label = "thequickbrownfoxjumpsoverthelazydogwhilesquattersregisterlookal";
  ASSERT_EQ(long_label.size(), kMaxLabelBytes);
  const std::vector<std::pair<std::string, Kind>> cases = {
      {long_label + ".com", Kind::kHomoglyph},          {"aeiouaeiouaeΐ.com", Kind::kHomoglyph},
      {"aeiouaeiouaeΐ.com", Kind::kVowelShuffle},       {"ejafΐa9aejafΐa9oeeee.ee", Kind::kHomoglyph},
      {"ejafΐa9aejafΐa9oeeee.ee", Kind::kVowelShuffle},
  };
  for (const auto& [domain, kind] : cases) {
    Generator g(Parse(domain), {.kinds = {kind}});
    std::size_t names = 0;
    while (g.Next()) ++names;
    EXPECT_EQ(g.offered(), KindWorkLimit(kind)) << domain << " " << KindName(kind);
    EXPECT_LT(names, KindBudget(kind)) << domain << " " << KindName(kind);
  }
  // A long label whose variants mostly pass stops at its budget, well within the limit.
  Generator g(Parse("internationalbusinessmachines.com"), {.kinds = {Kind::kHomoglyph}});
  while (g.Next()) {
  }
  EXPECT_LT(g.offered(), KindWorkLimit(Kind::kHomoglyph));
  EXPECT_EQ(g.generated(), KindBudget(Kind::kHomoglyph));
}

// Letters with two marks (ǖ, ậ, ễ: common in Vietnamese names) are not look-alikes, yet the fast path
// converts them, exactly as libidn2 does, so an input holding them does not send every variant through
// libidn2 (ǖ + a 50-letter label took 2.3 s before, 0.1 s after).
TEST(Unicode, FastPathConvertsLettersWithTwoMarksAsLibidn2Does) {
  for (char32_t cp : {U'ǖ', U'ậ', U'ễ', U'ợ', U'ṓ'}) {
    EXPECT_TRUE(IsFastPathCodePoint(cp)) << EncodeUtf8(std::u32string(1, cp));
    EXPECT_TRUE(LookAlikes(cp).empty()) << EncodeUtf8(std::u32string(1, cp));
  }
  for (const std::u32string label : {U"việtnam", U"thượnghải", U"ǖber", U"nguyễnvăn", U"ṓmega"}) {
    std::string fast;
    ASSERT_TRUE(FastAsciiLabel(label, &fast)) << EncodeUtf8(label);
    const absl::StatusOr<NameForms> forms = ToNameForms(EncodeUtf8(label) + ".vn");
    ASSERT_TRUE(forms.ok()) << forms.status();
    EXPECT_EQ(fast + ".vn", forms->ascii);
  }
}

// The kinds on each candidate are exactly the kinds that produce it when run alone.
TEST(Generator, KindsAreExactlyTheKindsThatProduceTheCandidate) {
  for (const std::string d : {"example.com", "google.com", "bücher.de", "my-bank.co.uk", "modern.com", "аррӏе.com",
                              "login.mail.example.com"}) {
    const ParsedDomain parsed = Parse(d);
    const bool subdomains = !parsed.prefix.empty();
    std::map<std::string, std::set<Kind>> alone;
    for (Kind k : AllKinds()) {
      for (const Candidate& c : GenerateAll(parsed, {.kinds = {k}, .subdomains = subdomains})) alone[c.ascii].insert(k);
    }
    std::vector<Candidate> all = GenerateAll(parsed, {.kinds = {}, .subdomains = subdomains});
    EXPECT_EQ(all.size(), alone.size()) << d;
    for (const Candidate& c : all) {
      const std::vector<Kind> kinds = c.kinds.ToVector();
      EXPECT_EQ(std::set<Kind>(kinds.begin(), kinds.end()), alone[c.ascii]) << d << " -> " << c.unicode;
    }
  }
}

// A budget bounds the names a kind makes, whatever other kinds made before it: the names carrying a budgeted
// kind in a full run are exactly those the kind makes alone. Here transposition (which runs first) makes
// some of vowel-shuffle's first names, and vowel-shuffle hits its budget (10 vowels: 113,400 orders, 120 kept).
TEST(Generator, ABudgetCountsTheKindsOwnNamesNotOnlyNewOnes) {
  const ParsedDomain parsed = Parse("xaaeeiioouu.com");  // vowels in sorted order: the first orders differ little
  std::set<std::string> alone;
  for (const Candidate& c : GenerateAll(parsed, {.kinds = {Kind::kVowelShuffle}})) alone.insert(c.ascii);
  EXPECT_EQ(alone.size(), KindBudget(Kind::kVowelShuffle));
  std::set<std::string> in_full_run;
  for (const Candidate& c : GenerateAll(parsed, {.kinds = {Kind::kTransposition, Kind::kVowelShuffle}})) {
    if (c.kinds.Contains(Kind::kVowelShuffle)) in_full_run.insert(c.ascii);
  }
  EXPECT_EQ(in_full_run, alone);
}

TEST(Generator, KeepsEveryKindThatProducedACandidate) {
  for (const Candidate& c : GenerateAll(Parse("example.com"), {})) {
    if (c.ascii == "examplee.com") {
      // The first of the two in run order is its kind.
      EXPECT_EQ(c.kind,
                RunPosition(Kind::kRepetition) < RunPosition(Kind::kAddition) ? Kind::kRepetition : Kind::kAddition);
      EXPECT_THAT(c.kinds.ToVector(), ElementsAre(Kind::kAddition, Kind::kRepetition));
      return;
    }
  }
  ADD_FAILURE() << "examplee.com not generated";
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

// github.io, a public suffix only through the list's private section, is permuted as the name registered
// under io: its label changes, and io stays the suffix the label-level kinds keep.
TEST(Kinds, APrivateSuffixItselfIsPermutedUnderItsIcannSuffix) {
  std::set<std::string> all;
  for (const Candidate& c : GenerateAll(Parse("github.io"), {})) all.insert(c.ascii);
  EXPECT_THAT(all, IsSupersetOf({"gihub.io", "githib.io", "githubs.io", "github.com", "gtihub.io"}));
  EXPECT_THAT(all, Not(Contains("github.io")));
  for (const std::string& name : all) EXPECT_FALSE(absl::EndsWith(name, ".github.io")) << name;
  EXPECT_THAT(Names("blogspot.com", Kind::kOmission), Contains("blogspt.com"));
  EXPECT_THAT(Names("herokuapp.com", Kind::kTransposition), Contains("herokaupp.com"));
  // A name under github.io keeps github.io as its suffix.
  EXPECT_THAT(Names("octocat.github.io", Kind::kOmission), Contains("octoat.github.io"));
}

// On request, the label-level kinds also permute each subdomain label (one label changed per name), after
// the registrable label's names of the same kind.
TEST(Kinds, SubdomainLabelsOnRequest) {
  auto names = [](const std::string& domain, Kind kind) {
    std::vector<std::string> out;
    for (const Candidate& c : GenerateAll(Parse(domain), {.kinds = {kind}, .subdomains = true})) out.push_back(c.ascii);
    return out;
  };
  EXPECT_THAT(names("www.abc.co.uk", Kind::kOmission),
              ElementsAre("www.bc.co.uk", "www.ac.co.uk", "www.ab.co.uk", "ww.abc.co.uk"));
  EXPECT_THAT(names("login.mail.example.com", Kind::kTransposition),
              IsSupersetOf({"login.mail.exmaple.com", "loign.mail.example.com", "login.mial.example.com"}));
  // Only one label changes per name, and never the suffix.
  for (const std::string& n : names("login.mail.example.com", Kind::kOmission)) {
    const std::vector<std::string> labels = absl::StrSplit(n, '.');
    ASSERT_EQ(labels.size(), 4u) << n;
    EXPECT_EQ(labels[3], "com");
    EXPECT_EQ((labels[0] != "login") + (labels[1] != "mail") + (labels[2] != "example"), 1) << n;
  }
  // An internationalized subdomain label keeps its script and gets both forms.
  bool found = false;
  for (const Candidate& c :
       GenerateAll(Parse("bücher.example.com"), {.kinds = {Kind::kOmission}, .subdomains = true})) {
    found = found || c.unicode == "bücer.example.com";
    if (c.unicode == "bücer.example.com") {
      EXPECT_EQ(c.ascii, "xn--bcer-0ra.example.com");
    }
  }
  EXPECT_TRUE(found);
  // Without a subdomain the option changes nothing.
  EXPECT_EQ(GenerateAll(Parse("abc.com"), {.kinds = {}, .subdomains = true}).size(),
            GenerateAll(Parse("abc.com"), {}).size());
}

TEST(Kinds, Plural) {
  EXPECT_THAT(Names("shop.com", Kind::kPlural), ElementsAre("shops.com"));
  EXPECT_THAT(Names("box.com", Kind::kPlural), ElementsAre("boxs.com", "boxes.com"));
  // dnstwist's inner plural (its version 20250130 makes these): after the third to the third-last character.
  EXPECT_THAT(Names("example.com", Kind::kPlural),
              ElementsAre("examples.com", "exasmple.com", "examsple.com", "exampsle.com"));
  EXPECT_THAT(Names("taxicab.com", Kind::kPlural),
              ElementsAre("taxicabs.com", "taxesicab.com", "taxiscab.com", "taxicsab.com"));
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
  EXPECT_THAT(Classify(target, ToNameForms("exàmple.com")->ascii), Contains(Kind::kHomoglyph));
  EXPECT_TRUE(Classify(target, "xn--xample-2of.com").empty());  // еxample.com, Cyrillic е: mixed script
  EXPECT_TRUE(Classify(target, "google.com").empty());
  EXPECT_TRUE(Classify(target, "example.com").empty());  // the target itself is no twist
  // Subdomain labels count too: a twist of mail.example.com may change "mail".
  EXPECT_THAT(Classify(Parse("mail.example.com"), "mal.example.com"), ElementsAre(Kind::kOmission));
  EXPECT_THAT(Classify(Parse("mail.example.com"), "mail.exmple.com"), ElementsAre(Kind::kOmission));
}

// One Classifier answers for every candidate exactly what a generator run says of it (its kinds), and
// nothing for names the generator does not make.
TEST(Classify, AClassifierAgreesWithTheGeneratorOnEveryCandidate) {
  for (const char* domain : {"paypal.com", "bücher.de", "octocat.github.io"}) {
    const ParsedDomain target = Parse(domain);
    const Classifier classifier(target);
    const std::vector<Candidate> all = GenerateAll(target, {});
    EXPECT_EQ(classifier.size(), all.size()) << domain;
    for (const Candidate& c : all) {
      ASSERT_EQ(classifier.Classify(c.ascii), c.kinds.ToVector()) << c.ascii;
      ASSERT_FALSE(classifier.Classify(c.ascii).empty());
    }
    EXPECT_TRUE(classifier.Classify(target.ascii).empty());
    EXPECT_TRUE(classifier.Classify("unrelated-name.org").empty());
  }
}

TEST(Kinds, NamesRoundTrip) {
  for (Kind k : AllKinds()) {
    absl::StatusOr<Kind> parsed = ParseKindName(KindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_FALSE(ParseKindName("nonsense").ok());
}

// Deterministic pseudo-random valid domains: LDH labels of 1-20 characters (hyphens inside only), some with
// Latin, Cyrillic or Greek letters, under a few suffixes, some with a subdomain.
std::vector<std::string> RandomDomains(int count) {
  std::mt19937 rng(20261125);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> latin = {"a", "b", "c", "d", "e", "g", "i", "l", "m", "n", "o", "p",
                                          "r", "s", "t", "u", "w", "x", "y", "z", "0", "1", "5", "9"};
  const std::vector<std::string> cyrillic = {"а", "в", "е", "к", "м", "о", "р", "с", "т", "у", "х", "ӏ"};
  const std::vector<std::string> greek = {"α", "β", "ε", "ι", "κ", "ν", "ο", "ρ", "τ", "υ"};
  const std::vector<std::string> extra = {"é", "ü", "ñ", "ø", "ç"};
  const std::vector<std::string> suffixes = {"com", "net", "de", "co.uk", "io", "org", "github.io", "xyz"};
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    const int script = static_cast<int>(pick(6));  // 0-2 ASCII, 3 Latin with diacritics, 4 Cyrillic, 5 Greek
    const std::size_t len = 1 + pick(20);
    std::string label;
    for (std::size_t k = 0; k < len; ++k) {
      if (k > 0 && k + 1 < len && pick(8) == 0 && label.back() != '-') {
        label += "-";
      } else if (script == 3 && pick(4) == 0) {
        label += extra[pick(extra.size())];
      } else if (script == 4) {
        label += cyrillic[pick(cyrillic.size())];
      } else if (script == 5) {
        label += greek[pick(greek.size())];
      } else {
        label += latin[pick(latin.size())];
      }
    }
    out.push_back((pick(5) == 0 ? "www." : "") + label + "." + suffixes[pick(suffixes.size())]);
  }
  return out;
}

// Properties over many domains: every candidate is a valid IDNA2008 hostname in both forms whose new labels
// are single-script, differs from the input, appears once and names the kinds that produced it; each kind
// stays within its budget; the cap holds; the order is stable. In three interleaved shards (each runs in its
// own ctest process: under ASan the whole set took 47-66 s of a 120 s timeout).
constexpr int kPropertyShards = 3;
class PropertiesOverManyDomains : public ::testing::TestWithParam<int> {};

TEST_P(PropertiesOverManyDomains, HoldForEveryCandidate) {
  std::vector<std::string> domains = {"example.com",
                                      "google.com",
                                      "paypal.com",
                                      "a.io",
                                      "x1-y2.org",
                                      "bücher.de",
                                      "www.bank.co.uk",
                                      "octocat.github.io",
                                      "internationalbusinessmachines.com",
                                      "xn--80ak6aa92e.com"};
  for (std::string& d : RandomDomains(40)) domains.push_back(std::move(d));
  for (std::size_t at = static_cast<std::size_t>(GetParam()); at < domains.size(); at += kPropertyShards) {
    const std::string& d = domains[at];
    absl::StatusOr<ParsedDomain> maybe = ParseDomain(d);
    if (!maybe.ok()) continue;  // a random label can collide with a reserved form ("ab--"); skip it
    const ParsedDomain& parsed = *maybe;
    const std::vector<absl::string_view> input_labels = absl::StrSplit(parsed.unicode, '.');
    // Names with subdomains are checked with subdomain labels permuted too (the same properties hold).
    const GeneratorOptions options = {.kinds = {}, .subdomains = !parsed.prefix.empty()};
    std::vector<Candidate> all = GenerateAll(parsed, options);
    EXPECT_GT(all.size(), 20u) << d;
    std::set<std::string> seen;
    std::map<Kind, std::size_t> per_kind;
    for (const Candidate& c : all) {
      EXPECT_NE(c.ascii, parsed.ascii) << d;
      EXPECT_TRUE(seen.insert(c.ascii).second) << "duplicate " << c.ascii;
      EXPECT_TRUE(c.kinds.Contains(c.kind)) << c.ascii;
      ++per_kind[c.kind];
      absl::StatusOr<NameForms> forms = ToNameForms(c.unicode);
      ASSERT_TRUE(forms.ok()) << d << " -> " << c.unicode << ": " << forms.status();
      EXPECT_EQ(forms->ascii, c.ascii) << c.unicode;
      EXPECT_EQ(forms->unicode, c.unicode);
      EXPECT_LE(c.ascii.size(), kMaxDomainBytes);
      for (absl::string_view l : absl::StrSplit(c.unicode, '.')) {
        if (std::find(input_labels.begin(), input_labels.end(), l) != input_labels.end()) continue;
        EXPECT_TRUE(LabelScript(DecodeUtf8(l)).has_value()) << "mixed scripts in " << c.unicode;
      }
    }
    for (const auto& [kind, n] : per_kind) EXPECT_LE(n, KindBudget(kind)) << KindName(kind);
    std::vector<Candidate> again = GenerateAll(parsed, options);
    ASSERT_EQ(again.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(again[i].ascii, all[i].ascii);
    EXPECT_EQ(GenerateAll(parsed, {.kinds = {}, .max_candidates = 7}).size(), 7u);
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, PropertiesOverManyDomains, ::testing::Range(0, kPropertyShards));

// The first candidates come out after the first kinds ran, not after all of them.
TEST(Generator, YieldsIncrementally) {
  Generator g(Parse("example.com"), {});
  std::optional<Candidate> first = g.Next();
  ASSERT_TRUE(first.has_value());
  // The run order starts with ascii-lookalike (nothing from an ASCII label), then tld-swap, whose first suffix
  // other than the input's is net; no later kind makes example.net.
  EXPECT_EQ(first->kind, Kind::kTldSwap);
  EXPECT_EQ(first->ascii, "example.net");
  EXPECT_EQ(g.generated(), 1u);
  EXPECT_EQ(g.kinds_run(), RunPosition(Kind::kTldSwap) + 1);
  // examplee.com (repetition and addition) waits until the later of the two has run.
  std::size_t kinds_run_at_examplee = 0;
  while (std::optional<Candidate> c = g.Next()) {
    if (c->ascii == "examplee.com") {
      EXPECT_THAT(c->kinds.ToVector(), ElementsAre(Kind::kAddition, Kind::kRepetition));
      kinds_run_at_examplee = g.kinds_run();
    }
  }
  EXPECT_GE(kinds_run_at_examplee, std::max(RunPosition(Kind::kAddition), RunPosition(Kind::kRepetition)) + 1);
  EXPECT_EQ(g.late_merges(), 0u);
}

// The likely hits first: for paypal.com the first candidates are tld-swap's, the suffixes in the order of its
// table (the most used first: .net and .org lead), before any other kind's — and a cap keeps those.
TEST(RunOrder, TldSwapComesFirstWithTheMostUsedSuffixes) {
  std::vector<std::string> swaps;
  for (absl::string_view suffix : internal::SwapSuffixes()) {
    if (suffix != "com") swaps.push_back(absl::StrCat("paypal.", suffix));
  }
  ASSERT_GE(swaps.size(), 2u);
  EXPECT_EQ(swaps[0], "paypal.net");
  EXPECT_EQ(swaps[1], "paypal.org");
  const std::vector<Candidate> all = GenerateAll(Parse("paypal.com"), {});
  ASSERT_GT(all.size(), swaps.size());
  for (std::size_t i = 0; i < swaps.size(); ++i) {
    EXPECT_EQ(all[i].ascii, swaps[i]) << i;
    EXPECT_EQ(all[i].kind, Kind::kTldSwap) << all[i].ascii;
  }
  EXPECT_NE(all[swaps.size()].kind, Kind::kTldSwap) << all[swaps.size()].ascii;
  // A request naming kinds in another order runs them in run order too (service/request.cc: InRunOrder).
  KindSet selected;
  selected.Insert(Kind::kBitsquatting);
  selected.Insert(Kind::kTldSwap);
  const std::vector<Candidate> some = GenerateAll(Parse("paypal.com"), {.kinds = InRunOrder(selected)});
  ASSERT_FALSE(some.empty());
  EXPECT_EQ(some.front().ascii, "paypal.net");
  std::vector<std::string> capped;
  for (const Candidate& c : GenerateAll(Parse("paypal.com"), {.kinds = {}, .max_candidates = 2})) {
    capped.push_back(c.ascii);
  }
  EXPECT_THAT(capped, ElementsAre("paypal.net", "paypal.org"));
}

// RunAhead runs the kinds Next() would run later, so that total() is known early; what is handed out is the same.
TEST(Generator, RunAheadTellsTheTotalEarlyAndHandsOutTheSame) {
  const ParsedDomain parsed = Parse("paypal.com");
  const std::vector<Candidate> all = GenerateAll(parsed, {});
  for (const std::size_t cap : {std::size_t{100}, SIZE_MAX}) {
    const std::size_t expected_total = std::min(cap, all.size());
    Generator g(parsed, {.kinds = {}, .max_candidates = cap});
    EXPECT_FALSE(g.total().has_value());
    std::vector<std::string> out;
    out.push_back(g.Next()->ascii);
    EXPECT_FALSE(g.total().has_value()) << "the first kinds made " << cap << " already";
    g.RunAhead();
    ASSERT_TRUE(g.total().has_value());
    EXPECT_EQ(*g.total(), expected_total);
    // With a cap, only the kinds that make it run (the likely ones); without, every kind.
    if (cap == 100) {
      EXPECT_LT(g.kinds_run(), AllKinds().size());
    }
    while (std::optional<Candidate> c = g.Next()) out.push_back(c->ascii);
    EXPECT_EQ(out.size(), expected_total);
    EXPECT_EQ(*g.total(), expected_total);  // and after the last
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], all[i].ascii) << i;
    EXPECT_EQ(g.late_merges(), 0u);
  }
}

// ASCII before IDN: in the default run of an ASCII domain every internationalized candidate comes after every
// candidate of a kind that makes ASCII names only (the kinds making IDN names run last), subdomain labels
// permuted or not. Nothing is left out for it: the candidates are those of every kind (the kinds' own tests
// above, KindsAreExactlyTheKindsThatProduceTheCandidate).
TEST(RunOrder, InternationalizedCandidatesComeAfterTheAsciiKinds) {
  std::vector<std::string> domains = {"paypal.com", "example.com",   "google.com",
                                      "modern.com", "my-bank.co.uk", "login.mail.example.com"};
  for (std::size_t i = 0; i < domains.size(); ++i) {
    const ParsedDomain parsed = Parse(domains[i]);
    const std::vector<Candidate> all = GenerateAll(parsed, {.kinds = {}, .subdomains = !parsed.prefix.empty()});
    std::size_t last_of_ascii_kinds = 0, first_idn = all.size();
    for (std::size_t at = 0; at < all.size(); ++at) {
      if (internal::EntryOf(all[at].kind).non_ascii == internal::NonAsciiNames::kNone) last_of_ascii_kinds = at;
      if (all[at].unicode != all[at].ascii && first_idn == all.size()) first_idn = at;
    }
    ASSERT_LT(first_idn, all.size()) << domains[i] << ": no IDN candidate";
    EXPECT_LT(last_of_ascii_kinds, first_idn)
        << domains[i] << ": " << all[last_of_ascii_kinds].ascii << " after " << all[first_idn].unicode;
  }
}

// Deterministic pseudo-random ASCII domains built from the pieces the kinds look for (look-alike pairs, number
// words, homophones, dictionary words, hyphens, doubled letters, suffix-like labels).
std::vector<std::string> RandomAsciiDomains(int count) {
  std::mt19937 rng(20261126);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> pieces = {
      "a",  "e",  "i",   "o",  "u",  "b",    "c",   "d",  "k",   "l",    "m",   "n",     "r",    "s",
      "w",  "x",  "y",   "z",  "0",  "1",    "3",   "9",  "rn",  "cl",   "vv",  "nn",    "one",  "to",
      "4",  "ph", "ck",  "ee", "oo", "tion", "ght", "qu", "ies", "able", "com", "login", "app",  "www",
      "co", "uk", "net", "ss", "ll", "es",   "-",   "-",  "aa",  "ea",   "ks",  "f",     "mail", "secure"};
  const std::vector<std::string> suffixes = {"com", "net", "co.uk", "io", "github.io", "de"};
  std::vector<std::string> out;
  while (static_cast<int>(out.size()) < count) {
    std::string label;
    for (std::size_t k = 0, n = 1 + pick(6); k < n; ++k) label += pieces[pick(pieces.size())];
    std::string prefix;
    for (std::size_t k = 0, n = pick(3) == 0 ? 1 + pick(2) : 0; k < n; ++k) prefix += pieces[pick(pieces.size())] + ".";
    const std::string d = prefix + label + "." + suffixes[pick(suffixes.size())];
    if (ParseDomain(d).ok()) out.push_back(d);  // skips hyphens at the ends, "ab--" and the like
  }
  return out;
}

// Handing candidates out early changes only their order: the candidates and their kinds are those of a run
// that hands nothing out before every kind ran, for every kind order, with and without subdomain labels.
// Incremental vs all-at-once over 108 domains, in four interleaved shards (each runs in its own ctest
// process: under ASan the whole set took ~115 s of a 120 s timeout).
constexpr int kEquivalenceShards = 4;
class IncrementalHandsOutTheSameCandidatesAndKinds : public ::testing::TestWithParam<int> {};

TEST_P(IncrementalHandsOutTheSameCandidatesAndKinds, AsAllAtOnce) {
  std::vector<std::string> domains = {"example.com",     "google.com",       "paypal.com",
                                      "my-bank.co.uk",   "modern.com",       "login.mail.example.com",
                                      "one-2-three.net", "octocat.github.io"};
  for (std::string& d : RandomAsciiDomains(100)) domains.push_back(std::move(d));
  for (std::size_t i = static_cast<std::size_t>(GetParam()); i < domains.size(); i += kEquivalenceShards) {
    const std::string& d = domains[i];
    const ParsedDomain parsed = Parse(d);
    // Every third domain runs the kinds shuffled, every third a random prefix of them.
    std::mt19937 rng(static_cast<std::uint32_t>(7 + i));
    std::vector<Kind> kinds(AllKinds().begin(), AllKinds().end());
    if (i % 3 == 1) std::shuffle(kinds.begin(), kinds.end(), rng);
    if (i % 3 == 2) kinds.resize(1 + rng() % kinds.size());
    for (bool subdomains : {false, true}) {
      auto describe = [](const Candidate& c) {
        return std::make_tuple(c.ascii, c.unicode, static_cast<int>(c.kind), c.kinds.ToVector());
      };
      std::set<std::tuple<std::string, std::string, int, std::vector<Kind>>> at_once, early;
      for (const Candidate& c : GenerateAll(parsed, {.kinds = kinds, .subdomains = subdomains, .incremental = false})) {
        at_once.insert(describe(c));
      }
      Generator g(parsed, {.kinds = kinds, .subdomains = subdomains});
      while (std::optional<Candidate> c = g.Next()) early.insert(describe(*c));
      EXPECT_EQ(g.late_merges(), 0u) << d;
      EXPECT_EQ(early, at_once) << d << (subdomains ? " with subdomains" : "");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, IncrementalHandsOutTheSameCandidatesAndKinds, ::testing::Range(0, kEquivalenceShards));

}  // namespace
}  // namespace squatstream::permute
