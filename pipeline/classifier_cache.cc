#include "pipeline/classifier_cache.h"

namespace squatstream::pipeline {

std::shared_ptr<const permute::Classifier> ClassifierCache::Get(const permute::ParsedDomain& target, bool* hit) {
  {
    MutexLock lock(mu_);
    if (auto it = index_.find(target.ascii); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);  // now the most recently used
      *hit = true;
      return it->second->second;
    }
  }
  *hit = false;
  auto built = std::make_shared<const permute::Classifier>(target);
  if (capacity_ == 0) return built;
  MutexLock lock(mu_);
  if (auto it = index_.find(target.ascii); it != index_.end()) {
    return it->second->second;  // another call built it meanwhile: keep one
  }
  lru_.emplace_front(target.ascii, built);
  index_.emplace(target.ascii, lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return built;
}

std::size_t ClassifierCache::size() const {
  MutexLock lock(mu_);
  return lru_.size();
}

}  // namespace squatstream::pipeline
