// The generated workload is realistic and valid: every change passes intake's validation and the
// default transition rules, revisions increase, codes are unique, shares are as documented.
#include "tools/dossierctl/workload.h"

#include <set>

#include "gtest/gtest.h"
#include "services/intake/transitions.h"
#include "services/intake/validator.h"

namespace dossiersync::tools {
namespace {

TEST(WorkloadTest, EveryChangeIsValidAndLegal) {
  WorkloadOptions o;
  Workload w(o);
  intake::ValidatorConfig vc;
  auto rules = intake::TransitionRules::Default();
  std::set<std::string> codes;
  int online = 0, changes = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    auto life = w.Lifecycle(i);
    ASSERT_FALSE(life.empty());
    ASSERT_TRUE(codes.insert(life[0].dossier().code()).second) << life[0].dossier().code();
    online += life[0].dossier().channel() == dossiersync::v1::CHANNEL_ONLINE;
    for (size_t k = 0; k < life.size(); ++k) {
      ++changes;
      absl::Status st = intake::ValidateRequest(life[k], vc, o.now);
      ASSERT_TRUE(st.ok()) << st << " dossier " << i << " change " << k;
      if (k > 0) {
        EXPECT_GT(life[k].dossier().revision(), life[k - 1].dossier().revision());
        EXPECT_TRUE(rules.Allowed(life[k - 1].dossier().status(), life[k].dossier().status()));
      }
    }
  }
  double share = static_cast<double>(online) / n;
  EXPECT_NEAR(share, 0.977, 0.01);
  EXPECT_GT(changes, n * 4);
}

TEST(WorkloadTest, DeterministicPerSeedAndIndex) {
  WorkloadOptions o;
  o.now = absl::FromUnixSeconds(1800000000);
  Workload a(o), b(o);
  EXPECT_EQ(a.Lifecycle(42)[0].SerializeAsString(), b.Lifecycle(42)[0].SerializeAsString());
  o.seed = 99;
  Workload c(o);
  EXPECT_NE(a.Lifecycle(42)[0].SerializeAsString(), c.Lifecycle(42)[0].SerializeAsString());
}

TEST(WorkloadTest, BackfillIsOneFinalSnapshotWithEveryStep) {
  WorkloadOptions o;
  o.backfill = true;
  Workload w(o);
  WorkloadOptions lo = o;
  lo.backfill = false;
  Workload live(lo);
  for (int i = 0; i < 200; ++i) {
    auto bf = w.Lifecycle(i);
    auto full = live.Lifecycle(i);
    ASSERT_EQ(bf.size(), 1u);
    EXPECT_EQ(bf[0].new_steps_size(), static_cast<int>(full.size()));
    EXPECT_EQ(bf[0].dossier().SerializeAsString(), full.back().dossier().SerializeAsString());
    EXPECT_TRUE(intake::ValidateRequest(bf[0], {}, o.now).ok());
  }
}

}  // namespace
}  // namespace dossiersync::tools
