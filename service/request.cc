#include "service/request.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "squatstream/v1/internal/request_wire.pb.h"

namespace squatstream::service {
namespace {

// The engine's and the workers' enums are numbered like the API's, so a cast converts them.
static_assert(static_cast<int>(permute::Kind::kAddition) == v1::PERMUTATION_KIND_ADDITION);
static_assert(static_cast<int>(permute::Kind::kTldSwap) == v1::PERMUTATION_KIND_TLD_SWAP);
static_assert(static_cast<int>(permute::Kind::kDictionary) == v1::PERMUTATION_KIND_DICTIONARY);
static_assert(static_cast<int>(permute::Kind::kAsciiLookAlike) == v1::PERMUTATION_KIND_ASCII_LOOKALIKE);
static_assert(v1::PermutationKind_MAX == v1::PERMUTATION_KIND_ASCII_LOOKALIKE);

// Longer selections can only repeat entries; refusing them keeps a huge request cheap to reject.
constexpr int kMaxSelectionEntries = 64;

template <typename Out>
absl::Status ParseSelection(const google::protobuf::RepeatedField<int>& values, const char* field, int max_value,
                            bool (*valid)(int), std::vector<Out>* out) {
  if (values.size() > kMaxSelectionEntries) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s lists %d entries; at most %d are allowed", field, values.size(), kMaxSelectionEntries));
  }
  for (int i = 0; i < values.size(); ++i) {
    const int v = values.Get(i);
    if (v <= 0 || v > max_value || !valid(v)) {
      return absl::InvalidArgumentError(absl::StrFormat("%s[%d]: unknown value %d", field, i, v));
    }
    const auto value = static_cast<Out>(v);
    if (std::find(out->begin(), out->end(), value) == out->end()) out->push_back(value);
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Parses a serialized message; false when the bytes are not one.
bool ParseFrom(const grpc::ByteBuffer& serialized, google::protobuf::Message* message) {
  grpc::ByteBuffer copy(serialized);  // shares the slices; the reader needs a mutable buffer
  grpc::ProtoBufferReader reader(&copy);
  return message->ParseFromZeroCopyStream(&reader);
}

}  // namespace

absl::StatusOr<v1::EnrichDomainRequest> DecodeRequest(const grpc::ByteBuffer& serialized) {
  v1::internal::EnrichDomainRequestWire wire;
  if (!ParseFrom(serialized, &wire)) {
    return absl::InvalidArgumentError("the request is not a serialized squatstream.v1.EnrichDomainRequest");
  }
  v1::EnrichDomainRequest request;
  request.set_domain(std::move(*wire.mutable_domain()));  // validated by ParseRequest, UTF-8 included
  request.mutable_kinds()->Swap(wire.mutable_kinds());
  request.mutable_enrichers()->Swap(wire.mutable_enrichers());
  request.set_max_candidates(wire.max_candidates());
  request.set_permute_subdomains(wire.permute_subdomains());
  request.set_registered_only(wire.registered_only());
  request.set_probe_mail(wire.probe_mail());
  for (std::string& d : *wire.mutable_domains()) request.add_domains(std::move(d));
  return request;
}

absl::StatusOr<v1::ClassifyDomainResponse> Classify(const grpc::ByteBuffer& serialized,
                                                    pipeline::ClassifierCache& cache, bool* cache_hit) {
  v1::ClassifyDomainRequest request;
  if (!ParseFrom(serialized, &request)) {
    return absl::InvalidArgumentError(
        "the request is not a serialized squatstream.v1.ClassifyDomainRequest (are both domains valid UTF-8?)");
  }
  absl::StatusOr<permute::ParsedDomain> target = permute::ParseDomain(request.target());
  if (!target.ok()) return absl::InvalidArgumentError(absl::StrCat("target: ", target.status().message()));
  if (request.candidate().empty()) return absl::InvalidArgumentError("candidate: domain is empty");
  if (absl::Status s = permute::CheckNotAddress(request.candidate()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("candidate: ", s.message()));
  }
  absl::StatusOr<permute::NameForms> candidate = permute::ToNameForms(request.candidate());
  if (!candidate.ok()) return absl::InvalidArgumentError(absl::StrCat("candidate: ", candidate.status().message()));
  v1::ClassifyDomainResponse response;
  for (permute::Kind kind : cache.Get(*target, cache_hit)->Classify(candidate->ascii)) {
    response.add_kinds(static_cast<v1::PermutationKind>(kind));
  }
  response.set_is_twist(response.kinds_size() > 0);
  response.set_candidate_ascii(candidate->ascii);
  response.set_target_ascii(target->ascii);
  return response;
}

absl::StatusOr<StreamSpec> ParseRequest(const v1::EnrichDomainRequest& request, const RequestLimits& limits) {
  StreamSpec spec;
  const bool single = request.domains().empty();
  if (single || !request.domain().empty()) {
    // The single-domain form keeps its plain messages ("domain is empty").
    absl::StatusOr<permute::ParsedDomain> domain = permute::ParseDomain(request.domain());
    if (!domain.ok()) {
      return single ? domain.status() : absl::InvalidArgumentError(absl::StrCat("domain: ", domain.status().message()));
    }
    spec.domains.push_back(*std::move(domain));
  }
  if (request.domains_size() + static_cast<int>(spec.domains.size()) > kMaxDomainsPerRequest) {
    return absl::InvalidArgumentError(absl::StrFormat("the request lists %d domains; at most %d are allowed",
                                                      request.domains_size() + static_cast<int>(spec.domains.size()),
                                                      kMaxDomainsPerRequest));
  }
  for (int i = 0; i < request.domains_size(); ++i) {
    absl::StatusOr<permute::ParsedDomain> domain = permute::ParseDomain(request.domains(i));
    if (!domain.ok()) {
      return absl::InvalidArgumentError(absl::StrFormat("domains[%d]: %s", i, domain.status().message()));
    }
    const bool repeated = std::any_of(spec.domains.begin(), spec.domains.end(),
                                      [&](const permute::ParsedDomain& d) { return d.ascii == domain->ascii; });
    if (!repeated) spec.domains.push_back(*std::move(domain));
  }

  if (absl::Status s = ParseSelection<permute::Kind>(request.kinds(), "kinds", v1::PermutationKind_MAX,
                                                     v1::PermutationKind_IsValid, &spec.generator.kinds);
      !s.ok()) {
    return s;
  }
  // The kinds asked for are a set: they run in the engine's run order (the likely hits first), as all of them
  // do when none is named, not in the order the request lists them.
  permute::KindSet selected;
  for (const permute::Kind k : spec.generator.kinds) selected.Insert(k);
  spec.generator.kinds = permute::InRunOrder(selected);
  if (absl::Status s = ParseSelection<v1::Enricher>(request.enrichers(), "enrichers", v1::Enricher_MAX,
                                                    v1::Enricher_IsValid, &spec.enrichers);
      !s.ok()) {
    return s;
  }

  if (request.max_candidates() > limits.max_candidates) {
    return absl::InvalidArgumentError(absl::StrFormat("max_candidates %d exceeds this server's limit of %d",
                                                      request.max_candidates(), limits.max_candidates));
  }
  spec.generator.subdomains = request.permute_subdomains();
  spec.registered_only = request.registered_only();
  spec.probe_mail = request.probe_mail();
  // No selection: every stage the server runs (the registry plans them), DNS among them.
  if (spec.registered_only && !spec.enrichers.empty() &&
      std::find(spec.enrichers.begin(), spec.enrichers.end(), v1::ENRICHER_DNS) == spec.enrichers.end()) {
    spec.enrichers.insert(spec.enrichers.begin(), v1::ENRICHER_DNS);  // the verdict it filters on
  }
  spec.generator.max_candidates =
      request.max_candidates() == 0 ? limits.default_max_candidates : request.max_candidates();
  return spec;
}

}  // namespace squatstream::service
