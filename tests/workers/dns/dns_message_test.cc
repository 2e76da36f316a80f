// The DNS parser's bounds on what a zone's owner may make the stage keep: a message of compression pointers
// to a long name (64 KiB on the wire, megabytes expanded), thousands of records, maximal TXT.
#include "workers/dns/dns_message.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace squatstream::workers::dns {
namespace {

class MessageBuilder {
 public:
  // A response (NOERROR) to one question for a 248-character name, which every record below points at.
  MessageBuilder() {
    U16(0x1234);
    U16(0x8180);
    U16(1);
    counts_at_ = bytes_.size();
    U16(0);  // answers, set by Finish
    U16(0);
    U16(0);
    for (int label = 0; label < 4; ++label) {  // 63 + 63 + 63 + 56 characters, 4 + 1 length bytes: 250 on the wire
      const int n = label < 3 ? 63 : 56;
      bytes_.push_back(static_cast<std::uint8_t>(n));
      bytes_.insert(bytes_.end(), static_cast<std::size_t>(n), static_cast<std::uint8_t>('a' + label));
    }
    bytes_.push_back(0);
    U16(1);
    U16(1);
  }
  // A record owned by the question's name (a 2-byte pointer), with `rdata`.
  void Record(RrType type, const std::vector<std::uint8_t>& rdata) {
    U16(0xc00c);
    U16(static_cast<std::uint16_t>(type));
    U16(1);
    U16(0);
    U16(300);
    U16(static_cast<std::uint16_t>(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    ++answers_;
  }
  std::size_t size() const { return bytes_.size(); }
  std::vector<std::uint8_t> Finish() {
    bytes_[counts_at_] = static_cast<std::uint8_t>(answers_ >> 8);
    bytes_[counts_at_ + 1] = static_cast<std::uint8_t>(answers_ & 0xff);
    return bytes_;
  }

 private:
  void U16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v & 0xff));
  }
  std::vector<std::uint8_t> bytes_;
  std::size_t counts_at_ = 0;
  std::uint16_t answers_ = 0;
};

TEST(DnsMessageBounds, CompressionPointerBloatKeepsSixteenRecordsPerTypeAndCountsTheRest) {
  MessageBuilder b;
  std::size_t ns = 0, a = 0;
  while (b.size() + 16 < kMaxMessageBytes) {
    if (ns <= a) {
      b.Record(RrType::kNs, {0xc0, 0x0c});  // the long name again, through a pointer
      ++ns;
    } else {
      b.Record(RrType::kA, {192, 0, 2, static_cast<std::uint8_t>(a)});
      ++a;
    }
  }
  ASSERT_GT(ns, 2000u);
  absl::StatusOr<DnsMessage> m = ParseDnsMessage(b.Finish());
  ASSERT_TRUE(m.ok()) << m.status();
  std::size_t kept_ns = 0, kept_a = 0;
  for (const ResourceRecord& rr : m->answers) {
    kept_ns += rr.type == static_cast<std::uint16_t>(RrType::kNs);
    kept_a += rr.type == static_cast<std::uint16_t>(RrType::kA);
    EXPECT_EQ(rr.owner.size(), 248u);  // 63 + 63 + 63 + 56 characters and three dots
  }
  EXPECT_EQ(kept_ns, kMaxRecordsPerType);
  EXPECT_EQ(kept_a, kMaxRecordsPerType);
  EXPECT_EQ(m->AnswersOmitted(static_cast<std::uint16_t>(RrType::kNs)), ns - kMaxRecordsPerType);
  EXPECT_EQ(m->AnswersOmitted(static_cast<std::uint16_t>(RrType::kA)), a - kMaxRecordsPerType);
  // What is kept: 32 records of two 248-character names at most, not thousands (~1.2 MB expanded before).
  EXPECT_LT(m->HeldBytes(), 32u << 10);
}

TEST(DnsMessageBounds, MaximalTxtIsCutAndSaysSo) {
  MessageBuilder b;
  std::vector<std::uint8_t> rdata;
  for (int s = 0; s < 200; ++s) {  // 200 strings of 255 binary bytes: ~51 KB, each byte \DDD-escaped (x4)
    rdata.push_back(255);
    for (int i = 0; i < 255; ++i) rdata.push_back(static_cast<std::uint8_t>(i));
  }
  b.Record(RrType::kTxt, rdata);
  b.Record(RrType::kTxt, {5, 'h', 'e', 'l', 'l', 'o'});
  absl::StatusOr<DnsMessage> m = ParseDnsMessage(b.Finish());
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_LE(m->answers[0].value.size(), kMaxTxtBytes);
  EXPECT_EQ(m->answers[0].value.substr(m->answers[0].value.size() - 3), "...");
  EXPECT_EQ(m->answers[1].value, "hello");
  EXPECT_EQ(m->values_cut, 1u);
}

TEST(DnsMessageBounds, AMalformedRecordPastTheBoundStillRefusesTheMessage) {
  MessageBuilder b;
  for (std::size_t i = 0; i < kMaxRecordsPerType + 4; ++i) b.Record(RrType::kA, {192, 0, 2, 1});
  std::vector<std::uint8_t> bytes = b.Finish();
  bytes.resize(bytes.size() - 2);  // the last record's address cut short
  EXPECT_FALSE(ParseDnsMessage(bytes).ok());
}

}  // namespace
}  // namespace squatstream::workers::dns
