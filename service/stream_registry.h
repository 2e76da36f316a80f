// StreamRegistry: the EnrichDomain streams in progress, so that a draining server can refuse new ones and,
// at the end of its grace period, cut those still running with a status of its own ("server shutting
// down") instead of gRPC's generic cancellation.
#ifndef SQUATSTREAM_SERVICE_STREAM_REGISTRY_H_
#define SQUATSTREAM_SERVICE_STREAM_REGISTRY_H_

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "base/mutex.h"

namespace squatstream::service {

// A stream that can be ended from outside its own reactions.
class CuttableStream {
 public:
  // Stops the stream's work and finishes the call with `why` (if it has not finished yet). Called under the
  // registry's lock: must not call back into the registry, and must return promptly (no waiting).
  virtual void Cut(const absl::Status& why) = 0;

 protected:
  ~CuttableStream() = default;
};

// Thread-safe. One lock for the set: Add/Remove/CutAll are rare (per stream, per shutdown), and holding it
// across CutAll is what guarantees that no stream is freed while it is being cut (Remove waits).
class StreamRegistry {
 public:
  // Registers `stream`, or returns false (registering nothing) once the server drains: a stream that was
  // admitted as the drain began learns it here, under the same lock as SetDraining, so none slips past both
  // the drain's refusal and CutAll.
  bool Add(CuttableStream* stream) {
    MutexLock lock(mu_);
    if (draining_) return false;
    streams_.insert(stream);
    return true;
  }
  // Called before the stream is freed; after it returns, CutAll no longer reaches it.
  void Remove(CuttableStream* stream) {
    MutexLock lock(mu_);
    streams_.erase(stream);
  }
  void CutAll(const absl::Status& why) {
    MutexLock lock(mu_);
    for (CuttableStream* s : streams_) s->Cut(why);
  }

  // Draining: the server is shutting down; new streams are refused.
  void SetDraining() {
    MutexLock lock(mu_);
    draining_ = true;
  }
  bool draining() {
    MutexLock lock(mu_);
    return draining_;
  }

 private:
  Mutex mu_;
  absl::flat_hash_set<CuttableStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_STREAM_REGISTRY_H_
