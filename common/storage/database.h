// Storage interface shared by every service: a transactional SQL database behind one small API.
// Drivers: SQLite (embedded default, WAL) now; PostgreSQL later, without touching service code.
//
// SQL portability rules for callers: placeholders are `$1`, `$2`, ... (both SQLite and PostgreSQL
// accept them); blobs are bound as `Blob`; integers as int64. Dialect-specific DDL goes through
// `Dialect()`.
//
// Thread safety: a `Database` is thread-safe; each `Transaction` belongs to one thread at a time.
#ifndef DOSSIERSYNC_COMMON_STORAGE_DATABASE_H_
#define DOSSIERSYNC_COMMON_STORAGE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dossiersync::storage {

struct Blob {
  std::string bytes;
};

using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

// One result row; columns in SELECT order.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  // Text or blob bytes.
  const std::string& Str(size_t i) const;

 private:
  std::vector<Value> values_;
};

enum class Dialect { kSqlite, kPostgres };

class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual absl::StatusOr<std::vector<Row>> Query(absl::string_view sql,
                                                 const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql,
                                       const std::vector<Value>& params = {}) = 0;
  // Commit makes the changes durable; a transaction destroyed without Commit rolls back.
  virtual absl::Status Commit() = 0;

  // Convenience: at most one row.
  absl::StatusOr<std::optional<Row>> QueryOne(absl::string_view sql,
                                              const std::vector<Value>& params = {});
};

class Database {
 public:
  virtual ~Database() = default;
  // Begins a read-write transaction (serialised against other writers).
  virtual absl::StatusOr<std::unique_ptr<Transaction>> Begin() = 0;
  // Begins a read-only transaction (a consistent snapshot; never blocks writers).
  virtual absl::StatusOr<std::unique_ptr<Transaction>> BeginRead() = 0;
  virtual Dialect dialect() const = 0;
  // Whether the database can take a write now, for readiness: SQLite writes one row of its own
  // table (a full disk or an unwritable file fails it); PostgreSQL runs a read on a pooled
  // connection (a lost server fails it; PostgreSQL guards its own disk).
  absl::Status Probe();
  // Runs `statements` (DDL, separated by ';') in one transaction.
  absl::Status Migrate(absl::string_view statements);
  // Versioned migrations of `component`: versions[i] is the DDL (';'-separated, PortableDdl
  // placeholders allowed) that brings the schema from version i to i + 1. Applies, in one write
  // transaction (so concurrent replicas apply each version once), every version newer than the one
  // recorded in `schema_migrations`, and records them. A database newer than this binary knows
  // is FAILED_PRECONDITION (an older binary must not run against a newer schema).
  absl::Status ApplyMigrations(absl::string_view component,
                               const std::vector<std::string>& versions);
};

struct OpenOptions {
  // SQLite: "FULL" fsyncs on every commit (power-loss safe); "NORMAL" survives process crashes.
  std::string sqlite_synchronous = "FULL";
  int busy_timeout_ms = 10000;
  // SQLite: the database stops growing at this many pages (PRAGMA max_page_count; 0: no limit).
  // Writes that need more answer UNAVAILABLE until rows are deleted.
  int64_t sqlite_max_pages = 0;
  // SQLite: the write connection's page cache in MiB (PRAGMA cache_size; 0: SQLite's 2 MiB). A
  // writer whose indexes do not fit reads its pages back from the file on every batch.
  int sqlite_cache_mib = 0;
  // SQLite: the WAL is copied back into the database after this many pages (PRAGMA
  // wal_autocheckpoint; 0: SQLite's 1,000). Larger: a page written by many batches is copied once.
  int sqlite_wal_autocheckpoint = 0;
  // PostgreSQL: connections kept open (each transaction holds one).
  int pool_size = 8;
};

// OK when `mib` is a valid sqlite_cache_mib (0-4096); else INVALID_ARGUMENT naming `flag`.
absl::Status ValidateSqliteCacheMib(int mib, absl::string_view flag);

// Opens `uri`: "sqlite:PATH" (or a bare path), or a PostgreSQL URI "postgresql://..." /
// "postgres://...".
absl::StatusOr<std::unique_ptr<Database>> Open(absl::string_view uri,
                                               const OpenOptions& options = {});

}  // namespace dossiersync::storage

#endif  // DOSSIERSYNC_COMMON_STORAGE_DATABASE_H_
