// The title extractor as a hostile page meets it (workers/banner/page.h): numeric references mapped as the
// HTML standard maps them, and no control character out of a title, from a reference or raw.
#include "workers/banner/page.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace squatstream::workers::banner {
namespace {

constexpr char kFffd[] = "\xef\xbf\xbd";

std::string Title(const std::string& inner) { return ExtractTitle("<html><title>" + inner + "</title></html>"); }

// The first control character (C0, DEL, C1 as UTF-8) in `s`, or "" when there is none and `s` is valid UTF-8.
std::string FirstControl(const std::string& s) {
  if (ToValidUtf8(s) != s) return "not UTF-8";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return absl::StrFormat("byte %#x at %d", c, i);
    if (c == 0xC2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0x80) {
      return absl::StrFormat("C1 at %d", i);
    }
  }
  return "";
}

TEST(PageTitleTest, C1ReferencesAreWindows1252AsTheStandardSays) {
  EXPECT_EQ(Title("a&#x9b;2J"),
            "a\xe2\x80\xba"
            "2J");  // U+203A, not CSI
  EXPECT_EQ(Title("&#155;"), "\xe2\x80\xba");
  EXPECT_EQ(Title("&#x80;5"),
            "\xe2\x82\xac"
            "5");  // the euro sign
  EXPECT_EQ(Title("&#x93;quoted&#x94;"), "\xe2\x80\x9cquoted\xe2\x80\x9d");
  EXPECT_EQ(Title("&#x9F;"), "\xc5\xb8");
  // The five the standard leaves as C1 controls (OSC among them): U+FFFD here.
  for (const char* ref : {"&#x81;", "&#x8d;", "&#x8F;", "&#x90;", "&#x9d;", "&#157;"}) {
    EXPECT_EQ(Title(std::string("x") + ref + "y"), std::string("x") + kFffd + "y") << ref;
  }
}

TEST(PageTitleTest, OtherReferencesThatAreNotCharactersAreReplaced) {
  EXPECT_EQ(Title("&#0;"), kFffd);
  EXPECT_EQ(Title("&#xD800;&#xdfff;"), std::string(kFffd) + kFffd);  // surrogates
  EXPECT_EQ(Title("&#x110000;"), kFffd);                             // past U+10FFFF
  EXPECT_EQ(Title("&#xFFFFFFFF;"), kFffd);
  EXPECT_EQ(Title("&#27;[2J&#x1b;]0;owned&#7;"), std::string(kFffd) + "[2J" + kFffd + "]0;owned" + kFffd);
  EXPECT_EQ(Title("del&#127;"), std::string("del") + kFffd);
  EXPECT_EQ(Title("a&#9;&#10;&#13;b"), "a b");        // whitespace references collapse like whitespace
  EXPECT_EQ(Title("&#x1F600;"), "\xf0\x9f\x98\x80");  // a character: as it is
  EXPECT_EQ(Title("&#x202e;rtl"),
            "\xe2\x80\xae"
            "rtl");  // a format character: kept, the client escapes it
}

TEST(PageTitleTest, RawControlsAndBytesThatAreNotUtf8AreReplaced) {
  EXPECT_EQ(Title("a\x1b[2Jb\x1b]0;t\x07"), std::string("a") + kFffd + "[2Jb" + kFffd + "]0;t" + kFffd);
  EXPECT_EQ(Title("\x1b]8;;http://evil.example/\x1b\\click"),
            std::string(kFffd) + "]8;;http://evil.example/" + kFffd + "\\click");
  EXPECT_EQ(Title("c1 \xc2\x9b"
                  "31m \xc2\x9d"
                  "0;x"),
            std::string("c1 ") + kFffd + "31m " + kFffd + "0;x");
  EXPECT_EQ(Title(std::string("nul\0here", 8)), std::string("nul") + kFffd + "here");
  EXPECT_EQ(Title("Caf\xe9 \x9b"), std::string("Caf") + kFffd + " " + kFffd);  // Latin-1, a lone C1 byte
  EXPECT_EQ(Title("=HYPERLINK(\"http://evil.example/x\",\"click\")"),
            "=HYPERLINK(\"http://evil.example/x\",\"click\")");  // text: the client neutralises it in CSV
  EXPECT_EQ(Title("bücher \xe2\x80\xae"), "bücher \xe2\x80\xae");
}

// Every numeric reference a page can write, decimal and hex, and every raw byte: no control out.
TEST(PageTitleTest, NoReferenceOrByteGivesAControlCharacter) {
  for (std::uint32_t cp = 0; cp <= 0x110000; ++cp) {
    const std::string hex = Title(absl::StrFormat("<&#x%x;>", cp));
    ASSERT_EQ(FirstControl(hex), "") << std::hex << cp;
    if (cp < 0x800 || (cp >= 0xD7F0 && cp <= 0xE010)) {
      ASSERT_EQ(FirstControl(Title(absl::StrFormat("<&#%d;>", cp))), "") << cp;
    }
  }
  for (int b = 0; b < 256; ++b) {
    for (const std::string& around :
         {std::string(1, static_cast<char>(b)), "\xc2" + std::string(1, static_cast<char>(b)),
          "x" + std::string(1, static_cast<char>(b)) + "y"}) {
      ASSERT_EQ(FirstControl(Title(around)), "") << b;
    }
  }
}

}  // namespace
}  // namespace squatstream::workers::banner
