// The storage interface on both drivers: SQLite (a file) and PostgreSQL (a real server the test
// starts itself, see tests/postgres_server.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/storage/database.h"
#include "common/storage/lease.h"
#include "common/storage/postgres_database.h"
#include "common/storage/schema.h"
#include "gtest/gtest.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::storage {
namespace {

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A new, empty database on this test's backend (the same URI on every call).
  std::string Uri() {
    if (uri_.empty()) {
      if (GetParam() == "sqlite") {
        uri_ = "sqlite:" + dir_.File("t.db");
      } else {
        auto server = testing::PostgresServer::Shared();
        EXPECT_TRUE(server.ok()) << server.status();
        if (!server.ok()) return "postgresql://127.0.0.1:1/unavailable";
        uri_ = *(*server)->NewDatabase("storage");
      }
    }
    return uri_;
  }
  std::unique_ptr<Database> OpenDb() {
    auto db = Open(Uri());
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }
  testing::TempDir dir_;
  std::string uri_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(StorageTest, TransactionsCommitAndRollBack) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate(PortableDdl(db->dialect(),
                                      "CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT, b {BLOB})"))
                  .ok());
  {
    auto tx = db->Begin();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)
                    ->Exec("INSERT INTO t VALUES ($1, $2, $3)",
                           {std::string("a"), int64_t{1}, Blob{std::string("\0x", 2)}})
                    .ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  {
    auto tx = db->Begin();
    ASSERT_TRUE(
        (*tx)
            ->Exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("b"), int64_t{2}, Blob{}})
            .ok());
    // destroyed without Commit: rolled back
  }
  auto tx = db->BeginRead();
  auto rows = (*tx)->Query("SELECT k, v, b FROM t ORDER BY k");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Str(0), "a");
  EXPECT_EQ((*rows)[0].Int(1), 1);
  EXPECT_EQ((*rows)[0].Str(2), std::string("\0x", 2));
}

TEST_P(StorageTest, ValuesRoundTrip) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate(PortableDdl(db->dialect(),
                                      "CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, b "
                                      "{BLOB}, n TEXT)"))
                  .ok());
  const std::string vietnamese = "Sở Tư pháp tỉnh Lạng Sơn — 'quoted' \"x\" $1";
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes.push_back(static_cast<char>(c));
  auto tx = db->Begin();
  ASSERT_TRUE(
      (*tx)
          ->Exec("INSERT INTO t VALUES ($1, $2, $3, $4, $5)",
                 {int64_t{-9223372036854775807LL}, 0.1, vietnamese, Blob{bytes}, std::monostate{}})
          .ok());
  auto rows = (*tx)->Query("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const Row& r = (*rows)[0];
  EXPECT_EQ(r.Int(0), -9223372036854775807LL);
  EXPECT_DOUBLE_EQ(r.Double(1), 0.1);
  EXPECT_EQ(r.Str(2), vietnamese);
  EXPECT_EQ(r.Str(3), bytes);
  EXPECT_TRUE(r.IsNull(4));
}

TEST_P(StorageTest, UnusedParametersAreIgnored) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate("CREATE TABLE t (k TEXT, v BIGINT)").ok());
  auto tx = db->Begin();
  ASSERT_TRUE((*tx)
                  ->Exec("INSERT INTO t VALUES ($2, $4)",
                         {int64_t{0}, std::string("a"), std::string("unused"), int64_t{7}})
                  .ok());
  auto rows = (*tx)->Query("SELECT v FROM t WHERE k = $3 AND ($1 = '' OR v = $2)",
                           {std::string(""), int64_t{7}, std::string("a")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Int(0), 7);
}

TEST_P(StorageTest, ConstraintViolationIsAlreadyExists) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  auto tx = db->Begin();
  ASSERT_TRUE((*tx)->Exec("INSERT INTO t VALUES ($1)", {std::string("a")}).ok());
  EXPECT_EQ((*tx)->Exec("INSERT INTO t VALUES ($1)", {std::string("a")}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StorageTest, BadSqlIsAnErrorNotACrash) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto tx = db->Begin();
  auto r = (*tx)->Query("SELEKT nonsense");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SELEKT"), std::string::npos) << r.status();
}

TEST_P(StorageTest, ReadersSeeCommittedDataWhileAWriterIsOpen) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate("CREATE TABLE t (k BIGINT)").ok());
  auto w = db->Begin();
  ASSERT_TRUE((*w)->Exec("INSERT INTO t VALUES (1)").ok());
  std::thread reader([&] {
    auto r = db->BeginRead();
    ASSERT_TRUE(r.ok());
    auto rows = (*r)->Query("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ((*rows)[0].Int(0), 0);  // the open write is not visible, and does not block
  });
  reader.join();
  ASSERT_TRUE((*w)->Commit().ok());
}

// Two replicas (two Database objects) doing read-then-write: no update is lost, because write
// transactions are serialised across connections and processes.
TEST_P(StorageTest, WritersAreSerialisedAcrossReplicas) {
  auto a = OpenDb();
  auto b = OpenDb();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Migrate("CREATE TABLE c (k TEXT PRIMARY KEY, n BIGINT)").ok());
  {
    auto tx = a->Begin();
    ASSERT_TRUE((*tx)->Exec("INSERT INTO c VALUES ('x', 0)").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  auto bump = [](Database* db) {
    for (int i = 0; i < 100; ++i) {
      auto tx = db->Begin();
      ASSERT_TRUE(tx.ok()) << tx.status();
      auto row = (*tx)->QueryOne("SELECT n FROM c WHERE k = 'x'");
      ASSERT_TRUE(row.ok() && row->has_value());
      ASSERT_TRUE((*tx)->Exec("UPDATE c SET n = $1 WHERE k = 'x'", {(*row)->Int(0) + 1}).ok());
      ASSERT_TRUE((*tx)->Commit().ok());
    }
  };
  std::thread t1(bump, a.get()), t2(bump, b.get());
  t1.join();
  t2.join();
  auto tx = a->BeginRead();
  EXPECT_EQ((*(*tx)->QueryOne("SELECT n FROM c"))->Int(0), 200);
}

TEST_P(StorageTest, MigrationsApplyEachVersionOnce) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  const std::string v1 = "CREATE TABLE m (k TEXT PRIMARY KEY)";
  const std::string v2 = "ALTER TABLE m ADD COLUMN v BIGINT; CREATE INDEX m_by_v ON m (v)";
  ASSERT_TRUE(db->ApplyMigrations("test", {v1}).ok());
  ASSERT_TRUE(db->ApplyMigrations("test", {v1}).ok()) << "v1 again: nothing to do";
  // Two replicas starting with v2 at once: it is applied once (ALTER twice would fail).
  auto other = Open(Uri());
  ASSERT_TRUE(other.ok());
  absl::Status s1, s2;
  std::thread t1([&] { s1 = db->ApplyMigrations("test", {v1, v2}); });
  std::thread t2([&] { s2 = (*other)->ApplyMigrations("test", {v1, v2}); });
  t1.join();
  t2.join();
  EXPECT_TRUE(s1.ok()) << s1;
  EXPECT_TRUE(s2.ok()) << s2;
  auto tx = db->BeginRead();
  auto versions = (*tx)->Query(
      "SELECT version FROM schema_migrations WHERE component = 'test' ORDER BY version");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[1].Int(0), 2);
  // A binary that knows only v1 refuses the newer database.
  auto older = db->ApplyMigrations("test", {v1});
  EXPECT_EQ(older.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(older.message().find("version 2"), std::string::npos) << older;
}

TEST(SqliteTest, TheWritersCacheAndCheckpointSizesAreApplied) {
  testing::TempDir dir;
  OpenOptions o;
  o.sqlite_cache_mib = 8;
  o.sqlite_wal_autocheckpoint = 4096;
  auto db = Open(absl::StrCat("sqlite:", dir.path(), "/c.db"), o);
  ASSERT_TRUE(db.ok()) << db.status();
  auto tx = (*db)->Begin();
  ASSERT_TRUE(tx.ok());
  auto cache = (*tx)->QueryOne("PRAGMA cache_size");
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_EQ((*cache)->Int(0), -8 * 1024);  // negative: KiB
  auto ckpt = (*tx)->QueryOne("PRAGMA wal_autocheckpoint");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->Int(0), 4096);
}

TEST(SqliteTest, UnwritablePathIsUnavailable) {
  auto db = Open("sqlite:/nonexistent-dir/x/y.db");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable);
}

TEST(PostgresTest, UnreachableServerIsUnavailableAndThePasswordIsNotShown) {
  auto db = Open(absl::StrCat("postgresql://app:s3cret-pw@127.0.0.1:", testing::FreePort(), "/x"));
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(db.status().message().find("s3cret-pw"), std::string::npos) << db.status();
  EXPECT_NE(db.status().message().find("app:***@127.0.0.1"), std::string::npos) << db.status();
}

TEST(PostgresTest, ServerRestartFailsTheTransactionThenRecovers) {
  auto server = testing::PostgresServer::Shared();
  ASSERT_TRUE(server.ok()) << server.status();
  auto db = Open(*(*server)->NewDatabase("restart"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate("CREATE TABLE t (k BIGINT)").ok());
  ASSERT_TRUE((*server)->Stop().ok());
  auto during = (*db)->Begin();
  EXPECT_EQ(during.status().code(), absl::StatusCode::kUnavailable) << during.status();
  ASSERT_TRUE((*server)->Start().ok());
  // The broken pooled connection is dropped; a fresh one works.
  absl::Status last;
  ASSERT_TRUE(testing::WaitFor([&] {
    auto tx = (*db)->Begin();
    if (!tx.ok()) {
      last = tx.status();
      return false;
    }
    auto ins = (*tx)->Exec("INSERT INTO t VALUES (1)");
    last = ins.ok() ? (*tx)->Commit() : ins.status();
    return last.ok();
  })) << last;
}

// A server that accepts the TCP connection and never answers (a hung or half-partitioned
// PostgreSQL): opening fails UNAVAILABLE after the 5 s connect timeout instead of waiting for the
// operating system's TCP timeout, so a health round turns the service unready, not stuck.
TEST(PostgresTest, AServerThatNeverAnswersFailsWithinTheConnectTimeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(listen(fd, 16), 0);  // never accepted: the kernel completes the handshake, no reply
  const absl::Time start = absl::Now();
  auto db = Open(absl::StrCat("postgresql://app@127.0.0.1:", ntohs(addr.sin_port), "/x"));
  const absl::Duration took = absl::Now() - start;
  close(fd);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
  EXPECT_LT(took, absl::Seconds(15)) << "waited " << took;
}

TEST(PostgresTest, PlaceholdersAreRenumberedOutsideQuotes) {
  auto r = RenumberPlaceholders("SELECT '$1', $3 FROM t WHERE a = $3 OR b = $5 -- $2\n");
  EXPECT_EQ(r.sql, "SELECT '$1', $1 FROM t WHERE a = $1 OR b = $2 -- $2\n");
  EXPECT_EQ(r.params, (std::vector<int>{2, 4}));
}

// Leases: one holder at a time until expiry; a holder of this host whose process died (kill -9
// leaves its lease behind) is taken over at once. Regression: a restarted intake with the default
// --instance_id published nothing for about 10 s while the dead process's relay lease ran out.
TEST_P(StorageTest, LeaseOfADeadProcessOfThisHostIsTakenOverAtOnce) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto leases = Leases::Open(db.get());
  ASSERT_TRUE(leases.ok()) << leases.status();
  const std::string me = DefaultHolder();
  const std::string host = me.substr(0, me.rfind('-'));
  // A process that existed and is gone: a child that exited and was reaped.
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const std::string dead = absl::StrCat(host, "-", child);
  const std::string alive = absl::StrCat(host, "-", getppid());  // the test runner: alive
  EXPECT_TRUE(HolderIsDeadHere(dead));
  EXPECT_FALSE(HolderIsDeadHere(alive));
  EXPECT_FALSE(HolderIsDeadHere(absl::StrCat("another-host-", child)));
  EXPECT_FALSE(HolderIsDeadHere(me));
  EXPECT_FALSE(HolderIsDeadHere("replica-a"));
  ASSERT_TRUE(*(*leases)->Acquire("relay", alive, absl::Minutes(1)));
  EXPECT_FALSE(*(*leases)->Acquire("relay", me, absl::Minutes(1))) << "a live holder keeps it";
  ASSERT_TRUE((*leases)->Release("relay", alive).ok());
  ASSERT_TRUE(*(*leases)->Acquire("relay", dead, absl::Minutes(1)));
  EXPECT_TRUE(*(*leases)->Acquire("relay", me, absl::Minutes(1))) << "the dead holder's is taken";
  EXPECT_FALSE(*(*leases)->Acquire("relay", dead, absl::Minutes(1)));
  ASSERT_TRUE((*leases)->Release("relay", me).ok());
  ASSERT_TRUE(*(*leases)->Acquire("relay", absl::StrCat("another-host-", child), absl::Minutes(1)));
  EXPECT_FALSE(*(*leases)->Acquire("relay", me, absl::Minutes(1))) << "another host's waits";
}

}  // namespace
}  // namespace dossiersync::storage
