#include "common/storage/database.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/storage/postgres_database.h"
#include "common/storage/schema.h"
#include "common/storage/sqlite_database.h"

namespace dossiersync::storage {

int64_t Row::Int(size_t i) const {
  const Value& v = values_.at(i);
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}

double Row::Double(size_t i) const {
  const Value& v = values_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  return 0;
}

const std::string& Row::Str(size_t i) const {
  static const std::string kEmpty;
  const Value& v = values_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* b = std::get_if<Blob>(&v)) return b->bytes;
  return kEmpty;
}

absl::StatusOr<std::optional<Row>> Transaction::QueryOne(absl::string_view sql,
                                                         const std::vector<Value>& params) {
  auto rows = Query(sql, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows->front()));
}

absl::Status Database::Probe() {
  if (dialect() == Dialect::kPostgres) {
    auto tx = BeginRead();
    if (!tx.ok()) return tx.status();
    return (*tx)->Query("SELECT 1").status();
  }
  auto tx = Begin();
  if (!tx.ok()) return tx.status();
  for (absl::string_view stmt :
       {"CREATE TABLE IF NOT EXISTS ds_health_probe (at BIGINT)", "DELETE FROM ds_health_probe"}) {
    if (auto r = (*tx)->Exec(stmt); !r.ok()) return r.status();
  }
  auto r = (*tx)->Exec("INSERT INTO ds_health_probe (at) VALUES ($1)",
                       {absl::ToUnixMicros(absl::Now())});
  if (!r.ok()) return r.status();
  return (*tx)->Commit();
}

absl::Status Database::Migrate(absl::string_view statements) {
  auto tx = Begin();
  if (!tx.ok()) return tx.status();
  for (absl::string_view stmt : absl::StrSplit(statements, ';')) {
    stmt = absl::StripAsciiWhitespace(stmt);
    if (stmt.empty()) continue;
    auto r = (*tx)->Exec(stmt);
    if (!r.ok())
      return absl::Status(r.status().code(), absl::StrCat("migration: ", r.status().message()));
  }
  return (*tx)->Commit();
}

absl::Status Database::ApplyMigrations(absl::string_view component,
                                       const std::vector<std::string>& versions) {
  auto tx = Begin();
  if (!tx.ok()) return tx.status();
  auto created = (*tx)->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version BIGINT NOT "
      "NULL, applied_at_us BIGINT NOT NULL, PRIMARY KEY (component, version))");
  if (!created.ok()) return created.status();
  auto row = (*tx)->QueryOne(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
      {std::string(component)});
  if (!row.ok()) return row.status();
  const int64_t have = (*row)->Int(0);
  const int64_t want = static_cast<int64_t>(versions.size());
  if (have > want) {
    return absl::FailedPreconditionError(absl::StrCat("database schema of ", component,
                                                      " is at version ", have,
                                                      "; this binary knows only up to ", want));
  }
  for (int64_t v = have + 1; v <= want; ++v) {
    for (absl::string_view stmt : absl::StrSplit(PortableDdl(dialect(), versions[v - 1]), ';')) {
      stmt = absl::StripAsciiWhitespace(stmt);
      if (stmt.empty()) continue;
      auto r = (*tx)->Exec(stmt);
      if (!r.ok()) {
        return absl::Status(r.status().code(), absl::StrCat("migration ", component, " v", v, ": ",
                                                            r.status().message()));
      }
    }
    auto rec = (*tx)->Exec(
        "INSERT INTO schema_migrations (component, version, applied_at_us) VALUES ($1, $2, $3)",
        {std::string(component), v, absl::ToUnixMicros(absl::Now())});
    if (!rec.ok()) return rec.status();
  }
  return (*tx)->Commit();
}

absl::Status ValidateSqliteCacheMib(int mib, absl::string_view flag) {
  if (mib < 0 || mib > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": expected 0 to 4096 (MiB), got ", mib));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Database>> Open(absl::string_view uri, const OpenOptions& options) {
  if (absl::StartsWith(uri, "postgresql://") || absl::StartsWith(uri, "postgres://")) {
    return OpenPostgres(std::string(uri), options);
  }
  absl::string_view path = uri;
  if (absl::StartsWith(path, "sqlite:")) {
    path.remove_prefix(7);
  } else if (size_t colon = path.find(':');
             colon != absl::string_view::npos && colon > 1 && path.find('/') > colon) {
    // A scheme we do not speak (mysql://x, sqlite3:..., postgresq://...) is not a file name.
    absl::string_view scheme = path.substr(0, colon);
    bool word = std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
    });
    if (word) {
      return absl::InvalidArgumentError(
          absl::StrCat("--database: unknown scheme \"", scheme,
                       "\"; expected sqlite:PATH, postgresql://USER:PASSWORD@HOST:PORT/DB "
                       "(or postgres://), or a file path for SQLite"));
    }
  }
  if (path.empty()) {
    return absl::InvalidArgumentError("--database: expected sqlite:PATH or a postgresql:// URI");
  }
  return OpenSqlite(std::string(path), options);
}

}  // namespace dossiersync::storage
