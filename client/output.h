// How the squatstream CLI prints records: a table (default), JSON lines, or CSV.
#ifndef SQUATSTREAM_CLIENT_OUTPUT_H_
#define SQUATSTREAM_CLIENT_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::client {

enum class Format { kTable, kJson, kCsv };

// Parses "table", "json" or "csv"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Format> ParseFormat(absl::string_view name);

// The header line of `format` with its newline ("" for JSON lines).
std::string FormatHeader(Format format);

// One record as one line with its newline.
std::string FormatRecord(Format format, const v1::Record& record);

// Short name of a kind or enricher as the CLI prints and accepts it: "vowel-swap", "geo". A kind is named
// as the engine names it (permute::KindName); a value the engine does not know, after the API's enum.
std::string KindName(v1::PermutationKind kind);
std::string EnricherName(v1::Enricher enricher);

}  // namespace squatstream::client

#endif  // SQUATSTREAM_CLIENT_OUTPUT_H_
