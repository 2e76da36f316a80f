// The one sanitiser of what the CLI prints (client/sanitize.h): terminal escapes, C1 controls, bidi and other
// invisible characters shown escaped; spreadsheet formulas neutralised; JSON escaped but exact.
#include "client/sanitize.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

std::string Utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// What a terminal could act on, byte by byte: C0 (even tab and newline: a cell holds none), DEL, C1 as
// UTF-8 (C2 80-9F), and the bidi controls and other format characters as UTF-8; "" when there is none.
std::string FirstUnsafe(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x20 || b == 0x7F) return "byte " + std::to_string(b) + " at " + std::to_string(i);
    if (b == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return "C1 at " + std::to_string(i);
    }
  }
  for (char32_t cp :
       std::vector<char32_t>{0x00AD, 0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028,  0x2029,  0x202A,
                             0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2062, 0x2063,  0x2064,  0x2066,
                             0x2067, 0x2068, 0x2069, 0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB, 0xE0001, 0xE0041, 0xE007F}) {
    if (s.find(Utf8(cp)) != std::string::npos) return "format character " + std::to_string(cp);
  }
  return "";
}

TEST(Displayable, TerminalEscapeSequencesAreShownEscaped) {
  // Set the window title, ring the bell.
  EXPECT_EQ(Displayable("\x1b]0;you are owned\x07"), "\\x1b]0;you are owned\\x07");
  // Clear the screen.
  EXPECT_EQ(Displayable("Parked\x1b[2J\x1b[H"), "Parked\\x1b[2J\\x1b[H");
  // An OSC 8 hyperlink: the text says one thing, the link goes elsewhere.
  EXPECT_EQ(Displayable("\x1b]8;;http://evil.example/\x1b\\Your bank\x1b]8;;\x1b\\"),
            "\\x1b]8;;http://evil.example/\\x1b\\Your bank\\x1b]8;;\\x1b\\");
  // C1 controls as UTF-8: U+009B (CSI), U+009D (OSC), U+0085 (NEL), U+009C (ST).
  EXPECT_EQ(Displayable("a\xc2\x9b"
                        "2Jb"),
            "a\\u009b2Jb");
  EXPECT_EQ(Displayable("\xc2\x9d"
                        "0;title\xc2\x9c"),
            "\\u009d0;title\\u009c");
  EXPECT_EQ(Displayable("line\xc2\x85next"), "line\\u0085next");
  // The rest of C0 and DEL, tab and newline included: a cell is one line.
  EXPECT_EQ(Displayable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(Displayable("a\tb\r\nc\x7f"), "a\\x09b\\x0d\\x0ac\\x7f");
}

TEST(Displayable, BidiAndFormatCharactersAreShownEscaped) {
  // "invoice_\u202Efdp.exe" displays as "invoice_exe.pdf".
  EXPECT_EQ(Displayable("invoice_\xe2\x80\xae"
                        "fdp.exe"),
            "invoice_\\u202efdp.exe");
  const std::vector<std::pair<char32_t, std::string>> cases = {
      {0x202A, "\\u202a"},      {0x202B, "\\u202b"},      {0x202C, "\\u202c"},
      {0x202D, "\\u202d"},      {0x2066, "\\u2066"},      {0x2067, "\\u2067"},
      {0x2068, "\\u2068"},      {0x2069, "\\u2069"},      {0x200E, "\\u200e"},
      {0x200F, "\\u200f"},      {0x061C, "\\u061c"},      {0x200B, "\\u200b"},
      {0x200C, "\\u200c"},      {0x200D, "\\u200d"},      {0x2060, "\\u2060"},
      {0x2064, "\\u2064"},      {0xFEFF, "\\ufeff"},      {0x00AD, "\\u00ad"},
      {0xFFF9, "\\ufff9"},      {0xFFFB, "\\ufffb"},      {0x2028, "\\u2028"},
      {0x2029, "\\u2029"},      {0x2065, "\\u2065"},  // reserved default-ignorable
      {0xE0001, "\\U000e0001"}, {0xE0041, "\\U000e0041"}, {0xE007F, "\\U000e007f"},
      {0xE0000, "\\U000e0000"},  // unassigned, in the tag block
  };
  for (const auto& [cp, escaped] : cases) {
    EXPECT_TRUE(IsHiddenOrControl(cp)) << std::hex << static_cast<unsigned>(cp);
    EXPECT_EQ(Displayable("x" + Utf8(cp) + "y"), "x" + escaped + "y") << std::hex << static_cast<unsigned>(cp);
  }
}

TEST(Displayable, OrdinaryTextOfAnyScriptStaysAsItIs) {
  for (const std::string& s :
       std::vector<std::string>{"bücher.de", "аррӏе.com", "例え.テスト", "مرحبا بالعالم", "שלום", "😀 café",
                                "e\xcc\x81",  // e + combining acute (a mark, not a format character)
                                std::string("no\xc2\xa0") + "break",  // U+00A0: a space
                                "C:\\path with \\x1b typed", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"}) {
    EXPECT_EQ(Displayable(s), s);
  }
}

TEST(Displayable, BytesThatAreNotUtf8AreShownEscaped) {
  EXPECT_EQ(Displayable("Caf\xe9"), "Caf\\xe9");  // Latin-1
  EXPECT_EQ(Displayable("\x9b"
                        "2J"),
            "\\x9b2J");                                                 // a lone C1 byte
  EXPECT_EQ(Displayable("\xc0\xaf"), "\\xc0\\xaf");                     // overlong '/'
  EXPECT_EQ(Displayable("\xed\xa0\x80"), "\\xed\\xa0\\x80");            // a surrogate
  EXPECT_EQ(Displayable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");   // past U+10FFFF
  EXPECT_EQ(Displayable("ok\xe2\x80"), "ok\\xe2\\x80");                 // cut
  EXPECT_EQ(Displayable("\xe2\x80\xae\xe2\x80"), "\\u202e\\xe2\\x80");  // one good, then cut
}

// Every code point, alone: the result is valid UTF-8, a terminal can act on none of it, and what is not
// escaped comes out unchanged.
TEST(Displayable, NoCodePointComesOutRawIfATerminalCouldActOnIt) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string in = Utf8(cp);
    const std::string out = Displayable(in);
    ASSERT_EQ(FirstUnsafe(out), "") << std::hex << static_cast<unsigned>(cp);
    ASSERT_EQ(out == in, !IsHiddenOrControl(cp)) << std::hex << static_cast<unsigned>(cp);
  }
}

TEST(CsvCell, FormulasAreNeutralisedAndQuoted) {
  EXPECT_EQ(CsvCell("=HYPERLINK(\"http://evil.example/x\",\"click\")"),
            "\"'=HYPERLINK(\"\"http://evil.example/x\"\",\"\"click\"\")\"");
  EXPECT_EQ(CsvCell("@SUM(1+1)*cmd|' /C calc'!A0"), "\"'@SUM(1+1)*cmd|' /C calc'!A0\"");
  EXPECT_EQ(CsvCell("+cmd|' /C calc'!A0"), "\"'+cmd|' /C calc'!A0\"");
  EXPECT_EQ(CsvCell("-2+3+cmd|' /C calc'!A0"), "\"'-2+3+cmd|' /C calc'!A0\"");
  EXPECT_EQ(CsvCell("="), "\"'=\"");
  EXPECT_EQ(CsvCell("-1."), "\"'-1.\"");
  EXPECT_EQ(CsvCell("-> example.com"), "\"'-> example.com\"");
  // A ';' splits cells in many locales' spreadsheets: quoted, so that no second cell can start with '='.
  EXPECT_EQ(CsvCell("x;=HYPERLINK(1)"), "\"x;=HYPERLINK(1)\"");
}

TEST(CsvCell, NumbersAndTheSkipMarkStayAsTheyAre) {
  EXPECT_EQ(CsvCell("+1"), "+1");
  EXPECT_EQ(CsvCell("-1"), "-1");
  EXPECT_EQ(CsvCell("-2.5"), "-2.5");
  EXPECT_EQ(CsvCell("64500"), "64500");
  EXPECT_EQ(CsvCell("-"), "-");
  EXPECT_EQ(CsvCell(""), "");
}

TEST(CsvCell, TabAndCrFirstAreEscapedSoNoCellStartsWithThem) {
  EXPECT_EQ(CsvCell("\t=1+1"), "\\x09=1+1");
  EXPECT_EQ(CsvCell("\r=1+1"), "\\x0d=1+1");
  EXPECT_EQ(CsvCell("\x1b]0;t\x07,=x"), "\"\\x1b]0;t\\x07,=x\"");  // a comma: quoted
}

TEST(CsvCell, Rfc4180Quoting) {
  EXPECT_EQ(CsvCell("Example Registrar, Inc."), "\"Example Registrar, Inc.\"");
  EXPECT_EQ(CsvCell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvCell("line\nbreak"), "line\\x0abreak");  // escaped: one line per record
  EXPECT_EQ(CsvCell("plain"), "plain");
}

TEST(EscapeHiddenInJson, LeavesTheValueExactAndNothingRaw) {
  EXPECT_EQ(EscapeHiddenInJson("{\"t\":\"a\xc2\x9b"
                               "2J\xe2\x80\xae\x7f\"}"),
            "{\"t\":\"a\\u009b2J\\u202e\\u007f\"}");
  EXPECT_EQ(EscapeHiddenInJson("{\"t\":\"\xf3\xa0\x81\x81\"}"), "{\"t\":\"\\udb40\\udc41\"}");  // U+E0041
  EXPECT_EQ(EscapeHiddenInJson("{\"t\":\"bücher \\u001b\"}"), "{\"t\":\"bücher \\u001b\"}");
}

}  // namespace
}  // namespace squatstream::client
