// Drift classification: each kind from a provincial truth and a national state built to show it,
// and nothing reported when they agree.
#include "services/reconciliation/drift.h"

#include "absl/strings/str_cat.h"
#include "common/dvcqg/mapping.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tools/dossierctl/workload.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::DriftKind;

const dvcqg::StatusMap kIdentity = dvcqg::kIdentityStatusMap;

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
  dvcqg::StatusMap map = kIdentity;
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

// Every revision of generated dossier `i`, as intake's GetDossierHistory answers them.
std::vector<Dossier> History(int i) {
  tools::WorkloadOptions o;
  o.now = absl::FromUnixSeconds(1800000000);
  std::vector<Dossier> out;
  for (const auto& change : tools::Workload(o).Lifecycle(i)) out.push_back(change.dossier());
  return out;
}

// A lifecycle with a backwards step: DVCQG holding an older revision whose status is later along
// the stage table (returned, 10) than the province's (processing again after a cancelled return)
// was reported STATUS_MISMATCH by the stage guess; the history says it is stale.
TEST(DriftTest, StaleByRevisionEvenWhenTheStagesSayOtherwise) {
  std::vector<Dossier> history = History(0);
  ASSERT_EQ(history.back().status(), 10);
  Dossier returned = history.back();
  Dossier reopened = returned;  // a cancelled return: 10 -> 4, a correction
  reopened.set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  reopened.clear_returned_at();
  reopened.clear_finished_at();
  reopened.set_revision(returned.revision() + 1);
  history.push_back(reopened);
  Dossier national = National(returned);
  auto guess = Classify(reopened, national, kIdentity);
  ASSERT_FALSE(guess.empty());
  EXPECT_EQ(guess[0].kind, dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH) << "the stage guess";
  auto f = Classify(reopened, national, kIdentity, &history);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].kind, dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY) << f[0].detail;
  EXPECT_NE(f[0].detail.find(absl::StrCat("revision ", returned.revision())), std::string::npos)
      << f[0].detail;
  EXPECT_EQ(HeldRevision(national, reopened, history, kIdentity), &history[history.size() - 2]);
}

// A withdrawn dossier set at DVCQG to a status it never had, with the current content: the stage
// guess called it stale (5 is earlier than 7 and the dates agree); the history says it matches no
// revision.
TEST(DriftTest, StatusNoRevisionHadIsAMismatch) {
  int i = 0;
  std::vector<Dossier> history;
  for (;; ++i) {
    ASSERT_LT(i, 5000) << "no withdrawn-in-processing lifecycle generated";
    history = History(i);
    if (history.back().status() == 7 && history.size() >= 3) break;
  }
  Dossier current = history.back();
  Dossier national = National(current);
  national.set_status(dossiersync::v1::DOSSIER_STATUS_SUPPLEMENT_REQUESTED);
  auto guess = Classify(current, national, kIdentity);
  ASSERT_FALSE(guess.empty());
  EXPECT_EQ(guess[0].kind, dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY) << "the stage guess";
  auto f = Classify(current, national, kIdentity, &history);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].kind, dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH) << f[0].detail;
  // A history without the current revision (kept only since intake's schema 2) is no evidence:
  // the stage guess decides.
  std::vector<Dossier> partial(history.begin(), history.end() - 1);
  auto g = Classify(current, national, kIdentity, &partial);
  ASSERT_FALSE(g.empty());
  EXPECT_EQ(g[0].kind, dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY);
}

// A flag the national scoring reads, changed at DVCQG: FIELD_MISMATCH naming it.
TEST(DriftTest, ChangedScoredFlagIsAFieldMismatch) {
  Dossier p = Provincial(3);
  p.mutable_applicant()->set_vneid_verified(true);
  p.set_online_payment(dossiersync::v1::ONLINE_PAYMENT_NATIONAL_PLATFORM);
  Dossier n = National(p);
  n.set_online_payment(dossiersync::v1::ONLINE_PAYMENT_OTHER);
  n.mutable_applicant()->set_vneid_verified(false);
  auto f = Classify(p, n, kIdentity);
  ASSERT_EQ(Kinds(f), std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH});
  EXPECT_NE(f[0].detail.find("DuocThanhToanTrucTuyen"), std::string::npos) << f[0].detail;
  EXPECT_NE(f[0].detail.find("TaiKhoanDuocXacThucVoiVNeID"), std::string::npos) << f[0].detail;
}

}  // namespace
}  // namespace dossiersync::reconciliation
