// Validation of an EnrichDomainRequest: everything the pipeline needs, or the status that explains why not.
#ifndef SQUATSTREAM_SERVICE_REQUEST_H_
#define SQUATSTREAM_SERVICE_REQUEST_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"
#include "permute/domain.h"
#include "permute/permutations.h"
#include "pipeline/classifier_cache.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::service {

struct RequestLimits {
  std::size_t default_max_candidates = 10000;  // used when the request leaves max_candidates at 0
  std::size_t max_candidates = 100000;         // a request asking for more gets INVALID_ARGUMENT
};

// Input domains one request may list (`domain` and `domains` together).
inline constexpr int kMaxDomainsPerRequest = 32;

struct StreamSpec {
  std::vector<permute::ParsedDomain> domains;  // in request order, no two with the same ASCII form, never empty
  permute::GeneratorOptions generator;         // kinds: the request's, in run order (permute::InRunOrder); empty: all
  // In request order, no duplicates (DNS added for registered_only); empty: every stage the server runs.
  std::vector<v1::Enricher> enrichers;
  bool registered_only = false;
  bool probe_mail = false;  // the MX check's MAIL FROM / RCPT TO (EnrichDomainRequest.probe_mail)
};

// Reads a serialized EnrichDomainRequest. The domain is read as bytes (request_wire.proto), so one that is not
// valid UTF-8 arrives intact and ParseRequest names that fault. INVALID_ARGUMENT when the bytes are not a
// request at all.
absl::StatusOr<v1::EnrichDomainRequest> DecodeRequest(const grpc::ByteBuffer& serialized);

// INVALID_ARGUMENT naming the fault for a bad domain (and which one: "domains[2]: ..."), no domain at all,
// more than kMaxDomainsPerRequest, an unknown or over-long kind/enricher list, or max_candidates over the
// server's limit (the client's fault: RESOURCE_EXHAUSTED is kept for the server's own capacity). max_candidates applies
// to each domain.
absl::StatusOr<StreamSpec> ParseRequest(const v1::EnrichDomainRequest& request, const RequestLimits& limits);

// ClassifyDomain's work: reads a serialized ClassifyDomainRequest, validates both domains, and says by which
// kinds the candidate is a permutation of the target. INVALID_ARGUMENT naming the fault for bad input.
// The target's classifier comes from `cache`; *cache_hit says whether it was there.
absl::StatusOr<v1::ClassifyDomainResponse> Classify(const grpc::ByteBuffer& serialized,
                                                    pipeline::ClassifierCache& cache, bool* cache_hit);

}  // namespace squatstream::service

#endif  // SQUATSTREAM_SERVICE_REQUEST_H_
