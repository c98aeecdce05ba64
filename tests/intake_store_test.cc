// IntakeStore alone (no gRPC, no Kafka), on the test backend: the revision rules decided in the
// writer's transaction, an outbox row for exactly each accepted change, the history, and nothing
// acknowledged that is not committed.
#include "services/intake/intake_store.h"

#include <openssl/sha.h>

#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/storage/database.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::intake {
namespace {

using dossiersync::v1::SubmitChangeRequest;

class IntakeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "intake"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto s = IntakeStore::Open(db_.get(), {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    store_->SetOnCommit([this](int rows) { outbox_rows_ += rows; });
  }
  // Submits and waits for the answer.
  absl::StatusOr<ApplyResult> Submit(const SubmitChangeRequest& req) {
    absl::Notification done;
    absl::StatusOr<ApplyResult> out = absl::UnknownError("no answer");
    store_->Submit(&req, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                   [&](absl::StatusOr<ApplyResult> r) {
                     out = std::move(r);
                     done.Notify();
                   });
    done.WaitForNotification();
    return out;
  }
  int64_t OutboxCount() {
    auto tx = db_->BeginRead();
    EXPECT_TRUE(tx.ok());
    auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM outbox");
    EXPECT_TRUE(row.ok() && row->has_value());
    return (*row)->Int(0);
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<IntakeStore> store_;
  std::atomic<int> outbox_rows_{0};
};

// The hash stored for duplicate detection must not change when intake is upgraded: the one
// computed from the already serialised parts equals the hash of the canonical message the
// earlier versions built (SubmitChangeRequest{dossier: stored snapshot, new_steps},
// deterministic), for no steps, several, a snapshot longer than 127 and 16,383 bytes (multi-byte
// lengths) and unknown fields carried by the snapshot.
TEST(ChangeContentHashTest, EqualsTheHashOfTheCanonicalRequest) {
  auto deterministic = [](const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
    cos.Trim();
    return out;
  };
  auto sha = [](const std::string& bytes) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
    return std::string(reinterpret_cast<char*>(md), sizeof(md));
  };
  std::vector<SubmitChangeRequest> cases;
  cases.push_back(testing::ValidRequest(1, 1, 1));
  cases.back().clear_new_steps();
  cases.push_back(testing::ValidRequest(2, 5, 3));
  cases.push_back(testing::ValidRequest(3, 2, 2));
  cases.back().mutable_dossier()->set_summary(std::string(200, 'a'));
  cases.push_back(testing::ValidRequest(4, 2, 2));
  cases.back().mutable_dossier()->set_summary(std::string(40000, 'b'));
  cases.push_back(testing::ValidRequest(5, 3, 4));
  cases.back()
      .mutable_dossier()
      ->GetReflection()
      ->MutableUnknownFields(cases.back().mutable_dossier())
      ->AddVarint(999, 7);
  for (auto& c : cases) {
    for (int i = 0; i < 3 && c.new_steps_size() > 0; ++i) *c.add_new_steps() = c.new_steps(0);
  }
  for (const SubmitChangeRequest& req : cases) {
    SubmitChangeRequest canon;
    *canon.mutable_dossier() = req.dossier();
    canon.mutable_dossier()->clear_steps();
    canon.mutable_dossier()->clear_change_seq();
    canon.mutable_dossier()->clear_changed_at();
    *canon.mutable_new_steps() = req.new_steps();
    std::vector<std::string> steps;
    for (const auto& s : req.new_steps()) steps.push_back(deterministic(s));
    EXPECT_EQ(ChangeContentHash(deterministic(canon.dossier()), steps), sha(deterministic(canon)))
        << req.dossier().code() << " with " << req.new_steps_size() << " steps";
  }
}

TEST_F(IntakeStoreTest, RevisionRulesAndOneOutboxRowPerAcceptedChange) {
  auto r1 = Submit(testing::ValidRequest(1, 1, 1));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_FALSE(r1->duplicate);
  auto r2 = Submit(testing::ValidRequest(1, 2, 2));
  ASSERT_TRUE(r2.ok()) << r2.status();
  // The same revision again, same content: OK, a duplicate, no new outbox row.
  auto dup = Submit(testing::ValidRequest(1, 2, 2));
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  // Older: STALE_REVISION naming the stored one.
  auto stale = Submit(testing::ValidRequest(1, 1, 1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReasonOf(DetailsOf(ToGrpcStatus(stale.status()))), "STALE_REVISION");
  // Same revision, other content: REVISION_CONFLICT.
  auto other = testing::ValidRequest(1, 2, 2);
  other.mutable_dossier()->set_summary("changed");
  auto conflict = Submit(other);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(OutboxCount(), 2) << "one row per accepted change, none for the rest";
  EXPECT_EQ(outbox_rows_, 2);
  auto history = store_->History(testing::ValidRequest(1, 1, 1).dossier().code());
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].revision(), 1);
  EXPECT_EQ((*history)[1].revision(), 2);
}

TEST_F(IntakeStoreTest, IllegalTransitionUnlessCorrection) {
  ASSERT_TRUE(Submit(testing::ValidRequest(2, 10, 1)).ok());  // a first sighting may be at 10
  auto back = testing::ValidRequest(2, 1, 2);
  auto refused = Submit(back);
  EXPECT_EQ(ReasonOf(DetailsOf(ToGrpcStatus(refused.status()))), "ILLEGAL_TRANSITION");
  back.set_correction(true);
  EXPECT_TRUE(Submit(back).ok());
}

TEST_F(IntakeStoreTest, ManyConcurrentChangesAreGroupCommittedAndAllAnswered) {
  constexpr int kN = 300;
  std::vector<SubmitChangeRequest> reqs;
  for (int i = 0; i < kN; ++i) reqs.push_back(testing::ValidRequest(100 + i, 1, 1));
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  absl::Notification all;
  for (const auto& r : reqs) {
    store_->Submit(&r, "", [&](absl::StatusOr<ApplyResult> res) {
      if (res.ok()) ++ok;
      if (++answered == kN) all.Notify();
    });
  }
  all.WaitForNotification();
  EXPECT_EQ(ok, kN);
  EXPECT_EQ(OutboxCount(), kN);
  // The change sequence is dense and in order: List returns them all, resuming after each page.
  ListFilter f;
  auto page = store_->List(f, kN + 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), static_cast<size_t>(kN));
}

TEST_F(IntakeStoreTest, AfterStopNothingIsAcknowledged) {
  store_->Stop();
  auto r = Submit(testing::ValidRequest(3, 1, 1));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(OutboxCount(), 0);
}

}  // namespace
}  // namespace dossiersync::intake
