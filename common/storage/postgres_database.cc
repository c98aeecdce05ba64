#include "common/storage/postgres_database.h"

#include <libpq-fe.h>

#include <cstdio>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/storage/connection_transaction.h"

namespace dossiersync::storage {
namespace {

// A connection attempt gives up after 5 s unless the URI says otherwise (libpq waits for the
// operating system's TCP timeout, minutes, by default): an unreachable server makes a service
// unready within a health round instead of hanging its callers.
std::string WithConnectTimeout(const std::string& uri) {
  if (uri.find("connect_timeout") != std::string::npos) return uri;
  if (uri.rfind("postgres://", 0) == 0 || uri.rfind("postgresql://", 0) == 0) {
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
  }
  return uri + " connect_timeout=5";  // a key=value conninfo
}

// Type OIDs (pg_type.h).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25,
              kFloat4 = 700, kFloat8 = 701, kNumeric = 1700;
// The advisory lock every read-write transaction takes ("dossiersync" in ASCII).
constexpr int64_t kWriterLock = 0x646f737369657273;

absl::Status PgError(PGconn* conn, const PGresult* res, absl::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = absl::StrCat("postgresql ", what, ": ",
                                 res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string s = state ? state : "";
  if (s == "23505") return absl::AlreadyExistsError(msg);
  if (s.rfind("23", 0) == 0) return absl::FailedPreconditionError(msg);
  if (s == "40001" || s == "40P01") return absl::AbortedError(msg);
  if (s.empty() || s.rfind("08", 0) == 0 || s.rfind("53", 0) == 0 || s.rfind("57", 0) == 0) {
    return absl::UnavailableError(msg);
  }
  if (s.rfind("42", 0) == 0 || s.rfind("22", 0) == 0) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

class PgConnection {
 public:
  explicit PgConnection(PGconn* c) : conn_(c) {}
  ~PgConnection() { PQfinish(conn_); }
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

  absl::Status Raw(const char* sql) {
    PGresult* r = PQexec(conn_, sql);
    absl::Status st = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                          ? absl::OkStatus()
                          : PgError(conn_, r, sql);
    PQclear(r);
    return st;
  }

  absl::StatusOr<std::vector<Row>> Run(absl::string_view sql, const std::vector<Value>& params,
                                       int64_t* changes) {
    const RenumberedSql& rs = Renumbered(sql);
    const size_t n = rs.params.size();
    std::vector<std::string> text(n);
    std::vector<const char*> values(n, nullptr);
    std::vector<int> lengths(n, 0), formats(n, 0);
    std::vector<Oid> types(n, 0);
    for (size_t k = 0; k < n; ++k) {
      const int i = rs.params[k];
      if (i >= static_cast<int>(params.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("statement uses $", i + 1, " but only ", params.size(), " given: ", sql));
      }
      const Value& v = params[i];
      if (auto* x = std::get_if<int64_t>(&v)) {
        text[k] = absl::StrCat(*x);
        types[k] = kInt8;
      } else if (auto* d = std::get_if<double>(&v)) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.17g", *d);
        text[k] = buf;
        types[k] = kFloat8;
      } else if (auto* s = std::get_if<std::string>(&v)) {
        values[k] = s->c_str();
        types[k] = kText;
        continue;
      } else if (auto* b = std::get_if<Blob>(&v)) {
        values[k] = b->bytes.data();
        lengths[k] = static_cast<int>(b->bytes.size());
        formats[k] = 1;
        types[k] = kBytea;
        continue;
      } else {
        continue;  // NULL
      }
      values[k] = text[k].c_str();
    }
    PGresult* r = PQexecParams(conn_, rs.sql.c_str(), static_cast<int>(n), types.data(),
                               values.data(), lengths.data(), formats.data(), /*text results*/ 0);
    auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      absl::Status st = PgError(conn_, r, rs.sql);
      PQclear(r);
      return st;
    }
    std::vector<Row> rows;
    const int nrows = PQntuples(r), ncols = PQnfields(r);
    rows.reserve(nrows);
    for (int row = 0; row < nrows; ++row) {
      std::vector<Value> out;
      out.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(r, row, c)) {
          out.emplace_back(std::monostate{});
          continue;
        }
        const char* s = PQgetvalue(r, row, c);
        const int len = PQgetlength(r, row, c);
        switch (PQftype(r, c)) {
          case kInt8:
          case kInt4:
          case kInt2: {
            int64_t x = 0;
            (void)absl::SimpleAtoi(absl::string_view(s, len), &x);
            out.emplace_back(x);
            break;
          }
          case kBool:
            out.emplace_back(int64_t{s[0] == 't'});
            break;
          case kFloat4:
          case kFloat8:
          case kNumeric: {
            double x = 0;
            (void)absl::SimpleAtod(absl::string_view(s, len), &x);
            out.emplace_back(x);
            break;
          }
          case kBytea: {
            size_t blen = 0;
            unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(s), &blen);
            out.emplace_back(Blob{std::string(reinterpret_cast<char*>(raw), blen)});
            PQfreemem(raw);
            break;
          }
          default:
            out.emplace_back(std::string(s, len));
        }
      }
      rows.emplace_back(std::move(out));
    }
    if (changes) {
      int64_t x = 0;
      (void)absl::SimpleAtoi(PQcmdTuples(r), &x);
      *changes = x;
    }
    PQclear(r);
    return rows;
  }

 private:
  const RenumberedSql& Renumbered(absl::string_view sql) {
    auto it = renumbered_.find(std::string(sql));
    if (it != renumbered_.end()) return it->second;
    return renumbered_.emplace(std::string(sql), RenumberPlaceholders(sql)).first->second;
  }
  PGconn* conn_;
  std::map<std::string, RenumberedSql, std::less<>> renumbered_;
};

class PostgresDatabase;

class PgTransaction : public ConnectionTransaction<PgConnection> {
 public:
  PgTransaction(PostgresDatabase* owner, std::unique_ptr<PgConnection> conn)
      : ConnectionTransaction(std::move(conn)), owner_(owner) {}
  ~PgTransaction() override;
  absl::Status Commit() override {
    absl::Status st = conn_->Raw("COMMIT");
    done_ = true;  // after a failed COMMIT the transaction is over too
    return st;
  }

 private:
  PostgresDatabase* owner_;
  bool done_ = false;
};

class PostgresDatabase : public Database {
 public:
  PostgresDatabase(std::string uri, OpenOptions o) : uri_(std::move(uri)), options_(std::move(o)) {}

  absl::StatusOr<std::unique_ptr<PgConnection>> Acquire() {
    {
      absl::MutexLock l(&mu_);
      auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !idle_.empty() || open_ < options_.pool_size;
      };
      mu_.Await(absl::Condition(&room));
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_;
    }
    PGconn* c = PQconnectdb(WithConnectTimeout(uri_).c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      absl::Status st = absl::UnavailableError(
          absl::StrCat("postgresql connect to ", MaskUri(uri_), ": ", PQerrorMessage(c)));
      PQfinish(c);
      absl::MutexLock l(&mu_);
      --open_;
      return st;
    }
    auto conn = std::make_unique<PgConnection>(c);
    if (auto st = conn->Raw("SET client_min_messages = warning"); !st.ok()) return st;
    return conn;
  }

  void Release(std::unique_ptr<PgConnection> conn) {
    absl::MutexLock l(&mu_);
    if (conn && conn->healthy()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;  // a broken connection is dropped; the next Acquire opens a fresh one
    }
  }

  absl::StatusOr<std::unique_ptr<Transaction>> Begin() override {
    return Start("BEGIN", /*write=*/true);
  }
  absl::StatusOr<std::unique_ptr<Transaction>> BeginRead() override {
    return Start("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", /*write=*/false);
  }
  Dialect dialect() const override { return Dialect::kPostgres; }

 private:
  absl::StatusOr<std::unique_ptr<Transaction>> Start(const char* begin, bool write) {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    absl::Status st = (*conn)->Raw(begin);
    if (st.ok() && write) {
      st = (*conn)->Raw(absl::StrCat("SELECT pg_advisory_xact_lock(", kWriterLock, ")").c_str());
    }
    if (!st.ok()) {
      (void)(*conn)->Raw("ROLLBACK");
      Release(std::move(*conn));
      return st;
    }
    return std::unique_ptr<Transaction>(new PgTransaction(this, std::move(*conn)));
  }

  const std::string uri_;
  const OpenOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

PgTransaction::~PgTransaction() {
  if (!done_) (void)conn_->Raw("ROLLBACK");
  owner_->Release(std::move(conn_));
}

}  // namespace

RenumberedSql RenumberPlaceholders(absl::string_view sql) {
  RenumberedSql out;
  std::map<int, int> renumber;  // original 1-based -> new 1-based
  // First pass: which placeholders occur, outside quotes and comments.
  auto scan = [&](auto on_placeholder, auto on_text) {
    size_t i = 0;
    while (i < sql.size()) {
      char c = sql[i];
      if (c == '\'' || c == '"') {
        size_t j = sql.find(c, i + 1);
        j = j == absl::string_view::npos ? sql.size() : j + 1;
        on_text(sql.substr(i, j - i));
        i = j;
      } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
        size_t j = sql.find('\n', i);
        j = j == absl::string_view::npos ? sql.size() : j;
        on_text(sql.substr(i, j - i));
        i = j;
      } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
        size_t j = i + 1;
        while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
        int n = 0;
        (void)absl::SimpleAtoi(sql.substr(i + 1, j - i - 1), &n);
        on_placeholder(n);
        i = j;
      } else {
        on_text(sql.substr(i, 1));
        ++i;
      }
    }
  };
  scan([&](int n) { renumber.emplace(n, 0); }, [](absl::string_view) {});
  int next = 1;
  for (auto& [orig, now] : renumber) {
    now = next++;
    out.params.push_back(orig - 1);
  }
  scan([&](int n) { absl::StrAppend(&out.sql, "$", renumber[n]); },
       [&](absl::string_view t) { out.sql.append(t.data(), t.size()); });
  return out;
}

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& uri,
                                                       const OpenOptions& options) {
  if (options.pool_size < 1) return absl::InvalidArgumentError("pool size must be at least 1");
  auto db = std::make_unique<PostgresDatabase>(uri, options);
  // Connect once now: a wrong URI or an unreachable server fails the service at start.
  auto probe = db->BeginRead();
  if (!probe.ok()) return probe.status();
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace dossiersync::storage
