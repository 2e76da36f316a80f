#include "service/request.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "permute/kind.h"

namespace squatstream::service {
namespace {

using ::testing::HasSubstr;

// The service casts between the API's PermutationKind and the engine's Kind: every value must be the same
// kind on both sides, by number and by name.
static_assert(static_cast<std::size_t>(v1::PermutationKind_MAX) == permute::kKindCount,
              "the proto and the engine must have the same kinds");
TEST(Kinds, EveryApiValueIsTheEnginesKindOfTheSameName) {
  for (int i = 1; i <= v1::PermutationKind_MAX; ++i) {
    ASSERT_TRUE(v1::PermutationKind_IsValid(i)) << i;
    std::optional<permute::Kind> k = permute::KindFromNumber(i);
    ASSERT_TRUE(k.has_value()) << i;
    const std::string api = absl::StrReplaceAll(
        absl::AsciiStrToLower(absl::StripPrefix(v1::PermutationKind_Name(i), "PERMUTATION_KIND_")), {{"_", "-"}});
    EXPECT_EQ(permute::KindName(*k), api) << i;
  }
}

TEST(ParseRequest, DefaultsToAllKindsAllEnrichersAndTheDefaultCap) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {.default_max_candidates = 50, .max_candidates = 100});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->generator.kinds.empty());  // the generator's "all"
  EXPECT_TRUE(spec->enrichers.empty());        // every stage the server runs (the registry's plan)
  EXPECT_EQ(spec->generator.max_candidates, 50u);
  EXPECT_FALSE(spec->generator.subdomains);
  r.set_permute_subdomains(true);
  spec = ParseRequest(r, {.default_max_candidates = 50, .max_candidates = 100});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->generator.subdomains);
}

TEST(ParseRequest, KeepsTheSelectionWithoutDuplicates) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  r.add_kinds(v1::PERMUTATION_KIND_ADDITION);
  r.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  r.add_enrichers(v1::ENRICHER_WHOIS);
  r.set_max_candidates(7);
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->generator.kinds, (std::vector<permute::Kind>{permute::Kind::kOmission, permute::Kind::kAddition}));
  EXPECT_EQ(spec->enrichers, std::vector<v1::Enricher>{v1::ENRICHER_WHOIS});  // the plan adds DNS, not the parser
  EXPECT_FALSE(spec->registered_only);
  EXPECT_EQ(spec->generator.max_candidates, 7u);
}

// The kinds asked for are a set: they run in the engine's run order (the likely hits first), whatever order the
// request lists them in — tld-swap before the typing slips, bitsquatting the last ASCII kind, homoglyph (IDN) last.
TEST(ParseRequest, RunsTheSelectedKindsInRunOrder) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  for (v1::PermutationKind k : {v1::PERMUTATION_KIND_HOMOGLYPH, v1::PERMUTATION_KIND_BITSQUATTING,
                                v1::PERMUTATION_KIND_OMISSION, v1::PERMUTATION_KIND_TLD_SWAP}) {
    r.add_kinds(k);
  }
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->generator.kinds,
            (std::vector<permute::Kind>{permute::Kind::kTldSwap, permute::Kind::kOmission, permute::Kind::kBitsquatting,
                                        permute::Kind::kHomoglyph}));
}

TEST(ParseRequest, RegisteredOnlySelectsDnsFirst) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.add_enrichers(v1::ENRICHER_BANNER);
  r.set_registered_only(true);
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->registered_only);
  EXPECT_EQ(spec->enrichers, (std::vector<v1::Enricher>{v1::ENRICHER_DNS, v1::ENRICHER_BANNER}));
}

TEST(ParseRequest, RejectsUnknownAndOverlongSelections) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.add_kinds(static_cast<v1::PermutationKind>(99));
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("kinds[0]: unknown value 99"));

  r.clear_kinds();
  for (int i = 0; i < 1000; ++i) r.add_enrichers(v1::ENRICHER_GEO);
  spec = ParseRequest(r, {});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("enrichers lists 1000 entries"));
}

TEST(ParseRequest, SeveralDomainsInOrderWithoutRepeats) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.add_domains("bücher.de");
  r.add_domains("EXAMPLE.com");  // the same name as `domain`: permuted once
  r.add_domains("xn--bcher-kva.de");
  r.add_domains("paypal.com");
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->domains.size(), 3u);
  EXPECT_EQ(spec->domains[0].ascii, "example.com");
  EXPECT_EQ(spec->domains[1].ascii, "xn--bcher-kva.de");
  EXPECT_EQ(spec->domains[2].ascii, "paypal.com");

  v1::EnrichDomainRequest only_list;  // `domain` may be left empty when `domains` is set
  only_list.add_domains("paypal.com");
  spec = ParseRequest(only_list, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->domains.size(), 1u);
}

TEST(ParseRequest, NamesTheBadDomainOfAList) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.add_domains("paypal.com");
  r.add_domains("exa$mple.com");
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("domains[1]: domain contains '$'"));

  v1::EnrichDomainRequest none;
  EXPECT_THAT(std::string(ParseRequest(none, {}).status().message()), HasSubstr("domain is empty"));

  v1::EnrichDomainRequest too_many;
  for (int i = 0; i < kMaxDomainsPerRequest + 1; ++i) too_many.add_domains("d" + std::to_string(i) + ".com");
  spec = ParseRequest(too_many, {});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("lists 33 domains; at most 32"));
}

// The client's fault, not the server's capacity: alerts on server errors leave INVALID_ARGUMENT out.
TEST(ParseRequest, TooManyCandidatesIsInvalidArgument) {
  v1::EnrichDomainRequest r;
  r.set_domain("example.com");
  r.set_max_candidates(1000001);
  absl::StatusOr<StreamSpec> spec = ParseRequest(r, {.default_max_candidates = 10, .max_candidates = 1000000});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("limit of 1000000"));
}

}  // namespace
}  // namespace squatstream::service

namespace squatstream::service {
namespace {

grpc::ByteBuffer Serialize(const v1::EnrichDomainRequest& r) {
  const std::string bytes = r.SerializePartialAsString();  // no UTF-8 check, as a careless client would send
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(DecodeRequest, RoundTripsEveryField) {
  v1::EnrichDomainRequest r;
  r.set_domain("bücher.de");
  r.add_kinds(v1::PERMUTATION_KIND_HOMOGLYPH);
  r.add_enrichers(v1::ENRICHER_BANNER);
  r.set_max_candidates(9);
  r.add_domains("paypal.com");
  r.set_permute_subdomains(true);
  absl::StatusOr<v1::EnrichDomainRequest> decoded = DecodeRequest(Serialize(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->SerializeAsString(), r.SerializeAsString());
}

TEST(DecodeRequest, InvalidUtf8ReachesValidation) {
  v1::EnrichDomainRequest r;
  r.set_domain("bad\xff.com");
  absl::StatusOr<v1::EnrichDomainRequest> decoded = DecodeRequest(Serialize(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<StreamSpec> spec = ParseRequest(*decoded, {});
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("not valid UTF-8"));
}

TEST(DecodeRequest, GarbageIsInvalidArgument) {
  grpc::Slice slice(std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(DecodeRequest(grpc::ByteBuffer(&slice, 1)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace squatstream::service
