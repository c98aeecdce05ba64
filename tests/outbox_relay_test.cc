// The outbox relay alone: rows written by IntakeStore (no gRPC), published through the
// devbroker's Kafka protocol. A row leaves the outbox only once Kafka acknowledged it; a broker
// outage or a stop only delays; what is published keeps each dossier's order and its event-id.
#include "services/intake/outbox_relay.h"

#include <map>

#include "absl/synchronization/notification.h"
#include "common/storage/database.h"
#include "gtest/gtest.h"
#include "services/intake/intake_store.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::intake {
namespace {

constexpr int kDossiers = 5;
constexpr int kRevisions = 10;

class OutboxRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker(1, 3);
    auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "relay"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto s = IntakeStore::Open(db_.get(), {});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    // Revisions 1..kRevisions of each dossier, interleaved.
    for (int rev = 1; rev <= kRevisions; ++rev) SubmitRevision(rev);
    ASSERT_EQ(OutboxCount(), kDossiers * kRevisions);
  }
  std::unique_ptr<OutboxRelay> StartRelay(RelayOptions o = {}) {
    o.brokers = broker_->bootstrap();
    o.idle_poll = absl::Milliseconds(20);
    auto relay = std::make_unique<OutboxRelay>(db_.get(), o, registry_);
    EXPECT_TRUE(relay->Start().ok());
    return relay;
  }
  int64_t Count(const std::string& table) {
    auto tx = db_->BeginRead();
    if (!tx.ok()) return -1;
    auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM " + table);
    return row.ok() && row->has_value() ? (*row)->Int(0) : -1;
  }
  int64_t OutboxCount() { return Count("outbox"); }
  // The sum of a counter family's series in the relay's registry (-1: no such family).
  double CounterSum(const std::string& name) {
    for (const auto& f : registry_.Collect()) {
      if (f.name != name) continue;
      double sum = 0;
      for (const auto& m : f.metric) sum += m.counter.value;
      return sum;
    }
    return -1;
  }
  // The fixture's broker again on fixed ports, so that it can be restarted empty on them.
  void UseRestartableBroker() {
    bo_.partitions = 3;
    bo_.listen = absl::StrCat("127.0.0.1:", testing::FreePort());
    broker_.reset();
    RestartBroker();
  }
  void RestartBroker() {
    broker_.reset();
    auto b = devbroker::DevBroker::Start(bo_);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }
  void SubmitRevision(int rev) {
    for (int d = 1; d <= kDossiers; ++d) {
      auto req = testing::ValidRequest(d, 1, rev);
      absl::Notification done;
      store_->Submit(&req, "", [&](absl::StatusOr<ApplyResult> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        done.Notify();
      });
      done.WaitForNotification();
    }
  }
  // Every change on the topic once (by event-id), each dossier's revisions ascending.
  void ExpectAllPublishedInOrder() {
    auto msgs = testing::CollectTopic(broker_->bootstrap(), kTopicDossierChanges,
                                      kDossiers * kRevisions, absl::Seconds(30));
    EXPECT_EQ(testing::DistinctEvents(msgs), static_cast<size_t>(kDossiers * kRevisions));
    std::map<std::string, int64_t> newest;
    for (const auto& m : msgs) {
      dossiersync::v1::DossierChange c;
      ASSERT_TRUE(c.ParseFromString(m.value));
      EXPECT_EQ(m.key, c.dossier().code());
      int64_t& seen = newest[c.dossier().code()];
      // A repeat (same event-id, after a producer restart) may come again, never out of order
      // before its first delivery: revisions below the newest seen are repeats only.
      if (c.revision() > seen) {
        EXPECT_EQ(c.revision(), seen + 1) << c.dossier().code();
        seen = c.revision();
      }
    }
    EXPECT_EQ(newest.size(), static_cast<size_t>(kDossiers));
    for (const auto& [code, rev] : newest) EXPECT_EQ(rev, kRevisions) << code;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<IntakeStore> store_;
  prometheus::Registry registry_;
  devbroker::DevBrokerOptions bo_;
};

TEST_F(OutboxRelayTest, PublishesEveryRowInOrderAndEmptiesTheOutbox) {
  auto relay = StartRelay();
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  EXPECT_EQ(relay->published(), kDossiers * kRevisions);
  EXPECT_EQ(relay->backlog(), 0);
  relay->Stop(absl::Seconds(5));
  ExpectAllPublishedInOrder();
}

TEST_F(OutboxRelayTest, NothingLeavesTheOutboxWhileKafkaHasNotAcknowledgedIt) {
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/down"), 200);
  auto relay = StartRelay();
  // Every row is handed to the producer; none is acknowledged, none deleted.
  ASSERT_TRUE(testing::WaitFor([&] { return relay->produced() >= kDossiers * kRevisions; }));
  EXPECT_EQ(relay->published(), 0);
  EXPECT_EQ(OutboxCount(), kDossiers * kRevisions);
  EXPECT_EQ(relay->backlog(), kDossiers * kRevisions);
  // Stopped before the broker returns: the rows stay for the next relay.
  relay->Stop(absl::Milliseconds(300));
  relay.reset();
  EXPECT_EQ(OutboxCount(), kDossiers * kRevisions);
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/up"), 200);
  auto next = StartRelay();
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }, absl::Seconds(60)));
  next->Stop(absl::Seconds(5));
  ExpectAllPublishedInOrder();
}

TEST_F(OutboxRelayTest, AnOutageOnlyDelaysAndTheBacklogFollowsTheOutbox) {
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/down"), 200);
  auto relay = StartRelay();
  ASSERT_TRUE(testing::WaitFor([&] { return relay->produced() >= kDossiers * kRevisions; }));
  EXPECT_EQ(relay->backlog(), kDossiers * kRevisions);
  ASSERT_EQ(testing::BrokerControl(*broker_, "/brokers/1/up"), 200);
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }, absl::Seconds(60)));
  EXPECT_EQ(relay->backlog(), 0);
  EXPECT_GE(relay->published(), kDossiers * kRevisions);
  relay->Stop(absl::Seconds(5));
  ExpectAllPublishedInOrder();
}

TEST_F(OutboxRelayTest, PublishedRowsAreRetainedWithinTheirCountAndAge) {
  RelayOptions o;
  o.retention.keep_max = 20;
  o.reset_check_every = absl::Milliseconds(100);
  auto relay = StartRelay(o);
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  // The newest 20 stay (a check prunes the rest).
  ASSERT_TRUE(testing::WaitFor([&] { return Count("published") == 20; }));
  auto tx = db_->BeginRead();
  ASSERT_TRUE(tx.ok());
  auto oldest = (*tx)->QueryOne("SELECT MIN(id), MAX(id) FROM published");
  ASSERT_TRUE(oldest.ok() && oldest->has_value());
  EXPECT_EQ((*oldest)->Int(1) - (*oldest)->Int(0), 19);
  tx->reset();
  relay->Stop(absl::Seconds(5));
  relay.reset();
  // By age: nothing older than keep_for survives a check.
  o.retention.keep_for = absl::Milliseconds(1);
  relay = StartRelay(o);
  ASSERT_TRUE(testing::WaitFor([&] { return Count("published") == 0; }));
  // Retention off: a published row is deleted at once.
  relay->Stop(absl::Seconds(5));
  relay.reset();
  o.retention.keep_max = 0;
  relay = StartRelay(o);
  SubmitRevision(kRevisions + 1);
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  EXPECT_EQ(Count("published"), 0);
}

TEST_F(OutboxRelayTest, ATopicRestartedEmptyIsFoundByItsWatermarksAndPublishedAgainInOrder) {
  UseRestartableBroker();
  RelayOptions o;
  o.reset_check_every = absl::Milliseconds(200);
  auto relay = StartRelay(o);
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  EXPECT_EQ(Count("published"), kDossiers * kRevisions);
  EXPECT_LE(CounterSum("dossiersync_intake_topic_resets_total"), 0);  // no series yet
  // Nothing new is written: only the watermark check can tell that the log is gone.
  RestartBroker();
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CounterSum("dossiersync_intake_topic_resets_total") >= 1; }, absl::Seconds(30)));
  ASSERT_TRUE(testing::WaitFor(
      [&] { return OutboxCount() == 0 && Count("published") == kDossiers * kRevisions; },
      absl::Seconds(30)));
  EXPECT_GE(CounterSum("dossiersync_intake_republished_total"), kDossiers * kRevisions);
  relay->Stop(absl::Seconds(5));
  ExpectAllPublishedInOrder();  // on the new, empty log: every change again, in order
}

TEST_F(OutboxRelayTest, ATopicRestartedEmptyIsFoundByADeliveryBelowWhatWasDelivered) {
  UseRestartableBroker();
  RelayOptions o;
  o.reset_check_every = absl::Hours(1);  // the delivery alone must tell
  auto relay = StartRelay(o);
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  RestartBroker();
  SubmitRevision(kRevisions + 1);  // lands at the start of the new log, below what was delivered
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CounterSum("dossiersync_intake_topic_resets_total") >= 1; }, absl::Seconds(30)));
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }, absl::Seconds(30)));
  relay->Stop(absl::Seconds(5));
  // Every change is on the new log; the new revision may come before the older ones republished
  // after it (the sync's ledger takes revisions by number, not by arrival).
  auto msgs = testing::CollectTopic(broker_->bootstrap(), kTopicDossierChanges,
                                    kDossiers * (kRevisions + 1), absl::Seconds(30));
  EXPECT_EQ(testing::DistinctEvents(msgs), static_cast<size_t>(kDossiers * (kRevisions + 1)));
}

TEST_F(OutboxRelayTest, AnOperatorRepublishesWhatWasAcceptedSinceATime) {
  auto relay = StartRelay();
  ASSERT_TRUE(testing::WaitFor([&] { return OutboxCount() == 0; }));
  auto tx = db_->BeginRead();
  ASSERT_TRUE(tx.ok());
  // The 6th revision's acceptance time: revisions 6..10 of every dossier (25 rows) come again.
  auto row = (*tx)->QueryOne("SELECT MIN(created_at_us) FROM published WHERE id > 25");
  ASSERT_TRUE(row.ok() && row->has_value());
  const absl::Time since = absl::FromUnixMicros((*row)->Int(0));
  tx->reset();
  auto r = relay->Republish(since);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->republished, 25);
  EXPECT_GT(r->oldest_retained_us, 0);
  EXPECT_LT(r->oldest_retained_us, absl::ToUnixMicros(since));
  ASSERT_TRUE(testing::WaitFor([&] { return relay->published() == kDossiers * kRevisions + 25; }));
  relay->Stop(absl::Seconds(5));
  auto msgs = testing::CollectTopic(broker_->bootstrap(), kTopicDossierChanges,
                                    kDossiers * kRevisions + 25, absl::Seconds(30));
  EXPECT_EQ(msgs.size(), static_cast<size_t>(kDossiers * kRevisions + 25));
  EXPECT_EQ(testing::DistinctEvents(msgs), static_cast<size_t>(kDossiers * kRevisions));
  EXPECT_EQ(CounterSum("dossiersync_intake_republished_total"), 25);
}

}  // namespace
}  // namespace dossiersync::intake
