#include "client/sanitize.h"

#include <unicode/uchar.h>

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace squatstream::client {

Decoded DecodeAt(absl::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return {lead, 1};
  std::size_t size = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    size = 2;
    cp = lead & 0x1Fu;
    min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    size = 3;
    cp = lead & 0x0Fu;
    min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    size = 4;
    cp = lead & 0x07u;
    min = 0x10000;
  } else {
    return {};
  }
  if (s.size() - i < size) return {};
  for (std::size_t k = 1; k < size; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return {};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, size};
}

namespace {

// Printable ASCII only: nothing to escape (the common case: names, addresses, most banners).
bool PrintableAscii(absl::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// "-1", "+2.5", "64500": a spreadsheet reads a number, which it shows and never runs.
bool PlainNumber(absl::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  const std::size_t dot = s.find('.');
  const absl::string_view whole = s.substr(0, dot);
  const absl::string_view fraction = dot == absl::string_view::npos ? "x" : s.substr(dot + 1);
  auto digits = [](absl::string_view d) {
    if (d.empty()) return false;
    for (char c : d) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  };
  return digits(whole) && (dot == absl::string_view::npos || digits(fraction));
}

}  // namespace

bool IsHiddenOrControl(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return true;
  if (cp < 0xA0 || cp > 0x10FFFF) return false;
  const auto c = static_cast<UChar32>(cp);
  switch (static_cast<UCharCategory>(u_charType(c))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return true;
    case U_UNASSIGNED:  // reserved default-ignorable: a later Unicode's format character, invisible today
      return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) != 0;
    default:
      return false;
  }
}

std::string Displayable(absl::string_view text) {
  if (PrintableAscii(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    const Decoded d = DecodeAt(text, i);
    if (d.size == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (!IsHiddenOrControl(d.cp)) {
      out.append(text.data() + i, d.size);
    } else if (d.cp < 0x80) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned>(d.cp));
    } else if (d.cp <= 0xFFFF) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned>(d.cp));
    } else {
      absl::StrAppendFormat(&out, "\\U%08x", static_cast<unsigned>(d.cp));
    }
    i += d.size;
  }
  return out;
}

std::string CsvCell(absl::string_view text) {
  std::string cell = Displayable(text);
  const bool formula =
      !cell.empty() && absl::StrContains("=+-@\t\r", cell.front()) && cell != "-" && !PlainNumber(cell);
  if (formula) cell.insert(0, 1, '\'');
  // Quoted too when it holds a ';', the field separator of spreadsheets in many locales (de, fr ...): unquoted,
  // "x;=HYPERLINK(...)" would open as a second cell starting with '='.
  if (!formula && cell.find_first_of(",;\"\n\r") == std::string::npos) return cell;
  return absl::StrCat("\"", absl::StrReplaceAll(cell, {{"\"", "\"\""}}), "\"");
}

std::string EscapeHiddenInJson(absl::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (std::size_t i = 0; i < json.size();) {
    const auto byte = static_cast<unsigned char>(json[i]);
    // The printer escapes C0 in strings (JSON requires it); outside strings it writes none.
    if (byte < 0x80 && byte != 0x7F) {
      out.push_back(json[i++]);
      continue;
    }
    const Decoded d = DecodeAt(json, i);
    if (d.size == 0 || !IsHiddenOrControl(d.cp)) {
      const std::size_t n = d.size == 0 ? 1 : d.size;
      out.append(json.data() + i, n);
      i += n;
      continue;
    }
    if (d.cp <= 0xFFFF) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned>(d.cp));
    } else {
      const char32_t v = d.cp - 0x10000;
      absl::StrAppendFormat(&out, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                            static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
    }
    i += d.size;
  }
  return out;
}

}  // namespace squatstream::client
