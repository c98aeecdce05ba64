// Drift classification: each kind from a provincial truth and a national state built to show it,
// and nothing reported when they agree.
#include "services/reconciliation/drift.h"

#include "common/dvcqg/mapping.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tools/dossierctl/workload.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::DriftKind;

const std::array<int, 11> kIdentity = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

// The final provincial state of a generated dossier, with every step.
Dossier Provincial(int i, int change = -1) {
  tools::WorkloadOptions o;
  o.now = absl::FromUnixSeconds(1800000000);
  auto life = tools::Workload(o).Lifecycle(i);
  if (change < 0) change = static_cast<int>(life.size()) - 1;
  Dossier d = life[change].dossier();
  for (int k = 0; k <= change; ++k) {
    for (const auto& s : life[k].new_steps()) *d.add_steps() = s;
  }
  return d;
}

// What DVCQG would hold after a faithful sync of `d`: the mapping and back (fields DVCQG does not
// carry are lost, as they are for real).
Dossier National(const Dossier& d) {
  nlohmann::json j = dvcqg::DossierToJson(d, d.status());
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : d.steps()) rows.push_back(dvcqg::StepToJson(d.code(), s, s.status()));
  j["QuaTrinhXuLy"] = rows;
  return *dvcqg::DossierFromJson(j);
}

std::vector<DriftKind> Kinds(const std::vector<Finding>& f) {
  std::vector<DriftKind> out;
  for (const auto& x : f) out.push_back(x.kind);
  return out;
}

TEST(DriftTest, NothingWhenInSync) {
  for (int i = 0; i < 50; ++i) {
    Dossier p = Provincial(i);
    EXPECT_TRUE(Classify(p, National(p), kIdentity).empty()) << p.code();
  }
}

TEST(DriftTest, MissingNationally) {
  auto f = Classify(Provincial(1), std::nullopt, kIdentity);
  ASSERT_EQ(Kinds(f), std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_MISSING_NATIONALLY});
  EXPECT_TRUE(f[0].full_resync);
}

TEST(DriftTest, UnknownProvincially) {
  EXPECT_EQ(Kinds(Classify(std::nullopt, National(Provincial(1)), kIdentity)),
            std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY});
}

TEST(DriftTest, StaleNationallyWhenDvcqgHasAnEarlierStage) {
  Dossier p = Provincial(3);
  ASSERT_GE(p.status(), 9) << "a dossier that went through to the end";
  Dossier older = National(Provincial(3, 1));  // DVCQG stopped at the second change
  // Steps of the later changes are missing too.
  EXPECT_EQ(Kinds(Classify(p, older, kIdentity)),
            (std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY,
                                    dossiersync::v1::DRIFT_KIND_STEPS_MISSING}));
}

TEST(DriftTest, StatusMismatchWhenTheyContradict) {
  Dossier p = Provincial(3);
  Dossier n = National(p);
  n.set_status(dossiersync::v1::DOSSIER_STATUS_STOPPED);  // tampered: "stopped" after "returned"
  EXPECT_EQ(Kinds(Classify(p, n, kIdentity)),
            std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH});
}

TEST(DriftTest, FieldMismatchOnDatesAgencyOrProcedure) {
  Dossier p = Provincial(3);
  Dossier n = National(p);
  n.mutable_due_at()->set_seconds(n.due_at().seconds() + 86400);
  n.set_agency_name("UBND huyện khác");
  auto f = Classify(p, n, kIdentity);
  ASSERT_EQ(Kinds(f), std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH});
  EXPECT_NE(f[0].detail.find("NgayHenTra"), std::string::npos);
  EXPECT_NE(f[0].detail.find("DonViXuLy"), std::string::npos);
}

TEST(DriftTest, StepsMissing) {
  Dossier p = Provincial(3);
  Dossier n = National(p);
  n.mutable_steps()->RemoveLast();
  auto f = Classify(p, n, kIdentity);
  ASSERT_EQ(Kinds(f), std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_STEPS_MISSING});
  EXPECT_TRUE(f[0].full_resync);
  EXPECT_NE(f[0].detail.find("1 of"), std::string::npos);
}

TEST(DriftTest, StatusMappingIsHonoured) {
  Dossier p = Provincial(3);
  Dossier n = National(p);
  std::array<int, 11> map = kIdentity;
  map[p.status()] = 4;  // we send this status as 4
  n.set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  for (auto& s : *n.mutable_steps()) {
    if (s.status() == p.status()) s.set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  }
  EXPECT_TRUE(Classify(p, n, map).empty());
}

TEST(DriftTest, StagesFollowTheFlow) {
  EXPECT_LT(Stage(1), Stage(2));
  EXPECT_LT(Stage(2), Stage(4));
  EXPECT_LT(Stage(4), Stage(5));
  EXPECT_LT(Stage(5), Stage(9));
  EXPECT_LT(Stage(9), Stage(10));
  EXPECT_EQ(Stage(0), -1);
}

}  // namespace
}  // namespace dossiersync::reconciliation
