// Sampled consistency's statistics (services/reconciliation/sampling.h): the allocation is
// proportional with a floor per agency and exactly the size asked; every dossier of an agency is
// equally likely to be drawn; and the 99 % interval covers the true ratio in at least 98 % of
// repeated samples from populations whose drift share is known (uneven agencies, rates from 0 to
// 50 %), including a population without any drift.
#include "services/reconciliation/sampling.h"

#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace dossiersync::reconciliation {
namespace {

struct Stratum {
  std::string agency;
  int64_t size;
  double drift;  // share of its dossiers with drift
};

// Dossier j of a stratum has drift when j < size * drift (which ones does not matter: the sample
// is uniform within the stratum).
bool Drifted(const Stratum& s, int64_t j) {
  return static_cast<double>(j) < static_cast<double>(s.size) * s.drift;
}

TEST(SamplingTest, AllocationIsProportionalWithAFloorAndExactlyTheSize) {
  StratifiedSample s(100, 1);
  for (int i = 0; i < 9000; ++i) s.Offer("A", absl::StrCat("A-", i));
  for (int i = 0; i < 990; ++i) s.Offer("B", absl::StrCat("B-", i));
  for (int i = 0; i < 10; ++i) s.Offer("C", absl::StrCat("C-", i));
  auto codes = s.Draw();
  ASSERT_EQ(codes.size(), 100u);
  std::map<char, int> per;
  for (const auto& c : codes) ++per[c[0]];
  EXPECT_EQ(per['C'], 2) << "a small agency still gets two";
  EXPECT_GE(per['B'], 9);
  EXPECT_LE(per['B'], 10);
  EXPECT_EQ(per['A'] + per['B'] + per['C'], 100);
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), 100u) << "no repeats";
  // A scope smaller than the sample is checked whole.
  StratifiedSample small(100, 2);
  for (int i = 0; i < 30; ++i) small.Offer(i % 2 ? "A" : "B", absl::StrCat(i));
  EXPECT_EQ(small.Draw().size(), 30u);
  EXPECT_EQ(small.population().at("A"), 15);
}

TEST(SamplingTest, EveryDossierIsEquallyLikelyToBeDrawn) {
  std::map<int, int> drawn;
  constexpr int kTrials = 4000;
  for (int t = 0; t < kTrials; ++t) {
    StratifiedSample s(10, 1000 + t);
    for (int i = 0; i < 50; ++i) s.Offer("A", absl::StrCat(i));
    for (const auto& c : s.Draw()) ++drawn[std::stoi(c)];
  }
  // Each of 50 is drawn with probability 10 / 50: 800 of 4000 (sd ~25).
  for (int i = 0; i < 50; ++i) {
    EXPECT_NEAR(drawn[i], kTrials / 5, 110) << "dossier " << i;
  }
}

void ExpectCoverage(const std::vector<Stratum>& strata, int64_t sample) {
  int64_t n = 0, consistent = 0;
  for (const auto& s : strata) {
    n += s.size;
    for (int64_t j = 0; j < s.size; ++j) consistent += !Drifted(s, j);
  }
  const double truth = static_cast<double>(consistent) / static_cast<double>(n);
  constexpr int kTrials = 1000;
  int covered = 0;
  double width = 0;
  std::map<std::string, bool> drift_of;  // code -> drifted
  for (const auto& st : strata) {
    for (int64_t j = 0; j < st.size; ++j)
      drift_of[absl::StrCat(st.agency, "-", j)] = Drifted(st, j);
  }
  for (int t = 0; t < kTrials; ++t) {
    StratifiedSample s(sample, 7 + t);
    for (const auto& st : strata) {
      for (int64_t j = 0; j < st.size; ++j) s.Offer(st.agency, absl::StrCat(st.agency, "-", j));
    }
    std::map<std::string, int64_t> checked, drifted;
    for (const auto& c : s.Draw()) {
      const std::string agency = c.substr(0, c.find('-'));
      ++checked[agency];
      drifted[agency] += drift_of.at(c);
    }
    const ConsistencyEstimate e = EstimateConsistency(s.population(), checked, drifted);
    covered += e.low <= truth && truth <= e.high;
    width += e.high - e.low;
    ASSERT_LE(e.low, e.ratio);
    ASSERT_GE(e.high, e.ratio);
  }
  EXPECT_GE(covered, kTrials * 98 / 100) << "truth " << truth;
  EXPECT_GT(width / kTrials, 0.0);
  EXPECT_LT(width / kTrials, 0.2);
}

TEST(SamplingTest, TheIntervalCoversTheTrueRatioAtItsLevel) {
  ExpectCoverage(
      {{"A", 5000, 0.02}, {"B", 2000, 0.10}, {"C", 500, 0.30}, {"D", 100, 0.0}, {"E", 40, 0.5}},
      400);
}

TEST(SamplingTest, NoDriftAtAllStillGetsALowerBoundBelowOne) {
  ExpectCoverage({{"A", 3000, 0.0}, {"B", 1000, 0.0}}, 300);
  StratifiedSample s(300, 3);
  for (int i = 0; i < 4000; ++i) s.Offer(i < 3000 ? "A" : "B", absl::StrCat(i));
  std::map<std::string, int64_t> checked;
  for (const auto& c : s.Draw()) ++checked[std::stoi(c) < 3000 ? "A" : "B"];
  const ConsistencyEstimate e = EstimateConsistency(s.population(), checked, {});
  EXPECT_EQ(e.ratio, 1.0);
  EXPECT_EQ(e.high, 1.0);
  EXPECT_LT(e.low, 0.99);
  EXPECT_GT(e.low, 0.95);
}

TEST(SamplingTest, AScopeCheckedWholeHasTheExactRatioAsBothBounds) {
  const ConsistencyEstimate e =
      EstimateConsistency({{"A", 10}, {"B", 30}}, {{"A", 10}, {"B", 30}}, {{"B", 4}});
  EXPECT_DOUBLE_EQ(e.ratio, 0.9);
  EXPECT_DOUBLE_EQ(e.low, 0.9);
  EXPECT_DOUBLE_EQ(e.high, 0.9);
}

}  // namespace
}  // namespace dossiersync::reconciliation
