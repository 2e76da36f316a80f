#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "service/enrich_domain_reactor.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::service {
namespace {

v1::Record MakeRecord(int i) {
  v1::Record r;
  r.set_kind(v1::PERMUTATION_KIND_OMISSION);
  r.add_kinds(v1::PERMUTATION_KIND_OMISSION);
  r.add_kinds(v1::PERMUTATION_KIND_HOMOGLYPH);
  r.set_input("example.com");
  r.set_domain_ascii("exmple" + std::to_string(i) + ".com");
  r.set_domain_unicode(r.domain_ascii());
  v1::Enrichment* e = r.add_enrichments();
  e->set_enricher(v1::ENRICHER_BANNER);
  e->set_latency_micros(static_cast<std::uint32_t>(i));
  e->mutable_status();
  // A long title makes some records longer than 127 bytes: a two-byte length prefix.
  e->mutable_banner()->set_title(std::string(static_cast<std::size_t>(i) * 7, 't'));
  return r;
}

// The framed bytes must be exactly what the generated code serializes for the same message, so any client
// parses them as such.
TEST(FrameResponse, IsTheSerializedResponse) {
  for (int count : {0, 1, 3, 40}) {
    v1::EnrichDomainResponse want;
    std::vector<std::string> serialized;
    for (int i = 0; i < count; ++i) {
      *want.add_records() = MakeRecord(i);
      serialized.push_back(want.records(i).SerializeAsString());
    }
    want.mutable_progress()->set_generated(1000 + static_cast<std::uint64_t>(count));
    want.mutable_progress()->set_enriched(900);
    want.mutable_progress()->set_sent(static_cast<std::uint64_t>(count));

    std::string wire = "left over from a previous batch";
    FrameResponse(serialized, want.progress(), &wire);
    EXPECT_EQ(wire, want.SerializeAsString()) << count << " records";
    v1::EnrichDomainResponse got;
    ASSERT_TRUE(got.ParseFromString(wire));
    ASSERT_EQ(got.records_size(), count);
    if (count > 0) {
      EXPECT_EQ(got.records(count - 1).domain_ascii(), want.records(count - 1).domain_ascii());
    }
    EXPECT_EQ(got.progress().generated(), 1000u + static_cast<std::uint64_t>(count));
  }
}

}  // namespace
}  // namespace squatstream::service
