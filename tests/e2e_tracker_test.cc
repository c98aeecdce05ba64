// The load generator's end-to-end matcher (bench/e2e_tracker.h) fed through the devbroker's Kafka
// protocol: acknowledged changes in, sync-results in, latencies out.
#include "bench/e2e_tracker.h"

#include "common/kafka.h"
#include "dossiersync/v1/events.pb.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using bench::E2eReport;
using bench::E2eTracker;
using dossiersync::v1::SyncOutcome;
using google::protobuf::util::TimeUtil;

const absl::Time kT0 = absl::FromUnixSeconds(1'790'000'000);

class E2eTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker(1, 1);
    auto p = KafkaProducer::Create(broker_->bootstrap(), [](int64_t, const absl::Status&) {});
    ASSERT_TRUE(p.ok()) << p.status();
    producer_ = std::move(*p);
    ASSERT_TRUE(tracker_.Start(broker_->bootstrap()).ok());
    // The tracker reads from the end of the topic: a probe result, republished until the tracker
    // has seen it, proves it is positioned before the results under test are published.
    tracker_.RecordAck("PROBE", 1, kT0);
    ASSERT_TRUE(testing::WaitFor([&] {
      Publish("PROBE", 1, v1::SYNC_OUTCOME_ACCEPTED, kT0);
      tracker_.Wait(absl::Milliseconds(200));
      return tracker_.Report().covered == 1;
    }));
  }

  void Publish(const std::string& code, int64_t revision, SyncOutcome outcome, absl::Time at) {
    v1::SyncResult r;
    r.set_code(code);
    r.set_revision(revision);
    r.set_outcome(outcome);
    *r.mutable_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(at));
    OutMessage m;
    m.topic = kTopicSyncResults;
    m.key = code;
    m.value = r.SerializeAsString();
    m.schema = "dossiersync.v1.SyncResult";
    ASSERT_TRUE(producer_->Produce(m).ok());
    ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  }

  // The report without the probe.
  E2eReport WaitForCovered(int64_t covered) {
    E2eReport rep;
    testing::WaitFor([&] {
      rep = tracker_.Report();
      return rep.covered - 1 >= covered;
    });
    rep.changes -= 1;
    rep.covered -= 1;
    auto zero = std::find(rep.latencies_us.begin(), rep.latencies_us.end(), 0);
    if (zero != rep.latencies_us.end()) rep.latencies_us.erase(zero);  // the probe's
    return rep;
  }

  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<KafkaProducer> producer_;
  E2eTracker tracker_;
};

TEST_F(E2eTrackerTest, CoalescedRevisionsAreCoveredByOneLaterPush) {
  // Three changes acknowledged 10 ms apart; the sync coalesced them into one push of revision 3.
  tracker_.RecordAck("H1", 1, kT0 + absl::Milliseconds(100));
  tracker_.RecordAck("H1", 2, kT0 + absl::Milliseconds(110));
  tracker_.RecordAck("H1", 3, kT0 + absl::Milliseconds(120));
  Publish("H1", 3, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(150));
  E2eReport rep = WaitForCovered(3);
  EXPECT_EQ(rep.changes, 3);
  EXPECT_EQ(rep.covered, 3);
  EXPECT_EQ(rep.latencies_us, (std::vector<int64_t>{30'000, 40'000, 50'000}));
}

TEST_F(E2eTrackerTest, OnlyAcceptedResultsAtTheChangesRevisionOrLaterCount) {
  tracker_.RecordAck("H2", 5, kT0 + absl::Milliseconds(100));
  // Older revision, and outcomes other than ACCEPTED at a covering revision: none covers it.
  Publish("H2", 4, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(101));
  Publish("H2", 5, v1::SYNC_OUTCOME_RETRYING, kT0 + absl::Milliseconds(102));
  Publish("H2", 5, v1::SYNC_OUTCOME_DEAD_LETTERED, kT0 + absl::Milliseconds(103));
  Publish("H2", 6, v1::SYNC_OUTCOME_SKIPPED_STALE, kT0 + absl::Milliseconds(104));
  // Another dossier's acceptance does not cover it either; this one is the marker that the
  // results above have been consumed.
  tracker_.RecordAck("H3", 1, kT0 + absl::Milliseconds(100));
  Publish("H3", 9, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(105));
  E2eReport rep = WaitForCovered(1);
  EXPECT_EQ(rep.changes, 2);
  EXPECT_EQ(rep.covered, 1);
  EXPECT_EQ(rep.latencies_us, (std::vector<int64_t>{5'000}));
  // The retry succeeds later: now H2 is covered, by that result.
  Publish("H2", 5, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(300));
  rep = WaitForCovered(2);
  EXPECT_EQ(rep.covered, 2);
  EXPECT_EQ(rep.latencies_us, (std::vector<int64_t>{5'000, 200'000}));
}

TEST_F(E2eTrackerTest, TheEarliestCoveringResultWinsAndClockSkewIsNotNegative) {
  tracker_.RecordAck("H4", 2, kT0 + absl::Milliseconds(100));
  // Three covering results, consumed out of time order: neither the first nor the last consumed
  // is the earliest.
  Publish("H4", 7, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(180));
  Publish("H4", 2, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(140));
  Publish("H4", 3, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(160));
  // A result stamped before the OK arrived (clocks of two processes): latency 0, not negative.
  tracker_.RecordAck("H5", 1, kT0 + absl::Milliseconds(100));
  Publish("H5", 1, v1::SYNC_OUTCOME_ACCEPTED, kT0 + absl::Milliseconds(99));
  E2eReport rep = WaitForCovered(2);
  ASSERT_EQ(rep.covered, 2);
  // H5 clamped to 0; H4 took the earliest covering result, 140 ms.
  EXPECT_EQ(rep.latencies_us, (std::vector<int64_t>{0, 40'000}));
}

}  // namespace
}  // namespace dossiersync
