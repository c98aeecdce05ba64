// The maintained KPI figures (services/reconciliation/kpi_store.h) on the test backend (SQLite, or
// PostgreSQL as pg.*) against the same figures computed the old way, dossier by dossier from the
// provincial snapshots and each one's evidence (national_view.h), over windows that are whole
// days, partial days at both ends, inside one day, and per agency; with dossiers that change
// revision, day and agency, evidence that arrives before and after the provincial rows, and lag
// percentiles both exact and from buckets.
#include "services/reconciliation/kpi_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "common/storage/database.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/reconciliation/national_view.h"
#include "services/reconciliation/run_store.h"
#include "tests/postgres_server.h"
#include "tests/test_util.h"

namespace dossiersync::reconciliation {
namespace {

using dossiersync::v1::Dossier;
using dossiersync::v1::Kpis;
using dossiersync::v1::SyncResult;
using google::protobuf::util::TimeUtil;

constexpr int64_t kHour = int64_t{3600} * 1000000;
constexpr int64_t kDay = 24 * kHour;
const int64_t kStart = 20000 * kDay;  // 2024-10-04 00:00 UTC

struct Lag {
  std::string agency;
  int64_t accepted_us, lag_us;
};

class KpiStoreTest : public ::testing::Test {
 protected:
  void Open(int64_t exact_lags) {
    auto db = storage::Open(testing::TestDatabaseUri(dir_.path(), "kpi"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto runs = RunStore::Open(db_.get());
    ASSERT_TRUE(runs.ok()) << runs.status();
    runs_ = std::move(*runs);
    auto kpis = KpiStore::Open(db_.get(), exact_lags);
    ASSERT_TRUE(kpis.ok()) << kpis.status();
    kpis_ = std::move(*kpis);
  }

  // A dossier of `agency` submitted at `submitted_us`, at `revision`; finished (on time or late)
  // for some.
  Dossier Make(int i, const std::string& agency, int64_t submitted_us, int64_t revision) {
    Dossier d;
    d.set_code(absl::StrCat("KPI-", i));
    d.set_agency_code(agency);
    d.set_revision(revision);
    d.set_change_seq(++seq_);
    d.set_channel(i % 3 ? dossiersync::v1::CHANNEL_ONLINE : dossiersync::v1::CHANNEL_IN_PERSON);
    *d.mutable_submitted_at() = TimeUtil::MicrosecondsToTimestamp(submitted_us);
    if (i % 4 != 0)
      *d.mutable_due_at() = TimeUtil::MicrosecondsToTimestamp(submitted_us + 5 * kDay);
    if (revision > 1 && i % 2 == 0) {
      *d.mutable_finished_at() =
          TimeUtil::MicrosecondsToTimestamp(submitted_us + (i % 5 == 0 ? 7 : 2) * kDay);
    }
    return d;
  }
  void Apply(const std::vector<Dossier>& ds) {
    for (const auto& d : ds) truth_[d.code()] = d;
    ASSERT_TRUE(kpis_->ApplyProvincial(ds, seq_).ok());
  }
  void Check(const Dossier& d, int64_t revision, bool in_sync, int64_t at_us) {
    DossierCheck c;
    c.code = d.code();
    c.agency_code = d.agency_code();
    c.revision = revision;
    c.checked_at = absl::FromUnixMicros(at_us);
    c.run_id = "r";
    c.in_sync = in_sync;
    if (!in_sync) c.national = Dossier();
    if (batch_checks_) {
      pending_checks_.push_back(c);
    } else {
      ASSERT_TRUE(runs_->RecordCheck(c).ok());
    }
  }
  void Result(const Dossier& d, int64_t revision, bool accepted, int64_t at_us, int64_t lag_us) {
    SyncResult r;
    r.set_code(d.code());
    r.set_agency_code(d.agency_code());
    r.set_revision(revision);
    r.set_outcome(accepted ? dossiersync::v1::SYNC_OUTCOME_ACCEPTED
                           : dossiersync::v1::SYNC_OUTCOME_DEAD_LETTERED);
    *r.mutable_at() = TimeUtil::MicrosecondsToTimestamp(at_us);
    if (accepted) {
      *r.mutable_change_accepted_at() = TimeUtil::MicrosecondsToTimestamp(at_us - lag_us);
      // The store keeps the first acceptance of each (code, revision).
      lags_.emplace(std::pair{d.code(), revision}, Lag{d.agency_code(), at_us - lag_us, lag_us});
    }
    // Twice: results are delivered at least once.
    ASSERT_TRUE(runs_->RecordSyncResults({r, r}).ok());
  }

  // The old computation: every dossier, its evidence, its national view.
  Kpis Expected(int64_t since, int64_t until, const std::string& agency) {
    auto evidence = runs_->Evidence(agency);
    EXPECT_TRUE(evidence.ok());
    std::map<std::string, std::array<int64_t, 6>>
        counts;  // received online resolved on_time known in_sync
    std::map<std::string, std::vector<int64_t>> lags;
    for (const auto& [code, d] : truth_) {
      if (!agency.empty() && d.agency_code() != agency) continue;
      const int64_t t = TimeUtil::TimestampToMicroseconds(d.submitted_at());
      if (t < since || t >= until) continue;
      auto e = evidence->find(code);
      NationalView v = NationalViewOf(d, e == evidence->end() ? nullptr : &e->second);
      const bool resolved = d.has_finished_at();
      const bool on_time =
          resolved && (!d.has_due_at() || d.finished_at().seconds() <= d.due_at().seconds());
      for (auto* c : {&counts[""], &counts[d.agency_code()]}) {
        (*c)[0] += 1;
        (*c)[1] += d.channel() == dossiersync::v1::CHANNEL_ONLINE;
        (*c)[2] += resolved;
        (*c)[3] += on_time;
        (*c)[4] += v.known;
        (*c)[5] += v.in_sync;
      }
    }
    for (const auto& [key, l] : lags_) {
      if (l.accepted_us < since || l.accepted_us >= until) continue;
      if (!agency.empty() && l.agency != agency) continue;
      lags[""].push_back(l.lag_us);
      lags[l.agency].push_back(l.lag_us);
    }
    auto fill = [&](const std::string& key, Kpis* k) {
      const auto& c = counts[key];
      k->set_received(c[0]);
      k->set_online_share(c[0] ? static_cast<double>(c[1]) / c[0] : 0);
      k->set_resolved(c[2]);
      k->set_on_time_share(c[2] ? static_cast<double>(c[3]) / c[2] : 0);
      k->set_in_sync_share(c[4] ? static_cast<double>(c[5]) / c[4] : 0);
      auto& l = lags[key];
      std::sort(l.begin(), l.end());
      auto rank = [&](double p) -> int64_t {
        if (l.empty()) return 0;
        size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(l.size())));
        return l[std::clamp<size_t>(r, 1, l.size()) - 1];
      };
      *k->mutable_sync_lag_p50() = TimeUtil::MicrosecondsToDuration(rank(0.5));
      *k->mutable_sync_lag_p99() = TimeUtil::MicrosecondsToDuration(rank(0.99));
      k->set_lag_samples(static_cast<int64_t>(l.size()));
    };
    Kpis out;
    fill("", &out);
    if (agency.empty()) {
      std::set<std::string> keys;
      for (const auto& [k, c] : counts) keys.insert(k);
      for (const auto& [k, l] : lags) keys.insert(k);
      for (const auto& k : keys) {
        if (!k.empty()) fill(k, &(*out.mutable_by_agency())[k]);
      }
    }
    return out;
  }

  // The figures of `got` equal `want`; lags within `lag_tolerance` (relative) of them.
  static void ExpectSame(const Kpis& want, const Kpis& got, double lag_tolerance,
                         const std::string& where) {
    SCOPED_TRACE(where);
    EXPECT_EQ(got.received(), want.received());
    EXPECT_DOUBLE_EQ(got.online_share(), want.online_share());
    EXPECT_EQ(got.resolved(), want.resolved());
    EXPECT_DOUBLE_EQ(got.on_time_share(), want.on_time_share());
    EXPECT_DOUBLE_EQ(got.in_sync_share(), want.in_sync_share());
    EXPECT_EQ(got.lag_samples(), want.lag_samples());
    for (auto [w, g] : {std::pair{want.sync_lag_p50(), got.sync_lag_p50()},
                        std::pair{want.sync_lag_p99(), got.sync_lag_p99()}}) {
      const double wu = static_cast<double>(TimeUtil::DurationToMicroseconds(w));
      const double gu = static_cast<double>(TimeUtil::DurationToMicroseconds(g));
      EXPECT_LE(std::abs(gu - wu), lag_tolerance * wu + 1) << "lag " << gu << " vs " << wu;
    }
  }

  // Dossiers over six days in three agencies; then changes, evidence before and after them.
  void Populate() {
    std::mt19937_64 rng(7);
    const std::vector<std::string> agencies = {"000.00.01.H35", "000.00.02.H35", "000.00.03.H35"};
    std::vector<Dossier> first;
    for (int i = 0; i < 300; ++i) {
      first.push_back(
          Make(i, agencies[i % 3], kStart + static_cast<int64_t>(rng() % (6 * kDay)), 1));
    }
    // Evidence of some dossiers before the provincial rows are known.
    for (int i = 0; i < 300; i += 7) Result(first[i], 1, true, kStart + 7 * kDay, 1000 + i * 997);
    Apply(first);
    std::vector<Dossier> second;
    for (int i = 0; i < 300; i += 2) {
      Dossier d = Make(i, first[i].agency_code(),
                       TimeUtil::TimestampToMicroseconds(first[i].submitted_at()), 2);
      if (i % 10 == 0)
        *d.mutable_submitted_at() = TimeUtil::MicrosecondsToTimestamp(kStart + 2 * kDay + i);
      if (i % 30 == 0) d.set_agency_code(agencies[(i / 30) % 3]);
      second.push_back(d);
    }
    Apply(second);
    // An older row arriving late changes nothing.
    Dossier stale = first[2];
    stale.set_change_seq(1);
    ASSERT_TRUE(kpis_->ApplyProvincial({stale}, seq_).ok());
    for (int i = 0; i < 300; ++i) {
      const Dossier& d = truth_[absl::StrCat("KPI-", i)];
      const int64_t at = kStart + 8 * kDay + i * kHour / 10;
      if (i % 3 == 0) Check(d, d.revision(), i % 9 != 0, at);
      if (i % 5 == 0) Check(d, 1, true, at);  // a check of an older revision
      if (i % 4 == 1) Result(d, d.revision(), i % 8 != 1, at + kHour, 50000 + (i * 7919) % 900000);
      if (i % 11 == 0) Result(d, d.revision(), true, at - 2 * kDay, 3000000 + i);
    }
    if (batch_checks_) {
      ASSERT_TRUE(runs_->RecordChecks(pending_checks_).ok());
      pending_checks_.clear();
    }
  }

  // The KPI figures over several windows equal those computed dossier by dossier.
  void ExpectMaintainedFiguresRight() {
    const std::vector<std::tuple<int64_t, int64_t, std::string, std::string>> windows = {
        {0, std::numeric_limits<int64_t>::max(), "", "everything"},
        {kStart + kDay, kStart + 4 * kDay, "", "whole days"},
        {kStart + kDay + 3 * kHour, kStart + 4 * kDay + 5 * kHour, "", "partial days at both ends"},
        {kStart + 2 * kDay + kHour, kStart + 2 * kDay + 20 * kHour, "", "inside one day"},
        {kStart + 7 * kDay + 12 * kHour, kStart + 10 * kDay, "", "the lags' days"},
        {0, std::numeric_limits<int64_t>::max(), "000.00.02.H35", "one agency"},
        {kStart + kDay + 3 * kHour, kStart + 9 * kDay, "000.00.03.H35", "one agency, partial"},
    };
    for (const auto& [since, until, agency, name] : windows) {
      Kpis got;
      ASSERT_TRUE(kpis_->Compute(since, until, agency, &got).ok()) << name;
      Kpis want = Expected(since, until, agency);
      ExpectSame(want, got, 0, name);
      ASSERT_EQ(got.by_agency_size(), want.by_agency_size()) << name;
      for (const auto& [a, k] : want.by_agency()) {
        ASSERT_TRUE(got.by_agency().contains(a)) << name << " " << a;
        ExpectSame(k, got.by_agency().at(a), 0, name + " " + a);
      }
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<RunStore> runs_;
  std::unique_ptr<KpiStore> kpis_;
  std::map<std::string, Dossier> truth_;
  std::map<std::pair<std::string, int64_t>, Lag> lags_;
  int64_t seq_ = 100;
  bool batch_checks_ = false;  // Check() collects; Populate() records them in one RecordChecks
  std::vector<DossierCheck> pending_checks_;
};

TEST_F(KpiStoreTest, MaintainedFiguresEqualThoseComputedDossierByDossier) {
  Open(KpiStore::kExactLagSamples);
  Populate();
  ExpectMaintainedFiguresRight();
  Kpis all;
  ASSERT_TRUE(kpis_->Compute(0, std::numeric_limits<int64_t>::max(), "", &all).ok());
  EXPECT_EQ(all.received(), 300);
  EXPECT_GT(all.in_sync_share(), 0);
  EXPECT_LT(all.in_sync_share(), 1);
  EXPECT_GT(all.lag_samples(), 50);
}

// A run writes its checks in groups (Runner::CheckBuffer): one transaction holding several checks
// of one dossier, the later of equal times winning, gives the figures of checks written one by one.
TEST_F(KpiStoreTest, ChecksRecordedInOneGroupGiveTheSameFigures) {
  Open(KpiStore::kExactLagSamples);
  batch_checks_ = true;
  Populate();
  ExpectMaintainedFiguresRight();
  auto evidence = runs_->Evidence("");
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  int checked = 0;
  for (const auto& [code, e] : *evidence) checked += e.check.has_value();
  EXPECT_EQ(checked, 100 + 60 - 20) << "dossiers i % 3 == 0 or i % 5 == 0 of 300";
  EXPECT_TRUE(runs_->RecordChecks({}).ok());
}

TEST_F(KpiStoreTest, ManyLagsComeFromBucketsWithinOnePercent) {
  Open(/*exact_lags=*/10);
  Populate();
  Kpis got;
  ASSERT_TRUE(kpis_->Compute(0, std::numeric_limits<int64_t>::max(), "", &got).ok());
  Kpis want = Expected(0, std::numeric_limits<int64_t>::max(), "");
  ASSERT_GT(want.lag_samples(), 10);
  ExpectSame(want, got, 0.01, "bucketed");
  for (const auto& [a, k] : want.by_agency()) ExpectSame(k, got.by_agency().at(a), 0.01, a);
  // Partial days: their lags are bucketed one by one, the whole days' read from the table.
  got.Clear();
  ASSERT_TRUE(
      kpis_->Compute(kStart + 7 * kDay + 5 * kHour, kStart + 9 * kDay + kHour, "", &got).ok());
  ExpectSame(Expected(kStart + 7 * kDay + 5 * kHour, kStart + 9 * kDay + kHour, ""), got, 0.01,
             "bucketed, partial days");
}

TEST_F(KpiStoreTest, LagsRecordedBeforeTheTablesExistedAreCountedOnce) {
  Open(/*exact_lags=*/10);
  Populate();
  Kpis before;
  ASSERT_TRUE(kpis_->Compute(0, std::numeric_limits<int64_t>::max(), "", &before).ok());
  // As a database of the previous version: lag rows without buckets. Reopening counts them.
  {
    auto tx = db_->Begin();
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->Exec("DELETE FROM recon_lag_day").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto kpis = KpiStore::Open(db_.get(), 10);
    ASSERT_TRUE(kpis.ok());
    Kpis after;
    ASSERT_TRUE((*kpis)->Compute(0, std::numeric_limits<int64_t>::max(), "", &after).ok());
    EXPECT_EQ(after.lag_samples(), before.lag_samples());
    EXPECT_EQ(TimeUtil::DurationToMicroseconds(after.sync_lag_p99()),
              TimeUtil::DurationToMicroseconds(before.sync_lag_p99()));
  }
}

}  // namespace
}  // namespace dossiersync::reconciliation
