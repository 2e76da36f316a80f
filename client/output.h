// How the squatstream CLI prints records: a table (default) that fits the terminal, JSON lines, CSV for analysis
// (typed columns, listed once in output.cc and documented from that list: CsvColumnReference()), or a list of
// the names alone. Every format prints strangers' text through client/sanitize.h.
#ifndef SQUATSTREAM_CLIENT_OUTPUT_H_
#define SQUATSTREAM_CLIENT_OUTPUT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::client {

// table: aligned columns for a person; json: one squatstream.v1.Record per line, exact (proto field names);
// csv: RFC 4180 with a header, the columns of CsvColumnReference(); list: one ASCII (punycode) name per line
// and nothing else, as dnstwist's --format list, to pipe into dig or other tools.
enum class Format { kTable, kJson, kCsv, kList };

// Parses "table", "json", "csv" or "list" (ASCII case ignored); INVALID_ARGUMENT naming the four otherwise.
absl::StatusOr<Format> ParseFormat(absl::string_view name);

// How to print one stream's records. A plain value; the functions below read it only.
struct OutputOptions {
  Format format = Format::kTable;
  // The request's enrichers as the user selected them; empty: every stage. The table shows DNS and these
  // stages' columns only; the CSV's columns never change (an unselected stage's are empty), as scripts rely
  // on their order.
  std::vector<v1::Enricher> stages;
  // False for candidates that were not looked up (`squatstream names`): the table has no stage column.
  bool lookups = true;
  // More than one input domain: the table gets an INPUT column (the CSV and JSON always carry the input).
  bool batch = false;
  // Table only: the terminal's width in columns; the columns share it and a longer cell is cut with "…", so
  // no row is wider and none shifts. 0: no limit (--wide, or stdout is not a terminal): generous fixed
  // widths, nothing cut.
  std::size_t width = 0;
};

// The header line with its newline: the table's titles or the CSV's column names; "" for json and list. The
// caller prints it when the first record arrives, so that a stream that received nothing prints nothing.
std::string FormatHeader(const OutputOptions& options);

// One record as one line with its newline. Thread-safe (pure).
std::string FormatRecord(const OutputOptions& options, const v1::Record& record);

// The CSV's columns as a Markdown table (column, type, meaning), in the CSV's order: what docs/OUTPUT.md holds
// between its csv-columns markers (a test checks that it does). Generated from the same list as
// FormatHeader() and FormatRecord(), so the three cannot drift.
std::string CsvColumnReference();

// Short name of a kind or enricher as the CLI prints and accepts it: "vowel-swap", "geo". A kind is named
// as the engine names it (permute::KindName); a value the engine does not know, after the API's enum.
std::string KindName(v1::PermutationKind kind);
std::string EnricherName(v1::Enricher enricher);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_OUTPUT_H_
