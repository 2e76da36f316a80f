// Geo databases: MaxMind-format (.mmdb) files read with libmaxminddb, memory-mapped, looked up in place.
//
// Two kinds of file, each a list tried in order (the first holding the address answers): location files —
// MaxMind GeoLite2/GeoIP2 City or Country (nested `country.iso_code`, `city.names.en`, ...) or the flat
// ip-location-db layout of the installed DB-IP Lite files (`country_code`, `city`, `latitude`, ...) — and
// ASN files (`autonomous_system_number`, `autonomous_system_organization`: GeoLite2-ASN's names, which the
// install script's ASN file uses too). A field a file lacks is filled where it can be derived: the country's
// English name and its continent from ICU's region data.
//
// GeoCatalog holds the open set and swaps in a new one when a file changes (ReloadIfChanged: size, mtime or
// inode differ) or on request (SIGHUP): lookups hold the set they started with, so nothing waits or drops.
#ifndef SQUATSTREAM_WORKERS_GEO_GEO_DATABASE_H_
#define SQUATSTREAM_WORKERS_GEO_GEO_DATABASE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/mutex.h"
#include "squatstream/v1/squatstream.pb.h"

namespace squatstream::workers::geo {

struct GeoFiles {
  std::vector<std::string> location;  // City / Country databases, tried in order
  std::vector<std::string> asn;       // ASN databases, tried in order
  std::string attribution;            // the credit their licence asks for, put on every result
};

// One open set of files. Immutable once opened; thread-safe.
class GeoDatabases {
 public:
  // Opens every file (memory-mapped). A set with no file at all is an error; so is a file that cannot be
  // opened (its path and libmaxminddb's reason in the message).
  static absl::StatusOr<std::shared_ptr<const GeoDatabases>> Open(const GeoFiles& files);
  ~GeoDatabases();
  GeoDatabases(const GeoDatabases&) = delete;
  GeoDatabases& operator=(const GeoDatabases&) = delete;

  // Locates one address (IPv4 or IPv6 text). INVALID_ARGUMENT when `ip` is not an address; otherwise the
  // location, `found` false when no location file holds it (the ASN may still be set).
  absl::StatusOr<v1::GeoLocation> Locate(absl::string_view ip) const;

  // "<database_type> built YYYY-MM-DD" per file, for the log.
  std::string Describe() const;
  std::int64_t oldest_build_epoch() const;  // seconds; the oldest file's build time

 private:
  struct File;
  GeoDatabases() = default;
  std::vector<std::unique_ptr<File>> location_;
  std::vector<std::unique_ptr<File>> asn_;
};

// The current set, reloadable. Thread-safe.
class GeoCatalog {
 public:
  explicit GeoCatalog(GeoFiles files);

  // The set now in use, or null with `error()` saying why none is loaded.
  std::shared_ptr<const GeoDatabases> current() const;
  std::string error() const;

  // Opens the files again and swaps the new set in when it opens (else keeps the old one and returns the
  // error). ReloadIfChanged does so only when a file's size, mtime or inode changed since the last load (or
  // none is loaded); it returns OK when nothing changed.
  absl::Status Reload();
  absl::Status ReloadIfChanged();

  const GeoFiles& files() const { return files_; }
  std::uint64_t loads() const;  // successful loads so far

 private:
  std::string Fingerprint() const;  // size/mtime/inode of every file

  const GeoFiles files_;
  mutable Mutex mu_;
  std::shared_ptr<const GeoDatabases> current_;
  std::string error_;
  std::string fingerprint_;
  std::uint64_t loads_ = 0;
  Mutex reload_mu_;  // one reload at a time
};

}  // namespace squatstream::workers::geo

#endif  // SQUATSTREAM_WORKERS_GEO_GEO_DATABASE_H_
