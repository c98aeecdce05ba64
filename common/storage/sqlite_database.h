// SQLite driver for the storage interface: one file per service, WAL journal, one writer
// connection (serialised by a mutex held for the life of a write transaction) and a pool of reader
// connections, each with a prepared-statement cache.
//
// Thread safety: SqliteDatabase is thread-safe; transactions are used by one thread at a time.
#ifndef DOSSIERSYNC_COMMON_STORAGE_SQLITE_DATABASE_H_
#define DOSSIERSYNC_COMMON_STORAGE_SQLITE_DATABASE_H_

#include <memory>
#include <string>

#include "common/storage/database.h"

namespace dossiersync::storage {

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const OpenOptions& options);

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_SQLITE_DATABASE_H_
