// The sync's scheduler alone (no threads, no Kafka, no DVCQG): one dossier at a time per worker,
// order kept across retries, timers, offsets handed back in order, rebalance.
#include "gtest/gtest.h"
#include "services/sync/scheduler.h"
#include "tests/test_util.h"

namespace dossiersync::sync {
namespace {

const TopicPartition kP0{"dossier-changes", 0};
const TopicPartition kP1{"dossier-changes", 1};

class SchedulerTest : public ::testing::Test {
 protected:
  // A change of dossier `seq` at `revision`, read from `tp` at `offset`.
  Work W(int seq, int64_t revision, const TopicPartition& tp = kP0, int64_t offset = -1) {
    Work w;
    w.change = testing::ValidChange(seq, 1, revision);
    w.tp = tp;
    w.offset = offset < 0 ? next_offset_++ : offset;
    return w;
  }
  static std::vector<int64_t> Revisions(const Taken& t) {
    std::vector<int64_t> out;
    for (const Work& w : t.works) out.push_back(w.change.revision());
    return out;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  int64_t next_offset_ = 0;
  std::vector<std::pair<TopicPartition, int64_t>> done_;
  Scheduler s_{[this](const TopicPartition& tp, int64_t off) { done_.push_back({tp, off}); }};
};

TEST_F(SchedulerTest, ADossierIsTakenWholeAndByOneWorkerAtATime) {
  ASSERT_TRUE(s_.Enqueue(W(1, 1), now_));
  ASSERT_TRUE(s_.Enqueue(W(1, 2), now_));
  ASSERT_TRUE(s_.Enqueue(W(2, 1), now_));
  std::vector<Taken> batch = s_.Take(10, now_);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(Revisions(batch[0]), (std::vector<int64_t>{1, 2}));  // coalesced, in order
  EXPECT_EQ(s_.pending(), 3u);
  // A change arriving while dossier 1 is active waits: no second worker takes it.
  ASSERT_TRUE(s_.Enqueue(W(1, 3), now_));
  EXPECT_TRUE(s_.Take(10, now_).empty());
  bool retrying = true;
  EXPECT_TRUE(s_.Busy(batch[0].code, &retrying));
  EXPECT_FALSE(retrying);
  s_.Done(batch[0], now_);
  std::vector<Taken> next = s_.Take(10, now_);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(Revisions(next[0]), (std::vector<int64_t>{3}));
}

TEST_F(SchedulerTest, TakeHonoursTheLimit) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(s_.Enqueue(W(i, 1), now_));
  EXPECT_EQ(s_.Take(1, now_).size(), 1u);  // the breaker's probe: one dossier
  EXPECT_EQ(s_.Take(3, now_).size(), 3u);
  EXPECT_EQ(s_.Take(3, now_).size(), 1u);
}

// A dossier DVCQG is slow for goes in a batch of its own, before or after the others.
TEST_F(SchedulerTest, ADossierToGoAloneIsTakenInABatchOfItsOwn) {
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(s_.Enqueue(W(i, 1), now_));
  const std::string c2 = W(2, 1).change.dossier().code();
  const std::string c3 = W(3, 1).change.dossier().code();
  const std::set<std::string> alone = {c2, c3};
  auto codes = [](const std::vector<Taken>& batch) {
    std::vector<std::string> out;
    for (const auto& t : batch) out.push_back(t.code);
    return out;
  };
  EXPECT_EQ(codes(s_.Take(10, now_, &alone)),
            (std::vector<std::string>{W(1, 1).change.dossier().code()}));
  EXPECT_EQ(codes(s_.Take(10, now_, &alone)), (std::vector<std::string>{c2}));
  EXPECT_EQ(codes(s_.Take(10, now_, &alone)), (std::vector<std::string>{c3}));
  EXPECT_EQ(codes(s_.Take(10, now_, &alone)),
            (std::vector<std::string>{W(4, 1).change.dossier().code()}));
}

TEST_F(SchedulerTest, DoneHandsBackEveryOffsetInArrivalOrder) {
  ASSERT_TRUE(s_.Enqueue(W(1, 1, kP0, 10), now_));
  ASSERT_TRUE(s_.Enqueue(W(1, 2, kP1, 4), now_));
  ASSERT_TRUE(s_.Enqueue(W(1, 3, kP0, 11), now_));
  Work replay = W(1, 3);
  replay.tp = {};  // not from Kafka: no offset to hand back
  ASSERT_TRUE(s_.Enqueue(std::move(replay), now_));
  std::vector<Taken> batch = s_.Take(10, now_);
  ASSERT_EQ(batch.size(), 1u);
  s_.Done(batch[0], now_);
  EXPECT_EQ(done_,
            (std::vector<std::pair<TopicPartition, int64_t>>{{kP0, 10}, {kP1, 4}, {kP0, 11}}));
  EXPECT_EQ(s_.pending(), 0u);
  bool retrying;
  EXPECT_FALSE(s_.Busy(batch[0].code, &retrying));
}

TEST_F(SchedulerTest, ARetryWaitsForItsTimeAndKeepsOrderBeforeNewerWork) {
  ASSERT_TRUE(s_.Enqueue(W(1, 1), now_));
  std::vector<Taken> batch = s_.Take(10, now_);
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_TRUE(s_.Enqueue(W(1, 2), now_));  // arrives during the failing attempt
  s_.Retry(batch[0], now_ + absl::Seconds(5), now_);
  EXPECT_EQ(s_.Failures(batch[0].code), 1);
  bool retrying = false;
  EXPECT_TRUE(s_.Busy(batch[0].code, &retrying));
  EXPECT_TRUE(retrying);
  EXPECT_TRUE(done_.empty());
  ASSERT_TRUE(s_.NextTimer().has_value());
  EXPECT_EQ(*s_.NextTimer(), now_ + absl::Seconds(5));
  EXPECT_TRUE(s_.Take(10, now_ + absl::Seconds(4)).empty());
  std::vector<Taken> again = s_.Take(10, now_ + absl::Seconds(5));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(Revisions(again[0]), (std::vector<int64_t>{1, 2}));  // the failed one first
  s_.Retry(again[0], now_ + absl::Seconds(6), now_ + absl::Seconds(5));
  EXPECT_EQ(s_.Failures(again[0].code), 2);
  std::vector<Taken> third = s_.Take(10, now_ + absl::Seconds(6));
  ASSERT_EQ(third.size(), 1u);
  s_.Done(third[0], now_ + absl::Seconds(6));
  EXPECT_EQ(s_.Failures(third[0].code), 0);
  EXPECT_EQ(done_.size(), 2u);
}

TEST_F(SchedulerTest, ReleaseDropsQueuedWorkAndWorkOfAFailedAttempt) {
  ASSERT_TRUE(s_.Enqueue(W(1, 1, kP0), now_));
  ASSERT_TRUE(s_.Enqueue(W(2, 1, kP1), now_));
  std::vector<Taken> batch = s_.Take(1, now_);  // dossier 1 (partition 0) active
  ASSERT_EQ(batch.size(), 1u);
  s_.Revoke({kP0, kP1});
  EXPECT_FALSE(s_.Enqueue(W(3, 1, kP0), now_));  // refused while released
  EXPECT_FALSE(s_.Idle({kP0}));                  // a worker holds partition 0's work
  EXPECT_TRUE(s_.Idle({kP1}));
  s_.Retry(batch[0], now_, now_);  // its work is dropped, not put back
  EXPECT_TRUE(s_.Idle({kP0, kP1}));
  s_.Drop({kP0, kP1});
  EXPECT_EQ(s_.pending(), 0u);
  EXPECT_TRUE(s_.Take(10, now_).empty());
  EXPECT_TRUE(done_.empty());  // nothing released is reported done: the next owner reads it
  EXPECT_TRUE(s_.Enqueue(W(3, 1, kP0), now_));  // the revoke has ended
  EXPECT_EQ(s_.Take(10, now_).size(), 1u);
}

}  // namespace
}  // namespace dossiersync::sync
