// PostgreSQL driver for the storage interface (libpq): a pool of connections; read-write
// transactions take a transaction-scoped advisory lock first, so writers are serialised across
// every replica on the same database exactly as SQLite serialises them in one process (the
// stores' read-then-write logic, the outbox's id order and change_seq allocation rely on it);
// read transactions are REPEATABLE READ READ ONLY snapshots that never block writers.
// Statements use the same `$n` placeholders as SQLite; parameters a statement does not use are
// dropped and the rest renumbered (SQLite ignores unused ones, PostgreSQL refuses them).
//
// Thread safety: PostgresDatabase is thread-safe; a transaction is used by one thread at a time.
#ifndef DOSSIERSYNC_COMMON_STORAGE_POSTGRES_DATABASE_H_
#define DOSSIERSYNC_COMMON_STORAGE_POSTGRES_DATABASE_H_

#include <memory>
#include <string>
#include <vector>

#include "common/storage/database.h"

namespace dossiersync::storage {

// `uri`: a libpq connection URI (postgresql://user:password@host:port/dbname?sslmode=...). The
// password may also come from PGPASSWORD or a ~/.pgpass file (libpq's own rules).
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& uri,
                                                       const OpenOptions& options);

// The statement with only the placeholders it uses, renumbered from $1, and for each new
// placeholder the index of the original parameter. Quoted text and comments are left alone.
struct RenumberedSql {
  std::string sql;
  std::vector<int> params;  // new $k -> original index (0-based)
};
RenumberedSql RenumberPlaceholders(absl::string_view sql);

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_POSTGRES_DATABASE_H_
