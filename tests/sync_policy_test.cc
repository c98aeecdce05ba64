// The sync's parts alone: the offset tracker (at-least-once commits with out-of-order
// completion), the circuit breaker's transitions and its probe; backoff with full
// jitter and Retry-After, and the retry budget that slows retries down gradually (regression, issue
// 19: beyond the budget every retry waited the full 30 s cap, so under 15 % faults the sync lag
// reached tens of seconds).
#include <random>

#include "gtest/gtest.h"
#include "services/sync/breaker.h"
#include "services/sync/offsets.h"
#include "services/sync/retry_policy.h"

namespace dossiersync::sync {
namespace {

const absl::Duration kBase = absl::Milliseconds(200);
const absl::Duration kCap = absl::Seconds(30);

TEST(BackoffTest, DoublesUpToTheCapWithFullJitter) {
  EXPECT_EQ(Backoff(1, kBase, kCap, absl::ZeroDuration(), 0.5), absl::Milliseconds(100));
  EXPECT_EQ(Backoff(3, kBase, kCap, absl::ZeroDuration(), 0.5), absl::Milliseconds(400));
  EXPECT_EQ(Backoff(40, kBase, kCap, absl::ZeroDuration(), 0.5), absl::Seconds(15));
  EXPECT_EQ(Backoff(3, kBase, kCap, absl::ZeroDuration(), 0.0), absl::ZeroDuration());
  for (int i = 0; i < 100; ++i) {
    absl::Duration d = Backoff(5, kBase, kCap, absl::ZeroDuration());
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LT(d, absl::Milliseconds(3200));
  }
}

TEST(BackoffTest, NeverSoonerThanRetryAfter) {
  EXPECT_EQ(Backoff(1, kBase, kCap, absl::Seconds(7), 0.9), absl::Seconds(7));
  EXPECT_EQ(Backoff(20, kBase, kCap, absl::Seconds(7), 0.9), absl::Seconds(27));
}

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(RetryBudgetTest, RetriesWithinTheBudgetWaitOnlyTheirBackoff) {
  RetryBudget b(0.2, 100, 10, 3);
  for (int i = 0; i < 3; ++i) {
    auto t = b.Take(kT0, kCap);
    EXPECT_TRUE(t.within_budget);
    EXPECT_EQ(t.floor, absl::ZeroDuration());
  }
  EXPECT_FALSE(b.Take(kT0, kCap).within_budget);
}

TEST(RetryBudgetTest, BeyondTheBudgetRetriesAreSpreadStepByStepNotSentToTheCap) {
  RetryBudget b(0.2, 1000, 10, 0);
  std::vector<absl::Duration> floors;
  for (int i = 0; i < 400; ++i) floors.push_back(b.Take(kT0, kCap).floor);
  EXPECT_EQ(floors[0], absl::Milliseconds(100)) << "one refill step, not the 30 s cap";
  for (size_t i = 1; i < floors.size(); ++i) {
    EXPECT_GE(floors[i], floors[i - 1]);
    EXPECT_LE(floors[i] - floors[i - 1], absl::Milliseconds(101)) << "one step at a time";
  }
  EXPECT_EQ(floors.back(), kCap) << "a long storm reaches the cap";
  // Successes and time pay the debt back.
  RetryBudget c(0.2, 100, 10, 0);
  for (int i = 0; i < 10; ++i) c.Take(kT0, kCap);  // debt 10: the next would wait 1.1 s
  for (int i = 0; i < 5; ++i) c.OnSuccess();       // one token back
  EXPECT_NEAR(absl::ToDoubleSeconds(RetryBudget(c).Take(kT0, kCap).floor), 1.0, 1e-9);
  EXPECT_NEAR(c.tokens(kT0 + absl::Milliseconds(500)), -4, 1e-9);  // 5 more by time
  EXPECT_TRUE(c.Take(kT0 + absl::Seconds(2), kCap).within_budget);
}

TEST(RetryBudgetTest, DebtIsBounded) {
  RetryBudget b(0.2, 10, 10, 0);
  for (int i = 0; i < 10000; ++i) b.Take(kT0, kCap);
  EXPECT_GE(b.tokens(kT0), -10);
  EXPECT_EQ(b.Take(kT0, kCap).floor, absl::Seconds(1));
}

// A storm of failures that the budget cannot cover (40 % of 200 attempts a second failing,
// retries allowed for 20 % of successes plus 10 a second): the waits the budget adds grow with
// its debt and stop at debt bound / refill rate (10 s here), well short of the 30 s cap that every
// retry beyond the budget waited before.
TEST(RetryBudgetTest, AStormIsSpreadAtTheBudgetsRateWithWaitsInSeconds) {
  RetryBudget b(0.2, 100, 10, 10);
  std::mt19937_64 rng(42);
  std::bernoulli_distribution fails(0.4);
  std::vector<absl::Duration> floors;
  absl::Time now = kT0;
  for (int call = 0; call < 200 * 60; ++call) {  // 60 s at 200 attempts a second
    now += absl::Milliseconds(5);
    if (fails(rng)) {
      floors.push_back(b.Take(now, kCap).floor);
    } else {
      b.OnSuccess();
    }
  }
  std::sort(floors.begin(), floors.end());
  absl::Duration p50 = floors[floors.size() / 2];
  absl::Duration p99 = floors[floors.size() * 99 / 100];
  EXPECT_LE(p99, absl::Seconds(11)) << "p99 " << p99;  // the debt bound / the refill rate
  EXPECT_LT(p99, kCap);
  EXPECT_GT(p50, absl::ZeroDuration()) << "the budget is doing its work";
}

Breaker::Options BreakerOptions() { return {3, absl::Seconds(2), absl::Seconds(5)}; }

TEST(BreakerTest, OpensAfterTheThresholdAndLetsOneProbeThroughAfterTheCooldown) {
  Breaker b(BreakerOptions());
  EXPECT_EQ(b.Admits(kT0), Breaker::Admit::kAll);
  EXPECT_EQ(b.OnFailure(kT0), Breaker::Change::kNone);
  EXPECT_EQ(b.OnFailure(kT0), Breaker::Change::kNone);
  EXPECT_EQ(b.OnFailure(kT0), Breaker::Change::kOpened);
  EXPECT_TRUE(b.held(kT0));
  EXPECT_EQ(b.Admits(kT0 + absl::Seconds(1)), Breaker::Admit::kNothing) << "cooling down";
  EXPECT_EQ(b.Admits(kT0 + absl::Seconds(2)), Breaker::Admit::kProbe);
  b.ProbeTaken("A");
  EXPECT_EQ(b.Admits(kT0 + absl::Seconds(2)), Breaker::Admit::kNothing) << "one probe at a time";
  EXPECT_TRUE(b.held(kT0 + absl::Seconds(2)));
}

TEST(BreakerTest, AFailedProbeReopensWithTheCooldownDoubledUpToItsMaximum) {
  Breaker b(BreakerOptions());
  for (int i = 0; i < 3; ++i) b.OnFailure(kT0);
  absl::Time t = kT0;
  std::vector<absl::Duration> cooldowns;
  for (int i = 0; i < 4; ++i) {
    t = b.open_until();
    ASSERT_EQ(b.Admits(t), Breaker::Admit::kProbe);
    b.ProbeTaken("A");
    EXPECT_EQ(b.OnFailure(t), Breaker::Change::kReopened);
    cooldowns.push_back(b.open_until() - t);
  }
  EXPECT_EQ(cooldowns, (std::vector<absl::Duration>{absl::Seconds(4), absl::Seconds(5),
                                                    absl::Seconds(5), absl::Seconds(5)}));
}

TEST(BreakerTest, ASuccessClosesItAndResetsTheCooldown) {
  Breaker b(BreakerOptions());
  for (int i = 0; i < 3; ++i) b.OnFailure(kT0);
  b.ProbeTaken("A");
  b.OnFailure(kT0 + absl::Seconds(2));  // cooldown 4 s
  EXPECT_EQ(b.OnSuccess(), Breaker::Change::kClosed);
  EXPECT_FALSE(b.held(kT0 + absl::Seconds(2)));
  EXPECT_EQ(b.Admits(kT0 + absl::Seconds(2)), Breaker::Admit::kAll);
  EXPECT_EQ(b.OnSuccess(), Breaker::Change::kNone);
  for (int i = 0; i < 3; ++i) b.OnFailure(kT0 + absl::Seconds(10));
  EXPECT_EQ(b.open_until(), kT0 + absl::Seconds(12)) << "the cooldown starts over";
}

// Regression (issue 19): a probe whose dossier ends without a call (nothing left to push, a
// ledger error) must not hold the breaker forever; another dossier probes next.
TEST(BreakerTest, AProbeEndingWithoutAVerdictIsNotLost) {
  Breaker b(BreakerOptions());
  for (int i = 0; i < 3; ++i) b.OnFailure(kT0);
  const absl::Time later = kT0 + absl::Seconds(3);
  ASSERT_EQ(b.Admits(later), Breaker::Admit::kProbe);
  b.ProbeTaken("A");
  b.Finished("B");  // another dossier's attempt does not end the probe
  EXPECT_EQ(b.Admits(later), Breaker::Admit::kNothing);
  b.Finished("A");
  EXPECT_EQ(b.Admits(later), Breaker::Admit::kProbe);
  EXPECT_FALSE(b.held(later));
}

using Commits = std::vector<std::pair<TopicPartition, int64_t>>;

TEST(OffsetTrackerTest, CommitsNeverSkipUnfinishedWork) {
  OffsetTracker t;
  const TopicPartition p0{"changes", 0};
  for (int64_t o = 10; o < 15; ++o) t.Add(p0, o);
  EXPECT_EQ(t.TakeCommittable(), (Commits{{p0, 10}})) << "nothing done: the first outstanding";
  EXPECT_EQ(t.TakeCommittable(), Commits{}) << "only what changed";
  t.Done(p0, 12);  // out of order: 10 and 11 still in progress
  t.Done(p0, 13);
  EXPECT_EQ(t.TakeCommittable(), Commits{});
  t.Done(p0, 10);
  EXPECT_EQ(t.TakeCommittable(), (Commits{{p0, 11}}));
  t.Done(p0, 11);
  t.Done(p0, 14);
  EXPECT_EQ(t.TakeCommittable(), (Commits{{p0, 15}})) << "all done: one past the highest seen";
  EXPECT_EQ(t.Outstanding(), 0u);
}

TEST(OffsetTrackerTest, PartitionsAreIndependentAndARevokedOneIsForgotten) {
  OffsetTracker t;
  const TopicPartition p0{"changes", 0}, p1{"changes", 1};
  t.Add(p0, 5);
  t.Add(p1, 100);
  t.Add(p1, 101);
  t.Done(p1, 100);
  EXPECT_EQ(t.TakeCommittable(), (Commits{{p0, 5}, {p1, 101}}));
  t.Remove(p1);
  t.Done(p1, 101);  // a late completion of a revoked partition commits nothing
  EXPECT_EQ(t.TakeCommittable(), Commits{});
  EXPECT_EQ(t.Outstanding(), 1u);
}

}  // namespace
}  // namespace dossiersync::sync
