#include "permute/domain.h"

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::permute {
namespace {

using ::testing::HasSubstr;

void ExpectInvalid(const std::string& input, const std::string& fault) {
  absl::StatusOr<ParsedDomain> d = ParseDomain(input);
  ASSERT_FALSE(d.ok()) << input;
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << input;
  EXPECT_THAT(std::string(d.status().message()), HasSubstr(fault)) << input;
}

TEST(ParseDomain, SplitsAroundTheRegistrableLabel) {
  absl::StatusOr<ParsedDomain> d = ParseDomain("www.Example.co.uk.");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ascii, "www.example.co.uk");
  EXPECT_EQ(d->prefix, "www.");
  EXPECT_EQ(d->label, "example");
  EXPECT_EQ(d->suffix, "co.uk");
}

TEST(ParseDomain, PrivateSuffixesAreSuffixes) {
  absl::StatusOr<ParsedDomain> d = ParseDomain("octocat.github.io");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->label, "octocat");
  EXPECT_EQ(d->suffix, "github.io");
}

// A name that is a public suffix only through the list's PRIVATE section is a registered domain under its
// ICANN suffix (it was refused as "a public suffix"); names under it keep it as their suffix (above).
TEST(ParseDomain, APrivateSuffixItselfIsRegisteredUnderItsIcannSuffix) {
  for (const auto& [input, label, suffix] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"github.io", "github", "io"},
                                                                      {"blogspot.com", "blogspot", "com"},
                                                                      {"herokuapp.com", "herokuapp", "com"},
                                                                      {"GitHub.io.", "github", "io"}}) {
    absl::StatusOr<ParsedDomain> d = ParseDomain(input);
    ASSERT_TRUE(d.ok()) << input << ": " << d.status();
    EXPECT_EQ(d->prefix, "") << input;
    EXPECT_EQ(d->label, label) << input;
    EXPECT_EQ(d->suffix, suffix) << input;
    EXPECT_EQ(d->ascii, absl::StrCat(label, ".", suffix)) << input;
  }
  // A private suffix of three labels: the label before the ICANN suffix is the registered one.
  absl::StatusOr<ParsedDomain> s3 = ParseDomain("s3.amazonaws.com");
  ASSERT_TRUE(s3.ok()) << s3.status();
  EXPECT_EQ(s3->prefix, "s3.");
  EXPECT_EQ(s3->label, "amazonaws");
  EXPECT_EQ(s3->suffix, "com");
  // Under the private suffix, as before.
  absl::StatusOr<ParsedDomain> www = ParseDomain("www.octocat.github.io");
  ASSERT_TRUE(www.ok()) << www.status();
  EXPECT_EQ(www->prefix, "www.");
  EXPECT_EQ(www->label, "octocat");
  EXPECT_EQ(www->suffix, "github.io");
}

// ICANN suffixes stay refused, with the same message as before.
TEST(ParseDomain, AnIcannSuffixIsRefused) {
  for (const std::string input : {"co.uk", "gov.uk", "foo.ck"}) {  // foo.ck: by ICANN's wildcard rule *.ck
    absl::StatusOr<ParsedDomain> d = ParseDomain(input);
    ASSERT_FALSE(d.ok()) << input;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << input;
    EXPECT_EQ(d.status().message(),
              absl::StrCat("domain \"", input,
                           "\" is a public suffix; give a name registered under it, such as example.", input));
  }
}

TEST(ParseDomain, AcceptsUnicodeAndPunycodeAlike) {
  absl::StatusOr<ParsedDomain> u = ParseDomain("bücher.de");
  absl::StatusOr<ParsedDomain> a = ParseDomain("xn--bcher-kva.de");
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(u->ascii, "xn--bcher-kva.de");
  EXPECT_EQ(a->unicode, "bücher.de");
  EXPECT_EQ(a->label, "bücher");
}

// UTS#46 maps the ideographic and full-width full stops to '.', as a browser does (example。com was refused).
TEST(ParseDomain, IdeographicFullStopsSeparateLabels) {
  for (const auto& [input, ascii] :
       std::vector<std::pair<std::string, std::string>>{{"example\u3002com", "example.com"},
                                                        {"example\uFF0Ecom", "example.com"},
                                                        {"example\uFF61com", "example.com"},
                                                        {"bücher\u3002de", "xn--bcher-kva.de"}}) {
    absl::StatusOr<ParsedDomain> d = ParseDomain(input);
    ASSERT_TRUE(d.ok()) << input << ": " << d.status();
    EXPECT_EQ(d->ascii, ascii) << input;
  }
}

TEST(ParseDomain, RejectsBadInputNamingTheFault) {
  ExpectInvalid("", "empty");
  ExpectInvalid(std::string(250, 'a') + ".com", "at most 253");
  ExpectInvalid(std::string(1 << 20, 'a') + ".com", "at most 253");
  ExpectInvalid(std::string(64, 'a') + ".com", "at most 63");
  ExpectInvalid("exa_mple.com", "'_'");
  ExpectInvalid("exa mple.com", "no hostname may hold");
  ExpectInvalid(
      "exa\xff"
      "mple.com",
      "not valid UTF-8");
  ExpectInvalid("exa\xc3(mple.com", "not valid UTF-8");
  ExpectInvalid("192.168.1.1", "IP address");
  ExpectInvalid("::1", "IP address");
  ExpectInvalid("[2001:db8::1]", "IP address");
  ExpectInvalid("2001:db8::1", "IP address");
  ExpectInvalid("localhost", "no top-level domain");
  // What users paste: a URL, a host with its port, a TLD alone. Each named for what it is (these were
  // called "an IP address" and "no top-level domain").
  ExpectInvalid("http://example.com/path", "is a URL");
  ExpectInvalid("https://example.com", "is a URL");
  ExpectInvalid("example.com:443", "holds a port (\":443\")");
  ExpectInvalid("com", "top-level domain alone");
  ExpectInvalid("COM", "top-level domain alone");
  ExpectInvalid("example..com", "empty label");
  ExpectInvalid(".example.com", "empty label");
  ExpectInvalid("-example.com", "hyphen");
  ExpectInvalid("example.123", "numeric");
  ExpectInvalid("co.uk", "public suffix");
  ExpectInvalid("xn--zz.com", "punycode");
  // An A-label libidn2 lets through although its U-label (NBSP, U+019B, NBSP) is not IDNA2008 (found by
  // the fuzzer: the engine then made names with spaces).
  ExpectInvalid("xn--6aa66e.com", "round-trip");
}

TEST(ToNameForms, ChecksEveryName) {
  EXPECT_TRUE(ToNameForms("exa-mple.com").ok());
  EXPECT_FALSE(ToNameForms("ab--cd.com").ok());              // reserved by IDNA ("??--" that is not valid punycode)
  absl::StatusOr<NameForms> f = ToNameForms("еxample.com");  // Cyrillic е
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->ascii.substr(0, 4), "xn--");
  EXPECT_EQ(f->unicode, "еxample.com");
  // No-break spaces: UTS#46 maps them to spaces, which no hostname holds.
  absl::StatusOr<NameForms> nbsp = ToNameForms("\u00a0\u00a0.com");
  ASSERT_FALSE(nbsp.ok());
  EXPECT_EQ(nbsp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ToNameForms("ex\u00a0ample.com").ok());
}

}  // namespace
}  // namespace squatstream::permute
