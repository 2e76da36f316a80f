#include "workers/enricher.h"

#include "absl/strings/str_format.h"

namespace squatstream::workers {

absl::string_view EnricherName(EnricherKind kind) {
  switch (kind) {
    case EnricherKind::kGeo:
      return "geo";
    case EnricherKind::kWhois:
      return "whois";
    case EnricherKind::kBanner:
      return "banner";
  }
  return "unknown";
}

absl::StatusOr<EnricherKind> ParseEnricherName(absl::string_view name) {
  for (EnricherKind k : {EnricherKind::kGeo, EnricherKind::kWhois, EnricherKind::kBanner}) {
    if (EnricherName(k) == name) return k;
  }
  return absl::InvalidArgumentError(absl::StrFormat("unknown enricher \"%s\"", name));
}

}  // namespace squatstream::workers
