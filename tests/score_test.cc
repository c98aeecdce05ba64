// The national score forecast (services/reconciliation/score.h) on hand-computed fixtures: one
// test per indicator, the two views and their gap, periods, the committed formula, and the
// national view from evidence (national_view.h).
#include "services/reconciliation/score.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/reconciliation/national_view.h"
#include "tools/dossierctl/score.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using google::protobuf::util::TimeUtil;

const absl::TimeZone kHanoi = absl::FixedTimeZone(7 * 3600);

google::protobuf::Timestamp Day(int month, int day, int hour = 9) {
  absl::Time t = absl::FromCivil(absl::CivilSecond(2024, month, day, hour, 0, 0), kHanoi);
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// A dossier received on 2024-07-`day`, due 15 days later, in processing.
Dossier D(int seq, int day = 5) {
  Dossier d;
  d.set_code(absl::StrFormat("000.00.13.H37-2407%02d-%04d", day, seq));
  d.set_agency_code("000.00.13.H37");
  d.set_procedure_code("1.001193");
  d.set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  d.set_channel(dossiersync::v1::CHANNEL_IN_PERSON);
  *d.mutable_received_at() = Day(7, day);
  *d.mutable_due_at() = Day(7, day + 15);
  d.set_revision(1);
  return d;
}

class ScoreTest : public ::testing::Test {
 protected:
  // Scores `provincial` against `national` (same order; nullptr: absent nationally) over July.
  dossiersync::v1::AgencyScore Score(const std::vector<Dossier>& provincial,
                                     const std::vector<const Dossier*>& national) {
    std::vector<ScoredDossier> in;
    for (size_t i = 0; i < provincial.size(); ++i) {
      in.push_back({&provincial[i], i < national.size() ? national[i] : &provincial[i], true});
    }
    return ComputeScore(in, period_, formula_, 20);
  }
  // Scores `dossiers` as both views.
  dossiersync::v1::AgencyScore Same(const std::vector<Dossier>& dossiers) {
    return Score(dossiers, {});
  }
  static const dossiersync::v1::Indicator& Ind(const dossiersync::v1::ScoreView& v,
                                               const std::string& id) {
    for (const auto& i : v.indicators()) {
      if (i.id() == id) return i;
    }
    ADD_FAILURE() << "no indicator " << id;
    return v.indicators(0);
  }
  static void ExpectIndicator(const dossiersync::v1::Indicator& i, int64_t num, int64_t den,
                              double points) {
    EXPECT_EQ(i.numerator(), num) << i.id();
    EXPECT_EQ(i.denominator(), den) << i.id();
    EXPECT_NEAR(i.points(), points, 1e-9) << i.id();
  }

  ScoreFormula formula_ = ScoreFormula::Default();
  ScorePeriod period_ =
      *ParsePeriod("2024-07", absl::FromCivil(absl::CivilDay(2024, 9, 1), kHanoi));
};

TEST_F(ScoreTest, CommittedFormulaParsesAndNamesItsSource) {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/config/score_formula.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto f = ScoreFormula::FromJson(ss.str());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->version, ScoreFormula::Default().version);
  EXPECT_NE(f->source.find("766"), std::string::npos);
  double total = 0;
  for (const auto& i : f->indicators) total += i.max_points;
  EXPECT_NEAR(total, 74, 1e-9) << "the synced-data indicators of the 100-point index";
  EXPECT_FALSE(ScoreFormula::FromJson("{}").ok());
  EXPECT_FALSE(ScoreFormula::FromJson("[1]").ok());
  std::string bad = ss.str();
  bad.replace(bad.find("\"1.4\""), 5, "\"1.5\"");
  auto st = ScoreFormula::FromJson(bad).status();
  EXPECT_NE(st.message().find("1.5"), absl::string_view::npos) << st;
}

TEST_F(ScoreTest, Periods) {
  absl::Time now = absl::FromCivil(absl::CivilSecond(2024, 8, 10, 12, 0, 0), kHanoi);
  auto m = ParsePeriod("2024-07", now);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->from, absl::FromCivil(absl::CivilDay(2024, 7, 1), kHanoi));
  EXPECT_EQ(m->until, absl::FromCivil(absl::CivilDay(2024, 8, 1), kHanoi));
  EXPECT_EQ(m->evaluated_at, m->until);
  auto q = ParsePeriod("2024-Q3", now);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->until, absl::FromCivil(absl::CivilDay(2024, 10, 1), kHanoi));
  EXPECT_EQ(q->evaluated_at, now) << "a period not over yet is evaluated now";
  auto y = ParsePeriod("2024", now);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->until, absl::FromCivil(absl::CivilDay(2025, 1, 1), kHanoi));
  EXPECT_EQ(ParsePeriod("", now)->label, "2024-08");
  for (const char* bad : {"2024-13", "2024-Q5", "24-07", "July", "2024-7"}) {
    EXPECT_EQ(ParsePeriod(bad, now).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// 1.4: synced ÷ max(received provincially, received nationally); 4 received, 1 absent
// nationally: 3/4 of 6 points = 4.5.
TEST_F(ScoreTest, SyncCompleteness) {
  std::vector<Dossier> p = {D(1), D(2), D(3), D(4), D(5, 20)};
  p[4].set_code("000.00.13.H37-240620-0005");
  *p[4].mutable_received_at() = Day(6, 20);  // another period: counted nowhere
  auto s = Score(p, {&p[0], &p[1], nullptr, &p[3], &p[4]});
  ExpectIndicator(Ind(s.provincial(), "1.4"), 4, 4, 6);
  ExpectIndicator(Ind(s.national(), "1.4"), 3, 4, 4.5);
  EXPECT_EQ(s.dossiers(), 4);
  ASSERT_GE(s.gaps_size(), 1);
  EXPECT_EQ(s.gaps(0).indicator(), "1.4");
  EXPECT_NEAR(s.gaps(0).points(), 1.5, 1e-9);
  EXPECT_EQ(std::vector<std::string>(s.gaps(0).codes().begin(), s.gaps(0).codes().end()),
            std::vector<std::string>{p[2].code()});
}

// 2.1: on time ⇔ end ≤ due, the first supplement's time subtracted, a second one overdue.
TEST_F(ScoreTest, OnTimeWithSupplementRules) {
  std::vector<Dossier> p(6);
  for (int i = 0; i < 6; ++i) p[i] = D(i + 1, 1);  // received 07-01, due 07-16
  p[0].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSED);
  *p[0].mutable_finished_at() = Day(7, 10);  // on time
  p[1].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSED);
  *p[1].mutable_finished_at() = Day(7, 20);  // late
  p[2].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSED);
  *p[2].mutable_finished_at() = Day(7, 20);  // late by 4 days, but 5 days in supplement
  auto* s = p[2].add_supplements();
  *s->mutable_requested_at() = Day(7, 3);
  *s->mutable_completed_at() = Day(7, 8);
  p[3].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSED);
  *p[3].mutable_finished_at() = Day(7, 10);  // in time, but a second supplement request
  *p[3].add_supplements()->mutable_requested_at() = Day(7, 2);
  *p[3].add_supplements()->mutable_requested_at() = Day(7, 4);
  // Not finished: the end is the evaluation time (the period's end, 08-01): overdue.
  p[4].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  p[5].set_status(dossiersync::v1::DOSSIER_STATUS_WITHDRAWN);  // excluded
  auto sc = Same(p);
  ExpectIndicator(Ind(sc.provincial(), "2.1"), 2, 5, 20.0 * 2 / 5);
  // Nationally dossier 1 still shows the late end it had before a correction: 1 of 5.
  Dossier late = p[0];
  *late.mutable_finished_at() = Day(7, 17);
  auto n = Score(p, {&late, &p[1], &p[2], &p[3], &p[4], &p[5]});
  ExpectIndicator(Ind(n.national(), "2.1"), 1, 5, 20.0 / 5);
  EXPECT_NEAR(n.points_at_stake(), 4, 1e-9);
}

// 3.3: online share × 1.4's ratio, full points at 50 %.
TEST_F(ScoreTest, OnlineShareTimesSyncRatio) {
  std::vector<Dossier> p = {D(1), D(2), D(3), D(4)};
  p[0].set_channel(dossiersync::v1::CHANNEL_ONLINE);
  p[1].set_channel(dossiersync::v1::CHANNEL_ONLINE);
  // Provincially 2/4 = 50 % × 1 → full 12 points.
  ExpectIndicator(Ind(Same(p).provincial(), "3.3"), 2, 4, 12);
  // Nationally dossier 2 (online) is missing: 1/3 × 3/4 = 0.25 → 6 points.
  auto s = Score(p, {&p[0], nullptr, &p[2], &p[3]});
  const auto& n = Ind(s.national(), "3.3");
  ExpectIndicator(n, 1, 3, 6);
  EXPECT_NEAR(n.ratio(), 0.25, 1e-9);
  // A paper-result procedure needs the result file as well.
  formula_.paper_result_procedures.insert("1.001193");
  ExpectIndicator(Ind(Same(p).provincial(), "3.3"), 0, 4, 0);
  p[0].add_result_documents()->set_url("https://x/kq.pdf");
  ExpectIndicator(Ind(Same(p).provincial(), "3.3"), 1, 4, 6);
}

// 3.5/3.6: of dossiers with a non-zero fee, those paid through DVCQG (1) or the province (2).
TEST_F(ScoreTest, OnlinePayment) {
  std::vector<Dossier> p = {D(1), D(2), D(3), D(4), D(5)};
  for (int i = 0; i < 4; ++i) p[i].add_fees()->set_amount_vnd(8000);
  p[4].add_fees()->set_amount_vnd(0);  // free: not counted
  p[0].set_online_payment(dossiersync::v1::ONLINE_PAYMENT_NATIONAL_PLATFORM);
  p[1].set_online_payment(dossiersync::v1::ONLINE_PAYMENT_PROVINCIAL_GATEWAY);
  p[2].set_online_payment(dossiersync::v1::ONLINE_PAYMENT_OTHER);  // "3": not counted
  ExpectIndicator(Ind(Same(p).provincial(), "3.5/3.6"), 2, 4, 5);
  // A client that always sent "3" scores zero whatever the province did.
  Dossier sent_as_3 = p[0];
  sent_as_3.set_online_payment(dossiersync::v1::ONLINE_PAYMENT_OTHER);
  auto s = Score(p, {&sent_as_3});
  ExpectIndicator(Ind(s.national(), "3.5/3.6"), 1, 4, 2.5);
}

// 4.1-4.5 on one set of four dossiers.
TEST_F(ScoreTest, Digitisation) {
  std::vector<Dossier> p = {D(1), D(2), D(3), D(4)};
  p[0].set_status(dossiersync::v1::DOSSIER_STATUS_RETURNED);
  p[0].add_result_documents()->set_url("https://x/kq.pdf");
  p[1].set_status(dossiersync::v1::DOSSIER_STATUS_PROCESSED);  // no result link
  p[0].set_has_digitised_components(true);
  p[0].add_attachments()->set_digitised(true);
  p[1].add_attachments()->set_digitised(true);
  p[1].add_attachments()->set_digitised(false);  // not every attachment
  p[2].add_attachments()->set_from_national_warehouse(true);
  p[3].mutable_applicant()->set_vneid_verified(true);
  p[1].add_national_databases("CSDLQGDC");
  auto s = Same(p).provincial();
  ExpectIndicator(Ind(s, "4.1"), 1, 2, 2.75);
  ExpectIndicator(Ind(s, "4.2"), 1, 4, 5.5 / 4);
  ExpectIndicator(Ind(s, "4.3"), 1, 3, 5.5 / 3);
  ExpectIndicator(Ind(s, "4.4"), 1, 4, 5.5 / 4);
  // 4.5: VNeID (4), the warehouse (3), the population database (2): 3 of 4.
  ExpectIndicator(Ind(s, "4.5"), 3, 4, 3);
  // A client that always sent VNeID "0" loses dossier 4 on 4.5.
  Dossier no_vneid = p[3];
  no_vneid.mutable_applicant()->set_vneid_verified(false);
  auto n = Score(p, {&p[0], &p[1], &p[2], &no_vneid});
  ExpectIndicator(Ind(n.national(), "4.5"), 2, 4, 2);
  bool named = false;
  for (const auto& g : n.gaps()) {
    if (g.indicator() == "4.5") {
      named = g.codes_size() == 1 && g.codes(0) == p[3].code();
      EXPECT_NEAR(g.points(), 1, 1e-9);
    }
  }
  EXPECT_TRUE(named);
}

TEST_F(ScoreTest, EmptyDenominatorScoresFullPoints) {
  auto s = Same({D(1)});  // no fee, nothing processed
  ExpectIndicator(Ind(s.provincial(), "3.5/3.6"), 0, 0, 10);
  ExpectIndicator(Ind(s.provincial(), "4.1"), 0, 0, 5.5);
  EXPECT_NEAR(s.points_at_stake(), 0, 1e-9);
  EXPECT_EQ(s.gaps_size(), 0);
}

// dossierctl score's table: every indicator, both views, the gap with its dossiers, per agency.
TEST_F(ScoreTest, PrintedForAPerson) {
  std::vector<Dossier> p = {D(1), D(2), D(3), D(4)};
  dossiersync::v1::Score s;
  s.set_period("2024-07");
  s.set_formula_version(formula_.version);
  *s.mutable_total() = Score(p, {&p[0], &p[1], &p[2], nullptr});
  (*s.mutable_by_agency())["000.00.13.H37"] = s.total();
  std::ostringstream out;
  tools::PrintScore(s, "", out);
  const std::string text = out.str();
  EXPECT_NE(text.find("score 2024-07 (formula " + formula_.version + ") province"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the sync gap costs 1.500 points"), std::string::npos) << text;
  for (const char* id : kScoreIndicators) {
    EXPECT_NE(text.find(std::string("  ") + id + " "), std::string::npos) << id << "\n" << text;
  }
  EXPECT_NE(text.find("gap 1.4: 1.500 points, 1 dossiers: " + p[3].code()), std::string::npos)
      << text;
  EXPECT_NE(text.find("000.00.13.H37: provincial"), std::string::npos) << text;
}

// The national view follows the latest evidence, whichever came last: check or sync result.
TEST(NationalViewTest, LatestEvidenceDecides) {
  Dossier p = D(1);
  p.set_revision(5);
  EXPECT_FALSE(NationalViewOf(p, nullptr).known);
  DossierEvidence e;
  e.last_sync_revision = 5;
  e.last_sync_accepted = true;
  e.last_sync_at = absl::FromUnixSeconds(100);
  auto v = NationalViewOf(p, &e);
  EXPECT_TRUE(v.known && v.in_sync);
  EXPECT_EQ(v.snapshot, &p);
  // A later check found DVCQG at an older snapshot (a dropped write): that wins.
  DossierCheck c;
  c.revision = 5;
  c.checked_at = absl::FromUnixSeconds(200);
  c.in_sync = false;
  c.national = D(1);
  c.national->set_status(dossiersync::v1::DOSSIER_STATUS_ACCEPTED);
  e.check = c;
  v = NationalViewOf(p, &e);
  EXPECT_TRUE(v.known);
  EXPECT_FALSE(v.in_sync);
  EXPECT_EQ(v.snapshot, &*e.check->national);
  // The repair's push accepted after the check: in sync again.
  e.last_sync_at = absl::FromUnixSeconds(300);
  v = NationalViewOf(p, &e);
  EXPECT_TRUE(v.in_sync);
  EXPECT_EQ(v.snapshot, &p);
  // Missing nationally at the check.
  e.last_sync_at = absl::FromUnixSeconds(150);
  e.check->national.reset();
  v = NationalViewOf(p, &e);
  EXPECT_TRUE(v.known);
  EXPECT_EQ(v.snapshot, nullptr);
  // A clean check of an older revision: the newer one is not at DVCQG yet.
  e.check->in_sync = true;
  e.check->revision = 4;
  v = NationalViewOf(p, &e);
  EXPECT_FALSE(v.in_sync);
  // Only a sync result for an older revision: present, not in sync.
  DossierEvidence old;
  old.last_sync_revision = 3;
  old.last_sync_accepted = true;
  v = NationalViewOf(p, &old);
  EXPECT_TRUE(v.known);
  EXPECT_FALSE(v.in_sync);
  old.last_sync_accepted = false;
  EXPECT_FALSE(NationalViewOf(p, &old).known);
}

}  // namespace
}  // namespace dossiersync::reconciliation
