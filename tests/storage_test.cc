// The SQLite driver behind the storage interface.
#include <thread>

#include "common/storage/database.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync::storage {
namespace {

TEST(SqliteTest, TransactionsCommitAndRollBack) {
  testing::TempDir dir;
  auto db = Open("sqlite:" + dir.File("t.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT, b BLOB)").ok());
  {
    auto tx = (*db)->Begin();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)
                    ->Exec("INSERT INTO t VALUES ($1, $2, $3)",
                           {std::string("a"), int64_t{1}, Blob{std::string("\0x", 2)}})
                    .ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  {
    auto tx = (*db)->Begin();
    ASSERT_TRUE(
        (*tx)
            ->Exec("INSERT INTO t VALUES ($1, $2, $3)", {std::string("b"), int64_t{2}, Blob{}})
            .ok());
    // destroyed without Commit: rolled back
  }
  auto tx = (*db)->BeginRead();
  auto rows = (*tx)->Query("SELECT k, v, b FROM t ORDER BY k");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Str(0), "a");
  EXPECT_EQ((*rows)[0].Int(1), 1);
  EXPECT_EQ((*rows)[0].Str(2), std::string("\0x", 2));
}

TEST(SqliteTest, ConstraintViolationIsAlreadyExists) {
  testing::TempDir dir;
  auto db = Open(dir.File("t.db"));
  ASSERT_TRUE((*db)->Migrate("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  auto tx = (*db)->Begin();
  ASSERT_TRUE((*tx)->Exec("INSERT INTO t VALUES ($1)", {std::string("a")}).ok());
  EXPECT_EQ((*tx)->Exec("INSERT INTO t VALUES ($1)", {std::string("a")}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(SqliteTest, BadSqlIsAnErrorNotACrash) {
  testing::TempDir dir;
  auto db = Open(dir.File("t.db"));
  auto tx = (*db)->Begin();
  EXPECT_FALSE((*tx)->Query("SELEKT nonsense").ok());
}

TEST(SqliteTest, UnwritablePathIsUnavailable) {
  auto db = Open("sqlite:/nonexistent-dir/x/y.db");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SqliteTest, PostgresNotYetBuiltSaysSo) {
  auto db = Open("postgresql://localhost/x");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(SqliteTest, ReadersSeeCommittedDataWhileAWriterIsOpen) {
  testing::TempDir dir;
  auto db = Open(dir.File("t.db"));
  ASSERT_TRUE((*db)->Migrate("CREATE TABLE t (k BIGINT)").ok());
  auto w = (*db)->Begin();
  ASSERT_TRUE((*w)->Exec("INSERT INTO t VALUES (1)").ok());
  std::thread reader([&] {
    auto r = (*db)->BeginRead();
    ASSERT_TRUE(r.ok());
    auto rows = (*r)->Query("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ((*rows)[0].Int(0), 0);  // the open write is not visible, and does not block
  });
  reader.join();
  ASSERT_TRUE((*w)->Commit().ok());
}

}  // namespace
}  // namespace dossiersync::storage
