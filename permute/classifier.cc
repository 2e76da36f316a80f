#include "permute/classifier.h"

#include <optional>
#include <utility>

#include "permute/generator.h"

namespace squatstream::permute {

Classifier::Classifier(const ParsedDomain& target) {
  Generator generator(target, {.kinds = {}, .max_candidates = SIZE_MAX, .subdomains = true, .incremental = false});
  while (std::optional<Candidate> c = generator.Next()) kinds_.emplace(std::move(c->ascii), c->kinds);
}

std::vector<Kind> Classifier::Classify(absl::string_view candidate_ascii) const {
  auto it = kinds_.find(candidate_ascii);
  return it == kinds_.end() ? std::vector<Kind>() : it->second.ToVector();
}

std::vector<Kind> Classify(const ParsedDomain& target, absl::string_view candidate_ascii) {
  return Classifier(target).Classify(candidate_ascii);
}

}  // namespace squatstream::permute
