#include "common/storage/sqlite_database.h"

#include <sqlite3.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/storage/connection_transaction.h"

namespace dossiersync::storage {
namespace {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg =
      absl::StrCat("sqlite ", what, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL || primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN) {
    return absl::UnavailableError(msg);
  }
  if (primary == SQLITE_CONSTRAINT) return absl::AlreadyExistsError(msg);
  return absl::InternalError(msg);
}

// One connection with its statement cache. Not thread-safe.
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          const OpenOptions& o, bool readonly) {
    auto c = std::make_unique<Connection>();
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr);
    if (rc != SQLITE_OK) return SqliteError(c->db_, rc, absl::StrCat("open ", path));
    sqlite3_busy_timeout(c->db_, o.busy_timeout_ms);
    std::string pragmas =
        readonly ? "PRAGMA query_only=1;"
                 : absl::StrCat(
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=", o.sqlite_synchronous,
                       "; PRAGMA foreign_keys=ON;",
                       o.sqlite_max_pages > 0
                           ? absl::StrCat(" PRAGMA max_page_count=", o.sqlite_max_pages, ";")
                           : "",
                       o.sqlite_cache_mib > 0
                           ? absl::StrCat(" PRAGMA cache_size=-", o.sqlite_cache_mib * 1024, ";")
                           : "",
                       o.sqlite_wal_autocheckpoint > 0
                           ? absl::StrCat(
                                 " PRAGMA wal_autocheckpoint=", o.sqlite_wal_autocheckpoint, ";")
                           : "");
    char* err = nullptr;
    rc = sqlite3_exec(c->db_, pragmas.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string m = err ? err : "";
      sqlite3_free(err);
      return absl::UnavailableError(absl::StrCat("sqlite pragmas on ", path, ": ", m));
    }
    return c;
  }

  absl::Status ExecRaw(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? absl::OkStatus() : SqliteError(db_, rc, sql);
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, key.c_str(), static_cast<int>(key.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, absl::StrCat("prepare: ", sql));
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }

  absl::Status Bind(sqlite3_stmt* stmt, const std::vector<Value>& params) {
    static const std::vector<std::string> kNames = [] {
      std::vector<std::string> names;
      for (int i = 1; i <= 64; ++i) names.push_back(absl::StrCat("$", i));
      return names;
    }();
    for (size_t i = 0; i < params.size(); ++i) {
      std::string more;
      const std::string& name = i < kNames.size() ? kNames[i] : (more = absl::StrCat("$", i + 1));
      int idx = sqlite3_bind_parameter_index(stmt, name.c_str());
      if (idx == 0) continue;  // parameter not used by this statement
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else if (auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text(stmt, idx, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else if (auto* b = std::get_if<Blob>(&v)) {
        rc = sqlite3_bind_blob(stmt, idx, b->bytes.data(), static_cast<int>(b->bytes.size()),
                               SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return SqliteError(db_, rc, "bind");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Row>> Run(absl::string_view sql, const std::vector<Value>& params,
                                       int64_t* changes) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* s = *stmt;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (auto st = Bind(s, params); !st.ok()) return st;
    std::vector<Row> rows;
    while (true) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        absl::Status st = SqliteError(db_, rc, absl::StrCat("step: ", sql));
        sqlite3_reset(s);
        return st;
      }
      int n = sqlite3_column_count(s);
      std::vector<Value> values;
      values.reserve(n);
      for (int i = 0; i < n; ++i) {
        switch (sqlite3_column_type(s, i)) {
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(s, i)));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(s, i));
            break;
          case SQLITE_TEXT:
            values.emplace_back(
                std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, i)),
                            sqlite3_column_bytes(s, i)));
            break;
          case SQLITE_BLOB: {
            const char* p = static_cast<const char*>(sqlite3_column_blob(s, i));
            values.emplace_back(Blob{std::string(p ? p : "", sqlite3_column_bytes(s, i))});
            break;
          }
          default:
            values.emplace_back(std::monostate{});
        }
      }
      rows.emplace_back(std::move(values));
    }
    if (changes) *changes = sqlite3_changes64(db_);
    sqlite3_reset(s);
    return rows;
  }

  sqlite3* db_ = nullptr;

 private:
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class SqliteDatabase;

class SqliteTransaction : public ConnectionTransaction<Connection> {
 public:
  SqliteTransaction(SqliteDatabase* owner, std::unique_ptr<Connection> conn, bool write,
                    std::unique_lock<std::mutex> lock)
      : ConnectionTransaction(std::move(conn)),
        owner_(owner),
        write_(write),
        lock_(std::move(lock)) {}
  ~SqliteTransaction() override;
  absl::Status Commit() override {
    absl::Status st = conn_->ExecRaw("COMMIT");
    done_ = st.ok();
    return st;
  }

 private:
  SqliteDatabase* owner_;
  bool write_;
  bool done_ = false;
  std::unique_lock<std::mutex> lock_;
};

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(std::string path, OpenOptions o, std::unique_ptr<Connection> writer)
      : path_(std::move(path)), options_(std::move(o)), writer_(std::move(writer)) {}

  absl::StatusOr<std::unique_ptr<Transaction>> Begin() override {
    std::unique_lock<std::mutex> lock(writer_mu_);
    if (!writer_) return absl::InternalError("sqlite writer connection lost");
    if (auto st = writer_->ExecRaw("BEGIN IMMEDIATE"); !st.ok()) return st;
    return std::unique_ptr<Transaction>(
        new SqliteTransaction(this, std::move(writer_), true, std::move(lock)));
  }

  absl::StatusOr<std::unique_ptr<Transaction>> BeginRead() override {
    std::unique_ptr<Connection> conn;
    {
      absl::MutexLock l(&pool_mu_);
      if (!readers_.empty()) {
        conn = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!conn) {
      auto c = Connection::Open(path_, options_, /*readonly=*/true);
      if (!c.ok()) return c.status();
      conn = std::move(*c);
    }
    if (auto st = conn->ExecRaw("BEGIN"); !st.ok()) return st;
    return std::unique_ptr<Transaction>(
        new SqliteTransaction(this, std::move(conn), false, std::unique_lock<std::mutex>()));
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  void Return(std::unique_ptr<Connection> conn, bool write) {
    if (write) {
      writer_ = std::move(conn);  // the caller still holds writer_mu_
      return;
    }
    absl::MutexLock l(&pool_mu_);
    if (readers_.size() < 16) readers_.push_back(std::move(conn));
  }

 private:
  const std::string path_;
  const OpenOptions options_;
  std::mutex writer_mu_;  // held by the open write transaction
  std::unique_ptr<Connection> writer_;
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> readers_ ABSL_GUARDED_BY(pool_mu_);
};

SqliteTransaction::~SqliteTransaction() {
  if (!done_) (void)conn_->ExecRaw(write_ ? "ROLLBACK" : "COMMIT");
  owner_->Return(std::move(conn_), write_);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const OpenOptions& options) {
  if (options.sqlite_synchronous != "FULL" && options.sqlite_synchronous != "NORMAL" &&
      options.sqlite_synchronous != "EXTRA") {
    return absl::InvalidArgumentError("sqlite synchronous must be FULL, EXTRA or NORMAL");
  }
  auto writer = Connection::Open(path, options, /*readonly=*/false);
  if (!writer.ok()) return writer.status();
  return std::unique_ptr<Database>(new SqliteDatabase(path, options, std::move(*writer)));
}

}  // namespace dossiersync::storage
