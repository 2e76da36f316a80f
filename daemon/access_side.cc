#include "daemon/access_side.h"

#include <unistd.h>

#include <cstdio>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace squatstream::daemon {

absl::StatusOr<std::unique_ptr<AccessSide>> AccessSide::Start(const AccessOptions& options,
                                                              const std::string& store_spec,
                                                              std::shared_ptr<workers::net::RateLimiter> rates,
                                                              std::shared_ptr<workers::net::ConcurrencyLimiter> places,
                                                              prometheus::Registry& registry) {
  std::unique_ptr<AccessSide> side(new AccessSide());
  if (options.api_keys) {
    if (store_spec.empty() || store_spec == "none") {
      return absl::FailedPreconditionError(
          "--auth=api_key needs a store for the keys: name one with --store (sqlite:PATH or postgresql://...)");
    }
    absl::StatusOr<std::unique_ptr<store::Store>> opened = store::OpenStore(store_spec);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("--auth=api_key: the keys' store: ", opened.status().message()));
    }
    side->store_ = *std::move(opened);
    access::KeyBookOptions book_options;
    book_options.refresh = options.key_refresh;
    side->book_ = std::make_unique<access::KeyBook>(side->store_.get(), book_options);
    if (absl::Status s = side->book_->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--auth=api_key: the keys cannot be read: ", s.message()));
    }
  }
  side->gatekeeper_ = std::make_unique<access::Gatekeeper>(side->book_.get(), options.quotas, std::move(rates),
                                                           std::move(places), ReplicaName(), registry);
  return side;
}

AccessSide::~AccessSide() {
  gatekeeper_.reset();  // its renewal thread first
  if (book_ != nullptr) book_->Stop();
}

std::string ReplicaName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device random;
  return absl::StrFormat("%s:%d:%08x", host, static_cast<int>(getpid()), random());
}

}  // namespace squatstream::daemon
