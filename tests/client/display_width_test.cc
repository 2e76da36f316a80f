// Display width (client/display_width.h): terminal columns as ICU's properties say — CJK two, marks none,
// emoji two — and cutting and padding by them.
#include "client/display_width.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

TEST(DisplayWidth, CodePoints) {
  EXPECT_EQ(CodePointWidth(U'a'), 1u);
  EXPECT_EQ(CodePointWidth(U'例'), 2u);          // East Asian Wide
  EXPECT_EQ(CodePointWidth(U'\uFF21'), 2u);      // FULLWIDTH LATIN CAPITAL LETTER A
  EXPECT_EQ(CodePointWidth(U'\uAC00'), 2u);      // a Hangul syllable
  EXPECT_EQ(CodePointWidth(U'\u1161'), 0u);      // a Hangul medial vowel, joined to the syllable before
  EXPECT_EQ(CodePointWidth(U'\u0E31'), 0u);      // THAI CHARACTER MAI HAN-AKAT (Mn)
  EXPECT_EQ(CodePointWidth(U'\u0E48'), 0u);      // THAI CHARACTER MAI EK (Mn)
  EXPECT_EQ(CodePointWidth(U'\u0301'), 0u);      // COMBINING ACUTE ACCENT (Mn)
  EXPECT_EQ(CodePointWidth(U'\u20DD'), 0u);      // COMBINING ENCLOSING CIRCLE (Me)
  EXPECT_EQ(CodePointWidth(U'\u200D'), 0u);      // ZERO WIDTH JOINER (Cf)
  EXPECT_EQ(CodePointWidth(U'\u00AD'), 0u);      // SOFT HYPHEN (Cf)
  EXPECT_EQ(CodePointWidth(U'\U0001F642'), 2u);  // 🙂 (Emoji_Presentation)
  EXPECT_EQ(CodePointWidth(U'\u231A'), 2u);      // ⌚ (Emoji_Presentation)
  EXPECT_EQ(CodePointWidth(U'\u2026'), 1u);      // … (East Asian Ambiguous: one column outside CJK locales)
  EXPECT_EQ(CodePointWidth(U'\u00E9'), 1u);
  EXPECT_EQ(CodePointWidth(U'\x1b'), 0u);
}

TEST(DisplayWidth, Strings) {
  EXPECT_EQ(DisplayWidth(""), 0u);
  EXPECT_EQ(DisplayWidth("example.com"), 11u);
  EXPECT_EQ(DisplayWidth("例子.com"), 8u);
  EXPECT_EQ(DisplayWidth("ตัวอย่าง.com"), 10u);  // 8 code points, 2 of them marks
  EXPECT_EQ(DisplayWidth("🙂.com"), 6u);
  EXPECT_EQ(DisplayWidth("bu\xcc\x88"
                         "cher"),
            6u);  // u + COMBINING DIAERESIS
  EXPECT_EQ(DisplayWidth("a\xff"
                         "b"),
            3u);                            // a byte that is not UTF-8: one column
  EXPECT_EQ(DisplayWidth("\xe4\xbe"), 2u);  // a cut sequence: a column a byte
}

TEST(DisplayWidth, CutToWidth) {
  EXPECT_EQ(CutToWidth("example.com", 20), "example.com");
  EXPECT_EQ(CutToWidth("example.com", 11), "example.com");
  EXPECT_EQ(CutToWidth("example.com", 8), "example…");
  EXPECT_EQ(CutToWidth("例子例子", 5), "例子…");
  EXPECT_EQ(CutToWidth("例子例子", 4), "例…");    // 例 and … in three columns: 子 would need a fourth and fifth
  EXPECT_EQ(CutToWidth("ตัวอย่าง.com", 3), "ตัว…");  // a consonant keeps its mark
  EXPECT_EQ(CutToWidth("ตัวอย่าง.com", 6), "ตัวอย่า…");
  EXPECT_EQ(CutToWidth("🙂🙂🙂", 4), "🙂…");
  EXPECT_EQ(CutToWidth("abc", 1), "…");
  EXPECT_EQ(CutToWidth("abc", 0), "");
}

TEST(DisplayWidth, FitAndPad) {
  EXPECT_EQ(FitToWidth("例子.com", 10), "例子.com  ");
  EXPECT_EQ(FitToWidth("例子例子", 4), "例… ");
  EXPECT_EQ(FitToWidth("ตัวอย่าง.com", 12), "ตัวอย่าง.com  ");
  for (const char* text : {"例子例子例子", "ตัวอย่าง.com", "🙂🙂🙂.com", "a\xcc\x88\xcc\x88xyz"}) {
    for (std::size_t width = 1; width < 14; ++width) {
      EXPECT_EQ(DisplayWidth(FitToWidth(text, width)), width) << text << " in " << width;
    }
  }
  EXPECT_EQ(PadToWidth("例子", 6), "例子  ");
  EXPECT_EQ(PadToWidth("例子", 4), "例子 ");  // as wide: one space after it
  EXPECT_EQ(PadToWidth("例子例子", 4), "例子例子 ");
}

}  // namespace
}  // namespace squatstream::client
