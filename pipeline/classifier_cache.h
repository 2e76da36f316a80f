// ClassifierCache: the permute::Classifiers of the targets ClassifyDomain was asked about most recently.
//
// Building a target's classifier generates all of its permutations (milliseconds; tens for a long label); asking it
// about a candidate is a hash lookup. Monitoring jobs check many new names against the same few brands, so the
// classifiers of the `capacity` most recently used targets are kept (least recently used goes first). A miss builds
// outside the lock, so other targets' calls never wait for it. Thread-safe.
#ifndef SQUATSTREAM_PIPELINE_CLASSIFIER_CACHE_H_
#define SQUATSTREAM_PIPELINE_CLASSIFIER_CACHE_H_

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "base/mutex.h"
#include "permute/domain.h"
#include "permute/permutations.h"

namespace squatstream::pipeline {

class ClassifierCache {
 public:
  // `capacity` targets at most; 0 keeps none (every call builds).
  explicit ClassifierCache(std::size_t capacity) : capacity_(capacity) {}

  // The classifier of `target`, from the cache or built now; *hit says which.
  std::shared_ptr<const permute::Classifier> Get(const permute::ParsedDomain& target, bool* hit);

  // Targets held now; for tests.
  std::size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const permute::Classifier>>;  // target ASCII form

  const std::size_t capacity_;
  mutable Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, std::list<Entry>::iterator> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace squatstream::pipeline

#endif  // SQUATSTREAM_PIPELINE_CLASSIFIER_CACHE_H_
