// docs/OUTPUT.md documents the CSV's columns with the table CsvColumnReference() makes from the list the
// header and the rows are made from (client/output.cc); this test fails when the document's copy is stale.
// SQUATSTREAM_OUTPUT_DOC is the document's path (tests/CMakeLists.txt). To regenerate the block:
//   SQUATSTREAM_REGENERATE_OUTPUT_DOC=1 build/dev/tests/client_format_test --gtest_filter='OutputDoc.*'
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "client/output.h"
#include "gtest/gtest.h"

namespace squatstream::client {
namespace {

constexpr char kBegin[] = "<!-- csv-columns:begin -->\n";
constexpr char kEnd[] = "<!-- csv-columns:end -->";

TEST(OutputDoc, CsvColumnReferenceIsCurrent) {
  const std::string path = SQUATSTREAM_OUTPUT_DOC;
  std::string doc;
  {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << path;
    std::ostringstream text;
    text << in.rdbuf();
    doc = text.str();
  }
  const std::size_t begin = doc.find(kBegin);
  ASSERT_NE(begin, std::string::npos) << path << " has no " << kBegin;
  const std::size_t from = begin + sizeof(kBegin) - 1;
  const std::size_t end = doc.find(kEnd, from);
  ASSERT_NE(end, std::string::npos) << path << " has no " << kEnd << " after " << kBegin;
  const std::string expected = CsvColumnReference();
  if (doc.compare(from, end - from, expected) == 0) return;

  const char* regenerate = std::getenv("SQUATSTREAM_REGENERATE_OUTPUT_DOC");
  if (regenerate != nullptr && std::string(regenerate) == "1") {
    doc.replace(from, end - from, expected);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << doc;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    return;
  }
  FAIL() << path << ": the CSV column reference between the csv-columns markers differs from "
         << "CsvColumnReference() (client/output.cc). Regenerate with:\n"
         << "  SQUATSTREAM_REGENERATE_OUTPUT_DOC=1 " << ::testing::internal::GetArgvs()[0]
         << " --gtest_filter='OutputDoc.*'\n"
         << "The block should read:\n"
         << expected;
}

}  // namespace
}  // namespace squatstream::client
