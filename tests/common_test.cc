// Small shared pieces: the clock, the token bucket, secret masking, field violations.
#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
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

TEST(MaskUriTest, PasswordsInUserinfoQueryAndConninfo) {
  EXPECT_EQ(MaskUri("postgresql://u:p%40ss@db:5432/x?sslmode=require"),
            "postgresql://u:***@db:5432/x?sslmode=require");
  EXPECT_EQ(MaskUri("postgresql://db/x?user=u&password=pw&sslmode=require"),
            "postgresql://db/x?user=u&password=***&sslmode=require");
  EXPECT_EQ(MaskUri("host=db user=u password=pw dbname=x"), "host=db user=u password=*** dbname=x");
  EXPECT_EQ(MaskUri("https://adapter:secret@dvcqg.example/mapi"),
            "https://adapter:***@dvcqg.example/mapi");
  EXPECT_EQ(MaskUri("https://u@h/p?Token=t&x=1"), "https://u@h/p?Token=***&x=1");
  EXPECT_EQ(MaskUri("sqlite:/var/lib/intake.db"), "sqlite:/var/lib/intake.db");
  EXPECT_EQ(MaskUri("postgresql://u@db/x"), "postgresql://u@db/x");
  EXPECT_EQ(MaskUri(""), "");
}

TEST(FieldViolationsTest, OneIsAFieldErrorManyAreOneBadRequest) {
  FieldViolations none;
  EXPECT_TRUE(none.ToStatus().ok());
  FieldViolations one;
  one.Add("a", "rule a");
  EXPECT_EQ(one.ToStatus(), FieldError("a", "rule a"));
  FieldViolations many;
  many.Add("a", "rule a");
  many.Add(FieldError("b", "rule b"));
  many.Add(absl::InternalError("no field"));
  absl::Status st = many.ToStatus();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(ToRpcStatus(st)), (std::vector<std::string>{"a", "b", ""}));
  EXPECT_EQ(FieldOf(ToRpcStatus(st)), "a");
  EXPECT_EQ(ReasonOf(ToRpcStatus(st)), "INVALID_FIELD");
  EXPECT_EQ(st.message(), "a: rule a; b: rule b; : no field");
}

}  // namespace
}  // namespace dossiersync
