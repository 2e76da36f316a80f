// The Classifier: which kinds turn a target domain into a given name (the reverse of the Generator).
#ifndef SQUATSTREAM_PERMUTE_CLASSIFIER_H_
#define SQUATSTREAM_PERMUTE_CLASSIFIER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "permute/domain.h"
#include "permute/kind.h"

namespace squatstream::permute {

// Says of many candidates whether each is a permutation of one target, and by which kinds: it generates the
// target's candidates once (every kind, subdomain labels too, no cap: milliseconds) and then answers by a
// hash lookup. Immutable after construction, so one instance may serve many threads.
class Classifier {
 public:
  explicit Classifier(const ParsedDomain& target);

  // Every kind whose candidates for the target include `candidate_ascii` (an ASCII form), in Kind value
  // order; empty when it is not a permutation of the target (or is the target itself).
  std::vector<Kind> Classify(absl::string_view candidate_ascii) const;

  // Names the target's permutations hold (for sizing caches and tests).
  std::size_t size() const { return kinds_.size(); }

 private:
  absl::flat_hash_map<std::string, KindSet> kinds_;
};

// Classifier(target).Classify(candidate_ascii), for a single question.
std::vector<Kind> Classify(const ParsedDomain& target, absl::string_view candidate_ascii);

}  // namespace squatstream::permute

#endif  // SQUATSTREAM_PERMUTE_CLASSIFIER_H_
