#include "services/intake/transitions.h"

#include "gtest/gtest.h"

namespace dossiersync::intake {
namespace {

TEST(TransitionRulesTest, DefaultFollowsTheObservedFlow) {
  TransitionRules r = TransitionRules::Default();
  EXPECT_TRUE(r.Allowed(1, 2));
  EXPECT_TRUE(r.Allowed(2, 4));
  EXPECT_TRUE(r.Allowed(2, 9));    // forward skip
  EXPECT_TRUE(r.Allowed(4, 10));   // forward skip
  EXPECT_TRUE(r.Allowed(9, 4));    // cancelled result
  EXPECT_TRUE(r.Allowed(4, 4));    // same status
  EXPECT_FALSE(r.Allowed(10, 4));  // terminal
  EXPECT_FALSE(r.Allowed(3, 2));
  EXPECT_FALSE(r.Allowed(7, 1));
  EXPECT_FALSE(r.Allowed(4, 2));  // backwards
  EXPECT_FALSE(r.Allowed(0, 2));
}

TEST(TransitionRulesTest, ParseRoundTrips) {
  auto r = TransitionRules::Parse("1>2;2>4,7");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Allowed(2, 7));
  EXPECT_FALSE(r->Allowed(1, 3));
  EXPECT_EQ(r->ToString(), "1>2;2>4,7");
}

TEST(TransitionRulesTest, ParseRejectsGarbage) {
  for (const char* bad : {"1>", "x>2", "1>11", "0>1", "1-2", "1>2>3"}) {
    auto r = TransitionRules::Parse(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace dossiersync::intake
