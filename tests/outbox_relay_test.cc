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
    for (int rev = 1; rev <= kRevisions; ++rev) {
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
    ASSERT_EQ(OutboxCount(), kDossiers * kRevisions);
  }
  std::unique_ptr<OutboxRelay> StartRelay() {
    RelayOptions o;
    o.brokers = broker_->bootstrap();
    o.idle_poll = absl::Milliseconds(20);
    auto relay = std::make_unique<OutboxRelay>(db_.get(), o, registry_);
    EXPECT_TRUE(relay->Start().ok());
    return relay;
  }
  int64_t OutboxCount() {
    auto tx = db_->BeginRead();
    if (!tx.ok()) return -1;
    auto row = (*tx)->QueryOne("SELECT COUNT(*) FROM outbox");
    return row.ok() && row->has_value() ? (*row)->Int(0) : -1;
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

}  // namespace
}  // namespace dossiersync::intake
