// The sync's ledger alone, on the test backend (SQLite, or PostgreSQL as pg.*): what it keeps of
// each dossier decides what the engine sends, so each rule here is one the engine relies on.
// Coalescing: the newest revision seen wins the snapshot, an older one arriving late never
// replaces it, and no step is ever skipped; steps pushed, uncertain and reset.
#include "common/storage/database.h"
#include "gtest/gtest.h"
#include "services/sync/ledger.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::sync {
namespace {

using dossiersync::v1::DossierChange;

DossierChange Change(int64_t revision, int status, const std::vector<std::string>& steps) {
  return testing::ValidChange(1, status, revision, steps);
}

std::vector<std::string> Ids(const std::vector<StoredStep>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.step_id);
  return out;
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "ledger"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto l = Ledger::Open(db_.get());
    ASSERT_TRUE(l.ok()) << l.status();
    ledger_ = std::move(*l);
    code_ = Change(1, 1, {}).dossier().code();
  }
  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<Ledger> ledger_;
  std::string code_;
};

TEST_F(LedgerTest, TheNewestRevisionWinsAndALateOlderOneNeverReplacesIt) {
  ASSERT_TRUE(ledger_->RecordSeen(Change(3, 4, {"a"})).ok());
  ASSERT_TRUE(ledger_->RecordSeen(Change(2, 2, {"b"})).ok());  // late, older
  auto latest = ledger_->Latest(code_);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->revision(), 3);
  EXPECT_EQ((*latest)->dossier().status(), 4);
  EXPECT_EQ((*latest)->new_steps_size(), 0) << "steps are kept apart from the snapshot";
  auto row = ledger_->Get(code_);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->revision_seen, 3);
  EXPECT_EQ((*row)->revision_pushed, 0);
  // Both changes' steps are kept, in arrival order, each once.
  ASSERT_TRUE(ledger_->RecordSeen(Change(3, 4, {"a"})).ok());  // a repeat
  auto steps = ledger_->UnpushedSteps(code_);
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_EQ(Ids(*steps), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LedgerTest, PushedStepsLeaveTheUnsentAndUncertainOnesAreMarked) {
  ASSERT_TRUE(ledger_->RecordSeen(Change(1, 1, {"a", "b", "c"})).ok());
  ASSERT_TRUE(ledger_->MarkPushed(code_, 1).ok());
  ASSERT_TRUE(ledger_->MarkStepsUncertain(code_, {"a", "b"}).ok());
  auto steps = ledger_->UnpushedSteps(code_);
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 3u);
  EXPECT_TRUE((*steps)[0].uncertain);
  EXPECT_FALSE((*steps)[2].uncertain);
  ASSERT_TRUE(ledger_->MarkStepsPushed(code_, {"a", "b"}).ok());
  steps = ledger_->UnpushedSteps(code_);
  ASSERT_TRUE(steps.ok());
  EXPECT_EQ(Ids(*steps), std::vector<std::string>{"c"});
  auto row = ledger_->Get(code_);
  EXPECT_EQ((*row)->revision_pushed, 1);
  EXPECT_EQ((*row)->steps_pushed, 2);
  EXPECT_EQ((*row)->steps_seen, 3);
}

TEST_F(LedgerTest, ResetNationalSendsEverythingAgain) {
  ASSERT_TRUE(ledger_->RecordSeen(Change(2, 4, {"a", "b"})).ok());
  ASSERT_TRUE(ledger_->SetCreated(code_, true).ok());
  ASSERT_TRUE(ledger_->MarkPushed(code_, 2).ok());
  ASSERT_TRUE(ledger_->MarkStepsPushed(code_, {"a", "b"}).ok());
  // DVCQG says it does not have the dossier: the snapshot and every step go again.
  ASSERT_TRUE(ledger_->ResetNational(code_).ok());
  auto row = ledger_->Get(code_);
  EXPECT_FALSE((*row)->created);
  EXPECT_EQ((*row)->revision_pushed, 0);
  auto steps = ledger_->UnpushedSteps(code_);
  EXPECT_EQ(Ids(*steps), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LedgerTest, ATransactionCommitsTogetherOrNotAtAll) {
  {
    auto tx = ledger_->Begin();
    ASSERT_TRUE(tx.ok()) << tx.status();
    ASSERT_TRUE(ledger_->RecordSeen(Change(1, 1, {"a"}), tx->get()).ok());
    ASSERT_TRUE(ledger_->MarkPushed(code_, 1, tx->get()).ok());
    // Its calls see each other's writes.
    auto inside = ledger_->Get(code_, tx->get());
    ASSERT_TRUE(inside.ok() && inside->has_value());
    EXPECT_EQ((*inside)->revision_pushed, 1);
    // Dropped without Commit: rolled back.
  }
  auto row = ledger_->Get(code_);
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value());
  {
    auto tx = ledger_->Begin();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE(ledger_->RecordSeen(Change(1, 1, {"a"}), tx->get()).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  row = ledger_->Get(code_);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->revision_seen, 1);
}

}  // namespace
}  // namespace dossiersync::sync
