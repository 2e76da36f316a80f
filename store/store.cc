#include "store/store.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace squatstream::store {

namespace {
absl::Status NoKeys() {
  return absl::UnimplementedError("this store keeps no API keys: open a SQLite or PostgreSQL store");
}
}  // namespace

absl::Status Store::CreateApiKey(const ApiKeyRow&) { return NoKeys(); }
absl::StatusOr<std::vector<ApiKeyRow>> Store::ListApiKeys() { return NoKeys(); }
absl::StatusOr<ApiKeyRow> Store::RevokeApiKey(const std::string&, absl::Time) { return NoKeys(); }
absl::StatusOr<std::int64_t> Store::CountWatchesOwnedBy(const std::string&) { return NoKeys(); }

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& spec) {
  if (absl::StartsWith(spec, "sqlite:")) {
    const std::string path = spec.substr(std::string("sqlite:").size());
    if (path.empty()) return absl::InvalidArgumentError("--store=sqlite:PATH needs a PATH");
    return OpenSqliteStore(path);
  }
  // libpq's URI prefixes, or its key=value form ("host=... dbname=..."), which always holds a '='.
  if (absl::StartsWith(spec, "postgresql://") || absl::StartsWith(spec, "postgres://") ||
      absl::StrContains(spec, '=')) {
    return OpenPostgresStore(spec);
  }
  // The spec may be a DSN holding a password: it is not repeated.
  return absl::InvalidArgumentError(
      "--store names no known engine: give sqlite:PATH, a postgresql:// URI or a key=value PostgreSQL DSN");
}

}  // namespace squatstream::store
