// When scheduled reconciliation runs are due: the nightly full sweep in Vietnam's time, the
// time-of-day format, and the defaults that make runs scheduled without anyone configuring them.
#include "gtest/gtest.h"
#include "services/reconciliation/app.h"
#include "services/reconciliation/schedule.h"

namespace dossiersync::reconciliation {
namespace {

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(ScheduleTest, TheNightlySweepIsAtItsTimeOfDayInVietnam) {
  const absl::Duration two = absl::Hours(2);
  // 01:59 in Hà Nội is 18:59 UTC the day before: the sweep is a minute later.
  EXPECT_EQ(NextDailyAt(Utc(2026, 12, 5, 18, 59), two, VietnamTime()), Utc(2026, 12, 5, 19, 0));
  // At 02:00 exactly the next one is a day later (strictly after).
  EXPECT_EQ(NextDailyAt(Utc(2026, 12, 5, 19, 0), two, VietnamTime()), Utc(2026, 12, 6, 19, 0));
  // Midday in Hà Nội: tonight's.
  EXPECT_EQ(NextDailyAt(Utc(2026, 12, 6, 5, 0), two, VietnamTime()), Utc(2026, 12, 6, 19, 0));
  // Across a month and a year.
  EXPECT_EQ(NextDailyAt(Utc(2026, 12, 31, 20, 0), two, VietnamTime()), Utc(2027, 1, 1, 19, 0));
}

TEST(ScheduleTest, TimeOfDayIsHhMm) {
  EXPECT_EQ(*ParseTimeOfDay("02:00"), absl::Hours(2));
  EXPECT_EQ(*ParseTimeOfDay("23:59"), absl::Hours(23) + absl::Minutes(59));
  for (const char* bad : {"2:00", "24:00", "02:60", "0200", "02:00:00", "", "ab:cd"}) {
    auto t = ParseTimeOfDay(bad);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(t.status().message().find("HH:MM"), std::string::npos) << bad;
  }
}

// A configuration that validates: the defaults plus what has none.
ReconciliationConfig ValidConfig() {
  ReconciliationConfig c;
  c.kafka_brokers = "127.0.0.1:9092";
  c.server.allow_insecure = true;
  c.dvcqg.base_url = "http://127.0.0.1:8080";
  c.dvcqg.credentials = {"user", "secret"};
  return c;
}

TEST(ScheduleTest, RunsAreScheduledByDefaultAndAWindowShorterThanItsPeriodIsRefused) {
  ReconciliationConfig c = ValidConfig();
  EXPECT_GT(c.incremental_every, absl::ZeroDuration());
  EXPECT_GE(c.incremental_window, c.incremental_every);
  EXPECT_EQ(c.full_sweep_at, "02:00");
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  c.incremental_window = c.incremental_every / 2;
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.Validate().message().find("--incremental_window"), std::string::npos);
  c.incremental_window = absl::Hours(1);
  c.full_sweep_at = "2am";
  EXPECT_NE(c.Validate().message().find("--full_sweep_at"), std::string::npos) << c.Validate();
}

TEST(ScheduleTest, TheScoreGaugesPeriodAndRefreshAreValidated) {
  ReconciliationConfig c = ValidConfig();
  EXPECT_EQ(c.score_every, absl::Hours(1));
  c.score_period = "2024-Q3";
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  c.score_period = "2024-13";
  EXPECT_NE(c.Validate().message().find("--score_period"), std::string::npos) << c.Validate();
  c.score_period = "";
  c.score_every = absl::Milliseconds(10);
  EXPECT_NE(c.Validate().message().find("--score_every"), std::string::npos) << c.Validate();
  c.score_every = absl::ZeroDuration();  // off
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ScheduleTest, TheSqliteCacheIsValidated) {
  ReconciliationConfig c = ValidConfig();
  EXPECT_EQ(c.sqlite_cache_mb, 64);
  c.sqlite_cache_mb = -1;
  EXPECT_EQ(c.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.Validate().message().find("--sqlite_cache_mb"), std::string::npos) << c.Validate();
  c.sqlite_cache_mb = 4097;
  EXPECT_NE(c.Validate().message().find("--sqlite_cache_mb"), std::string::npos) << c.Validate();
  c.sqlite_cache_mb = 0;  // SQLite's default
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ScheduleTest, TheInFlightRuleIsOnByDefaultAndValidated) {
  ReconciliationConfig c = ValidConfig();
  EXPECT_EQ(c.runner.in_flight_limit, absl::Hours(1));
  EXPECT_EQ(c.runner.in_flight_slack, absl::Minutes(5));
  EXPECT_TRUE(c.runner.skip_verified);
  c.runner.in_flight_limit = -absl::Seconds(1);
  EXPECT_NE(c.Validate().message().find("--in_flight_limit"), std::string::npos) << c.Validate();
  c.runner.in_flight_limit = absl::ZeroDuration();  // off
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

}  // namespace
}  // namespace dossiersync::reconciliation
