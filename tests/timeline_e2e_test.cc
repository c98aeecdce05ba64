// GetDossierTimeline and `dossierctl explain` against the whole pipeline (intake, the devbroker,
// the sync, the simulator, the reconciliation, each on real sockets): a dossier's revisions with
// where Kafka holds them, each push and DVCQG's answer, a dead letter, drift found and repaired,
// and both snapshots side by side with the difference marked.
#include <httplib.h>

#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/sync/app.h"
#include "tests/e2e_checks.h"
#include "tests/postgres_server.h"
#include "tests/stack_fixture.h"
#include "tests/test_util.h"

namespace dossiersync {
namespace {

using dossiersync::v1::DossierTimeline;
using dossiersync::v1::TimelineEvent;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

class TimelineE2ETest : public StackFixture {
 protected:
  grpc::Status Timeline(const std::string& code, DossierTimeline* t, bool no_lookup = false) {
    dossiersync::v1::GetDossierTimelineRequest req;
    req.set_code(code);
    req.set_no_lookup(no_lookup);
    t->Clear();
    return recon_stub_->GetDossierTimeline(MakeContext({}, absl::Seconds(30)).get(), req, t);
  }
  static std::vector<const TimelineEvent*> Of(const DossierTimeline& t,
                                              dossiersync::v1::TimelineEventKind kind) {
    std::vector<const TimelineEvent*> out;
    for (const auto& e : t.events()) {
      if (e.kind() == kind) out.push_back(&e);
    }
    return out;
  }
  // Waits until the timeline shows a sync result of `outcome` for `revision` (the evidence
  // consumer has stored it).
  bool WaitForResult(const std::string& code, int64_t revision,
                     dossiersync::v1::SyncOutcome outcome, DossierTimeline* t) {
    return testing::WaitFor(
        [&] {
          if (!Timeline(code, t, /*no_lookup=*/true).ok()) return false;
          for (const auto* e : Of(*t, dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT)) {
            if (e->revision() == revision && e->sync().outcome() == outcome) return true;
          }
          return false;
        },
        absl::Seconds(60));
  }
  dossiersync::v1::ReconciliationRun Run(bool repair) {
    dossiersync::v1::StartRunRequest req;
    req.set_repair(repair);
    auto run = recon_->runner()->RunNow(req);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *run : dossiersync::v1::ReconciliationRun();
  }
  std::string Explain(const std::vector<std::string>& extra, int* exit_code) {
    std::vector<std::string> argv = {
        testing::BinaryPath("dossierctl"), "explain",
        absl::StrCat("--reconciliation_addr=127.0.0.1:", recon_->grpc_port())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string log = dir_.File(absl::StrCat("explain-", ++explains_, ".log"));
    testing::Process p(argv, log);
    *exit_code = p.Wait();
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  int explains_ = 0;
};

TEST_F(TimelineE2ETest, ADossiersStoryFromIntakeToDvcqgWithDriftFoundAndRepaired) {
  const std::string code = testing::ValidRequest(1, 2, 1).dossier().code();
  // One revision at a time (the sync coalesces changes it reads together into one push).
  DossierTimeline t;
  Submit(testing::ValidRequest(1, 2, 100));
  ASSERT_TRUE(WaitForResult(code, 100, dossiersync::v1::SYNC_OUTCOME_ACCEPTED, &t))
      << t.DebugString();
  Submit(testing::ValidRequest(1, 4, 200));
  ASSERT_TRUE(WaitForResult(code, 200, dossiersync::v1::SYNC_OUTCOME_ACCEPTED, &t))
      << t.DebugString();

  // Each revision accepted, and where it is on Kafka: the devbroker holds it there.
  auto accepted = Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_ACCEPTED);
  ASSERT_EQ(accepted.size(), 2u) << t.DebugString();
  EXPECT_EQ(accepted[0]->revision(), 100);
  EXPECT_EQ(accepted[1]->revision(), 200);
  EXPECT_EQ(accepted[1]->status(), dossiersync::v1::DOSSIER_STATUS_PROCESSING);
  auto on_topic = testing::CollectUntil(broker_->bootstrap(), kTopicDossierChanges,
                                        [&](const auto& m) { return m.size() >= 2u; });
  std::map<int64_t, std::pair<int32_t, int64_t>> where;  // revision -> (partition, offset)
  for (const auto& m : on_topic) {
    dossiersync::v1::DossierChange c;
    ASSERT_TRUE(c.ParseFromString(m.value));
    if (c.dossier().code() == code) where[c.revision()] = {m.partition, m.offset};
  }
  // The reconciliation's idea of a dossier's partition is the producer's (sync_progress.h).
  EXPECT_EQ(reconciliation::SyncProgress::PartitionOf(code, 6), where[100].first);
  for (const auto* e : accepted) {
    ASSERT_TRUE(e->published()) << e->summary();
    ASSERT_TRUE(where.count(e->revision())) << e->revision();
    EXPECT_EQ(e->kafka_partition(), where[e->revision()].first) << e->summary();
    EXPECT_EQ(e->kafka_offset(), where[e->revision()].second) << e->summary();
    EXPECT_TRUE(absl::StrContains(e->summary(), absl::StrCat("offset ", e->kafka_offset())));
  }
  // Each push and DVCQG's answer.
  auto pushes = Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT);
  ASSERT_GE(pushes.size(), 2u);
  std::set<int64_t> pushed;
  for (const auto* e : pushes) {
    EXPECT_EQ(e->sync().outcome(), dossiersync::v1::SYNC_OUTCOME_ACCEPTED) << e->summary();
    EXPECT_FALSE(e->sync().service().empty()) << e->summary();
    pushed.insert(e->revision());
  }
  EXPECT_EQ(pushed, (std::set<int64_t>{100, 200}));
  // Oldest first.
  for (int i = 1; i < t.events_size(); ++i) {
    EXPECT_LE(TimeUtil::TimestampToMicroseconds(t.events(i - 1).at()),
              TimeUtil::TimestampToMicroseconds(t.events(i).at()));
  }

  // Live: DVCQG holds what the province has.
  ASSERT_TRUE(Timeline(code, &t).ok());
  EXPECT_EQ(t.national_source(), "live");
  EXPECT_TRUE(t.national_present());
  EXPECT_TRUE(t.in_sync()) << t.DebugString();
  EXPECT_TRUE(t.provincial_known());
  EXPECT_EQ(t.provincial().revision(), 200);
  EXPECT_EQ(t.agency_code(), "000.00.13.H37");
  ASSERT_FALSE(t.fields().empty());
  for (const auto& f : t.fields()) EXPECT_FALSE(f.differs()) << f.name();

  // DVCQG's due date changed behind the sync's back: the field is marked, the drift classified.
  admin_->Post(("/admin/tamper/" + code).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  ASSERT_TRUE(Timeline(code, &t).ok());
  EXPECT_FALSE(t.in_sync());
  ASSERT_EQ(t.differences_size(), 1) << t.DebugString();
  EXPECT_EQ(t.differences(0).kind(), dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH);
  int marked = 0;
  for (const auto& f : t.fields()) {
    if (!f.differs()) continue;
    ++marked;
    EXPECT_EQ(f.name(), "NgayHenTra");
    EXPECT_EQ(f.national(), "20240801080000");
    EXPECT_NE(f.provincial(), f.national());
  }
  EXPECT_EQ(marked, 1) << t.DebugString();

  // A run finds it and requests a repair; the repair reaches DVCQG; the next run finds it clean.
  auto first = Run(/*repair=*/true);
  EXPECT_EQ(first.drift_by_kind().at("DRIFT_KIND_FIELD_MISMATCH"), 1);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::SimStored(*admin_, code)["NgayHenTra"] != "20240801080000"; },
      absl::Seconds(60)));
  auto second = Run(/*repair=*/false);
  EXPECT_EQ(second.consistency_ratio(), 1.0);
  // The repair's push is in the story after the drift (once its sync result is consumed).
  auto repaired = [&] {
    if (!Timeline(code, &t).ok()) return false;
    auto found = Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_DRIFT);
    if (found.empty()) return false;
    for (const auto* e : Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT)) {
      if (TimeUtil::TimestampToMicroseconds(e->at()) >=
              TimeUtil::TimestampToMicroseconds(found[0]->at()) &&
          e->sync().outcome() == dossiersync::v1::SYNC_OUTCOME_ACCEPTED) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(testing::WaitFor(repaired)) << t.DebugString();
  EXPECT_TRUE(t.in_sync()) << t.DebugString();
  auto drift = Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_DRIFT);
  ASSERT_EQ(drift.size(), 1u) << t.DebugString();
  EXPECT_EQ(drift[0]->run_id(), first.run_id());
  EXPECT_EQ(drift[0]->drift().kind(), dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH);
  EXPECT_TRUE(drift[0]->drift().repair_requested());
  EXPECT_EQ(drift[0]->run_trigger(), "on-demand");
  auto checked = Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_CHECKED);
  ASSERT_EQ(checked.size(), 1u);
  EXPECT_EQ(checked[0]->run_id(), second.run_id());
  EXPECT_TRUE(checked[0]->in_sync());
  // Without a lookup: the latest check's view.
  ASSERT_TRUE(Timeline(code, &t, /*no_lookup=*/true).ok());
  EXPECT_EQ(t.national_source(), "last-check");
  EXPECT_TRUE(t.in_sync()) << t.DebugString();

  // The same for a person.
  int rc = -1;
  std::string out = Explain({code}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "Now: IN SYNC")) << out;
  EXPECT_TRUE(absl::StrContains(out, "intake accepted revision 200")) << out;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("offset ", where[200].second))) << out;
  EXPECT_TRUE(absl::StrContains(out, "found DRIFT_KIND_FIELD_MISMATCH")) << out;
  EXPECT_TRUE(absl::StrContains(out, "NgayHenTra")) << out;
  out = Explain({code, "--json"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(json::parse(out, nullptr, false).is_object()) << out;
}

TEST_F(TimelineE2ETest, ADeadLetterAndAnAbsentDossierAreExplained) {
  const std::string kRefused = "2.000001";
  admin_->Post("/admin/faults", json{{"reject_procedure_codes", {kRefused}}}.dump(),
               "application/json");
  auto r = testing::ValidRequest(2, 2, 100);
  r.mutable_dossier()->set_procedure_code(kRefused);
  const std::string code = r.dossier().code();
  Submit(r);
  DossierTimeline t;
  ASSERT_TRUE(WaitForResult(code, 100, dossiersync::v1::SYNC_OUTCOME_DEAD_LETTERED, &t))
      << t.DebugString();
  bool said = false;
  for (const auto* e : Of(t, dossiersync::v1::TIMELINE_EVENT_KIND_SYNC_RESULT)) {
    if (e->sync().outcome() != dossiersync::v1::SYNC_OUTCOME_DEAD_LETTERED) continue;
    said = absl::StrContains(e->summary(), "dead-lettered") &&
           absl::StrContains(e->summary(), "MaTTHC");
  }
  EXPECT_TRUE(said) << t.DebugString();
  // DVCQG does not have it: absent, every field marked.
  ASSERT_TRUE(Timeline(code, &t).ok());
  EXPECT_EQ(t.national_source(), "live");
  EXPECT_FALSE(t.national_present());
  EXPECT_FALSE(t.in_sync());
  ASSERT_EQ(t.differences_size(), 1);
  EXPECT_EQ(t.differences(0).kind(), dossiersync::v1::DRIFT_KIND_MISSING_NATIONALLY);
  for (const auto& f : t.fields()) EXPECT_TRUE(f.differs()) << f.name();
  int rc = -1;
  std::string out = Explain({code}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "DVCQG does not have the dossier")) << out;
  EXPECT_TRUE(absl::StrContains(out, "DRIFT_KIND_MISSING_NATIONALLY")) << out;

  // A code nobody knows, an empty one.
  grpc::Status st = Timeline("000.00.13.H37-240705-9999", &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_EQ(ReasonOf(DetailsOf(st)), "DOSSIER_NOT_FOUND");
  st = Timeline("", &t);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(DetailsOf(st)), "code");
  out = Explain({"000.00.13.H37-240705-9999"}, &rc);
  EXPECT_EQ(rc, 3) << out;
  out = Explain({}, &rc);
  EXPECT_EQ(rc, 2) << out;
}

}  // namespace
}  // namespace dossiersync
