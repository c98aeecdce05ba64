// Portable DDL: schema text with {BLOB} and {SERIAL_PK} placeholders, rendered for a dialect.
//
// Thread safety: pure function.
#ifndef DOSSIERSYNC_COMMON_STORAGE_SCHEMA_H_
#define DOSSIERSYNC_COMMON_STORAGE_SCHEMA_H_

#include <string>

#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/storage/database.h"

namespace dossiersync::storage {

inline std::string PortableDdl(Dialect dialect, absl::string_view ddl) {
  if (dialect == Dialect::kPostgres) {
    return absl::StrReplaceAll(ddl,
                               {{"{BLOB}", "BYTEA"}, {"{SERIAL_PK}", "BIGSERIAL PRIMARY KEY"}});
  }
  return absl::StrReplaceAll(
      ddl, {{"{BLOB}", "BLOB"}, {"{SERIAL_PK}", "INTEGER PRIMARY KEY AUTOINCREMENT"}});
}

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_SCHEMA_H_
