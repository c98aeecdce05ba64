// Reconciliation against the whole pipeline: drift injected at the simulator is found with the
// right kind, repaired through sync-requests, and the next run finds none.
#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/dvcqg/client.h"
#include "common/grpc_client.h"
#include "dossiersync/v1/reconciliation.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/dvcqg_sim/simulator.h"
#include "services/reconciliation/app.h"
#include "services/reconciliation/runner.h"
#include "services/sync/app.h"
#include "tests/test_util.h"
#include "tools/dossierctl/submit.h"

namespace dossiersync {
namespace {

using dossiersync::v1::DriftKind;
using nlohmann::json;

class ReconciliationE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::StartBroker();
    intake_ = testing::StartIntake(testing::IntakeTestConfig(broker_->bootstrap(), dir_.path()));
    sim_ = testing::StartSim(dir_.path());
    admin_ = std::make_unique<httplib::Client>("127.0.0.1", sim_->port());
    dvcqg_config_ = testing::SimClientConfig(*sim_);
    sync::SyncConfig c = testing::SyncTestConfig(broker_->bootstrap(), dir_.path(), *sim_);
    sync_ = std::move(*sync::App::Start(c));
    client_ = std::move(*dvcqg::Client::Create(dvcqg_config_));
    producer_ = std::move(*KafkaProducer::Create(broker_->bootstrap(), nullptr));
    db_ = std::move(*storage::Open("sqlite:" + dir_.File("recon.db")));
    store_ = std::move(*reconciliation::RunStore::Open(db_.get()));
    stub_ = testing::IntakeStub(intake_->grpc_port());
    reconciliation::RunnerOptions ro;
    ro.holder = "test";
    runner_ = std::make_unique<reconciliation::Runner>(
        ro, client_.get(), stub_.get(), ClientOptions{}, producer_.get(), store_.get(), &registry_);
    evidence_ = std::move(*reconciliation::EvidenceConsumer::Start(
        broker_->bootstrap(), "recon-test", store_.get(), &registry_));
  }
  void TearDown() override {
    runner_.reset();
    evidence_.reset();
  }
  std::string LastSync(const std::string& code) {
    auto s = store_->LastSync(code);
    return s.ok() ? *s : std::string(s.status().message());
  }
  // Waits until the evidence shows `code`'s push of `revision` accepted after `previous` (a
  // LastSync value): the sync has done its part.
  bool SyncedAgain(const std::string& code, int64_t revision, const std::string& previous = "") {
    return testing::WaitFor(
        [&] {
          std::string now = LastSync(code);
          return now != previous && absl::StrContains(now, absl::StrCat("revision ", revision,
                                                                        " SYNC_OUTCOME_ACCEPTED"));
        },
        absl::Seconds(60));
  }
  void Submit(const dossiersync::v1::SubmitChangeRequest& r) {
    auto ctx = MakeContext({}, absl::Seconds(10));
    dossiersync::v1::SubmitChangeResponse resp;
    ASSERT_TRUE(stub_->SubmitChange(ctx.get(), r, &resp).ok());
  }
  json Stored(const std::string& code) {
    auto r = admin_->Get(("/admin/dossiers/" + code).c_str());
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  void Faults(const json& f) { admin_->Post("/admin/faults", f.dump(), "application/json"); }
  std::map<std::string, std::vector<DriftKind>> DriftOf(const std::string& run_id) {
    std::map<std::string, std::vector<DriftKind>> out;
    auto items = store_->Drift(run_id, 0);
    EXPECT_TRUE(items.ok()) << items.status();
    if (!items.ok()) return out;
    for (const auto& d : *items) out[d.code()].push_back(d.kind());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<devbroker::DevBroker> broker_;
  std::unique_ptr<intake::App> intake_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<httplib::Client> admin_;
  dvcqg::ClientConfig dvcqg_config_;
  std::unique_ptr<sync::App> sync_;
  std::unique_ptr<dvcqg::Client> client_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<reconciliation::RunStore> store_;
  std::unique_ptr<dossiersync::v1::IntakeService::Stub> stub_;
  prometheus::Registry registry_;
  std::unique_ptr<reconciliation::Runner> runner_;
  std::unique_ptr<reconciliation::EvidenceConsumer> evidence_;
};

TEST_F(ReconciliationE2ETest, FindsInjectedDriftEscalatesFailedRepairsAndEndsClean) {
  // Ten dossiers in sync, each accepted then processed (2 changes, 2 steps).
  for (int i = 1; i <= 10; ++i) {
    Submit(testing::ValidRequest(i, 2, 100));
    Submit(testing::ValidRequest(i, 4, 200));
  }
  auto code = [](int i) { return testing::ValidRequest(i, 2, 1).dossier().code(); };
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(SyncedAgain(code(i), 200)) << LastSync(code(i));
  // Drift through the simulator's admin endpoints: a contradicting status and a changed due date
  // (tamper), then silently dropped writes: a create, a newer snapshot, a new step.
  admin_->Post(
      ("/admin/tamper/" + code(1)).c_str(),
      R"({"TrangThaiHoSo":"10","NgayTra":"20240720080000","NgayKetThucXuLy":"20240719080000"})",
      "application/json");
  admin_->Post(("/admin/tamper/" + code(2)).c_str(), R"({"NgayHenTra":"20240801080000"})",
               "application/json");
  Faults({{"drop_rate", 1.0}});
  // Without steps, so nothing tells the sync (a progress push would meet "không tồn tại").
  auto lost = testing::ValidRequest(20, 2, 100);
  lost.clear_new_steps();
  Submit(lost);
  auto finished = testing::ValidRequest(3, 9, 300);  // DVCQG keeps the older snapshot
  finished.clear_new_steps();
  Submit(finished);
  Submit(testing::ValidRequest(4, 4, 300));  // same status, one more step: only the step is lost
  ASSERT_TRUE(SyncedAgain(code(20), 100));
  ASSERT_TRUE(SyncedAgain(code(3), 300));
  ASSERT_TRUE(SyncedAgain(code(4), 300));

  const std::map<std::string, std::vector<DriftKind>> expected = {
      {code(1), {dossiersync::v1::DRIFT_KIND_STATUS_MISMATCH}},
      {code(2), {dossiersync::v1::DRIFT_KIND_FIELD_MISMATCH}},
      {code(3), {dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY}},
      {code(4), {dossiersync::v1::DRIFT_KIND_STEPS_MISSING}},
      {code(20), {dossiersync::v1::DRIFT_KIND_MISSING_NATIONALLY}}};
  std::map<std::string, std::string> before;
  for (const auto& [c, kinds] : expected) before[c] = LastSync(c);
  // Run 1 finds each kind exactly once and nothing else; its repairs are dropped too.
  dossiersync::v1::StartRunRequest req;
  req.set_repair(true);
  auto run = runner_->RunNow(req);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->state(), "FINISHED");
  EXPECT_EQ(run->dossiers_checked(), 11);
  EXPECT_EQ(DriftOf(run->run_id()), expected);
  EXPECT_NEAR(run->consistency_ratio(), 6.0 / 11.0, 1e-9);
  EXPECT_EQ(run->repairs_requested(), 5);
  EXPECT_EQ(run->escalated(), 0);
  EXPECT_EQ(run->drift_by_kind().at("DRIFT_KIND_STALE_NATIONALLY"), 1);
  EXPECT_EQ(run->checked_by_agency().at("000.00.13.H37"), 11);
  EXPECT_EQ(run->drifted_by_agency().at("000.00.13.H37"), 5);
  // The evidence explains the stale snapshot: DVCQG acknowledged revision 300 and lost it.
  auto items = store_->Drift(run->run_id(), dossiersync::v1::DRIFT_KIND_STALE_NATIONALLY);
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  EXPECT_TRUE(absl::StrContains((*items)[0].detail(), "revision 300 SYNC_OUTCOME_ACCEPTED"))
      << (*items)[0].detail();
  for (const auto& [c, kinds] : expected) {
    ASSERT_TRUE(SyncedAgain(c,
                            c == code(20)                  ? 100
                            : c == code(1) || c == code(2) ? 200
                                                           : 300,
                            before[c]))
        << c << ": " << LastSync(c);
  }

  // Run 2: the same drift survived the (dropped) repairs: escalated.
  Faults({{"drop_rate", 0.0}});
  auto second = runner_->RunNow(req);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(DriftOf(second->run_id()), expected);
  EXPECT_EQ(second->escalated(), 5);
  auto escalated = store_->Drift(second->run_id(), 0);
  ASSERT_TRUE(escalated.ok());
  for (const auto& d : *escalated) EXPECT_TRUE(d.escalated()) << d.code();

  // Its repairs go through; run 3 is clean: the simulator's state equals the province's.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        json a = Stored(code(1)), b = Stored(code(20)), c = Stored(code(3)), d = Stored(code(4));
        return !a.is_null() && a["TrangThaiHoSo"] == "4" && !b.is_null() &&
               Stored(code(2))["NgayHenTra"] != "20240801080000" && c["TrangThaiHoSo"] == "9" &&
               d["QuaTrinhXuLy"].size() == 3;
      },
      absl::Seconds(60)))
      << Stored(code(1)).dump() << "\n"
      << Stored(code(2)).dump() << "\n"
      << Stored(code(3)).dump() << "\n"
      << Stored(code(4)).dump() << "\n"
      << Stored(code(20)).dump();
  auto third = runner_->RunNow(req);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->dossiers_checked(), 11);
  EXPECT_EQ(third->consistency_ratio(), 1.0);
  EXPECT_TRUE(DriftOf(third->run_id()).empty());
  auto pending = store_->PendingRepairs();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty()) << "a clean check clears the repair";
}

TEST_F(ReconciliationE2ETest, UnknownProvinciallyAndOneRunAtATime) {
  auto d = testing::ValidRequest(77, 2, 1).dossier();
  ASSERT_EQ(client_->SyncDossiers({{&d, 2}}, false).outcome, dvcqg::Outcome::kAccepted);
  dossiersync::v1::StartRunRequest req;
  req.add_codes(d.code());
  // Another replica holds the lease: this one refuses to start.
  ASSERT_TRUE(*store_->AcquireLease("reconciliation-run", "other-replica", absl::Minutes(1)));
  auto refused = runner_->Start(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->ReleaseLease("reconciliation-run", "other-replica").ok());
  auto run = runner_->RunNow(req);
  ASSERT_TRUE(run.ok()) << run.status();
  auto drift = DriftOf(run->run_id());
  EXPECT_EQ(drift[d.code()],
            std::vector<DriftKind>{dossiersync::v1::DRIFT_KIND_UNKNOWN_PROVINCIALLY});
}

TEST_F(ReconciliationE2ETest, ServiceRunsOverGrpcAndKpisMatchTheWorkload) {
  tools::SubmitOptions so;
  so.intake_addr = absl::StrCat("127.0.0.1:", intake_->grpc_port());
  so.generate = 100;
  so.progress = false;
  so.workload.now = absl::Now();
  ASSERT_TRUE(tools::RunSubmit(so).ok());
  tools::Workload w(so.workload);
  size_t steps = 0;
  for (int i = 0; i < 100; ++i) steps += w.Lifecycle(i).size();  // one step per change
  // In sync: every dossier and step at DVCQG, nothing left in the sync.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        json store = json::parse(admin_->Get("/admin/stats")->body)["store"];
        return store["dossiers"] == 100 && store["steps"] == steps &&
               sync_->engine()->pending() == 0;
      },
      absl::Seconds(120)));
  reconciliation::ReconciliationConfig rc;
  rc.server.listen = "127.0.0.1:0";
  rc.server.allow_insecure = true;
  rc.metrics_listen = "127.0.0.1:0";
  rc.kafka_brokers = broker_->bootstrap();
  rc.database = "sqlite:" + dir_.File("recon-app.db");
  rc.intake_addr = absl::StrCat("127.0.0.1:", intake_->grpc_port());
  rc.dvcqg = dvcqg_config_;
  auto app = reconciliation::App::Start(rc);
  ASSERT_TRUE(app.ok()) << app.status();
  auto ch = MakeChannel(absl::StrCat("127.0.0.1:", (*app)->grpc_port()), {});
  auto stub = dossiersync::v1::ReconciliationService::NewStub(*ch);
  dossiersync::v1::StartRunResponse started;
  ASSERT_TRUE(stub->StartRun(MakeContext({}, absl::Seconds(10)).get(), {}, &started).ok());
  dossiersync::v1::ReconciliationRun run;
  ASSERT_TRUE(testing::WaitFor([&] {
    dossiersync::v1::GetRunRequest g;
    g.set_run_id(started.run_id());
    return stub->GetRun(MakeContext({}, absl::Seconds(10)).get(), g, &run).ok() &&
           run.state() != "RUNNING";
  }));
  EXPECT_EQ(run.state(), "FINISHED");
  EXPECT_EQ(run.dossiers_checked(), 100);
  EXPECT_EQ(run.consistency_ratio(), 1.0);
  dossiersync::v1::ListDriftRequest lr;
  lr.set_run_id(run.run_id());
  auto ctx = MakeContext({}, absl::Seconds(10));
  auto reader = stub->ListDrift(ctx.get(), lr);
  dossiersync::v1::DriftItem item;
  int drift = 0;
  while (reader->Read(&item)) ++drift;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(drift, 0);
  // KPIs against figures computed here from the same workload.
  int online = 0, resolved = 0, on_time = 0;
  for (int i = 0; i < 100; ++i) {
    const auto& d = w.Lifecycle(i).back().dossier();
    online += d.channel() == dossiersync::v1::CHANNEL_ONLINE;
    if (d.has_finished_at()) {
      ++resolved;
      on_time += d.finished_at().seconds() <= d.due_at().seconds();
    }
  }
  dossiersync::v1::Kpis k;
  ASSERT_TRUE(stub->GetKpis(MakeContext({}, absl::Seconds(10)).get(), {}, &k).ok());
  EXPECT_EQ(k.received(), 100);
  EXPECT_DOUBLE_EQ(k.online_share(), online / 100.0);
  EXPECT_EQ(k.resolved(), resolved);
  EXPECT_DOUBLE_EQ(k.on_time_share(), resolved ? static_cast<double>(on_time) / resolved : 0);
  EXPECT_EQ(k.in_sync_share(), 1.0);
}

}  // namespace
}  // namespace dossiersync
