// Small shared pieces: the clock and the token bucket.
#include "common/clock.h"
#include "common/token_bucket.h"
#include "gtest/gtest.h"

namespace dossiersync {
namespace {

// Regression: TimeUtil::GetCurrentTime() truncates to whole seconds on Debian 12's protobuf, which
// made sync lags and run times coarse (and two pushes in one second indistinguishable).
TEST(ClockTest, NowTimestampHasSubSecondPrecision) {
  int with_fraction = 0;
  for (int i = 0; i < 5; ++i) {
    with_fraction += NowTimestamp().nanos() != 0;
    absl::SleepFor(absl::Milliseconds(3));
  }
  EXPECT_GE(with_fraction, 4);
  auto a = NowTimestamp();
  EXPECT_LE(std::abs(absl::ToUnixMicros(absl::Now()) -
                     google::protobuf::util::TimeUtil::TimestampToMicroseconds(a)),
            1'000'000);
}

TEST(TokenBucketTest, UnlimitedNeverWaits) {
  TokenBucket b(0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.Acquire([] { return true; }));
}

TEST(TokenBucketTest, BurstThenStopGivesUpWithoutAToken) {
  TokenBucket b(0.001, 2);  // one token per 1000 s, burst 2
  EXPECT_TRUE(b.Acquire());
  EXPECT_TRUE(b.Acquire());
  int asked = 0;
  EXPECT_FALSE(b.Acquire([&] { return ++asked >= 1; }));
  EXPECT_EQ(asked, 1);
}

}  // namespace
}  // namespace dossiersync
