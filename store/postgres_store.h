// The PostgreSQL engine of the store (store.h), through libpq: one connection behind one mutex (a replica's
// store calls are short transactions; several replicas are several connections), every statement prepared once
// per connection. A connection found broken (the server restarted, the network failed) fails that call
// UNAVAILABLE and is re-established by the next call, so a restarted PostgreSQL is reached again without
// restarting squatstreamd. Messages name the server (host, port, database), never the password.
#ifndef SQUATSTREAM_STORE_POSTGRES_STORE_H_
#define SQUATSTREAM_STORE_POSTGRES_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace squatstream::store {

struct PostgresOptions {
  // libpq's connect_timeout when the DSN sets none.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Tests: apply the migrations only up to this version (an older schema, upgraded by the next open).
  int migrate_to = kSchemaVersion;
};

// Connects to the database `dsn` names (a postgresql:// or postgres:// URI, or a key=value DSN) and applies the
// migrations, one replica at a time (a session advisory lock). UNAVAILABLE when it cannot be reached;
// FAILED_PRECONDITION for a newer schema.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& dsn, const PostgresOptions& options = {});

}  // namespace squatstream::store

#endif  // SQUATSTREAM_STORE_POSTGRES_STORE_H_
