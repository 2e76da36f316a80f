#include "workers/geo/geo_database.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "unicode/locid.h"
#include "unicode/region.h"
#include "unicode/unistr.h"

namespace squatstream::workers::geo {
namespace {

// What ICU's region data derives from a country code: its English name and its continent (MaxMind's codes).
struct CountryFacts {
  std::string name;
  std::string continent;
};

std::string ContinentOf(const char* code) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Region* region = icu::Region::getInstance(code, error);
  if (U_FAILURE(error) || region == nullptr) return "";
  if (std::strcmp(code, "AQ") == 0) return "AN";
  const icu::Region* continent = region->getContainingRegion(URGN_CONTINENT);
  if (continent == nullptr) return "";
  const std::string m49 = continent->getRegionCode();
  if (m49 == "002") return "AF";
  if (m49 == "142") return "AS";
  if (m49 == "150") return "EU";
  if (m49 == "009") return "OC";
  if (m49 == "019") {  // the Americas: South America is its own continent, the rest is North America
    const icu::Region* sub = region->getContainingRegion(URGN_SUBCONTINENT);
    return sub != nullptr && std::strcmp(sub->getRegionCode(), "005") == 0 ? "SA" : "NA";
  }
  return "";
}

// A two-letter code's place in FactsOf's table (both letters in A-Z).
constexpr std::size_t kLetters = 26;
std::size_t CodeIndex(char a, char b) {
  return static_cast<std::size_t>(a - 'A') * kLetters + static_cast<std::size_t>(b - 'A');
}

const CountryFacts& FactsOf(absl::string_view country_code) {
  // Every two-letter code, computed once (676 ICU look-ups, about a millisecond).
  static const auto* table = [] {
    auto* t = new std::array<CountryFacts, kLetters * kLetters>();
    for (char a = 'A'; a <= 'Z'; ++a) {
      for (char b = 'A'; b <= 'Z'; ++b) {
        const char code[3] = {a, b, 0};
        CountryFacts& f = (*t)[CodeIndex(a, b)];
        icu::UnicodeString name;
        icu::Locale("", code).getDisplayCountry(icu::Locale::getEnglish(), name);
        name.toUTF8String(f.name);
        if (f.name == code) f.name.clear();  // ICU knows no such country
        f.continent = ContinentOf(code);
      }
    }
    return t;
  }();
  static const CountryFacts kNone;
  if (country_code.size() != 2 || country_code[0] < 'A' || country_code[0] > 'Z' || country_code[1] < 'A' ||
      country_code[1] > 'Z') {
    return kNone;
  }
  return (*table)[CodeIndex(country_code[0], country_code[1])];
}

// An address as libmaxminddb takes it.
struct Address {
  sockaddr_storage storage{};
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

bool ParseAddress(absl::string_view text, Address* out) {
  if (text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
  if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return true;
  }
  return false;
}

// A value at `path` of `entry`, as text / number; empty / 0 when absent or of another type.
template <typename... Path>
std::string Text(MMDB_entry_s* entry, Path... path) {
  MMDB_entry_data_s data;
  if (MMDB_get_value(entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return "";
  }
  return std::string(data.utf8_string, data.data_size);
}

template <typename... Path>
bool Number(MMDB_entry_s* entry, double* out, Path... path) {
  MMDB_entry_data_s data;
  if (MMDB_get_value(entry, &data, path..., nullptr) != MMDB_SUCCESS || !data.has_data) return false;
  switch (data.type) {
    case MMDB_DATA_TYPE_DOUBLE:
      *out = data.double_value;
      return true;
    case MMDB_DATA_TYPE_FLOAT:
      *out = data.float_value;
      return true;
    case MMDB_DATA_TYPE_UINT16:
      *out = data.uint16;
      return true;
    case MMDB_DATA_TYPE_UINT32:
      *out = data.uint32;
      return true;
    case MMDB_DATA_TYPE_INT32:
      *out = data.int32;
      return true;
    case MMDB_DATA_TYPE_UINT64:
      *out = static_cast<double>(data.uint64);
      return true;
    case MMDB_DATA_TYPE_UTF8_STRING: {  // some converters store numbers as text
      const std::string s(data.utf8_string, data.data_size);
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end != '\0') return false;
      *out = v;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

struct GeoDatabases::File {
  std::string path;
  MMDB_s mmdb{};
  ~File() { MMDB_close(&mmdb); }

  // The entry for `address`, if this file holds it.
  bool Find(const Address& address, MMDB_entry_s* entry) const {
    int error = MMDB_SUCCESS;
    // libmaxminddb takes a non-const MMDB_s but does not change it during a lookup.
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(const_cast<MMDB_s*>(&mmdb), address.get(), &error);
    if (error != MMDB_SUCCESS || !r.found_entry) return false;  // an IPv6 address in an IPv4-only file too
    *entry = r.entry;
    return true;
  }
};

absl::StatusOr<std::shared_ptr<const GeoDatabases>> GeoDatabases::Open(const GeoFiles& files) {
  if (files.location.empty() && files.asn.empty()) return absl::InvalidArgumentError("no geo database file given");
  std::shared_ptr<GeoDatabases> set(new GeoDatabases());
  auto open = [](const std::string& path, std::vector<std::unique_ptr<File>>& into) -> absl::Status {
    auto file = std::make_unique<File>();
    file->path = path;
    const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &file->mmdb);
    if (status != MMDB_SUCCESS) {
      std::string reason = MMDB_strerror(status);
      if (status == MMDB_IO_ERROR) absl::StrAppend(&reason, ": ", std::strerror(errno));
      file->mmdb = MMDB_s{};  // nothing to close
      return absl::FailedPreconditionError(absl::StrFormat("cannot open geo database %s: %s", path, reason));
    }
    into.push_back(std::move(file));
    return absl::OkStatus();
  };
  for (const std::string& path : files.location) {
    if (absl::Status s = open(path, set->location_); !s.ok()) return s;
  }
  for (const std::string& path : files.asn) {
    if (absl::Status s = open(path, set->asn_); !s.ok()) return s;
  }
  return std::shared_ptr<const GeoDatabases>(std::move(set));
}

GeoDatabases::~GeoDatabases() = default;

absl::StatusOr<v1::GeoLocation> GeoDatabases::Locate(absl::string_view ip) const {
  Address address;
  if (!ParseAddress(ip, &address)) {
    return absl::InvalidArgumentError(absl::StrFormat("\"%s\" is not an IP address", absl::CHexEscape(ip)));
  }
  v1::GeoLocation out;
  out.set_ip(std::string(ip));
  MMDB_entry_s entry;
  for (const auto& file : location_) {
    if (!file->Find(address, &entry)) continue;
    // The flat layout (ip-location-db / DB-IP Lite) is told by its top-level country_code; else MaxMind's
    // nested one. Each path costs a walk of the entry's map, so only the layout's own paths are asked.
    std::string country = Text(&entry, "country_code");
    const bool flat = !country.empty();
    std::string city, name, continent;
    double latitude = 0, longitude = 0;
    bool located = false;
    if (flat) {
      city = Text(&entry, "city");
      located = Number(&entry, &latitude, "latitude") && Number(&entry, &longitude, "longitude");
    } else {
      country = Text(&entry, "country", "iso_code");
      if (country.empty()) country = Text(&entry, "registered_country", "iso_code");
      city = Text(&entry, "city", "names", "en");
      located =
          Number(&entry, &latitude, "location", "latitude") && Number(&entry, &longitude, "location", "longitude");
      name = Text(&entry, "country", "names", "en");
      continent = Text(&entry, "continent", "code");
    }
    if (country.empty() && city.empty() && !located) continue;  // an entry with nothing we read
    out.set_found(true);
    out.set_country_code(country);
    out.set_city(city);
    if (located) {
      out.set_latitude(latitude);
      out.set_longitude(longitude);
    }
    const CountryFacts& facts = FactsOf(country);
    out.set_country_name(name.empty() ? facts.name : name);
    out.set_continent_code(continent.empty() ? facts.continent : continent);
    break;
  }
  for (const auto& file : asn_) {
    if (!file->Find(address, &entry)) continue;
    double asn = 0;
    if (!Number(&entry, &asn, "autonomous_system_number")) continue;
    out.set_asn(static_cast<std::uint32_t>(asn));
    out.set_as_organization(Text(&entry, "autonomous_system_organization"));
    break;
  }
  return out;
}

std::string GeoDatabases::Describe() const {
  std::vector<std::string> parts;
  for (const auto* list : {&location_, &asn_}) {
    for (const auto& f : *list) {
      parts.push_back(absl::StrFormat(
          "%s (%s, built %s)", f->path, f->mmdb.metadata.database_type,
          absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(static_cast<std::int64_t>(f->mmdb.metadata.build_epoch)),
                           absl::UTCTimeZone())));
    }
  }
  return absl::StrJoin(parts, ", ");
}

std::int64_t GeoDatabases::oldest_build_epoch() const {
  std::int64_t oldest = 0;
  for (const auto* list : {&location_, &asn_}) {
    for (const auto& f : *list) {
      const auto epoch = static_cast<std::int64_t>(f->mmdb.metadata.build_epoch);
      if (oldest == 0 || epoch < oldest) oldest = epoch;
    }
  }
  return oldest;
}

GeoCatalog::GeoCatalog(GeoFiles files) : files_(std::move(files)) {}

std::shared_ptr<const GeoDatabases> GeoCatalog::current() const {
  MutexLock lock(mu_);
  return current_;
}

std::string GeoCatalog::error() const {
  MutexLock lock(mu_);
  return error_;
}

std::uint64_t GeoCatalog::loads() const {
  MutexLock lock(mu_);
  return loads_;
}

std::string GeoCatalog::Fingerprint() const {
  std::string out;
  for (const auto* list : {&files_.location, &files_.asn}) {
    for (const std::string& path : *list) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        absl::StrAppend(&out, path, ":missing;");
        continue;
      }
      absl::StrAppend(&out, path, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_ino,
                      ";");
    }
  }
  return out;
}

absl::Status GeoCatalog::Reload() {
  MutexLock reload(reload_mu_);
  const std::string fingerprint = Fingerprint();
  absl::StatusOr<std::shared_ptr<const GeoDatabases>> set = GeoDatabases::Open(files_);
  std::shared_ptr<const GeoDatabases> previous;  // unmapped after the lock is released
  MutexLock lock(mu_);
  fingerprint_ = fingerprint;  // a file that fails to open is not retried until it changes again
  if (!set.ok()) {
    error_ = std::string(set.status().message());
    return set.status();
  }
  previous = std::exchange(current_, *std::move(set));
  error_.clear();
  ++loads_;
  return absl::OkStatus();
}

absl::Status GeoCatalog::ReloadIfChanged() {
  const std::string now = Fingerprint();  // stat() outside the lock lookups take
  {
    MutexLock lock(mu_);
    if (current_ != nullptr && fingerprint_ == now) return absl::OkStatus();
    if (current_ == nullptr && !fingerprint_.empty() && fingerprint_ == now) {
      return absl::FailedPreconditionError(error_);  // still the files that failed
    }
  }
  return Reload();
}

}  // namespace squatstream::workers::geo
